"""The reservation API the orders app uses: reserve, release, commit, pick; sellable stock."""

import pytest

from core.errors import DomainError
from tests.factories import (
    ProductFactory,
    staff_user,
    unit_in_status,
    units_available,
    warehouse_state,
)
from warehouse import services as warehouse
from warehouse.ledger import verify_ledger
from warehouse.models import ProductStock, Reservation, ReservationEvent, StockUnit, UnitMovement
from warehouse.selectors import sellable_quantities, sellable_quantity
from warehouse.services import InsufficientStockError
from warehouse.states import COUNTER_FIELDS, UnitStatus

pytestmark = pytest.mark.django_db


def stock(product) -> tuple[int, int, int]:
    """(available, reserved, allocated)"""
    return ProductStock.objects.values_list("available", "reserved", "allocated").get(pk=product.pk)


def events(reservation):
    return list(
        ReservationEvent.objects.filter(reservation=reservation)
        .order_by("id")
        .values_list("kind", "quantity", "note")
    )


@pytest.fixture
def two_products():
    a, b = ProductFactory(), ProductFactory()
    units_available(product=a, n=5)
    units_available(product=b, n=1)
    return a, b


# Reserving ----------------------------------------------------------------------------------


def test_reserve_several_products_at_once(two_products):
    a, b = two_products

    reservations = warehouse.stock_reserve(items=[(b.pk, 1), (a.pk, 2)], order_line_ref="O-1/1")

    assert [
        (r.product_id, r.quantity, r.picked, r.status, r.order_line_ref) for r in reservations
    ] == [
        (a.pk, 2, 0, "active", "O-1/1"),
        (b.pk, 1, 0, "active", "O-1/1"),
    ]
    assert stock(a) == (5, 2, 0)
    assert stock(b) == (1, 1, 0)
    assert sellable_quantities(product_ids=[a.pk, b.pk]) == {a.pk: 3, b.pk: 0}
    assert [events(r) for r in reservations] == [[("reserved", 2, "")], [("reserved", 1, "")]]
    assert verify_ledger().problems == []


def test_the_same_product_twice_is_one_reservation(two_products):
    a, _b = two_products

    (reservation,) = warehouse.stock_reserve(items=[(a.pk, 1), (a.pk, 2)])

    assert reservation.quantity == 3
    assert stock(a) == (5, 3, 0)


@pytest.mark.parametrize("failing_first", [True, False])
def test_reserve_is_all_or_nothing(two_products, failing_first):
    a, b = two_products
    items = [(b.pk, 2), (a.pk, 2)] if failing_first else [(a.pk, 2), (b.pk, 2)]
    before = warehouse_state()

    with pytest.raises(InsufficientStockError) as refused:
        warehouse.stock_reserve(items=items)

    err = refused.value
    assert (err.product_id, err.wanted, err.sellable, err.code) == (
        b.pk,
        2,
        1,
        "insufficient_stock",
    )
    assert str(err) == "Only 1 left of this product; you asked for 2."
    assert warehouse_state() == before
    assert (stock(a), stock(b)) == ((5, 0, 0), (1, 0, 0))
    assert not Reservation.objects.exists()


def test_reserving_the_last_units_then_one_more(two_products):
    a, _b = two_products
    warehouse.stock_reserve(items=[(a.pk, 5)])
    before = warehouse_state()

    with pytest.raises(InsufficientStockError) as refused:
        warehouse.stock_reserve(items=[(a.pk, 1)])

    assert (refused.value.wanted, refused.value.sellable) == (1, 0)
    assert warehouse_state() == before
    assert stock(a) == (5, 5, 0)


def test_a_product_never_stocked_has_nothing_to_reserve():
    product = ProductFactory()

    with pytest.raises(InsufficientStockError) as refused:
        warehouse.stock_reserve(items=[(product.pk, 1)])

    assert (refused.value.product_id, refused.value.sellable) == (product.pk, 0)
    assert not ProductStock.objects.exists()


@pytest.mark.parametrize("quantity", [0, -1])
def test_reserve_at_least_one(two_products, quantity):
    a, b = two_products
    before = warehouse_state()

    with pytest.raises(DomainError) as refused:
        warehouse.stock_reserve(items=[(a.pk, 1), (b.pk, quantity)])

    assert refused.value.code == "bad_quantity"
    assert warehouse_state() == before


def test_units_not_available_are_never_sellable():
    product = ProductFactory()
    for status in UnitStatus.values:
        unit_in_status(status, product=product)
    # the picked unit's reservation was fulfilled; exactly one unit is available
    assert StockUnit.objects.filter(product=product, status="available").count() == 1

    assert sellable_quantity(product_id=product.pk) == 1
    warehouse.stock_reserve(items=[(product.pk, 1)])
    with pytest.raises(InsufficientStockError):
        warehouse.stock_reserve(items=[(product.pk, 1)])
    assert verify_ledger().problems == []


