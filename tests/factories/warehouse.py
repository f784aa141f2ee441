"""Warehouse and authenticity state built through their services: shipments, units at every
status of the unit spine, reservations.

Statuses that no service reaches yet (packed, shipped, delivered, quarantine: packing, outbound
and returns arrive with later issues) are reached through `warehouse.services.inventory.
transition`, the one function every such service will call, along allowed transitions only, so
the ledger stays valid.
"""

import factory
from django.db import transaction

from accounts import roles
from accounts.services import user_grant_role
from authenticity import services as authenticity
from authenticity.models import Verdict
from warehouse import services as warehouse
from warehouse.models import InboundShipment, Location, StockUnit
from warehouse.services.inventory import location_for, transition, unit_lock
from warehouse.states import LocationUsage, MovementReason, UnitStatus

from .accounts import UserFactory
from .catalog import ProductFactory
from .images import image_upload

S = UnitStatus


def staff_user(role: str = roles.WAREHOUSE, **kwargs):
    """A platform staff login in a role (warehouse clerk, appraiser, platform admin)."""
    return user_grant_role(user=UserFactory(**kwargs), role=role)


class InboundShipmentFactory(factory.Factory):
    """An announcement through warehouse.services.inbound_announce.

    `lines` is a list of (product, quantity); by default one product of `merchant`, 3 units.
    """

    class Meta:
        model = InboundShipment

    merchant = factory.LazyAttribute(lambda o: o.lines[0][0].merchant if o.lines else None)
    actor = factory.LazyAttribute(lambda o: o.merchant.applicant)
    carrier = "SF Express"
    waybill = factory.Sequence(lambda n: f"SF{n:09d}")
    lines = factory.LazyFunction(lambda: [(ProductFactory(), 3)])

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return warehouse.inbound_announce(**kwargs)


def units_receive(*, product, n: int, clerk=None, shipment=None) -> list[StockUnit]:
    """n units of a product received (announced as n unless a shipment is given), by pk."""
    shipment = shipment or InboundShipmentFactory(lines=[(product, n)])
    received = warehouse.inbound_receive(
        shipment=shipment, counts={product.pk: n}, actor=clerk or staff_user()
    )
    return list(StockUnit.objects.filter(pk__in=received.unit_ids).order_by("pk"))


def appraise(unit: StockUnit, verdict: str, *, appraiser=None, notes: str = "") -> StockUnit:
    """One verdict through authenticity.appraisal_record (with the evidence it requires)."""
    failing = verdict != Verdict.GENUINE
    authenticity.appraisal_record(
        item_number=unit.item_number,
        appraiser=appraiser or staff_user(roles.APPRAISER),
        verdict=verdict,
        notes=notes or ("Found a fault." if failing else ""),
        photos=[image_upload(width=64, height=64)]
        if verdict in (Verdict.COUNTERFEIT, Verdict.DEFECTIVE)
        else [],
    )
    unit.refresh_from_db()
    return unit


def units_available(*, product, n: int, appraiser=None) -> list[StockUnit]:
    """n units received and appraised genuine: sellable."""
    appraiser = appraiser or staff_user(roles.APPRAISER)
    units = units_receive(product=product, n=n)
    return [appraise(unit, Verdict.GENUINE, appraiser=appraiser) for unit in units]


WALK_REASONS = {
    S.AVAILABLE: MovementReason.RESTOCK,
    S.PACKED: MovementReason.PACK,
    S.SHIPPED: MovementReason.SHIP,
    S.DELIVERED: MovementReason.DELIVER,
    S.QUARANTINE: MovementReason.RETURN_RECEIVE,
    S.REJECTED: MovementReason.INSPECT_REJECT,
}


def walk(unit: StockUnit, *path: str) -> StockUnit:
    """Move a unit along allowed transitions with `transition`, to the first location each
    status may sit in; a unit leaving the picked/packed/shipped/delivered states is detached
    from its reservation first, as the services for those steps will do."""
    for status in path:
        with transaction.atomic():
            locked = unit_lock(item_number=unit.item_number)
            if status not in (S.PICKED, S.PACKED, S.SHIPPED, S.DELIVERED):
                locked.reservation = None
            transition(
                unit=locked,
                to_status=status,
                to_location=location_of(status),
                reason=WALK_REASONS.get(status, MovementReason.RELOCATE),
                actor=None,
            )
    unit.refresh_from_db()
    return unit


def location_of(status: str) -> Location:
    """A location a unit in this status may sit in (stock: the first stock bin)."""
    usages = {
        S.AWAITING_APPRAISAL: LocationUsage.RECEIVING,
        S.AVAILABLE: LocationUsage.STOCK,
        S.PICKED: LocationUsage.PACKING,
        S.PACKED: LocationUsage.PACKING,
        S.SHIPPED: LocationUsage.OUTBOUND,
        S.DELIVERED: LocationUsage.OUTBOUND,
        S.QUARANTINE: LocationUsage.QUARANTINE,
        S.REJECTED: LocationUsage.REJECTED,
        S.DESTROYED: LocationUsage.SCRAP,
        S.RETURNED_TO_MERCHANT: LocationUsage.OUTBOUND,
        S.LOST: LocationUsage.SCRAP,
    }
    return location_for(usages[status])


