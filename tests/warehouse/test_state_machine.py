"""The unit state machine: every allowed and forbidden transition of states.TRANSITIONS, through
`transition` (the one function every service calls) and through each public service."""

from collections import Counter

import pytest
from django.db import transaction

from accounts import roles
from authenticity import services as authenticity
from authenticity.models import AppraisalCase, Verdict
from core.errors import DomainError
from tests.factories import (
    ProductFactory,
    staff_user,
    unit_in_status,
    units_available,
    warehouse_state,
)
from tests.factories.warehouse import location_of
from warehouse import services as warehouse
from warehouse.ledger import verify_ledger
from warehouse.models import Location, ProductStock, StockUnit, UnitMovement
from warehouse.services.inventory import transition, unit_lock
from warehouse.states import (
    COUNTER_FIELD,
    COUNTER_FIELDS,
    FINAL,
    STATUS_LOCATION_USAGES,
    TRANSITIONS,
    LocationUsage,
    MovementReason,
    UnitStatus,
    can_transition,
)

S = UnitStatus
ALL = list(S.values)
# The spine as drawn in docs/architecture.md, written out independently of states.py.
EDGES = {
    ("awaiting_appraisal", "available"),
    ("awaiting_appraisal", "rejected"),
    ("awaiting_appraisal", "lost"),
    ("available", "picked"),
    ("available", "lost"),
    ("picked", "packed"),
    ("picked", "available"),
    ("packed", "shipped"),
    ("packed", "available"),
    ("shipped", "delivered"),
    ("shipped", "quarantine"),
    ("delivered", "quarantine"),
    ("quarantine", "available"),
    ("quarantine", "rejected"),
    ("quarantine", "lost"),
    ("rejected", "destroyed"),
    ("rejected", "returned_to_merchant"),
    ("rejected", "lost"),
    ("lost", "awaiting_appraisal"),
    ("lost", "available"),
    ("lost", "quarantine"),
    ("lost", "rejected"),
}
PAIRS = [(a, b) for a in ALL for b in ALL if a != b]
ALLOWED = [(a, b) for a, b in PAIRS if (a, b) in EDGES]
FORBIDDEN = [(a, b) for a, b in PAIRS if (a, b) not in EDGES]


def counters(product_id: int) -> dict[str, int]:
    return ProductStock.objects.filter(pk=product_id).values(*COUNTER_FIELDS).get()


def move(unit: StockUnit, to_status: str, location: Location) -> UnitMovement:
    with transaction.atomic():
        locked = unit_lock(item_number=unit.item_number)
        if to_status not in (S.PICKED, S.PACKED, S.SHIPPED, S.DELIVERED):
            locked.reservation = None  # what an unpick / return service must do
        return transition(
            unit=locked,
            to_status=to_status,
            to_location=location,
            reason=MovementReason.RELOCATE,
            actor=None,
        )


# The table itself ----------------------------------------------------------------------------


def test_the_table_is_the_documented_spine():
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == EDGES
    assert set(TRANSITIONS) == set(ALL) == set(COUNTER_FIELD) == set(STATUS_LOCATION_USAGES)
    assert (
        {s for s in ALL if not TRANSITIONS[s]}
        == set(FINAL)
        == {"destroyed", "returned_to_merchant"}
    )
    assert [b for a, b in PAIRS if can_transition(a, b)] == [b for a, b in PAIRS if (a, b) in EDGES]
    assert can_transition("available", "available") is False  # relocation is not a transition
    assert can_transition("no-such-status", "available") is False
    # Every counter is fed by some status, and no status counts twice.
    assert {f for f in COUNTER_FIELD.values() if f} == set(COUNTER_FIELDS) - {"reserved"}


def test_transition_refuses_to_run_outside_the_callers_transaction():
    # No database needed: the guard runs before anything is read or written.
    with pytest.raises(RuntimeError, match="inside the caller's transaction"):
        transition(
            unit=StockUnit(status=S.AVAILABLE),
            to_status=S.PICKED,
            reason=MovementReason.PICK,
            actor=None,
        )