def test_sellable_is_available_minus_reserved_in_one_query(django_assert_num_queries):
    products = [ProductFactory() for _ in range(4)]
    for n, product in enumerate(products[:3], start=1):
        units_available(product=product, n=n)
    warehouse.stock_reserve(items=[(products[1].pk, 1), (products[2].pk, 3)])
    ids = [p.pk for p in products] + [987654]

    with django_assert_num_queries(1):
        sellable = sellable_quantities(product_ids=ids)

    rows = {
        pk: available - reserved
        for pk, available, reserved in ProductStock.objects.values_list(
            "pk", "available", "reserved"
        )
    }
    assert sellable == {ids[0]: 1, ids[1]: 1, ids[2]: 0, ids[3]: 0, 987654: 0}
    assert all(sellable[pk] == rows.get(pk, 0) for pk in ids)


def test_reserve_query_count(two_products, django_assert_num_queries):
    a, b = two_products
    # savepoint pair + per product: conditional update, sellable and open-record reads,
    # reservation, event; + the out-of-stock record b's last unit opens
    with django_assert_num_queries(2 + 2 * 5 + 1):
        warehouse.stock_reserve(items=[(a.pk, 1), (b.pk, 1)])


# Releasing and committing -------------------------------------------------------------------


def test_release_gives_back_only_what_was_not_picked(two_products):
    a, _b = two_products
    (reservation,) = warehouse.stock_reserve(items=[(a.pk, 3)], order_line_ref="O-7/1")
    unit = StockUnit.objects.filter(product=a, status="available").first()
    warehouse.unit_pick(item_number=unit.item_number, reservation_id=reservation.pk, actor=None)
    assert stock(a) == (4, 2, 1)

    released = warehouse.reservation_release(reservation_id=reservation.pk, note="Cancelled")

    assert (released.status, released.picked, released.quantity) == ("released", 1, 3)
    assert stock(a) == (4, 0, 1)
    unit.refresh_from_db()
    assert (unit.status, unit.reservation_id) == ("picked", reservation.pk)
    assert events(reservation)[-1] == ("released", 2, "Cancelled")
    assert verify_ledger().problems == []


def test_release_twice_changes_nothing(two_products):
    a, _b = two_products
    (reservation,) = warehouse.stock_reserve(items=[(a.pk, 2)])
    warehouse.reservation_release(reservation_id=reservation.pk)
    before = warehouse_state()

    again = warehouse.reservation_release(reservation_id=reservation.pk)

    assert again.status == "released"
    assert warehouse_state() == before
    assert stock(a) == (5, 0, 0)


def test_releasing_a_fulfilled_reservation_changes_nothing(two_products):
    _a, b = two_products
    (reservation,) = warehouse.stock_reserve(items=[(b.pk, 1)])
    unit = StockUnit.objects.get(product=b)
    warehouse.unit_pick(item_number=unit.item_number, reservation_id=reservation.pk, actor=None)
    before = warehouse_state()

    result = warehouse.reservation_release(reservation_id=reservation.pk)

    assert result.status == "fulfilled"
    assert warehouse_state() == before
    assert stock(b) == (0, 0, 1)


def test_commit_ties_a_reservation_to_one_order_line(two_products):
    a, _b = two_products
    (reservation,) = warehouse.stock_reserve(items=[(a.pk, 1)])

    committed = warehouse.reservation_commit(reservation_id=reservation.pk, order_line_ref="O-9/2")
    before = warehouse_state()
    again = warehouse.reservation_commit(reservation_id=reservation.pk, order_line_ref="O-9/2")

    assert committed.order_line_ref == again.order_line_ref == "O-9/2"
    assert warehouse_state() == before  # idempotent: no second event
    assert events(reservation) == [("reserved", 1, ""), ("committed", 0, "O-9/2")]
    with pytest.raises(DomainError) as taken:
        warehouse.reservation_commit(reservation_id=reservation.pk, order_line_ref="O-10/1")
    assert taken.value.code == "reservation_taken"
    with pytest.raises(DomainError) as empty:
        warehouse.reservation_commit(reservation_id=reservation.pk, order_line_ref="")
    assert empty.value.code == "no_ref"
    assert warehouse_state() == before


def test_a_released_reservation_cannot_be_committed(two_products):
    a, _b = two_products
    (reservation,) = warehouse.stock_reserve(items=[(a.pk, 1)])
    warehouse.reservation_release(reservation_id=reservation.pk)
    before = warehouse_state()

    with pytest.raises(DomainError) as refused:
        warehouse.reservation_commit(reservation_id=reservation.pk, order_line_ref="O-1/1")

    assert refused.value.code == "reservation_released"
    assert warehouse_state() == before


