"""Packing and outbound: units of an order go into a parcel, the parcel to the carrier.

The orders app decides which order a parcel is for and which reservations (order lines) its units
may come from; these functions guard the units: only a picked unit of one of those reservations
can be packed, a unit is packed into one parcel once, and only a packed parcel ships.
"""

import secrets
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError

from ..codes import ALPHABET
from ..models import Parcel, ParcelStatus, StockUnit
from ..states import LocationUsage, MovementReason, UnitStatus
from .inventory import location_for, transition, unit_lock


def _parcel_code() -> str:
    return "PK" + "".join(secrets.choice(ALPHABET) for _ in range(10))


def parcel_open(*, order_ref: str, actor: Any) -> Parcel:
    """The order's open box at the pack station (a new one if none is open)."""
    parcel = Parcel.objects.filter(order_ref=order_ref, status=ParcelStatus.PACKING).first()
    if parcel is not None:
        return parcel
    try:
        with transaction.atomic():
            return Parcel.objects.create(code=_parcel_code(), order_ref=order_ref, opened_by=actor)
    except IntegrityError:  # a second station opened it at the same moment
        return Parcel.objects.get(order_ref=order_ref, status=ParcelStatus.PACKING)


def parcel_lock(*, code: str) -> Parcel:
    parcel = Parcel.objects.select_for_update().filter(code=code.strip().upper()).first()
    if parcel is None:
        raise DomainError(
            _("No parcel has the code “%(code)s”.") % {"code": code}, code="unknown_parcel"
        )
    return parcel


def parcel_add_unit(
    *, parcel_code: str, item_number: str, reservation_ids: Iterable[int], actor: Any
) -> StockUnit:
    """Pack one scanned unit; refused with the reason if it is not this order's picked unit."""
    allowed = set(reservation_ids)
    with transaction.atomic():
        parcel = parcel_lock(code=parcel_code)
        if parcel.status != ParcelStatus.PACKING:
            raise DomainError(_("This parcel is already closed."), code="parcel_closed")
        unit = unit_lock(item_number=item_number)
        if unit.parcel_id == parcel.pk:
            raise DomainError(
                _("%(item)s is already in this parcel.") % {"item": unit.item_number},
                code="duplicate_scan",
            )
        if unit.status in (UnitStatus.SHIPPED, UnitStatus.DELIVERED):
            raise DomainError(
                _("%(item)s has already been shipped.") % {"item": unit.item_number},
                code="already_shipped",
            )
        if unit.status == UnitStatus.PACKED:
            raise DomainError(
                _("%(item)s is already packed in another parcel.") % {"item": unit.item_number},
                code="in_other_parcel",
            )
        if unit.status != UnitStatus.PICKED or unit.reservation_id not in allowed:
            raise DomainError(
                _("%(item)s was not picked for this order (it is %(status)s).")
                % {"item": unit.item_number, "status": unit.get_status_display()},
                code="not_for_this_order",
            )
        unit.parcel = parcel
        transition(
            unit=unit,
            to_status=UnitStatus.PACKED,
            to_location=location_for(LocationUsage.PACKING),
            reason=MovementReason.PACK,
            actor=actor,
            document=parcel.code,
        )
    return unit


def parcel_close(*, parcel_code: str, weight_grams: int, actor: Any) -> Parcel:
    """The box is full and weighed: it waits for the carrier's label."""
    if not weight_grams or weight_grams <= 0 or weight_grams > 70_000:
        raise DomainError(
            _("Enter the parcel's weight in grams (1 to 70,000)."),
            code="bad_weight",
            field="weight_grams",
        )
    with transaction.atomic():
        parcel = parcel_lock(code=parcel_code)
        if parcel.status != ParcelStatus.PACKING:
            return parcel
        if not parcel.units.exists():
            raise DomainError(_("Scan at least one unit into the parcel."), code="empty_parcel")
        parcel.status = ParcelStatus.PACKED
        parcel.weight_grams = weight_grams
        parcel.packed_at = timezone.now()
        parcel.save(update_fields=["status", "weight_grams", "packed_at"])
    return parcel


def parcel_set_waybill(*, parcel_code: str, carrier_code: str, waybill: str) -> Parcel:
    with transaction.atomic():
        parcel = parcel_lock(code=parcel_code)
        if parcel.waybill and parcel.waybill != waybill:
            raise DomainError(_("This parcel already has a waybill."), code="has_waybill")
        parcel.carrier_code, parcel.waybill = carrier_code, waybill
        parcel.save(update_fields=["carrier_code", "waybill"])
    return parcel


def parcel_ship(*, parcel_code: str, actor: Any) -> Parcel:
    """Handover to the carrier: every unit of the parcel becomes shipped (idempotent)."""
    with transaction.atomic():
        parcel = parcel_lock(code=parcel_code)
        if parcel.status in (ParcelStatus.SHIPPED, ParcelStatus.DELIVERED):
            return parcel
        if parcel.status != ParcelStatus.PACKED or not parcel.waybill:
            raise DomainError(
                _("This parcel is not packed and labelled yet."), code="parcel_not_ready"
            )
        outbound = location_for(LocationUsage.OUTBOUND)
        for unit in StockUnit.objects.select_for_update().filter(parcel=parcel).order_by("pk"):
            transition(
                unit=unit,
                to_status=UnitStatus.SHIPPED,
                to_location=outbound,
                reason=MovementReason.SHIP,
                actor=actor,
                document=parcel.waybill,
            )
        parcel.status = ParcelStatus.SHIPPED
        parcel.shipped_by = actor
        parcel.shipped_at = timezone.now()
        parcel.save(update_fields=["status", "shipped_by", "shipped_at"])
    return parcel


def parcel_deliver(*, parcel_code: str) -> Parcel:
    """The carrier delivered the parcel: its units are delivered (idempotent)."""
    with transaction.atomic():
        parcel = parcel_lock(code=parcel_code)
        if parcel.status == ParcelStatus.DELIVERED:
            return parcel
        if parcel.status != ParcelStatus.SHIPPED:
            raise DomainError(_("Only a shipped parcel can be delivered."), code="not_shipped")
        for unit in StockUnit.objects.select_for_update().filter(parcel=parcel).order_by("pk"):
            transition(
                unit=unit,
                to_status=UnitStatus.DELIVERED,
                reason=MovementReason.DELIVER,
                actor=None,
                document=parcel.waybill,
            )
        parcel.status = ParcelStatus.DELIVERED
        parcel.delivered_at = timezone.now()
        parcel.save(update_fields=["status", "delivered_at"])
    return parcel


def parcel_unpack(*, parcel_code: str, actor: Any, note: str = "") -> Parcel:
    """A parcel that must not ship (customs refused the order): its units go back to stock."""
    with transaction.atomic():
        parcel = parcel_lock(code=parcel_code)
        if parcel.status == ParcelStatus.CANCELLED:
            return parcel
        if parcel.status not in (ParcelStatus.PACKING, ParcelStatus.PACKED):
            raise DomainError(
                _("This parcel has left the warehouse and cannot be unpacked."),
                code="parcel_shipped",
            )
        stock = location_for(LocationUsage.STOCK)
        for unit in StockUnit.objects.select_for_update().filter(parcel=parcel).order_by("pk"):
            unit.parcel = None
            unit.reservation = None
            transition(
                unit=unit,
                to_status=UnitStatus.AVAILABLE,
                to_location=stock,
                reason=MovementReason.UNPICK,
                actor=actor,
                document=parcel.code,
                note=note[:200],
            )
        parcel.status = ParcelStatus.CANCELLED
        parcel.save(update_fields=["status"])
    return parcel
