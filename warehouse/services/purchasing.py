"""Purchasing: merchants announce inbound shipments; the receiving station turns them into units."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.selectors import products_of_merchant
from core.errors import DomainError

from ..codes import new_item_number
from ..models import (
    DiscrepancyKind,
    InboundDiscrepancy,
    InboundEvent,
    InboundLine,
    InboundShipment,
    InboundStatus,
    Receipt,
    StockUnit,
    UnitMovement,
)
from ..states import LocationUsage, MovementReason, UnitStatus
from .inventory import bump_counters, ensure_stock_rows, location_for

MAX_UNITS_PER_RECEIPT = 5000


def _event(shipment: InboundShipment, to: str, actor: Any, note: str = "") -> None:
    InboundEvent.objects.create(
        shipment=shipment, from_status=shipment.status, to_status=to, actor=actor, note=note
    )
    shipment.status = to


def inbound_shipment_create(
    *,
    merchant: Any,
    actor: Any,
    carrier: str,
    waybill: str,
    expected_on: date | None = None,
    note: str = "",
) -> InboundShipment:
    """Announce a shipment (lines follow with inbound_line_set); reference IN-0000123."""
    if not carrier.strip() or not waybill.strip():
        raise DomainError(
            _("Give the carrier and the waybill number of the goods."), code="no_waybill"
        )
    with transaction.atomic():
        shipment = InboundShipment.objects.create(
            reference=f"TMP-{new_item_number()}",
            merchant=merchant,
            carrier=carrier.strip(),
            waybill=waybill.strip(),
            expected_on=expected_on,
            note=note,
            announced_by=actor,
        )
        shipment.reference = f"IN-{shipment.pk:07d}"
        shipment.save(update_fields=["reference"])
        InboundEvent.objects.create(
            shipment=shipment, to_status=InboundStatus.ANNOUNCED, actor=actor
        )
    return shipment


def inbound_shipment_update(
    *,
    shipment: InboundShipment,
    carrier: str,
    waybill: str,
    expected_on: date | None = None,
    note: str = "",
) -> InboundShipment:
    """Correct an announcement's carrier, waybill, date or note (only while still announced)."""
    if not carrier.strip() or not waybill.strip():
        raise DomainError(
            _("Give the carrier and the waybill number of the goods."), code="no_waybill"
        )
    with transaction.atomic():
        locked = InboundShipment.objects.select_for_update().get(pk=shipment.pk)
        if locked.status != InboundStatus.ANNOUNCED:
            raise DomainError(
                _("Receiving has started; the announcement can no longer change."),
                code="inbound_locked",
            )
        locked.carrier, locked.waybill = carrier.strip(), waybill.strip()
        locked.expected_on, locked.note = expected_on, note
        locked.save(update_fields=["carrier", "waybill", "expected_on", "note"])
    return locked


def inbound_line_set(*, shipment: InboundShipment, product: Any, quantity: int) -> InboundLine:
    """Set how many of a product the shipment carries (only while it is still announced)."""
    if quantity <= 0:
        raise DomainError(
            _("Announce at least one unit."), code="bad_quantity", field="quantity_announced"
        )
    if product.merchant_id != shipment.merchant_id:
        raise DomainError(
            _("You can only send your own products."), code="not_own_product", field="product"
        )
    with transaction.atomic():
        locked = InboundShipment.objects.select_for_update().get(pk=shipment.pk)
        if locked.status != InboundStatus.ANNOUNCED:
            raise DomainError(
                _("Receiving has started; the announcement can no longer change."),
                code="inbound_locked",
            )
        line, _created = InboundLine.objects.update_or_create(
            shipment=locked, product=product, defaults={"quantity_announced": quantity}
        )
    return line


def inbound_line_delete(*, line: InboundLine) -> None:
    with transaction.atomic():
        locked = InboundShipment.objects.select_for_update().get(pk=line.shipment_id)
        if locked.status != InboundStatus.ANNOUNCED:
            raise DomainError(
                _("Receiving has started; the announcement can no longer change."),
                code="inbound_locked",
            )
        line.delete()