# Picking ------------------------------------------------------------------------------------


def test_pick_assigns_a_unit_and_moves_the_counters(two_products):
    a, _b = two_products
    (reservation,) = warehouse.stock_reserve(items=[(a.pk, 2)], order_line_ref="O-3/1")
    unit = StockUnit.objects.filter(product=a).order_by("pk").first()
    picker = staff_user()

    picked = warehouse.unit_pick(
        item_number=unit.item_number.lower(), reservation_id=reservation.pk, actor=picker
    )

    assert (picked.pk, picked.status, picked.location.code, picked.reservation_id) == (
        unit.pk,
        "picked",
        "PCK-01",
        reservation.pk,
    )
    reservation.refresh_from_db()
    assert (reservation.picked, reservation.status) == (1, "active")
    assert stock(a) == (4, 1, 1)
    movement = UnitMovement.objects.filter(unit=unit).order_by("-id").first()
    assert (movement.reason, movement.actor, movement.document) == ("pick", picker, "O-3/1")
    assert events(reservation)[-1] == ("picked", 1, unit.item_number)


def test_picking_without_an_order_line_documents_the_reservation(two_products):
    _a, b = two_products
    (reservation,) = warehouse.stock_reserve(items=[(b.pk, 1)])
    unit = StockUnit.objects.get(product=b)

    warehouse.unit_pick(item_number=unit.item_number, reservation_id=reservation.pk, actor=None)

    movement = UnitMovement.objects.filter(unit=unit).order_by("-id").first()
    assert movement.document == f"R{reservation.pk}"
    reservation.refresh_from_db()
    assert reservation.status == "fulfilled"


def test_pick_refuses_a_unit_of_another_product(two_products):
    a, b = two_products
    (reservation,) = warehouse.stock_reserve(items=[(a.pk, 1)])
    other = StockUnit.objects.get(product=b)
    before = warehouse_state()

    with pytest.raises(DomainError) as refused:
        warehouse.unit_pick(
            item_number=other.item_number, reservation_id=reservation.pk, actor=None
        )

    assert refused.value.code == "wrong_product"
    assert warehouse_state() == before


def test_pick_refuses_more_than_was_reserved(two_products):
    a, _b = two_products
    (reservation,) = warehouse.stock_reserve(items=[(a.pk, 1)])
    first, second = StockUnit.objects.filter(product=a).order_by("pk")[:2]
    warehouse.unit_pick(item_number=first.item_number, reservation_id=reservation.pk, actor=None)
    before = warehouse_state()

    with pytest.raises(DomainError) as refused:
        warehouse.unit_pick(
            item_number=second.item_number, reservation_id=reservation.pk, actor=None
        )

    assert refused.value.code == "nothing_to_pick"
    assert warehouse_state() == before
    assert stock(a) == (4, 0, 1)


def test_pick_refuses_a_released_reservation(two_products):
    a, _b = two_products
    (reservation,) = warehouse.stock_reserve(items=[(a.pk, 1)])
    warehouse.reservation_release(reservation_id=reservation.pk)
    unit = StockUnit.objects.filter(product=a).first()
    before = warehouse_state()

    with pytest.raises(DomainError) as refused:
        warehouse.unit_pick(item_number=unit.item_number, reservation_id=reservation.pk, actor=None)

    assert refused.value.code == "nothing_to_pick"
    assert warehouse_state() == before


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("PV000000001Z", "bad_item_number"),
        ("nonsense", "bad_item_number"),
        ("PV000000001Y", "unknown_unit"),
    ],
)
def test_pick_refuses_bad_and_unknown_numbers(two_products, number, code):
    a, _b = two_products
    (reservation,) = warehouse.stock_reserve(items=[(a.pk, 1)])
    before = warehouse_state()

    with pytest.raises(DomainError) as refused:
        warehouse.unit_pick(item_number=number, reservation_id=reservation.pk, actor=None)

    assert (refused.value.code, refused.value.field) == (code, "item_number")
    assert warehouse_state() == before


def test_picking_keeps_reserved_within_available(two_products):
    a, _b = two_products
    reservations = warehouse.stock_reserve(items=[(a.pk, 5)])
    for unit in StockUnit.objects.filter(product=a).order_by("pk"):
        warehouse.unit_pick(
            item_number=unit.item_number, reservation_id=reservations[0].pk, actor=None
        )
        available, reserved, _allocated = stock(a)
        assert reserved == available  # every remaining available unit is spoken for

    assert stock(a) == (0, 0, 5)
    assert ProductStock.objects.values(*COUNTER_FIELDS).get(pk=a.pk)["in_appraisal"] == 0
    assert verify_ledger().problems == []
