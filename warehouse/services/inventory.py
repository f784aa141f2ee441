"""Units, the movement ledger and per-product counters: every unit state change goes through here.

Locking contract (always in this order, so two services never deadlock):
reservation row -> unit rows (by id) -> ProductStock row (an UPDATE takes its lock).
Counters change by F() in a single UPDATE per product per operation, inside the same transaction
as the units and the movements, so the ledger and the counters never disagree.
"""

from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError

from ..codes import is_well_formed, normalize_item_number
from ..models import (
    CountStatus,
    Location,
    OutOfStockRecord,
    ProductStock,
    StockCount,
    StockCountScan,
    StockUnit,
    UnitMovement,
)
from ..states import (
    COUNTER_FIELD,
    STATUS_LOCATION_USAGES,
    LocationUsage,
    MovementReason,
    UnitStatus,
    can_transition,
)


def location_for(usage: str) -> Location:
    """The first active location of a usage (the default place for units of that kind)."""
    location = (
        Location.objects.filter(usage=usage, is_active=True).order_by("position", "code").first()
    )
    if location is None:
        raise DomainError(
            _("The warehouse has no active location for %(usage)s.") % {"usage": usage},
            code="no_location",
        )
    return location


def putaway_location(*, product_id: int) -> Location:
    """Keep a product together: the bin already holding it, else the least used stock bin."""
    held = (
        StockUnit.objects.filter(product_id=product_id, status=UnitStatus.AVAILABLE)
        .values_list("location_id", flat=True)
        .first()
    )
    if held:
        return Location.objects.get(pk=held)
    bins = (
        Location.objects.filter(usage=LocationUsage.STOCK, is_active=True)
        .annotate(n=Count("units"))
        .order_by("n", "position", "code")
    )
    location = bins.first()
    if location is None:
        raise DomainError(_("The warehouse has no active stock bin."), code="no_location")
    return location


def ensure_stock_rows(*, products: Iterable[tuple[int, int]]) -> None:
    """Create missing counter rows for (product_id, merchant_id); safe under concurrency
    (inserted in product order: concurrent inserts of the same new rows wait, never deadlock)."""
    ProductStock.objects.bulk_create(
        [ProductStock(product_id=p, merchant_id=m) for p, m in sorted(products)],
        ignore_conflicts=True,
    )


def bump_counters(*, product_id: int, deltas: dict[str, int]) -> None:
    """Apply counter deltas in one UPDATE (DB checks hold at statement end), then re-check stock."""
    deltas = {k: v for k, v in deltas.items() if v}
    if not deltas:
        return
    updated = ProductStock.objects.filter(pk=product_id).update(
        **{field: F(field) + delta for field, delta in deltas.items()}
    )
    if updated != 1:
        raise DomainError(_("This product has no stock record."), code="no_stock_row")
    if "available" in deltas or "reserved" in deltas:
        out_of_stock_sync(product_id=product_id)


def out_of_stock_sync(*, product_id: int) -> None:
    """Open an out-of-stock record at the reorder point, close it when stock is back.

    Runs inside the caller's transaction after an UPDATE of the product's counter row, whose
    lock serialises concurrent callers for the same product.
    """
    row = (
        ProductStock.objects.filter(pk=product_id)
        .values("available", "reserved", "reorder_point", "merchant_id")
        .get()
    )
    sellable = row["available"] - row["reserved"]
    open_record = OutOfStockRecord.objects.filter(
        product_id=product_id, closed_at__isnull=True
    ).first()
    if sellable <= row["reorder_point"] and open_record is None:
        record = OutOfStockRecord.objects.create(
            product_id=product_id,
            merchant_id=row["merchant_id"],
            reorder_point=row["reorder_point"],
        )
        from ..tasks import notify_out_of_stock

        transaction.on_commit(lambda: notify_out_of_stock.delay(record.pk))
    elif sellable > row["reorder_point"] and open_record is not None:
        open_record.closed_at = timezone.now()
        open_record.save(update_fields=["closed_at"])


