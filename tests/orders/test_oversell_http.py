"""The last units are never sold twice through the real HTTP checkout (live server, PostgreSQL).

20 signed-in buyers walk product page, add to cart, cart and checkout form over HTTP with the
stdlib browser the orders bench uses (bench/shop_client.py), then all place their order for the
last 3 units at the same instant. The winners pay on the sandbox gateway's page; its signed notify
(Celery is eager in tests) is POSTed to the live server's webhook and marks the order paid. The
live server is one process with a thread per request, each with its own database connection.
`make bench BENCH_ARGS="--only orders"` runs 100 buyers against gunicorn.
"""

import pytest
from django.test import Client

from bench.shop_client import Purchase, Shopper, race
from orders.models import Order, Payment, PaymentCallback
from tests.factories import orders as f
from warehouse.ledger import verify_ledger
from warehouse.models import ProductStock

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

BUYERS, STOCK = 20, 3


def signed_in(user) -> dict[str, str]:
    client = Client()
    client.force_login(user)
    return {name: morsel.value for name, morsel in client.cookies.items()}


def test_twenty_buyers_check_out_the_last_three_units_over_http(live_server):
    product = f.stocked_product(STOCK, name="Last serum")
    shoppers = [
        Shopper(
            signed_in(f.buyer()),
            Purchase(
                product.pk,
                f"/products/{product.slug}/",
                f.ORDERER_NAME,
                f.id_number(f"1101011990030{i:04d}"),
            ),
        )
        for i in range(BUYERS)
    ]

    result = race(live_server.url, shoppers)

    assert result["outcomes"] == {"paid": STOCK, "sold_out": BUYERS - STOCK}, result
    assert result["sold_out_messages"] == [
        f"{BUYERS - STOCK} x Sold out: Last serum was just bought by someone else."
    ]
    assert not [s for s in result["http_statuses"] if s.startswith("5")], result["http_statuses"]
    paid = Order.objects.filter(status="paid")
    assert sorted(paid.values_list("number", flat=True)) == result["paid_orders"]
    assert Order.objects.count() == STOCK
    assert Payment.objects.filter(status="paid").count() == STOCK
    assert PaymentCallback.objects.filter(outcome="paid").count() == STOCK
    stock = ProductStock.objects.get(pk=product.pk)
    assert (stock.available, stock.reserved) == (STOCK, STOCK)
    assert verify_ledger().problems == []
