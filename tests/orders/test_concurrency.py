"""Checkouts and payment callbacks racing each other on real PostgreSQL (services level).

The HTTP version (real requests through the checkout) is tests/orders/test_oversell_http.py and
`make bench`.
"""

from collections import Counter
from functools import partial

import pytest

from orders import services
from orders.models import Order, OrdererQuota, OrderEvent, PaymentCallback
from orders.states import OrderStatus
from tests.factories import orders as f
from warehouse.ledger import verify_ledger
from warehouse.models import ProductStock

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _checkout(buyer, id_number):
    try:
        return f.place(buyer, (buyer.wants, 1), orderer_id=id_number).number
    except services.SoldOutError as err:
        return f"sold out: {err}"


def test_twenty_buyers_race_for_the_last_five_units(race):
    product = f.stocked_product(5)
    buyers = []
    for _i in range(20):
        buyer = f.buyer()
        buyer.wants = product
        f.cart_of(buyer, (product, 1))
        buyers.append(buyer)
    ids = [f.id_number(f"1101011990030{i:04d}") for i in range(20)]
    results = race(*[partial(_checkout, b, i) for b, i in zip(buyers, ids, strict=True)])
    outcomes = Counter("sold out" if r.startswith("sold out") else "placed" for r in results)
    assert outcomes == {"placed": 5, "sold out": 15}, results
    stock = ProductStock.objects.get(pk=product.pk)
    assert (stock.available, stock.reserved) == (5, 5)
    assert Order.objects.count() == 5
    assert OrdererQuota.objects.filter(used__gt=0).count() == 5
    assert verify_ledger().ok


def test_the_same_callback_thirty_times_at_once_pays_once(race):
    order = f.place(f.buyer(), (f.stocked_product(1), 1))
    body = f.notify_body(f.sandbox_settle(order))
    call = partial(
        services.payment_callback_receive,
        gateway_code="sandbox",
        body=body,
        content_type="application/x-www-form-urlencoded",
    )
    results = race(*[call] * 30)
    assert Counter(results) == {(True, "paid"): 1, (True, "duplicate"): 29}, results
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1
    assert PaymentCallback.objects.count() == 30


def test_expiry_and_a_late_callback_race_without_losing_money(race):
    order = f.place(f.buyer(), (f.stocked_product(1), 1))
    trade = f.sandbox_settle(order)
    Order.objects.filter(pk=order.pk).update(expires_at=order.created_at)
    body = f.notify_body(trade)
    results = race(
        partial(services.order_expire, order_id=order.pk),
        partial(
            services.payment_callback_receive,
            gateway_code="sandbox",
            body=body,
            content_type="application/x-www-form-urlencoded",
        ),
    )
    order.refresh_from_db()
    # Whoever wins, the order is paid (expiry asks the gateway first) and nothing is refunded.
    assert order.status == OrderStatus.PAID, results
    assert order.refunds.count() == 0