def unit_lock(*, item_number: str) -> StockUnit:
    """The unit with this item number, row-locked for the caller's transaction."""
    number = normalize_item_number(item_number)
    if not is_well_formed(number):
        raise DomainError(
            _("“%(number)s” is not a valid item number; check it and scan again.")
            % {"number": number},
            code="bad_item_number",
            field="item_number",
        )
    unit = StockUnit.objects.select_for_update().filter(item_number=number).first()
    if unit is None:
        raise DomainError(
            _("No unit has the item number %(number)s.") % {"number": number},
            code="unknown_unit",
            field="item_number",
        )
    return unit


def transition(
    *,
    unit: StockUnit,
    to_status: str,
    reason: str,
    actor: Any | None,
    to_location: Location | None = None,
    document: str = "",
    note: str = "",
    extra_deltas: dict[str, int] | None = None,
) -> UnitMovement:
    """Move one locked unit to a new status (and place), write its movement, adjust the counters.

    The caller holds the unit's row lock and owns the transaction (this runs inside it).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("warehouse.transition must run inside the caller's transaction")
    current = unit.status
    if to_status != current and not can_transition(current, to_status):
        raise DomainError(
            _("A unit that is %(current)s cannot become %(target)s.")
            % {"current": UnitStatus(current).label, "target": UnitStatus(to_status).label},
            code="bad_transition",
        )
    location = to_location or unit.location
    if location.usage not in STATUS_LOCATION_USAGES[to_status]:
        raise DomainError(
            _("A unit that is %(status)s cannot be kept in %(location)s.")
            % {"status": UnitStatus(to_status).label, "location": location},
            code="bad_location",
        )
    movement = UnitMovement.objects.create(
        unit=unit,
        from_status=current,
        to_status=to_status,
        from_location=unit.location,
        to_location=location,
        reason=reason,
        actor=actor,
        document=document,
        note=note,
    )
    unit.status = to_status
    unit.location = location
    unit.save(update_fields=["status", "location", "reservation", "parcel", "updated_at"])
    deltas: Counter[str] = Counter(extra_deltas or {})
    if to_status != current:
        if field := COUNTER_FIELD[current]:
            deltas[field] -= 1
        if field := COUNTER_FIELD[to_status]:
            deltas[field] += 1
    bump_counters(product_id=unit.product_id, deltas=dict(deltas))
    return movement


@transaction.atomic
def unit_relocate(
    *, item_number: str, location_code: str, actor: Any, note: str = ""
) -> UnitMovement:
    """Move a unit to another location of a usage its status allows (status unchanged)."""
    unit = unit_lock(item_number=item_number)
    location = Location.objects.filter(code=location_code.strip().upper(), is_active=True).first()
    if location is None:
        raise DomainError(
            _("There is no active location %(code)s.") % {"code": location_code},
            code="unknown_location",
            field="location",
        )
    return transition(
        unit=unit,
        to_status=unit.status,
        to_location=location,
        reason=MovementReason.RELOCATE,
        actor=actor,
        note=note,
    )


# Cycle counts ------------------------------------------------------------------------------

COUNTABLE = frozenset(s for s in UnitStatus.values if can_transition(s, UnitStatus.LOST))


def stock_count_start(*, location: Location, actor: Any) -> StockCount:
    """Open a count of one location; the ledger's expectation is fixed when the count closes."""
    if StockCount.objects.filter(location=location, status=CountStatus.OPEN).exists():
        raise DomainError(
            _("A count of %(location)s is already open; finish it first.") % {"location": location},
            code="count_open",
        )
    return StockCount.objects.create(location=location, started_by=actor)


def stock_count_scan(*, count: StockCount, item_number: str) -> StockUnit:
    """Record that a unit was physically seen during the count (scanning twice is harmless)."""
    with transaction.atomic():
        locked = StockCount.objects.select_for_update().get(pk=count.pk)
        if locked.status != CountStatus.OPEN:
            raise DomainError(_("This count is closed."), code="count_closed")
        number = normalize_item_number(item_number)
        unit = StockUnit.objects.filter(item_number=number).first()
        if unit is None:
            raise DomainError(
                _("No unit has the item number %(number)s.") % {"number": number},
                code="unknown_unit",
                field="item_number",
            )
        StockCountScan.objects.get_or_create(count=locked, unit=unit)
    return unit


