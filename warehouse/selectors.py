"""Reads other apps and pages use. Sellable stock comes only from here."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from .codes import is_well_formed, normalize_item_number
from .models import (
    InboundDiscrepancy,
    InboundEvent,
    InboundShipment,
    Location,
    OutOfStockRecord,
    Parcel,
    ProductStock,
    Receipt,
    Reservation,
    StockCount,
    StockCountScan,
    StockUnit,
    UnitMovement,
)
from .states import UnitStatus


def sellable_quantities(*, product_ids: Iterable[int]) -> dict[int, int]:
    """Sellable units per product (available minus reserved): one indexed query, no COUNT."""
    ids = list(product_ids)
    rows = ProductStock.objects.filter(pk__in=ids).values_list(
        "product_id", "available", "reserved"
    )
    found = {pid: available - reserved for pid, available, reserved in rows}
    return {pid: max(0, found.get(pid, 0)) for pid in ids}


def sellable_quantity(*, product_id: int) -> int:
    return sellable_quantities(product_ids=[product_id])[product_id]


def stock_for_products(*, product_ids: Iterable[int]) -> dict[int, ProductStock]:
    return ProductStock.objects.in_bulk(list(product_ids))


@dataclass(frozen=True)
class OutOfStockNotice:
    product_name: str
    merchant_email: str
    sellable: int
    reorder_point: int
    closed_at: object


def out_of_stock_record_for_notice(*, record_id: int) -> OutOfStockNotice | None:
    record = (
        OutOfStockRecord.objects.select_related("product", "merchant").filter(pk=record_id).first()
    )
    if record is None:
        return None
    stock = ProductStock.objects.filter(pk=record.product_id).first()
    return OutOfStockNotice(
        product_name=record.product.name,
        merchant_email=record.merchant.contact_email,
        sellable=stock.sellable if stock else 0,
        reorder_point=record.reorder_point,
        closed_at=record.closed_at,
    )


def unit_get(*, item_number: str) -> StockUnit | None:
    number = normalize_item_number(item_number)
    if not is_well_formed(number):
        return None
    return (
        StockUnit.objects.select_related(
            "product", "merchant", "location", "inbound_line__shipment"
        )
        .filter(item_number=number)
        .first()
    )


def unit_history(*, unit: StockUnit) -> list[UnitMovement]:
    return list(
        UnitMovement.objects.filter(unit=unit)
        .select_related("from_location", "to_location", "actor")
        .order_by("id")
    )


def units_awaiting_appraisal() -> QuerySet[StockUnit]:
    """Oldest first: the appraisal queue's order."""
    return (
        StockUnit.objects.filter(status=UnitStatus.AWAITING_APPRAISAL)
        .select_related("product", "merchant", "location")
        .order_by("received_at", "id")
    )


def inbound_get(*, reference: str) -> InboundShipment | None:
    return (
        InboundShipment.objects.select_related("merchant")
        .prefetch_related("lines__product")
        .filter(reference=reference.strip().upper())
        .first()
    )


def inbound_open_list(*, limit: int = 50) -> list[InboundShipment]:
    return list(
        InboundShipment.objects.filter(status__in=["announced", "receiving"])
        .select_related("merchant")
        .order_by("created_at")[:limit]
    )


def locations_active() -> list[Location]:
    return list(Location.objects.filter(is_active=True).order_by("position", "code"))


def inbound_exists_for_merchant(*, merchant_id: int) -> bool:
    return InboundShipment.objects.filter(merchant_id=merchant_id).exists()


# The warehouse stations and the admin ------------------------------------------------------

STOCK_PAGE_SIZE = 50


@dataclass(frozen=True)
class StockPage:
    rows: list[ProductStock]
    next_after: int | None  # the keyset cursor of the next page (a product id), if any


