"""Inventory: cycle counts (lost, found, relocated), out-of-stock records and their notice."""

import pytest
from django.db import IntegrityError, transaction

from accounts import roles
from authenticity.models import Verdict
from core.errors import DomainError
from tests.factories import (
    ProductFactory,
    appraise,
    staff_user,
    units_available,
    units_receive,
    warehouse_state,
)
from warehouse import services as warehouse
from warehouse.ledger import verify_ledger
from warehouse.models import (
    Location,
    OutOfStockRecord,
    ProductStock,
    StockCountScan,
    StockUnit,
    UnitMovement,
)
from warehouse.states import COUNTER_FIELDS
from warehouse.tasks import notify_out_of_stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk():
    return staff_user()


def counters(product):
    return ProductStock.objects.filter(pk=product.pk).values(*COUNTER_FIELDS).get()


def statuses(units):
    return [StockUnit.objects.values_list("status", "location__code").get(pk=u.pk) for u in units]


# Cycle counts -------------------------------------------------------------------------------


def test_a_count_writes_off_what_nobody_saw(clerk):
    product = ProductFactory()
    units = units_available(product=product, n=3)
    bin_ = units[0].location
    assert {u.location for u in units} == {bin_}
    count = warehouse.stock_count_start(location=bin_, actor=clerk)
    for unit in units[:2]:
        warehouse.stock_count_scan(count=count, item_number=unit.item_number)

    closed = warehouse.stock_count_close(count=count, actor=clerk)

    assert (closed.status, closed.expected, closed.found, closed.missing, closed.relocated) == (
        "closed",
        3,
        2,
        1,
        0,
    )
    assert closed.closed_at is not None
    assert statuses(units) == [
        ("available", bin_.code),
        ("available", bin_.code),
        ("lost", "SCR-01"),
    ]
    movement = UnitMovement.objects.filter(unit=units[2]).order_by("-id").first()
    assert (movement.reason, movement.from_status, movement.to_status, movement.from_location) == (
        "count_missing",
        "available",
        "lost",
        bin_,
    )
    assert (movement.actor, movement.document) == (clerk, f"CNT-{count.pk}")
    assert counters(product)["available"] == 2
    assert verify_ledger().problems == []


def test_a_lost_unit_scanned_again_is_found_with_its_status_back(clerk):
    product = ProductFactory()
    unit, kept = units_available(product=product, n=2)
    first = warehouse.stock_count_start(location=unit.location, actor=clerk)
    warehouse.stock_count_scan(count=first, item_number=kept.item_number)
    warehouse.stock_count_close(count=first, actor=clerk)
    assert counters(product)["available"] == 1
    other_bin = Location.objects.get(code="STK-A05")

    second = warehouse.stock_count_start(location=other_bin, actor=clerk)
    warehouse.stock_count_scan(count=second, item_number=unit.item_number.lower())
    closed = warehouse.stock_count_close(count=second, actor=clerk)

    assert statuses([unit]) == [("available", "STK-A05")]
    assert (closed.expected, closed.found, closed.missing, closed.relocated) == (0, 0, 0, 1)
    movement = UnitMovement.objects.filter(unit=unit).order_by("-id").first()
    assert (movement.reason, movement.from_status, movement.to_status, movement.document) == (
        "count_found",
        "lost",
        "available",
        f"CNT-{second.pk}",
    )
    assert counters(product)["available"] == 2
    assert verify_ledger().problems == []