# Every pair through `transition` -------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_allowed_transition_moves_the_unit_writes_the_movement_and_counts(current, target):
    unit = unit_in_status(current)
    before = counters(unit.product_id)
    source = unit.location_id
    destination = location_of(target)
    movements = UnitMovement.objects.filter(unit=unit).count()

    movement = move(unit, target, destination)

    unit.refresh_from_db()
    assert (unit.status, unit.location_id) == (target, destination.pk)
    assert (movement.from_status, movement.to_status) == (current, target)
    assert (movement.from_location_id, movement.to_location_id) == (source, destination.pk)
    assert UnitMovement.objects.filter(unit=unit).count() == movements + 1
    expected = Counter(before)
    if COUNTER_FIELD[current]:
        expected[COUNTER_FIELD[current]] -= 1
    if COUNTER_FIELD[target]:
        expected[COUNTER_FIELD[target]] += 1
    assert counters(unit.product_id) == {f: expected[f] for f in COUNTER_FIELDS}
    report = verify_ledger()
    assert report.problems == []


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), FORBIDDEN, ids=[f"{a}->{b}" for a, b in FORBIDDEN])
def test_forbidden_transition_is_refused_and_changes_nothing(current, target):
    unit = unit_in_status(current)
    before = warehouse_state()

    with pytest.raises(DomainError) as refused:
        move(unit, target, location_of(target))

    assert refused.value.code == "bad_transition"
    assert warehouse_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_allowed_transition_to_a_place_the_status_may_not_be_is_refused(current, target):
    unit = unit_in_status(current)
    wrong_usage = next(u for u in LocationUsage.values if u not in STATUS_LOCATION_USAGES[target])
    before = warehouse_state()

    with pytest.raises(DomainError) as refused:
        move(unit, target, Location.objects.filter(usage=wrong_usage).first())

    assert refused.value.code == "bad_location"
    assert warehouse_state() == before


# Through the public services ----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("status", ALL)
def test_relocation_only_to_locations_whose_usage_the_status_allows(status):
    unit = unit_in_status(status)
    clerk = staff_user()
    counts_before = counters(unit.product_id)
    movements = UnitMovement.objects.filter(unit=unit).count()
    allowed = STATUS_LOCATION_USAGES[status]
    moved = 0
    for location in Location.objects.order_by("position", "code"):
        if location.usage in allowed:
            movement = warehouse.unit_relocate(
                item_number=unit.item_number, location_code=location.code.lower(), actor=clerk
            )
            moved += 1
            assert (movement.reason, movement.from_status, movement.to_status) == (
                MovementReason.RELOCATE,
                status,
                status,
            )
            assert movement.to_location_id == location.pk
        else:
            before = warehouse_state()
            with pytest.raises(DomainError) as refused:
                warehouse.unit_relocate(
                    item_number=unit.item_number, location_code=location.code, actor=clerk
                )
            assert refused.value.code == "bad_location"
            assert warehouse_state() == before
        unit.refresh_from_db()
        assert unit.status == status
        assert unit.location.usage in allowed

    assert moved == Location.objects.filter(usage__in=allowed).count() >= 1
    assert UnitMovement.objects.filter(unit=unit).count() == movements + moved
    assert counters(unit.product_id) == counts_before
    assert verify_ledger().problems == []


@pytest.mark.django_db
def test_relocation_to_an_unknown_or_inactive_location_is_refused():
    unit = unit_in_status(S.AVAILABLE)
    Location.objects.filter(code="STK-A08").update(is_active=False)
    before = warehouse_state()

    for code in ("STK-Z99", "STK-A08", ""):
        with pytest.raises(DomainError) as refused:
            warehouse.unit_relocate(
                item_number=unit.item_number, location_code=code, actor=staff_user()
            )
        assert refused.value.code == "unknown_location"

    assert warehouse_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("status", ALL)