def stock_count_close(*, count: StockCount, actor: Any) -> StockCount:
    """Settle a count with movements: units the ledger puts here but nobody saw become lost;
    units seen here but recorded elsewhere are relocated here (when their status allows it);
    lost units that turn up are found again."""
    with transaction.atomic():
        locked = StockCount.objects.select_for_update().get(pk=count.pk)
        if locked.status != CountStatus.OPEN:
            return locked
        document = f"CNT-{locked.pk}"
        seen = set(locked.scans.values_list("unit_id", flat=True))
        # Only units a count can settle are expected: picked/packed ones belong to an order and
        # shipped/destroyed/returned ones have left (their place is outbound or scrap), so
        # none of them can be written off as lost.
        expected_ids = set(
            StockUnit.objects.filter(location=locked.location, status__in=COUNTABLE).values_list(
                "id", flat=True
            )
        )
        missing = relocated = 0
        scrap = None
        units = list(
            StockUnit.objects.select_for_update().filter(pk__in=expected_ids | seen).order_by("pk")
        )
        _refuse_writing_off_reserved_units(
            Counter(
                u.product_id
                for u in units
                if u.pk in expected_ids and u.pk not in seen and u.status == UnitStatus.AVAILABLE
            )
        )
        for unit in units:
            if unit.pk in expected_ids and unit.pk not in seen:
                scrap = scrap or location_for(LocationUsage.SCRAP)
                transition(
                    unit=unit,
                    to_status=UnitStatus.LOST,
                    to_location=scrap,
                    reason=MovementReason.COUNT_MISSING,
                    actor=actor,
                    document=document,
                )
                missing += 1
            elif unit.pk in seen and unit.status == UnitStatus.LOST:
                # The status it had when it was lost (a lost unit may have been relocated since,
                # so not simply its last movement's origin).
                before = (
                    unit.movements.filter(to_status=UnitStatus.LOST)
                    .exclude(from_status=UnitStatus.LOST)
                    .order_by("-id")
                    .values_list("from_status", flat=True)
                    .first()
                )
                allowed = STATUS_LOCATION_USAGES[before]
                place = (
                    locked.location
                    if locked.location.usage in allowed
                    else location_for(sorted(allowed)[0])
                )
                transition(
                    unit=unit,
                    to_status=before,
                    to_location=place,
                    reason=MovementReason.COUNT_FOUND,
                    actor=actor,
                    document=document,
                )
                relocated += 1
            elif (
                unit.pk in seen
                and unit.location_id != locked.location_id
                and locked.location.usage in STATUS_LOCATION_USAGES[unit.status]
            ):
                transition(
                    unit=unit,
                    to_status=unit.status,
                    to_location=locked.location,
                    reason=MovementReason.RELOCATE,
                    actor=actor,
                    document=document,
                )
                relocated += 1
        locked.status = CountStatus.CLOSED
        locked.closed_at = timezone.now()
        locked.expected = len(expected_ids)
        locked.found = len(expected_ids & seen)
        locked.missing = missing
        locked.relocated = relocated
        locked.save()
    return locked


def _refuse_writing_off_reserved_units(missing_available: Counter[int]) -> None:
    """Writing off available units must leave every product's reserved <= available: units that
    orders hold cannot be lost by a count (they must be found, or the orders released, first).

    Locks the products' counter rows (after the units, as the lock order wants).
    """
    if not missing_available:
        return
    rows = (
        ProductStock.objects.select_for_update()
        .filter(pk__in=list(missing_available))
        .order_by("pk")
        .values_list("pk", "available", "reserved")
    )
    short = [pk for pk, available, reserved in rows if available - missing_available[pk] < reserved]
    if short:
        raise DomainError(
            _(
                "Units reserved for orders were not found (products %(ids)s): find them, or have "
                "those orders released, before closing the count."
            )
            % {"ids": ", ".join(map(str, short))},
            code="count_reserved_missing",
        )


