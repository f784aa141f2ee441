"""The pick, pack and ship stations: a scanner's journey, refusals with reasons, permissions."""

from functools import partial

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import roles
from orders import selectors as orders_selectors
from orders.states import OrderStatus
from tests.factories import orders as f
from tests.factories.accounts import UserFactory
from tests.factories.warehouse import staff_user
from warehouse.models import Parcel, StockUnit

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(client):
    user = staff_user()
    client.force_login(user)
    return user


def _paid(*items):
    return f.pay(f.place(f.buyer(), *items))


def test_stations_are_for_warehouse_staff_only(client):
    order = _paid((f.stocked_product(1), 1))
    urls = [
        reverse("warehouse:pick_start"),
        reverse("warehouse:pick", args=[order.number]),
        reverse("warehouse:pack_start"),
        reverse("warehouse:pack", args=[order.number]),
        reverse("warehouse:ship"),
    ]
    for url in urls:
        assert client.get(url).status_code == 302  # to login
    client.force_login(staff_user(roles.APPRAISER))
    for url in urls:
        assert client.get(url).status_code == 403
    client.force_login(UserFactory())
    assert client.post(urls[-1], {"parcel": "PK123"}).status_code == 403


def test_scan_pick_pack_and_ship_an_order(
    client, clerk, settings, django_capture_on_commit_callbacks
):
    settings.CUSTOMS_SIMULATED_DELAY_SECONDS = 0
    product = f.stocked_product(2)
    order = _paid((product, 2))
    page = client.get(reverse("warehouse:pick_start")).content.decode()
    assert order.number in page
    pick_url = reverse("warehouse:pick", args=[order.number])
    page = client.get(pick_url).content.decode()
    assert "0 / 2" in page
    assert product.name in page
    units = list(StockUnit.objects.filter(product=product))
    for unit in units:
        response = client.post(pick_url, {"item_number": unit.item_number.lower()}, follow=True)
        assert "Picked" in response.content.decode()
    assert "2 / 2" in client.get(pick_url).content.decode()
    # A wrong scan: a clear reason, nothing changes.
    response = client.post(pick_url, {"item_number": units[0].item_number})
    assert "picked already" in response.content.decode()
    pack_url = reverse("warehouse:pack", args=[order.number])
    response = client.post(pack_url, {"weight_grams": "500"})
    assert "not in the parcel yet" in response.content.decode()
    for unit in units:
        client.post(pack_url, {"item_number": unit.item_number})
    response = client.post(pack_url, {"item_number": units[0].item_number})
    assert "already in this parcel" in response.content.decode()
    response = client.post(pack_url, {"weight_grams": "abc"})
    assert "whole number of grams" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(pack_url, {"weight_grams": "640"}, follow=True)
    parcel = Parcel.objects.get(order_ref=order.number)
    assert parcel.waybill in response.content.decode()
    for kind in ("label", "slip"):
        pdf = client.get(reverse("warehouse:parcel_document", args=[parcel.code, kind]))
        assert pdf["Content-Type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
    assert client.get(f"/warehouse/parcels/{parcel.code}/other.pdf").status_code == 404
    ship_url = reverse("warehouse:ship")
    assert parcel.code in client.get(ship_url).content.decode()
    response = client.post(ship_url, {"parcel": "PKNOSUCHCODE"})
    assert "No parcel has the code" in response.content.decode()
    response = client.post(ship_url, {"parcel": parcel.code.lower()}, follow=True)
    assert f"Shipped {parcel.code}" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    # The buyer sees the parcel, its waybill and its tracking.
    client.force_login(order.buyer)
    page = client.get(reverse("orders:detail", args=[order.number])).content.decode()
    assert parcel.waybill in page


def test_pick_list_queries_do_not_grow_with_orders(client, clerk, django_assert_max_num_queries):
    orders = [_paid((f.stocked_product(1), 1)) for _ in range(5)]
    url = reverse("warehouse:pick", args=[",".join(o.number for o in orders)])
    client.get(url)
    with django_assert_max_num_queries(20):
        page = client.get(url).content.decode()
    assert all(o.number in page for o in orders)


# Behind a backlog, as `make bench` (fulfilment) builds it: 10,000 paid orders waiting to be
# picked while a few are being picked.


def test_the_pack_station_lists_orders_being_picked_behind_paid_ones(client, clerk, monkeypatch):
    # The pack station kept the allocated orders among the pick queue's first 50: behind 50
    # paid orders waiting to be picked it said "No order is waiting to be packed".
    waiting = _paid((f.stocked_product(1), 1))
    product = f.stocked_product(1)
    picking = _paid((product, 1))
    [unit] = StockUnit.objects.filter(product=product)
    client.post(reverse("warehouse:pick", args=[picking.number]), {"item_number": unit.item_number})
    # The backlog: the pick queue's first page holds only the order still waiting.
    full = partial(orders_selectors.orders_to_fulfil, limit=1)
    monkeypatch.setattr(orders_selectors, "orders_to_fulfil", full)
    assert [o.number for o in orders_selectors.orders_to_fulfil()] == [waiting.number]
    page = client.get(reverse("warehouse:pack_start")).content.decode()
    assert picking.number in page
    assert waiting.number not in page


def test_the_pick_queue_reads_the_partial_index_in_order(clerk):
    # Sorting every open order took 16 ms at 10,000 and grew with the backlog.
    orders = [_paid((f.stocked_product(1), 1)) for _ in range(3)]
    queue = orders_selectors.orders_to_fulfil()
    assert [o.number for o in queue] == [o.number for o in orders]
    if connection.vendor != "postgresql":
        return
    with CaptureQueriesContext(connection) as queries:
        orders_selectors.orders_to_fulfil()
    sql = queries.captured_queries[0]["sql"]
    with connection.cursor() as cursor:  # a few rows: make the planner show what it can do
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Scan using order_fulfil_queue" in plan
    assert "Sort" not in plan
