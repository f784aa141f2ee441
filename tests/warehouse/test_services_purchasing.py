"""Purchasing: announcing inbound shipments, receiving them as units, closing and cancelling."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.errors import DomainError
from tests.factories import (
    InboundShipmentFactory,
    MerchantFactory,
    ProductFactory,
    staff_user,
    warehouse_state,
)
from warehouse import services as warehouse
from warehouse.codes import is_well_formed
from warehouse.ledger import verify_ledger
from warehouse.models import (
    InboundDiscrepancy,
    InboundEvent,
    InboundLine,
    InboundShipment,
    OutOfStockRecord,
    ProductStock,
    Receipt,
    StockUnit,
    UnitMovement,
)
from warehouse.services import purchasing
from warehouse.states import COUNTER_FIELDS

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant():
    return MerchantFactory()


@pytest.fixture
def clerk():
    return staff_user()


def products(merchant, n):
    return [ProductFactory(merchant=merchant) for _ in range(n)]


def events(shipment):
    return list(
        InboundEvent.objects.filter(shipment=shipment)
        .order_by("id")
        .values_list("from_status", "to_status", "actor_id")
    )


def discrepancies(shipment):
    return list(
        InboundDiscrepancy.objects.filter(shipment=shipment)
        .order_by("id")
        .values_list("product_id", "kind", "quantity")
    )


def counters(product):
    return ProductStock.objects.filter(pk=product.pk).values(*COUNTER_FIELDS).get()


def refused(code, call):
    before = warehouse_state()
    with pytest.raises(DomainError) as err:
        call()
    assert err.value.code == code
    assert warehouse_state() == before
    return err.value


# Announcing ---------------------------------------------------------------------------------


def test_announce_creates_the_shipment_its_lines_and_an_event(merchant):
    a, b = products(merchant, 2)

    shipment = warehouse.inbound_announce(
        merchant=merchant,
        actor=merchant.applicant,
        carrier=" SF Express ",
        waybill=" SF1 ",
        lines=[(a, 3), (b, 1)],
        note="Two boxes",
    )

    shipment.refresh_from_db()
    assert shipment.reference == f"IN-{shipment.pk:07d}"
    assert (shipment.status, shipment.carrier, shipment.waybill, shipment.note) == (
        "announced",
        "SF Express",
        "SF1",
        "Two boxes",
    )
    assert shipment.closed_at is None
    assert list(
        shipment.lines.values_list("product_id", "quantity_announced", "quantity_received")
    ) == [
        (a.pk, 3, 0),
        (b.pk, 1, 0),
    ]
    assert events(shipment) == [("", "announced", merchant.applicant.pk)]
    # an announcement makes no units and no stock
    assert StockUnit.objects.count() == ProductStock.objects.count() == 0


def test_announcing_the_same_product_twice_keeps_one_line_with_the_last_quantity(merchant):
    (a,) = products(merchant, 1)

    shipment = InboundShipmentFactory(lines=[(a, 3), (a, 5)])

    assert list(shipment.lines.values_list("product_id", "quantity_announced")) == [(a.pk, 5)]


def test_only_own_products_can_be_announced(merchant):
    (own,) = products(merchant, 1)
    foreign = ProductFactory()

    err = refused(
        "not_own_product",
        lambda: warehouse.inbound_announce(
            merchant=merchant,
            actor=merchant.applicant,
            carrier="SF",
            waybill="1",
            lines=[(own, 1), (foreign, 1)],
        ),
    )

    assert err.field == "product"
    assert not InboundShipment.objects.exists()


@pytest.mark.parametrize("quantity", [0, -1])
def test_announced_quantities_must_be_positive(merchant, quantity):
    (a,) = products(merchant, 1)

    refused(
        "bad_quantity",
        lambda: warehouse.inbound_announce(
            merchant=merchant,
            actor=merchant.applicant,
            carrier="SF",
            waybill="1",
            lines=[(a, quantity)],
        ),
    )
    assert not InboundShipment.objects.exists()


def test_an_announcement_needs_lines_carrier_and_waybill(merchant):
    (a,) = products(merchant, 1)

    refused(
        "no_lines",
        lambda: warehouse.inbound_announce(
            merchant=merchant, actor=merchant.applicant, carrier="SF", waybill="1", lines=[]
        ),
    )
    for carrier, waybill in (("", "1"), ("SF", " "), ("  ", "")):
        refused(
            "no_waybill",
            lambda c=carrier, w=waybill: warehouse.inbound_announce(
                merchant=merchant, actor=merchant.applicant, carrier=c, waybill=w, lines=[(a, 1)]
            ),
        )


def test_lines_change_while_announced(merchant):
    a, b = products(merchant, 2)
    shipment = InboundShipmentFactory(lines=[(a, 3)])

    warehouse.inbound_line_set(shipment=shipment, product=a, quantity=4)
    line_b = warehouse.inbound_line_set(shipment=shipment, product=b, quantity=2)
    warehouse.inbound_line_delete(line=line_b)

    assert list(shipment.lines.values_list("product_id", "quantity_announced")) == [(a.pk, 4)]


def test_lines_are_locked_once_receiving_starts(merchant, clerk):
    a, b = products(merchant, 2)
    shipment = InboundShipmentFactory(lines=[(a, 3)])
    warehouse.inbound_receive(shipment=shipment, counts={a.pk: 1}, actor=clerk)
    line = shipment.lines.get()

    refused(
        "inbound_locked",
        lambda: warehouse.inbound_line_set(shipment=shipment, product=a, quantity=9),
    )
    refused(
        "inbound_locked",
        lambda: warehouse.inbound_line_set(shipment=shipment, product=b, quantity=1),
    )
    refused("inbound_locked", lambda: warehouse.inbound_line_delete(line=line))


def test_lines_of_a_cancelled_shipment_are_locked(merchant, clerk):
    (a,) = products(merchant, 1)
    shipment = InboundShipmentFactory(lines=[(a, 3)])
    warehouse.inbound_cancel(shipment=shipment, actor=clerk)

    refused(
        "inbound_locked",
        lambda: warehouse.inbound_line_set(shipment=shipment, product=a, quantity=1),
    )


# Receiving ----------------------------------------------------------------------------------


def test_receive_makes_one_unit_and_one_movement_per_item(merchant, clerk):
    a, b = products(merchant, 2)
    shipment = InboundShipmentFactory(lines=[(a, 2), (b, 1)])

    received = warehouse.inbound_receive(
        shipment=shipment, counts={a.pk: 2, str(b.pk): "1"}, actor=clerk, note="Dock 2"
    )

    units = list(StockUnit.objects.order_by("pk"))
    assert [u.pk for u in units] == sorted(received.unit_ids)
    assert len(units) == 3
    assert sorted((u.product_id, u.status, u.location.code) for u in units) == sorted(
        [
            (a.pk, "awaiting_appraisal", "RCV-01"),
            (a.pk, "awaiting_appraisal", "RCV-01"),
            (b.pk, "awaiting_appraisal", "RCV-01"),
        ]
    )
    assert all(is_well_formed(u.item_number) for u in units)
    assert len({u.item_number for u in units}) == 3
    assert {(u.merchant_id, u.receipt_id, u.reservation_id) for u in units} == {
        (merchant.pk, received.receipt.pk, None)
    }
    assert {u.inbound_line.product_id for u in units if u.product_id == a.pk} == {a.pk}
    movements = list(
        UnitMovement.objects.order_by("unit_id").values_list(
            "unit_id",
            "from_status",
            "to_status",
            "from_location",
            "to_location__code",
            "reason",
            "actor",
            "document",
            "note",
        )
    )
    assert movements == [
        (
            u.pk,
            "",
            "awaiting_appraisal",
            None,
            "RCV-01",
            "receive",
            clerk.pk,
            shipment.reference,
            "Dock 2",
        )
        for u in units
    ]
    receipt = received.receipt
    assert (receipt.shipment_id, receipt.received_by_id, receipt.unit_count) == (
        shipment.pk,
        clerk.pk,
        3,
    )
    zero = dict.fromkeys(COUNTER_FIELDS, 0)
    assert counters(a) == {**zero, "in_appraisal": 2}
    assert counters(b) == {**zero, "in_appraisal": 1}
    assert list(shipment.lines.values_list("product_id", "quantity_received")) == [
        (a.pk, 2),
        (b.pk, 1),
    ]
    shipment.refresh_from_db()
    assert shipment.status == "receiving"
    assert events(shipment) == [
        ("", "announced", merchant.applicant.pk),
        ("announced", "receiving", clerk.pk),
    ]
    assert discrepancies(shipment) == []
    assert not OutOfStockRecord.objects.exists()  # nothing was ever sellable
    assert verify_ledger().problems == []


def test_receiving_in_several_sessions_adds_up(merchant, clerk):
    (a,) = products(merchant, 1)
    shipment = InboundShipmentFactory(lines=[(a, 5)])

    first = warehouse.inbound_receive(shipment=shipment, counts={a.pk: 2}, actor=clerk)
    second = warehouse.inbound_receive(shipment=shipment, counts={a.pk: 3}, actor=clerk)

    assert first.receipt.pk != second.receipt.pk
    assert list(Receipt.objects.order_by("pk").values_list("unit_count", flat=True)) == [2, 3]
    assert StockUnit.objects.filter(receipt=second.receipt).count() == 3
    assert shipment.lines.get().quantity_received == 5
    assert counters(a)["in_appraisal"] == 5
    assert [e[1] for e in events(shipment)] == ["announced", "receiving"]  # one start only


def test_an_unannounced_product_is_received_and_recorded_as_a_wrong_product(merchant, clerk):
    a, extra = products(merchant, 2)
    shipment = InboundShipmentFactory(lines=[(a, 1)])

    warehouse.inbound_receive(shipment=shipment, counts={a.pk: 1, extra.pk: 2}, actor=clerk)

    assert StockUnit.objects.filter(product=extra, status="awaiting_appraisal").count() == 2
    assert list(
        shipment.lines.values_list("product_id", "quantity_announced", "quantity_received")
    ) == [
        (a.pk, 1, 1),
        (extra.pk, 0, 2),
    ]
    assert discrepancies(shipment) == [(extra.pk, "wrong_product", 2)]
    assert counters(extra)["in_appraisal"] == 2


def test_an_unannounced_product_received_twice_is_recorded_in_full(merchant, clerk):
    a, extra = products(merchant, 2)
    shipment = InboundShipmentFactory(lines=[(a, 1)])

    warehouse.inbound_receive(shipment=shipment, counts={extra.pk: 2}, actor=clerk)
    warehouse.inbound_receive(shipment=shipment, counts={a.pk: 1, extra.pk: 3}, actor=clerk)
    warehouse.inbound_close(shipment=shipment, actor=clerk)

    wrong = InboundDiscrepancy.objects.filter(shipment=shipment, kind="wrong_product")
    assert sum(wrong.values_list("quantity", flat=True)) == 5
    assert set(wrong.values_list("product_id", flat=True)) == {extra.pk}
    assert shipment.lines.get(product=extra).quantity_received == 5


def test_a_foreign_product_is_refused_and_nothing_is_created(merchant, clerk):
    (a,) = products(merchant, 1)
    foreign = ProductFactory()
    shipment = InboundShipmentFactory(lines=[(a, 2)])

    err = refused(
        "foreign_product",
        lambda: warehouse.inbound_receive(
            shipment=shipment, counts={a.pk: 2, foreign.pk: 1}, actor=clerk
        ),
    )

    assert str(foreign.pk) in str(err)
    shipment.refresh_from_db()
    assert shipment.status == "announced"
    assert not StockUnit.objects.exists()
    assert not ProductStock.objects.exists()


def test_an_unknown_product_id_is_refused_like_a_foreign_one(merchant, clerk):
    (a,) = products(merchant, 1)
    shipment = InboundShipmentFactory(lines=[(a, 2)])

    refused(
        "foreign_product",
        lambda: warehouse.inbound_receive(shipment=shipment, counts={987654: 1}, actor=clerk),
    )


@pytest.mark.parametrize("closing", ["close", "cancel"])
def test_a_closed_shipment_receives_nothing(merchant, clerk, closing):
    (a,) = products(merchant, 1)
    shipment = InboundShipmentFactory(lines=[(a, 2)])
    if closing == "close":
        warehouse.inbound_receive(shipment=shipment, counts={a.pk: 2}, actor=clerk)
        warehouse.inbound_close(shipment=shipment, actor=clerk)
    else:
        warehouse.inbound_cancel(shipment=shipment, actor=clerk)

    refused(
        "inbound_closed",
        lambda: warehouse.inbound_receive(shipment=shipment, counts={a.pk: 1}, actor=clerk),
    )


@pytest.mark.parametrize(
    ("counts", "code"),
    [
        ({}, "nothing_counted"),
        ({"P": 0}, "nothing_counted"),
        ({"P": -1}, "bad_quantity"),
        ({"P": 3, "Q": -1}, "bad_quantity"),
    ],
)
def test_receiving_needs_positive_counts(merchant, clerk, counts, code):
    a, b = products(merchant, 2)
    shipment = InboundShipmentFactory(lines=[(a, 2), (b, 2)])
    ids = {"P": a.pk, "Q": b.pk}

    refused(
        code,
        lambda: warehouse.inbound_receive(
            shipment=shipment, counts={ids[k]: n for k, n in counts.items()}, actor=clerk
        ),
    )


def test_receiving_is_limited_per_session(merchant, clerk, monkeypatch):
    monkeypatch.setattr(purchasing, "MAX_UNITS_PER_RECEIPT", 5)
    a, b = products(merchant, 2)
    shipment = InboundShipmentFactory(lines=[(a, 5), (b, 5)])

    err = refused(
        "too_many_units",
        lambda: warehouse.inbound_receive(
            shipment=shipment, counts={a.pk: 3, b.pk: 3}, actor=clerk
        ),
    )
    assert "5" in str(err)

    received = warehouse.inbound_receive(shipment=shipment, counts={a.pk: 3, b.pk: 2}, actor=clerk)
    assert len(received.unit_ids) == 5


def test_the_real_limit():
    assert purchasing.MAX_UNITS_PER_RECEIPT == 5000


def test_receiving_costs_the_same_number_of_queries_for_1_or_200_units(merchant, clerk):
    a, b = products(merchant, 2)
    small, large = InboundShipmentFactory(lines=[(a, 1)]), InboundShipmentFactory(lines=[(b, 200)])
    queries = []
    for shipment, product, n in ((small, a, 1), (large, b, 200)):
        with CaptureQueriesContext(connection) as ctx:
            warehouse.inbound_receive(shipment=shipment, counts={product.pk: n}, actor=clerk)
        queries.append(len(ctx.captured_queries))

    assert queries[0] == queries[1]
    assert StockUnit.objects.filter(product=b).count() == 200


def test_receive_query_count_is_pinned(merchant, clerk, django_assert_num_queries):
    (a,) = products(merchant, 1)
    shipment = InboundShipmentFactory(lines=[(a, 10)])

    # 2 savepoints + shipment (locked), products, lines (locked), event, status, receipt,
    # location, stock rows, item numbers, line, 2 savepoints + units, movements, counters
    with django_assert_num_queries(17):
        warehouse.inbound_receive(shipment=shipment, counts={a.pk: 10}, actor=clerk)


# Closing, cancelling, damage ---------------------------------------------------------------


def test_close_records_short_and_over_quantities_exactly(merchant, clerk):
    short, over, exact, extra = products(merchant, 4)
    shipment = InboundShipmentFactory(lines=[(short, 3), (over, 2), (exact, 1)])
    warehouse.inbound_receive(
        shipment=shipment, counts={short.pk: 2, over.pk: 4, exact.pk: 1, extra.pk: 1}, actor=clerk
    )

    closed = warehouse.inbound_close(shipment=shipment, actor=clerk)

    assert closed.status == "received"
    assert closed.closed_at is not None
    assert discrepancies(shipment) == [
        (extra.pk, "wrong_product", 1),
        (short.pk, "short", 1),
        (over.pk, "over", 2),
    ]
    assert set(InboundDiscrepancy.objects.values_list("recorded_by", flat=True)) == {clerk.pk}
    assert events(shipment)[-1] == ("receiving", "received", clerk.pk)


def test_a_line_never_received_is_short_by_all_of_it(merchant, clerk):
    a, b = products(merchant, 2)
    shipment = InboundShipmentFactory(lines=[(a, 1), (b, 4)])
    warehouse.inbound_receive(shipment=shipment, counts={a.pk: 1}, actor=clerk)

    warehouse.inbound_close(shipment=shipment, actor=clerk)

    assert discrepancies(shipment) == [(b.pk, "short", 4)]


def test_closing_twice_changes_nothing(merchant, clerk):
    (a,) = products(merchant, 1)
    shipment = InboundShipmentFactory(lines=[(a, 3)])
    warehouse.inbound_receive(shipment=shipment, counts={a.pk: 1}, actor=clerk)
    first = warehouse.inbound_close(shipment=shipment, actor=clerk)
    before = warehouse_state()

    again = warehouse.inbound_close(shipment=shipment, actor=clerk)

    assert warehouse_state() == before
    assert (again.status, again.closed_at) == ("received", first.closed_at)
    assert discrepancies(shipment) == [(a.pk, "short", 2)]


@pytest.mark.parametrize("state", ["announced", "cancelled"])
def test_only_a_shipment_being_received_can_be_closed(merchant, clerk, state):
    (a,) = products(merchant, 1)
    shipment = InboundShipmentFactory(lines=[(a, 3)])
    if state == "cancelled":
        warehouse.inbound_cancel(shipment=shipment, actor=clerk)

    refused(
        "inbound_not_receiving", lambda: warehouse.inbound_close(shipment=shipment, actor=clerk)
    )


def test_cancel_an_announced_shipment(merchant):
    (a,) = products(merchant, 1)
    shipment = InboundShipmentFactory(lines=[(a, 3)])

    cancelled = warehouse.inbound_cancel(
        shipment=shipment, actor=merchant.applicant, note="Not sent"
    )
    again = warehouse.inbound_cancel(shipment=shipment, actor=merchant.applicant)

    assert (cancelled.status, again.status) == ("cancelled", "cancelled")
    assert cancelled.closed_at is not None
    assert again.closed_at == cancelled.closed_at
    assert list(
        InboundEvent.objects.filter(shipment=shipment).values_list("to_status", "note")
    ) == [
        ("announced", ""),
        ("cancelled", "Not sent"),
    ]


@pytest.mark.parametrize("state", ["receiving", "received"])
def test_a_shipment_being_or_already_received_cannot_be_cancelled(merchant, clerk, state):
    (a,) = products(merchant, 1)
    shipment = InboundShipmentFactory(lines=[(a, 3)])
    warehouse.inbound_receive(shipment=shipment, counts={a.pk: 3}, actor=clerk)
    if state == "received":
        warehouse.inbound_close(shipment=shipment, actor=clerk)

    refused("inbound_locked", lambda: warehouse.inbound_cancel(shipment=shipment, actor=clerk))


def test_damage_is_recorded_as_a_discrepancy(merchant, clerk):
    (a,) = products(merchant, 1)
    shipment = InboundShipmentFactory(lines=[(a, 3)])

    record = warehouse.inbound_record_damage(
        shipment=shipment, product=a, quantity=2, actor=clerk, note="Crushed box"
    )

    assert (record.kind, record.quantity, record.note, record.recorded_by_id) == (
        "damaged",
        2,
        "Crushed box",
        clerk.pk,
    )
    assert discrepancies(shipment) == [(a.pk, "damaged", 2)]
    for quantity in (0, -3):
        refused(
            "bad_quantity",
            lambda q=quantity: warehouse.inbound_record_damage(
                shipment=shipment, product=a, quantity=q, actor=clerk, note=""
            ),
        )


def test_the_whole_life_of_a_shipment_in_events(merchant, clerk):
    (a,) = products(merchant, 1)
    shipment = InboundShipmentFactory(lines=[(a, 2)], actor=merchant.applicant)
    warehouse.inbound_receive(shipment=shipment, counts={a.pk: 1}, actor=clerk)
    warehouse.inbound_receive(shipment=shipment, counts={a.pk: 1}, actor=clerk)
    warehouse.inbound_close(shipment=shipment, actor=clerk)

    assert events(shipment) == [
        ("", "announced", merchant.applicant.pk),
        ("announced", "receiving", clerk.pk),
        ("receiving", "received", clerk.pk),
    ]
    assert InboundLine.objects.get(shipment=shipment).quantity_received == 2
    assert discrepancies(shipment) == []