def test_only_units_awaiting_appraisal_can_be_appraised(status):
    unit = unit_in_status(status)
    before = warehouse_state()
    appraiser = staff_user(roles.APPRAISER)

    if status == S.AWAITING_APPRAISAL:
        case = authenticity.appraisal_record(
            item_number=unit.item_number, appraiser=appraiser, verdict=Verdict.GENUINE
        )
        unit.refresh_from_db()
        assert (case.status, case.final_verdict, unit.status) == ("final", "genuine", "available")
        assert unit.location.usage == LocationUsage.STOCK
    else:
        with pytest.raises(DomainError) as refused:
            authenticity.appraisal_record(
                item_number=unit.item_number, appraiser=appraiser, verdict=Verdict.GENUINE
            )
        assert refused.value.code == "not_awaiting_appraisal"
        assert warehouse_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("status", ALL)
def test_only_available_units_can_be_picked(status):
    # given the target unit, then another sellable unit of the same product so it can be reserved
    product = ProductFactory()
    unit = unit_in_status(status, product=product)
    units_available(product=product, n=1)
    (reservation,) = warehouse.stock_reserve(items=[(product.pk, 1)])
    before = warehouse_state()

    if status == S.AVAILABLE:
        picked = warehouse.unit_pick(
            item_number=unit.item_number, reservation_id=reservation.pk, actor=staff_user()
        )
        assert (picked.status, picked.reservation_id) == (S.PICKED, reservation.pk)
        assert picked.location.usage == LocationUsage.PACKING
    else:
        with pytest.raises(DomainError) as refused:
            warehouse.unit_pick(
                item_number=unit.item_number, reservation_id=reservation.pk, actor=staff_user()
            )
        assert refused.value.code == "not_available"
        assert warehouse_state() == before
    assert verify_ledger().problems == []


@pytest.mark.django_db
@pytest.mark.parametrize("status", ALL)
def test_only_rejected_units_are_destroyed_or_returned(status):
    unit = unit_in_status(status)
    authenticity.disposition_policy_set(
        merchant=unit.merchant, disposition="destroy", counterfeit_disposition="destroy"
    )
    clerk, witness = staff_user(), staff_user()
    before = warehouse_state()

    if status == S.REJECTED:
        record = authenticity.unit_destroy(
            item_number=unit.item_number, actor=clerk, witness=witness, method="Crushed"
        )
        unit.refresh_from_db()
        assert (record.kind, unit.status, unit.location.usage) == ("destroy", "destroyed", "scrap")
        return
    for attempt in (
        lambda: authenticity.unit_destroy(
            item_number=unit.item_number, actor=clerk, witness=witness, method="Crushed"
        ),
        lambda: authenticity.unit_return_to_merchant(
            item_number=unit.item_number, actor=clerk, carrier="EMS", waybill="E1"
        ),
    ):
        with pytest.raises(DomainError) as refused:
            attempt()
        assert refused.value.code == "not_rejected"
    assert warehouse_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("status", ALL)
def test_a_count_writes_off_missing_units_that_may_become_lost(status):
    # given a unit of this status where it sits, and a count of that place that does not see it
    unit = unit_in_status(status)
    clerk = staff_user()
    count = warehouse.stock_count_start(location=unit.location, actor=clerk)
    for other in StockUnit.objects.filter(location=unit.location).exclude(pk=unit.pk):
        warehouse.stock_count_scan(count=count, item_number=other.item_number)
    movements = UnitMovement.objects.filter(unit=unit).count()

    closed = warehouse.stock_count_close(count=count, actor=clerk)

    unit.refresh_from_db()
    if can_transition(status, S.LOST):
        assert (unit.status, unit.location.usage) == (S.LOST, LocationUsage.SCRAP)
        last = unit.movements.order_by("-id").first()
        assert (last.reason, last.from_status, last.document) == (
            MovementReason.COUNT_MISSING,
            status,
            f"CNT-{count.pk}",
        )
        assert closed.missing == 1
    else:
        # picked/packed units belong to an order, the rest have left: a count settles neither
        assert unit.status == status
        assert UnitMovement.objects.filter(unit=unit).count() == movements
        assert closed.missing == 0
    assert closed.status == "closed"
    assert verify_ledger().problems == []


