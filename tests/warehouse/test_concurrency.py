"""Warehouse and authenticity services racing each other on real PostgreSQL.

Each worker is a thread with its own database connection (the `race` fixture releases them
together); the data they race on is committed first (a transactional test).
"""

import random
from collections import Counter
from functools import partial

import pytest

from accounts import roles
from authenticity import services as authenticity
from authenticity.models import Appraisal, AppraisalCase, Verdict
from core.errors import DomainError
from tests.factories import (
    InboundShipmentFactory,
    MerchantFactory,
    ProductFactory,
    image_upload,
    staff_user,
    units_available,
    units_receive,
)
from warehouse import services as warehouse
from warehouse.ledger import verify_ledger
from warehouse.models import (
    InboundDiscrepancy,
    InboundEvent,
    OutOfStockRecord,
    ProductStock,
    Receipt,
    Reservation,
    StockUnit,
)
from warehouse.services import InsufficientStockError

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WORKERS = 50
ROUNDS = 20
STOCK = 10


def stock(product) -> tuple[int, int]:
    return ProductStock.objects.values_list("available", "reserved").get(pk=product.pk)


def unexpected(results, *allowed: type[Exception]) -> list:
    """Results that are neither a success nor one of the allowed refusals (deadlocks, ...)."""
    return [r for r in results if isinstance(r, Exception) and not isinstance(r, allowed)]


def test_the_last_units_are_never_sold_twice(race):
    merchant = MerchantFactory()
    appraiser = staff_user(roles.APPRAISER)
    successes = []
    for _ in range(ROUNDS):
        product = ProductFactory(merchant=merchant)
        units_available(product=product, n=STOCK, appraiser=appraiser)
        reserve_one = partial(warehouse.stock_reserve, items=[(product.pk, 1)])

        results = race(*[reserve_one] * WORKERS)

        won = [r for r in results if isinstance(r, list)]
        lost = [r for r in results if isinstance(r, InsufficientStockError)]
        successes.append(len(won))
        assert unexpected(results, InsufficientStockError) == []
        assert len(lost) == WORKERS - STOCK
        assert {(e.product_id, e.wanted, e.sellable) for e in lost} == {(product.pk, 1, 0)}
        assert stock(product) == (STOCK, STOCK)
        assert Reservation.objects.filter(product=product, status="active").count() == STOCK
        assert OutOfStockRecord.objects.filter(product=product, closed_at=None).count() == 1
        report = verify_ledger()
        assert report.problems == []

    assert successes == [STOCK] * ROUNDS


def test_reserve_and_release_in_random_order_never_deadlock(race):
    merchant = MerchantFactory()
    appraiser = staff_user(roles.APPRAISER)
    products = [ProductFactory(merchant=merchant) for _ in range(4)]
    for product in products:
        units_available(product=product, n=6, appraiser=appraiser)
    # reservations made up front, to be released by racing workers (some of them twice)
    held = [warehouse.stock_reserve(items=[(p.pk, 1)])[0].pk for p in products]

    def worker(seed: int):
        rng = random.Random(seed)
        chosen = rng.sample(products, k=rng.randint(1, 4))
        items = [(p.pk, rng.randint(1, 2)) for p in chosen]  # unsorted, on purpose
        if seed % 3 == 0:
            return warehouse.reservation_release(reservation_id=held[seed % len(held)])
        reservations = warehouse.stock_reserve(items=items)
        if seed % 2:
            for reservation in reversed(reservations):
                warehouse.reservation_release(reservation_id=reservation.pk)
        return reservations

    for round_ in range(5):
        results = race(*[partial(worker, round_ * 100 + i) for i in range(24)])

        assert unexpected(results, InsufficientStockError) == []
        assert verify_ledger().problems == []
        for product in products:
            available, reserved = stock(product)
            assert 0 <= reserved <= available == 6
        # a reservation released by several workers at once was given back once
        assert Reservation.objects.filter(pk__in=held).exclude(status="released").count() == 0


def test_two_pickers_never_take_the_same_unit(race):
    product = ProductFactory()
    units = units_available(product=product, n=5)
    reservations = [warehouse.stock_reserve(items=[(product.pk, 2)])[0] for _ in range(2)]
    pickers = [staff_user(), staff_user()]

    for unit in units[:2]:  # two rounds: both pickers scan the same unit
        results = race(
            *[
                partial(
                    warehouse.unit_pick,
                    item_number=unit.item_number,
                    reservation_id=reservation.pk,
                    actor=picker,
                )
                for reservation, picker in zip(reservations, pickers, strict=True)
            ]
        )
        picked = [r for r in results if isinstance(r, StockUnit)]
        refused = [r for r in results if isinstance(r, DomainError)]
        assert len(picked) == 1
        assert [e.code for e in refused] == ["not_available"]

    assert stock(product) == (3, 2)
    assert StockUnit.objects.filter(product=product, status="picked").count() == 2
    assert verify_ledger().problems == []