def inbound_announce(
    *,
    merchant: Any,
    actor: Any,
    carrier: str,
    waybill: str,
    lines: Iterable[tuple[Any, int]],
    expected_on: date | None = None,
    note: str = "",
) -> InboundShipment:
    """Announce a shipment with its lines in one transaction."""
    lines = list(lines)
    if not lines:
        raise DomainError(_("Announce at least one product."), code="no_lines")
    with transaction.atomic():
        shipment = inbound_shipment_create(
            merchant=merchant,
            actor=actor,
            carrier=carrier,
            waybill=waybill,
            expected_on=expected_on,
            note=note,
        )
        for product, quantity in lines:
            inbound_line_set(shipment=shipment, product=product, quantity=quantity)
    return shipment


def inbound_cancel(*, shipment: InboundShipment, actor: Any, note: str = "") -> InboundShipment:
    with transaction.atomic():
        locked = InboundShipment.objects.select_for_update().get(pk=shipment.pk)
        if locked.status == InboundStatus.CANCELLED:
            return locked
        if locked.status != InboundStatus.ANNOUNCED:
            raise DomainError(
                _("Only a shipment not yet received can be cancelled."), code="inbound_locked"
            )
        _event(locked, InboundStatus.CANCELLED, actor, note)
        locked.closed_at = timezone.now()
        locked.save(update_fields=["status", "closed_at"])
    return locked


@dataclass(frozen=True)
class ReceivedUnits:
    receipt: Receipt
    unit_ids: list[int]


def _mint_item_numbers(n: int) -> list[str]:
    numbers: set[str] = set()
    while len(numbers) < n:
        batch = {new_item_number() for _ in range(n - len(numbers))}
        taken = set(
            StockUnit.objects.filter(item_number__in=batch).values_list("item_number", flat=True)
        )
        numbers |= batch - taken
    return list(numbers)


