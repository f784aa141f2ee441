"""Reads other apps and pages use. Sellable stock comes only from here."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet

from .codes import is_well_formed, normalize_item_number
from .models import (
    InboundShipment,
    Location,
    OutOfStockRecord,
    ProductStock,
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