def test_a_lost_unit_moved_while_lost_is_still_found_with_its_status_back(clerk):
    # Lost from awaiting appraisal, then moved within the write-off area: its last movement
    # now starts from "lost", but it must come back as awaiting appraisal when it turns up.
    product = ProductFactory()
    unit, other = units_receive(product=product, n=2)
    first = warehouse.stock_count_start(location=unit.location, actor=clerk)
    warehouse.stock_count_scan(count=first, item_number=other.item_number)
    warehouse.stock_count_close(count=first, actor=clerk)
    warehouse.unit_relocate(item_number=unit.item_number, location_code="SCR-01", actor=clerk)
    assert statuses([unit]) == [("lost", "SCR-01")]

    second = warehouse.stock_count_start(location=other.location, actor=clerk)
    warehouse.stock_count_scan(count=second, item_number=other.item_number)
    warehouse.stock_count_scan(count=second, item_number=unit.item_number)
    closed = warehouse.stock_count_close(count=second, actor=clerk)

    assert statuses([unit, other]) == [("awaiting_appraisal", "RCV-01")] * 2
    assert (closed.expected, closed.found, closed.missing, closed.relocated) == (1, 1, 0, 1)
    assert counters(product)["in_appraisal"] == 2
    assert verify_ledger().problems == []


def test_a_unit_seen_in_another_bin_is_moved_there(clerk):
    product = ProductFactory()
    (unit,) = units_available(product=product, n=1)
    here = Location.objects.get(code="STK-A07")
    assert unit.location != here

    count = warehouse.stock_count_start(location=here, actor=clerk)
    warehouse.stock_count_scan(count=count, item_number=unit.item_number)
    closed = warehouse.stock_count_close(count=count, actor=clerk)

    assert statuses([unit]) == [("available", "STK-A07")]
    assert (closed.expected, closed.found, closed.missing, closed.relocated) == (0, 0, 0, 1)
    last = UnitMovement.objects.filter(unit=unit).order_by("-id").first()
    assert (last.reason, last.to_location) == ("relocate", here)
    assert counters(product)["available"] == 1


def test_a_unit_seen_where_its_status_may_not_be_stays_where_it_is(clerk):
    (waiting,) = units_receive(product=ProductFactory(), n=1)  # awaiting appraisal, at RCV-01
    stock_bin = Location.objects.get(code="STK-A06")
    count = warehouse.stock_count_start(location=stock_bin, actor=clerk)
    warehouse.stock_count_scan(count=count, item_number=waiting.item_number)
    movements = UnitMovement.objects.count()

    closed = warehouse.stock_count_close(count=count, actor=clerk)

    assert statuses([waiting]) == [("awaiting_appraisal", "RCV-01")]
    assert UnitMovement.objects.count() == movements
    assert (closed.expected, closed.found, closed.missing, closed.relocated) == (0, 0, 0, 0)


def test_scanning_twice_is_harmless(clerk):
    product = ProductFactory()
    (unit,) = units_available(product=product, n=1)
    count = warehouse.stock_count_start(location=unit.location, actor=clerk)

    first = warehouse.stock_count_scan(count=count, item_number=unit.item_number)
    second = warehouse.stock_count_scan(count=count, item_number=f" {unit.item_number.lower()} ")
    closed = warehouse.stock_count_close(count=count, actor=clerk)

    assert first == second == unit
    assert StockCountScan.objects.filter(count=count).count() == 1
    assert (closed.expected, closed.found, closed.missing) == (1, 1, 0)
    assert statuses([unit]) == [("available", unit.location.code)]


def test_a_closed_count_refuses_scans_and_closing_again_changes_nothing(clerk):
    product = ProductFactory()
    unit, other = units_available(product=product, n=2)
    count = warehouse.stock_count_start(location=unit.location, actor=clerk)
    warehouse.stock_count_scan(count=count, item_number=unit.item_number)
    closed = warehouse.stock_count_close(count=count, actor=clerk)
    before = warehouse_state()

    with pytest.raises(DomainError) as refused:
        warehouse.stock_count_scan(count=count, item_number=other.item_number)
    again = warehouse.stock_count_close(count=count, actor=clerk)

    assert refused.value.code == "count_closed"
    assert warehouse_state() == before
    assert (again.pk, again.missing, again.closed_at) == (closed.pk, 1, closed.closed_at)