def inbound_receive(
    *, shipment: InboundShipment, counts: dict[int, int], actor: Any, note: str = ""
) -> ReceivedUnits:
    """Receive physical items: one StockUnit (with a new item number) and one movement each.

    `counts` maps product id -> items counted now. A product that was not announced is still
    received (it is physically here and must be traceable) and recorded as a discrepancy.
    Units wait for appraisal at the receiving location; nothing is sellable yet.
    """
    counts = {int(p): int(n) for p, n in counts.items() if int(n) != 0}
    if not counts:
        raise DomainError(_("Count at least one item."), code="nothing_counted")
    if any(n < 0 for n in counts.values()):
        raise DomainError(_("Counts cannot be negative."), code="bad_quantity")
    total = sum(counts.values())
    if total > MAX_UNITS_PER_RECEIPT:
        raise DomainError(
            _("Receive at most %(n)s items at a time.") % {"n": MAX_UNITS_PER_RECEIPT},
            code="too_many_units",
        )
    with transaction.atomic():
        locked = InboundShipment.objects.select_for_update().get(pk=shipment.pk)
        if locked.status not in (InboundStatus.ANNOUNCED, InboundStatus.RECEIVING):
            raise DomainError(
                _("Shipment %(ref)s is %(status)s; it cannot receive goods.")
                % {"ref": locked.reference, "status": locked.get_status_display()},
                code="inbound_closed",
            )
        own = {
            p.pk: p for p in products_of_merchant(merchant_id=locked.merchant_id, ids=list(counts))
        }
        foreign = set(counts) - set(own)
        if foreign:
            raise DomainError(
                _("These products are not this merchant's: %(ids)s. Set them aside.")
                % {"ids": ", ".join(map(str, sorted(foreign)))},
                code="foreign_product",
            )
        lines = {line.product_id: line for line in locked.lines.select_for_update()}
        if locked.status == InboundStatus.ANNOUNCED:
            _event(locked, InboundStatus.RECEIVING, actor)
            locked.save(update_fields=["status"])
        receipt = Receipt.objects.create(shipment=locked, received_by=actor, unit_count=total)
        location = location_for(LocationUsage.RECEIVING)
        ensure_stock_rows(products=[(pid, locked.merchant_id) for pid in counts])
        numbers = iter(_mint_item_numbers(total))
        units: list[StockUnit] = []
        for product_id, n in sorted(counts.items()):
            line = lines.get(product_id)
            if line is None:
                line = InboundLine.objects.create(
                    shipment=locked, product_id=product_id, quantity_announced=0
                )
                lines[product_id] = line
            if line.quantity_announced == 0:
                # Every receipt of an unannounced product is recorded (closing skips these lines).
                InboundDiscrepancy.objects.create(
                    shipment=locked,
                    product_id=product_id,
                    kind=DiscrepancyKind.WRONG_PRODUCT,
                    quantity=n,
                    recorded_by=actor,
                    note=note,
                )
            line.quantity_received += n
            line.save(update_fields=["quantity_received"])
            units.extend(
                StockUnit(
                    item_number=next(numbers),
                    product_id=product_id,
                    merchant_id=locked.merchant_id,
                    inbound_line=line,
                    receipt=receipt,
                    status=UnitStatus.AWAITING_APPRAISAL,
                    location=location,
                )
                for _ in range(n)
            )
        try:
            with transaction.atomic():
                created = StockUnit.objects.bulk_create(units, batch_size=1000)
        except IntegrityError:  # an item number minted concurrently elsewhere: very rare
            raise DomainError(_("Please receive again."), code="retry") from None
        UnitMovement.objects.bulk_create(
            [
                UnitMovement(
                    unit=unit,
                    from_status="",
                    to_status=UnitStatus.AWAITING_APPRAISAL,
                    to_location=location,
                    reason=MovementReason.RECEIVE,
                    actor=actor,
                    document=locked.reference,
                    note=note,
                )
                for unit in created
            ],
            batch_size=1000,
        )
        # Counter rows in product order, like stock_reserve: two services never deadlock.
        for product_id, n in sorted(counts.items()):
            bump_counters(product_id=product_id, deltas={"in_appraisal": n})
    return ReceivedUnits(receipt=receipt, unit_ids=[u.pk for u in created])


def inbound_record_damage(
    *, shipment: InboundShipment, product: Any, quantity: int, actor: Any, note: str
) -> InboundDiscrepancy:
    """Items that arrived damaged and were not received as units."""
    if quantity <= 0:
        raise DomainError(_("Give how many items are damaged."), code="bad_quantity")
    return InboundDiscrepancy.objects.create(
        shipment=shipment,
        product=product,
        kind=DiscrepancyKind.DAMAGED,
        quantity=quantity,
        recorded_by=actor,
        note=note,
    )


def inbound_close(*, shipment: InboundShipment, actor: Any) -> InboundShipment:
    """Finish receiving: short and over quantities per line become discrepancy records."""
    with transaction.atomic():
        locked = InboundShipment.objects.select_for_update().get(pk=shipment.pk)
        if locked.status == InboundStatus.RECEIVED:
            return locked
        if locked.status != InboundStatus.RECEIVING:
            raise DomainError(
                _("Receive something before closing the shipment."), code="inbound_not_receiving"
            )
        for line in locked.lines.all():
            if line.quantity_announced == 0:
                continue  # already recorded as a wrong product
            diff = line.quantity_received - line.quantity_announced
            if diff:
                InboundDiscrepancy.objects.create(
                    shipment=locked,
                    product_id=line.product_id,
                    kind=DiscrepancyKind.OVER if diff > 0 else DiscrepancyKind.SHORT,
                    quantity=abs(diff),
                    recorded_by=actor,
                )
        _event(locked, InboundStatus.RECEIVED, actor)
        locked.closed_at = timezone.now()
        locked.save(update_fields=["status", "closed_at"])
    return locked
