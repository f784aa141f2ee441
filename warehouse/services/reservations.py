"""The reservation API the orders app uses: reserve, release, commit, and assign units at picking.

Reserving is a conditional UPDATE (`reserved + n <= available`) on the product's counter row:
PostgreSQL re-checks the condition after waiting for a concurrent writer's lock, so two buyers can
never both take the last unit, and no counter ever goes below zero (CHECK constraints back it).
"""

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from core.errors import DomainError

from ..models import ProductStock, Reservation, ReservationEvent, ReservationStatus, StockUnit
from ..states import LocationUsage, MovementReason, UnitStatus
from .inventory import bump_counters, location_for, out_of_stock_sync, transition, unit_lock


class InsufficientStockError(DomainError):
    code = "insufficient_stock"

    def __init__(self, *, product_id: int, wanted: int, sellable: int):
        super().__init__(
            _("Only %(sellable)s left of this product; you asked for %(wanted)s.")
            % {"sellable": max(0, sellable), "wanted": wanted}
        )
        self.product_id, self.wanted, self.sellable = product_id, wanted, max(0, sellable)


def stock_reserve(*, items: list[tuple[int, int]], order_line_ref: str = "") -> list[Reservation]:
    """Reserve quantities of several products, all or nothing; never beyond sellable stock."""
    wanted: dict[int, int] = {}
    for product_id, quantity in items:
        if quantity <= 0:
            raise DomainError(_("Reserve at least one unit."), code="bad_quantity")
        wanted[product_id] = wanted.get(product_id, 0) + quantity
    with transaction.atomic():
        reservations = []
        for product_id in sorted(wanted):  # one lock order for everyone: no deadlocks
            n = wanted[product_id]
            taken = ProductStock.objects.filter(
                pk=product_id, available__gte=F("reserved") + n
            ).update(reserved=F("reserved") + n)
            if taken != 1:
                row = (
                    ProductStock.objects.filter(pk=product_id)
                    .values("available", "reserved")
                    .first()
                )
                sellable = row["available"] - row["reserved"] if row else 0
                raise InsufficientStockError(product_id=product_id, wanted=n, sellable=sellable)
            out_of_stock_sync(product_id=product_id)
            reservation = Reservation.objects.create(
                product_id=product_id, quantity=n, order_line_ref=order_line_ref
            )
            ReservationEvent.objects.create(reservation=reservation, kind="reserved", quantity=n)
            reservations.append(reservation)
    return reservations


def reservation_release(*, reservation_id: int, note: str = "") -> Reservation:
    """Give back what is reserved and not yet picked; releasing twice changes nothing."""
    with transaction.atomic():
        reservation = Reservation.objects.select_for_update().get(pk=reservation_id)
        if reservation.status != ReservationStatus.ACTIVE:
            return reservation
        unpicked = reservation.quantity - reservation.picked
        bump_counters(product_id=reservation.product_id, deltas={"reserved": -unpicked})
        reservation.status = ReservationStatus.RELEASED
        reservation.save(update_fields=["status", "updated_at"])
        ReservationEvent.objects.create(
            reservation=reservation, kind="released", quantity=unpicked, note=note[:200]
        )
    return reservation


def reservation_commit(*, reservation_id: int, order_line_ref: str) -> Reservation:
    """Tie a reservation to an order line (after payment); idempotent for the same line."""
    if not order_line_ref:
        raise DomainError(_("An order line reference is required."), code="no_ref")
    with transaction.atomic():
        reservation = Reservation.objects.select_for_update().get(pk=reservation_id)
        if reservation.status == ReservationStatus.RELEASED:
            raise DomainError(_("This reservation was released."), code="reservation_released")
        if reservation.order_line_ref == order_line_ref:
            return reservation
        if reservation.order_line_ref:
            raise DomainError(
                _("This reservation belongs to another order line."), code="reservation_taken"
            )
        reservation.order_line_ref = order_line_ref
        reservation.save(update_fields=["order_line_ref", "updated_at"])
        ReservationEvent.objects.create(
            reservation=reservation, kind="committed", quantity=0, note=order_line_ref[:200]
        )
    return reservation


def unit_pick(*, item_number: str, reservation_id: int, actor: Any) -> StockUnit:
    """Assign a specific available unit of the right product to a reservation (picking)."""
    with transaction.atomic():
        reservation = Reservation.objects.select_for_update().get(pk=reservation_id)
        if (
            reservation.status != ReservationStatus.ACTIVE
            or reservation.picked >= reservation.quantity
        ):
            raise DomainError(
                _("Everything for this line has been picked."), code="nothing_to_pick"
            )
        unit = unit_lock(item_number=item_number)
        if unit.product_id != reservation.product_id:
            raise DomainError(_("This unit is a different product."), code="wrong_product")
        if unit.status != UnitStatus.AVAILABLE:
            raise DomainError(
                _(
                    "%(item)s is “%(status)s” and cannot be picked: take another unit from a bin "
                    "on the pick list."
                )
                % {"item": unit.item_number, "status": unit.get_status_display()},
                code="not_available",
            )
        unit.reservation = reservation
        transition(
            unit=unit,
            to_status=UnitStatus.PICKED,
            to_location=location_for(LocationUsage.PACKING),
            reason=MovementReason.PICK,
            actor=actor,
            document=reservation.order_line_ref or f"R{reservation.pk}",
            extra_deltas={"reserved": -1},
        )
        reservation.picked += 1
        if reservation.picked == reservation.quantity:
            reservation.status = ReservationStatus.FULFILLED
        reservation.save(update_fields=["picked", "status", "updated_at"])
        ReservationEvent.objects.create(
            reservation=reservation, kind="picked", quantity=1, note=unit.item_number
        )
    return unit