def test_one_open_count_per_location_and_unknown_units_refused(clerk):
    location = Location.objects.get(code="STK-A01")
    count = warehouse.stock_count_start(location=location, actor=clerk)
    before = warehouse_state()

    with pytest.raises(DomainError) as twice:
        warehouse.stock_count_start(location=location, actor=clerk)
    with pytest.raises(DomainError) as unknown:
        warehouse.stock_count_scan(count=count, item_number="PV000000001Y")

    assert (twice.value.code, unknown.value.code) == ("count_open", "unknown_unit")
    assert warehouse_state() == before
    # another location can be counted meanwhile
    assert warehouse.stock_count_start(location=Location.objects.get(code="STK-A02"), actor=clerk)


def test_an_empty_count_closes_clean(clerk):
    count = warehouse.stock_count_start(location=Location.objects.get(code="STK-A08"), actor=clerk)

    closed = warehouse.stock_count_close(count=count, actor=clerk)

    assert (closed.expected, closed.found, closed.missing, closed.relocated) == (0, 0, 0, 0)
    assert not UnitMovement.objects.exists()


def test_a_count_cannot_lose_units_that_orders_hold(clerk):
    # 2 available, 2 reserved: losing either would leave reserved > available.
    product = ProductFactory()
    units = units_available(product=product, n=2)
    warehouse.stock_reserve(items=[(product.pk, 2)])
    count = warehouse.stock_count_start(location=units[0].location, actor=clerk)
    warehouse.stock_count_scan(count=count, item_number=units[0].item_number)
    before = warehouse_state()

    with pytest.raises(DomainError) as refused:
        warehouse.stock_count_close(count=count, actor=clerk)

    assert refused.value.code == "count_reserved_missing"
    assert str(product.pk) in str(refused.value)
    assert warehouse_state() == before  # the count stays open, nothing moved


def test_a_count_may_lose_units_beyond_what_orders_hold(clerk):
    product = ProductFactory()
    units = units_available(product=product, n=3)
    warehouse.stock_reserve(items=[(product.pk, 1)])
    count = warehouse.stock_count_start(location=units[0].location, actor=clerk)
    warehouse.stock_count_scan(count=count, item_number=units[0].item_number)

    closed = warehouse.stock_count_close(count=count, actor=clerk)

    assert closed.missing == 2
    assert {k: counters(product)[k] for k in ("available", "reserved")} == {
        "available": 1,
        "reserved": 1,
    }
    assert verify_ledger().problems == []


# Out-of-stock records -----------------------------------------------------------------------


def records(product):
    """(reorder point, open?) of each of the product's records, oldest first."""
    return [
        (point, closed_at is None)
        for point, closed_at in OutOfStockRecord.objects.filter(product=product)
        .order_by("id")
        .values_list("reorder_point", "closed_at")
    ]


def test_a_record_opens_at_zero_and_closes_when_stock_returns():
    product = ProductFactory()
    units_available(product=product, n=2)
    assert records(product) == []

    warehouse.stock_reserve(items=[(product.pk, 1)])
    assert records(product) == []  # 1 left
    (second,) = warehouse.stock_reserve(items=[(product.pk, 1)])
    assert records(product) == [(0, True)]  # open at 0
    record = OutOfStockRecord.objects.get(product=product)
    assert record.merchant_id == product.merchant_id

    warehouse.reservation_release(reservation_id=second.pk)
    assert records(product) == [(0, False)]  # closed
    warehouse.stock_reserve(items=[(product.pk, 1)])
    assert records(product) == [(0, False), (0, True)]  # a new gap, a new record