def unit_in_status(status: str, *, product=None) -> StockUnit:
    """One unit of a fresh product (or `product`) in `status`, reached the way the spine does:
    services where they exist, `walk` for packing, shipping and returns."""
    product = product or ProductFactory()
    unit = units_receive(product=product, n=1)[0]
    if status == S.AWAITING_APPRAISAL:
        return unit
    if status in (S.REJECTED, S.DESTROYED, S.RETURNED_TO_MERCHANT):
        unit = appraise(unit, Verdict.DEFECTIVE)
        if status == S.DESTROYED:
            authenticity.disposition_policy_set(
                merchant=product.merchant, disposition="destroy", counterfeit_disposition="destroy"
            )
            authenticity.unit_destroy(
                item_number=unit.item_number,
                actor=staff_user(),
                witness=staff_user(),
                method="Shredded",
            )
        elif status == S.RETURNED_TO_MERCHANT:
            authenticity.disposition_policy_set(
                merchant=product.merchant, disposition="return", counterfeit_disposition="destroy"
            )
            authenticity.unit_return_to_merchant(
                item_number=unit.item_number, actor=staff_user(), carrier="EMS", waybill="EE1"
            )
        unit.refresh_from_db()
        return unit
    unit = appraise(unit, Verdict.GENUINE)
    if status == S.AVAILABLE:
        return unit
    if status == S.LOST:
        # A count of its bin that sees every other unit there but not this one.
        clerk = staff_user()
        count = warehouse.stock_count_start(location=unit.location, actor=clerk)
        others = StockUnit.objects.filter(location=unit.location).exclude(pk=unit.pk)
        for number in others.values_list("item_number", flat=True):
            warehouse.stock_count_scan(count=count, item_number=number)
        warehouse.stock_count_close(count=count, actor=clerk)
        unit.refresh_from_db()
        return unit
    (reservation,) = warehouse.stock_reserve(items=[(product.pk, 1)])
    unit = warehouse.unit_pick(
        item_number=unit.item_number, reservation_id=reservation.pk, actor=staff_user()
    )
    path = {
        S.PICKED: [],
        S.PACKED: [S.PACKED],
        S.SHIPPED: [S.PACKED, S.SHIPPED],
        S.DELIVERED: [S.PACKED, S.SHIPPED, S.DELIVERED],
        S.QUARANTINE: [S.PACKED, S.SHIPPED, S.QUARANTINE],
    }[status]
    return walk(unit, *path)


def warehouse_state() -> dict:
    """Every warehouse and authenticity row that a service may write, as comparable values:
    a refused action must leave this exactly as it was."""
    from authenticity.models import Appraisal, AppraisalCase, UnitDisposition
    from warehouse.models import (
        InboundDiscrepancy,
        InboundEvent,
        InboundLine,
        OutOfStockRecord,
        ProductStock,
        Receipt,
        Reservation,
        ReservationEvent,
        StockCount,
        StockCountScan,
        UnitMovement,
    )
    from warehouse.states import COUNTER_FIELDS

    def rows(qs, *fields):
        return list(qs.order_by("pk").values_list(*fields))

    return {
        "units": rows(StockUnit.objects, "pk", "status", "location_id", "reservation_id"),
        "movements": rows(UnitMovement.objects, "pk"),
        "stock": rows(ProductStock.objects, "pk", *COUNTER_FIELDS, "reorder_point"),
        "reservations": rows(
            Reservation.objects, "pk", "quantity", "picked", "status", "order_line_ref"
        ),
        "reservation_events": rows(ReservationEvent.objects, "pk"),
        "out_of_stock": rows(OutOfStockRecord.objects, "pk", "closed_at"),
        "shipments": rows(InboundShipment.objects, "pk", "status", "closed_at"),
        "lines": rows(
            InboundLine.objects, "pk", "product_id", "quantity_announced", "quantity_received"
        ),
        "receipts": rows(Receipt.objects, "pk"),
        "discrepancies": rows(InboundDiscrepancy.objects, "pk"),
        "inbound_events": rows(InboundEvent.objects, "pk"),
        "counts": rows(StockCount.objects, "pk", "status"),
        "scans": rows(StockCountScan.objects, "pk"),
        "cases": rows(AppraisalCase.objects, "pk", "status", "final_verdict"),
        "appraisals": rows(Appraisal.objects, "pk"),
        "dispositions": rows(UnitDisposition.objects, "pk"),
    }