def stock_page(*, q: str = "", after: int | None = None, size: int = STOCK_PAGE_SIZE) -> StockPage:
    """Per-product counters with product and merchant names, a keyset page by product id:
    one query whatever the number of products."""
    qs = ProductStock.objects.select_related("product", "merchant").only(
        "product__name",
        "product__slug",
        "merchant__name",
        "available",
        "reserved",
        "allocated",
        "in_appraisal",
        "in_quarantine",
        "rejected",
        "reorder_point",
    )
    if q:
        qs = qs.filter(product__name__icontains=q)
    if after:
        qs = qs.filter(pk__gt=after)
    rows = list(qs.order_by("pk")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return StockPage(rows=rows, next_after=rows[-1].pk if more else None)


def out_of_stock_open_list(*, limit: int = 50) -> list[OutOfStockRecord]:
    """Open out-of-stock records, oldest first (the longest gap on the shelf leads)."""
    return list(
        OutOfStockRecord.objects.filter(closed_at__isnull=True)
        .select_related("product", "merchant")
        .order_by("opened_at", "id")[:limit]
    )


def inbound_receipts(*, shipment_id: int) -> list[Receipt]:
    return list(
        Receipt.objects.filter(shipment_id=shipment_id).select_related("received_by").order_by("id")
    )


def inbound_discrepancies(*, shipment_id: int) -> list[InboundDiscrepancy]:
    return list(
        InboundDiscrepancy.objects.filter(shipment_id=shipment_id)
        .select_related("product", "recorded_by")
        .order_by("id")
    )


def inbound_events(*, shipment_id: int) -> list[InboundEvent]:
    return list(
        InboundEvent.objects.filter(shipment_id=shipment_id).select_related("actor").order_by("id")
    )


def inbound_unit_summary(*, shipment_id: int) -> list[dict]:
    """Units received under a shipment, counted by product and current status (one query)."""
    return list(
        StockUnit.objects.filter(inbound_line__shipment_id=shipment_id)
        .values("product_id", "product__name", "status")
        .annotate(n=Count("id"))
        .order_by("product__name", "product_id", "status")
    )


def inbound_units(*, shipment_id: int, limit: int = 50) -> list[StockUnit]:
    return list(
        StockUnit.objects.filter(inbound_line__shipment_id=shipment_id)
        .select_related("product", "location")
        .order_by("id")[:limit]
    )


def receipt_get(*, receipt_id: int) -> Receipt | None:
    return (
        Receipt.objects.select_related("shipment__merchant", "received_by")
        .filter(pk=receipt_id)
        .first()
    )


def receipt_units(*, receipt_id: int) -> list[StockUnit]:
    """The units a receipt created, grouped by product (the order labels are printed in)."""
    return list(
        StockUnit.objects.filter(receipt_id=receipt_id)
        .select_related("product")
        .only("item_number", "status", "product__name")
        .order_by("product_id", "id")
    )


@dataclass(frozen=True)
class UnitLabel:
    item_number: str
    product_name: str
    merchant_name: str


def labels_for_receipt(*, receipt_id: int) -> list[UnitLabel]:
    rows = (
        StockUnit.objects.filter(receipt_id=receipt_id)
        .order_by("product_id", "id")
        .values_list("item_number", "product__name", "merchant__name")
    )
    return [UnitLabel(*row) for row in rows]


def label_for_unit(*, item_number: str) -> UnitLabel | None:
    number = normalize_item_number(item_number)
    if not is_well_formed(number):
        return None
    row = (
        StockUnit.objects.filter(item_number=number)
        .values_list("item_number", "product__name", "merchant__name")
        .first()
    )
    return UnitLabel(*row) if row else None


def stock_count_get(*, count_id: int) -> StockCount | None:
    return StockCount.objects.select_related("location", "started_by").filter(pk=count_id).first()


def stock_count_scans(*, count_id: int) -> list[StockCountScan]:
    """Units seen in a count, the latest scan first."""
    return list(
        StockCountScan.objects.filter(count_id=count_id)
        .select_related("unit__product", "unit__location")
        .order_by("-id")
    )


def stock_counts_recent(*, limit: int = 20) -> list[StockCount]:
    """Open counts first, then the latest closed ones."""
    return list(
        StockCount.objects.select_related("location", "started_by").order_by(
            "-status", "-started_at", "-id"
        )[:limit]
    )


# Picking, packing, outbound -------------------------------------------------------------------


@dataclass(frozen=True)
class ReservationProgress:
    quantity: int
    picked: int
    packed: int  # units of the reservation in a parcel (packed, shipped or delivered)

    @property
    def to_pick(self) -> int:
        return self.quantity - self.picked


def reservation_progress(*, reservation_ids: Iterable[int]) -> dict[int, ReservationProgress]:
    """Per reservation: how many units were ordered, picked and packed (2 queries)."""
    ids = list(reservation_ids)
    packed = dict(
        StockUnit.objects.filter(reservation_id__in=ids, parcel__isnull=False)
        .values("reservation_id")
        .annotate(n=Count("id"))
        .values_list("reservation_id", "n")
    )
    return {
        r.pk: ReservationProgress(r.quantity, r.picked, packed.get(r.pk, 0))
        for r in Reservation.objects.filter(pk__in=ids)
    }


def pick_locations(*, product_ids: Iterable[int]) -> dict[int, list[tuple[str, int]]]:
    """Where available units of each product are: [(location code, units)], by bin order."""
    rows = (
        StockUnit.objects.filter(product_id__in=list(product_ids), status=UnitStatus.AVAILABLE)
        .values("product_id", "location__code", "location__position")
        .annotate(n=Count("id"))
        .order_by("location__position", "location__code")
    )
    found: dict[int, list[tuple[str, int]]] = {}
    for row in rows:
        found.setdefault(row["product_id"], []).append((row["location__code"], row["n"]))
    return found


def units_for_reservations(*, reservation_ids: Iterable[int]) -> list[StockUnit]:
    return list(
        StockUnit.objects.filter(reservation_id__in=list(reservation_ids))
        .select_related("location", "parcel")
        .order_by("pk")
    )


def parcel_get(*, code: str) -> Parcel | None:
    return Parcel.objects.filter(code=(code or "").strip().upper()).first()


def parcels_for_order(*, order_ref: str) -> list[Parcel]:
    return list(Parcel.objects.filter(order_ref=order_ref).order_by("opened_at"))


def parcels_for_orders(*, order_refs: Iterable[str]) -> dict[str, list[Parcel]]:
    found: dict[str, list[Parcel]] = {}
    for parcel in Parcel.objects.filter(order_ref__in=list(order_refs)).order_by("opened_at"):
        found.setdefault(parcel.order_ref, []).append(parcel)
    return found


@dataclass(frozen=True)
class ShippedUnit:
    """A unit that reached (or left towards) its buyer, for the survey module (aftersales)."""

    unit_id: int
    item_number: str
    product_id: int
    merchant_id: int
    order_line_ref: str
    shipped_at: datetime
    delivered_at: datetime | None


def shipped_units_for_survey(
    *,
    delivered_before: datetime,
    shipped_before: datetime,
    shipped_after: datetime,
    after_id: int = 0,
    limit: int = 1000,
    parcel_code: str | None = None,
    without: QuerySet | None = None,
) -> list[ShippedUnit]:
    """Shipped units delivered before `delivered_before`, or shipped before `shipped_before`
    without a delivery, shipped after `shipped_after`, by id after `after_id` (keyset batches).

    `without`: a queryset of rows with a `unit_id` (the invitations already made): those units
    are left out by the database (NOT EXISTS), so a batch holds only units still to invite.
    """
    qs = StockUnit.objects.filter(
        pk__gt=after_id,
        status__in=[UnitStatus.SHIPPED, UnitStatus.DELIVERED],
        parcel__shipped_at__gt=shipped_after,
    ).filter(
        Q(parcel__delivered_at__lte=delivered_before)
        | Q(parcel__delivered_at__isnull=True, parcel__shipped_at__lte=shipped_before)
    )
    if parcel_code is not None:
        qs = qs.filter(parcel__code=parcel_code)
    if without is not None:
        qs = qs.filter(~Exists(without.filter(unit_id=OuterRef("pk"))))
    rows = qs.order_by("pk").values_list(
        "pk",
        "item_number",
        "product_id",
        "merchant_id",
        "reservation__order_line_ref",
        "parcel__shipped_at",
        "parcel__delivered_at",
    )[:limit]
    return [ShippedUnit(*row) for row in rows]