@pytest.mark.django_db
@pytest.mark.parametrize("previous", sorted(s for s in ALL if can_transition(s, S.LOST)))
@pytest.mark.parametrize("where", [LocationUsage.STOCK, LocationUsage.QUARANTINE])
def test_a_lost_unit_found_in_a_count_returns_to_its_previous_status(previous, where):
    unit = unit_in_status(previous)
    product_counts = counters(unit.product_id)
    unit = _lose(unit)
    assert unit.status == S.LOST
    clerk = staff_user()
    location = Location.objects.filter(usage=where).order_by("position").last()
    count = warehouse.stock_count_start(location=location, actor=clerk)
    for other in StockUnit.objects.filter(location=location).exclude(status=S.LOST):
        warehouse.stock_count_scan(count=count, item_number=other.item_number)

    warehouse.stock_count_scan(count=count, item_number=unit.item_number)
    closed = warehouse.stock_count_close(count=count, actor=clerk)

    unit.refresh_from_db()
    assert unit.status == previous
    if where in STATUS_LOCATION_USAGES[previous]:
        assert unit.location == location  # found here, kept here
    else:  # the status's default place
        assert unit.location.code == DEFAULT_PLACE[previous]
    last = unit.movements.order_by("-id").first()
    assert (last.reason, last.from_status, last.to_status) == (
        MovementReason.COUNT_FOUND,
        S.LOST,
        previous,
    )
    assert (closed.missing, closed.relocated) == (0, 1)
    assert counters(unit.product_id) == product_counts
    assert verify_ledger().problems == []


DEFAULT_PLACE = {
    S.AWAITING_APPRAISAL: "APR-01",
    S.AVAILABLE: "STK-A01",
    S.QUARANTINE: "QRN-01",
    S.REJECTED: "REJ-01",
}


def _lose(unit: StockUnit) -> StockUnit:
    clerk = staff_user()
    count = warehouse.stock_count_start(location=unit.location, actor=clerk)
    for other in StockUnit.objects.filter(location=unit.location).exclude(pk=unit.pk):
        warehouse.stock_count_scan(count=count, item_number=other.item_number)
    warehouse.stock_count_close(count=count, actor=clerk)
    unit.refresh_from_db()
    return unit


@pytest.mark.django_db
def test_genuine_appraisal_releases_and_failing_one_rejects_only_from_awaiting():
    # the authenticity gate's two exits, and their refusal from anywhere else
    genuine, failed = unit_in_status(S.AWAITING_APPRAISAL), unit_in_status(S.AWAITING_APPRAISAL)
    authenticity.appraisal_record(
        item_number=genuine.item_number,
        appraiser=staff_user(roles.APPRAISER),
        verdict=Verdict.GENUINE,
    )
    authenticity.appraisal_record(
        item_number=failed.item_number,
        appraiser=staff_user(roles.APPRAISER),
        verdict=Verdict.DEFECTIVE,
        notes="Cracked case",
        photos=[_photo()],
    )
    genuine.refresh_from_db()
    failed.refresh_from_db()
    assert (genuine.status, genuine.location.usage) == (S.AVAILABLE, LocationUsage.STOCK)
    assert (failed.status, failed.location.usage) == (S.REJECTED, LocationUsage.REJECTED)
    assert AppraisalCase.objects.filter(final_verdict="defective").count() == 1
    # a rejected unit cannot be released to stock by the gate, nor an available one rejected
    before = warehouse_state()
    for call in (
        lambda: warehouse.unit_release_to_stock(
            unit=unit_lock(item_number=failed.item_number), actor=None, document="X"
        ),
        lambda: warehouse.unit_reject(
            unit=unit_lock(item_number=genuine.item_number), actor=None, document="X"
        ),
    ):
        with pytest.raises(DomainError) as refused, transaction.atomic():
            call()
        assert refused.value.code == "bad_transition"
    assert warehouse_state() == before


def _photo():
    from tests.factories import image_upload

    return image_upload(width=64, height=64)