def _verdict(unit, appraiser, verdict):
    failing = verdict != Verdict.GENUINE
    return authenticity.appraisal_record(
        item_number=unit.item_number,
        appraiser=appraiser,
        verdict=verdict,
        notes="Logo font is wrong." if failing else "",
        photos=[image_upload(width=64, height=64)] if failing else [],
    )


@pytest.mark.parametrize(
    "verdicts",
    [
        (Verdict.GENUINE, Verdict.GENUINE),
        (Verdict.COUNTERFEIT, Verdict.COUNTERFEIT),
        (Verdict.GENUINE, Verdict.COUNTERFEIT),
    ],
    ids=["genuine-genuine", "counterfeit-counterfeit", "genuine-counterfeit"],
)
def test_two_appraisers_on_the_same_unit_give_exactly_one_first_verdict(race, verdicts):
    product = ProductFactory()
    units = units_receive(product=product, n=6)
    first, second = staff_user(roles.APPRAISER), staff_user(roles.APPRAISER)

    for unit in units:
        results = race(
            partial(_verdict, unit, first, verdicts[0]),
            partial(_verdict, unit, second, verdicts[1]),
        )
        assert unexpected(results, DomainError) == []
        assert [r.code for r in results if isinstance(r, DomainError)] in (
            [],
            ["not_awaiting_appraisal"],
        )
        assert AppraisalCase.objects.filter(unit=unit).count() == 1
        stages = list(
            Appraisal.objects.filter(case__unit=unit)
            .order_by("stage")
            .values_list("stage", flat=True)
        )
        assert stages in ([1], [1, 2])
        unit.refresh_from_db()
        case = AppraisalCase.objects.get(unit=unit)
        if stages == [1]:  # the other saw a unit that was no longer awaiting appraisal
            assert case.final_verdict in verdicts
            assert Verdict.GENUINE in verdicts or Verdict.DEFECTIVE in verdicts
        else:  # the other became the second review, by a different appraiser
            assert case.status == "final"
            assert Appraisal.objects.filter(case=case).values("appraiser").distinct().count() == 2
        assert unit.status == ("available" if case.final_verdict == "genuine" else "rejected")

    assert verify_ledger().problems == []


def test_concurrent_receiving_of_one_shipment_adds_up(race):
    merchant = MerchantFactory()
    a, b, extra = (ProductFactory(merchant=merchant) for _ in range(3))
    shipment = InboundShipmentFactory(lines=[(a, 30), (b, 20)])
    clerks = [staff_user() for _ in range(8)]

    results = race(
        *[
            partial(
                warehouse.inbound_receive,
                shipment=shipment,
                counts={a.pk: 3, b.pk: 2, extra.pk: 1},
                actor=clerk,
            )
            for clerk in clerks
        ]
    )

    assert unexpected(results) == []
    assert sum(len(r.unit_ids) for r in results) == 8 * 6
    assert Receipt.objects.filter(shipment=shipment).count() == 8
    assert list(
        shipment.lines.order_by("product_id").values_list(
            "product_id", "quantity_announced", "quantity_received"
        )
    ) == [(a.pk, 30, 24), (b.pk, 20, 16), (extra.pk, 0, 8)]
    assert {p: ProductStock.objects.get(pk=p).in_appraisal for p in (a.pk, b.pk, extra.pk)} == {
        a.pk: 24,
        b.pk: 16,
        extra.pk: 8,
    }
    assert Counter(StockUnit.objects.values_list("product_id", flat=True)) == {
        a.pk: 24,
        b.pk: 16,
        extra.pk: 8,
    }
    assert InboundEvent.objects.filter(shipment=shipment, to_status="receiving").count() == 1
    wrong = InboundDiscrepancy.objects.filter(shipment=shipment, kind="wrong_product")
    assert sum(wrong.values_list("quantity", flat=True)) == 8
    assert verify_ledger().problems == []


def test_receiving_and_reserving_products_in_any_order_never_deadlock(race):
    # Different shipments of the same products, counted in opposite orders, while buyers
    # reserve both: every service must take the products' counter rows in one order.
    merchant = MerchantFactory()
    a, b = ProductFactory(merchant=merchant), ProductFactory(merchant=merchant)
    units_available(product=a, n=5)
    units_available(product=b, n=5)
    clerk = staff_user()

    for _ in range(5):
        shipments = [InboundShipmentFactory(lines=[(a, 2), (b, 2)]) for _ in range(6)]
        calls = []
        for i, shipment in enumerate(shipments):
            counts = {a.pk: 1, b.pk: 1} if i % 2 else {b.pk: 1, a.pk: 1}
            calls.append(
                partial(warehouse.inbound_receive, shipment=shipment, counts=counts, actor=clerk)
            )
            calls.append(partial(warehouse.stock_reserve, items=[(b.pk, 1), (a.pk, 1)]))
        results = race(*calls)

        assert unexpected(results, InsufficientStockError) == []

    assert ProductStock.objects.get(pk=a.pk).in_appraisal == 5 * 6
    assert verify_ledger().problems == []