def test_a_record_opens_at_the_reorder_point():
    product = ProductFactory()
    units_available(product=product, n=5)
    warehouse.stock_set_reorder_point(product_id=product.pk, reorder_point=2)
    assert records(product) == []  # 5 sellable

    warehouse.stock_reserve(items=[(product.pk, 2)])
    assert records(product) == []  # 3 sellable
    (reservation,) = warehouse.stock_reserve(items=[(product.pk, 1)])
    assert records(product) == [(2, True)]  # 2 sellable: at the point
    warehouse.stock_reserve(items=[(product.pk, 1)])
    assert records(product) == [(2, True)]  # still one record

    warehouse.reservation_release(reservation_id=reservation.pk)
    assert records(product) == [(2, True)]  # 2 sellable
    units_available(product=product, n=1)
    assert records(product) == [(2, False)]  # 3 sellable: closed by the appraisal


def test_picking_does_not_open_or_close_records():
    product = ProductFactory()
    unit, _spare = units_available(product=product, n=2)
    (reservation,) = warehouse.stock_reserve(items=[(product.pk, 1)])
    assert records(product) == []

    warehouse.unit_pick(item_number=unit.item_number, reservation_id=reservation.pk, actor=None)

    assert records(product) == []
    assert {k: counters(product)[k] for k in ("available", "reserved", "allocated")} == {
        "available": 1,
        "reserved": 0,
        "allocated": 1,
    }


def test_a_unit_lost_in_a_count_can_open_a_record(clerk):
    product = ProductFactory()
    (unit,) = units_available(product=product, n=1)
    count = warehouse.stock_count_start(location=unit.location, actor=clerk)

    warehouse.stock_count_close(count=count, actor=clerk)

    assert records(product) == [(0, True)]


def test_at_most_one_open_record_per_product():
    product = ProductFactory()
    units_available(product=product, n=1)
    warehouse.stock_reserve(items=[(product.pk, 1)])

    with pytest.raises(IntegrityError), transaction.atomic():
        OutOfStockRecord.objects.create(product=product, merchant=product.merchant)

    assert records(product) == [(0, True)]
    # a closed one beside an open one is fine
    OutOfStockRecord.objects.filter(product=product).update(closed_at="2026-01-01T00:00Z")
    OutOfStockRecord.objects.create(product=product, merchant=product.merchant)
    assert records(product) == [(0, False), (0, True)]


def test_the_merchant_is_emailed_after_commit(django_capture_on_commit_callbacks, mailoutbox):
    product = ProductFactory(name="Silk Scarf")
    units_available(product=product, n=1)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        warehouse.stock_reserve(items=[(product.pk, 1)])
        assert mailoutbox == []  # nothing before the commit

    assert len(callbacks) == 1
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [product.merchant.contact_email]
    assert mail.subject == "Out of stock: Silk Scarf"
    assert "Silk Scarf has 0 sellable units left" in mail.body
    assert "(reorder point 0)" in mail.body


def test_no_email_when_the_reservation_rolls_back(django_capture_on_commit_callbacks, mailoutbox):
    product = ProductFactory()
    units_available(product=product, n=1)
    other = ProductFactory()
    mailoutbox.clear()

    # the first product's record opens, then the second fails: all rolled back
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(DomainError),
    ):
        warehouse.stock_reserve(items=[(product.pk, 1), (other.pk, 1)])

    assert callbacks == []
    assert mailoutbox == []
    assert records(product) == []


def test_no_email_for_a_record_closed_before_the_task_ran(
    django_capture_on_commit_callbacks, mailoutbox
):
    product = ProductFactory()
    units_available(product=product, n=1)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        (reservation,) = warehouse.stock_reserve(items=[(product.pk, 1)])
    warehouse.reservation_release(reservation_id=reservation.pk)

    for callback in callbacks:
        callback()
    notify_out_of_stock(OutOfStockRecord.objects.get(product=product).pk)
    notify_out_of_stock(987654)  # unknown record: nothing

    assert mailoutbox == []


def test_appraisal_units_in_appraisal_never_open_a_record():
    product = ProductFactory()
    (unit,) = units_receive(product=product, n=1)
    assert records(product) == []

    appraise(unit, Verdict.DEFECTIVE, appraiser=staff_user(roles.APPRAISER))

    assert records(product) == []  # never sellable, never "out of stock"