# The authenticity gate ---------------------------------------------------------------------
# Only the authenticity app calls these, after it has recorded a final verdict.


def unit_release_to_stock(*, unit: StockUnit, actor: Any, document: str) -> UnitMovement:
    """A genuine final verdict: the unit becomes sellable, put away with its product."""
    return transition(
        unit=unit,
        to_status=UnitStatus.AVAILABLE,
        to_location=putaway_location(product_id=unit.product_id),
        reason=MovementReason.APPRAISE_GENUINE,
        actor=actor,
        document=document,
    )


def unit_reject(*, unit: StockUnit, actor: Any, document: str, note: str = "") -> UnitMovement:
    """A failed final verdict: the unit goes to the rejected area, never to stock."""
    return transition(
        unit=unit,
        to_status=UnitStatus.REJECTED,
        to_location=location_for(LocationUsage.REJECTED),
        reason=MovementReason.APPRAISE_REJECT,
        actor=actor,
        document=document,
        note=note,
    )


def unit_dispose(
    *, unit: StockUnit, destroy: bool, actor: Any, document: str, note: str = ""
) -> UnitMovement:
    """A rejected unit leaves for good: destroyed (scrap) or sent back to its merchant."""
    if destroy:
        return transition(
            unit=unit,
            to_status=UnitStatus.DESTROYED,
            to_location=location_for(LocationUsage.SCRAP),
            reason=MovementReason.DESTROY,
            actor=actor,
            document=document,
            note=note,
        )
    return transition(
        unit=unit,
        to_status=UnitStatus.RETURNED_TO_MERCHANT,
        to_location=location_for(LocationUsage.OUTBOUND),
        reason=MovementReason.RETURN_TO_MERCHANT,
        actor=actor,
        document=document,
        note=note,
    )


# Settings merchants and platform staff change in the admin ---------------------------------


def stock_set_reorder_point(*, product_id: int, reorder_point: int) -> ProductStock:
    """Set a product's reorder point and open/close its out-of-stock record to match at once.

    Locks the product's counter row, so a concurrent reservation sees the new point.
    """
    if reorder_point < 0:
        raise DomainError(
            _("The reorder point cannot be negative."), code="bad_quantity", field="reorder_point"
        )
    with transaction.atomic():
        stock = ProductStock.objects.select_for_update().filter(pk=product_id).first()
        if stock is None:
            raise DomainError(_("This product has no stock record."), code="no_stock_row")
        stock.reorder_point = reorder_point
        stock.save(update_fields=["reorder_point", "updated_at"])
        out_of_stock_sync(product_id=product_id)
    return stock


def location_save(*, location: Location) -> Location:
    """Create or change a location; its usage cannot change, nor can it be switched off, while
    units are kept there (a unit's place must agree with its status).

    Locks the location row against concurrent edits; unit moves do not lock locations, so this
    is a guard for people editing locations, not a race-proof invariant.
    """
    location.code = location.code.strip().upper()
    location.name = location.name.strip()
    if not location.code or not location.name:
        raise DomainError(_("Give the location a code and a name."), code="no_code")
    with transaction.atomic():
        clash = Location.objects.filter(code=location.code).exclude(pk=location.pk).exists()
        if clash:
            raise DomainError(
                _("Another location already has the code %(code)s.") % {"code": location.code},
                code="code_taken",
                field="code",
            )
        if location.pk is not None:
            before = Location.objects.select_for_update().get(pk=location.pk)
            occupied = StockUnit.objects.filter(location_id=location.pk).exists()
            if occupied and before.usage != location.usage:
                raise DomainError(
                    _("Units are kept at %(code)s; move them before changing its usage.")
                    % {"code": before.code},
                    code="location_occupied",
                    field="usage",
                )
            if occupied and before.is_active and not location.is_active:
                raise DomainError(
                    _("Units are kept at %(code)s; move them before switching it off.")
                    % {"code": before.code},
                    code="location_occupied",
                    field="is_active",
                )
        location.save()
    return location
