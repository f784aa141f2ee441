"""The warehouse stations: what a clerk sees, what each scan does, every refusal as a message."""

import re
from html import unescape

import pytest
from django.contrib.messages import get_messages

from accounts import roles
from accounts.services import user_grant_role
from tests.factories import MerchantFactory, ProductFactory, UserFactory
from warehouse import selectors
from warehouse import services as warehouse
from warehouse.models import (
    InboundDiscrepancy,
    InboundShipment,
    ProductStock,
    StockCount,
    StockUnit,
    UnitMovement,
)
from warehouse.services.purchasing import MAX_UNITS_PER_RECEIPT

pytestmark = pytest.mark.django_db


# --- helpers ---------------------------------------------------------------------------------


def staff(role: str = roles.WAREHOUSE):
    return user_grant_role(user=UserFactory(), role=role)


def announce(*lines, carrier: str = "SF Express", waybill: str = "SF100200300"):
    """An inbound shipment of (product, quantity) lines, announced by the merchant."""
    merchant = lines[0][0].merchant
    return warehouse.inbound_announce(
        merchant=merchant, actor=merchant.applicant, carrier=carrier, waybill=waybill, lines=lines
    )


def receive(shipment, counts: dict, clerk) -> list[StockUnit]:
    received = warehouse.inbound_receive(shipment=shipment, counts=counts, actor=clerk)
    return list(StockUnit.objects.filter(pk__in=received.unit_ids).order_by("pk"))


def text(response) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    html = response.content.decode()
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def alerts(response) -> list[str]:
    """What the page's alert regions say (form errors after a bad scan or count)."""
    html = response.content.decode()
    blocks = re.findall(r'role="alert"[^>]*>(.*?)</div>', html, re.S)
    found = []
    for block in blocks:
        found += [
            re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", p))).strip()
            for p in re.findall(r"<p[^>]*>(.*?)</p>", block, re.S)
        ]
    return found


def flashed(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def clerk(db):
    return staff()


@pytest.fixture
def station(client, clerk):
    client.force_login(clerk)
    return client


@pytest.fixture
def merchant(db):
    return MerchantFactory(name="Kyoto Beauty Co.")


@pytest.fixture
def serum(merchant):
    return ProductFactory(merchant=merchant, name="Camellia Serum")


@pytest.fixture
def cream(merchant):
    return ProductFactory(merchant=merchant, name="Rice Cream")


# --- who may use the stations ----------------------------------------------------------------


@pytest.fixture
def world(serum, clerk):
    shipment = announce((serum, 2))
    units = receive(shipment, {serum.pk: 2}, clerk)
    count = warehouse.stock_count_start(location=units[0].location, actor=clerk)
    return {
        "reference": shipment.reference,
        "receipt": units[0].receipt_id,
        "item": units[0].item_number,
        "count": count.pk,
    }


GET_PAGES = [
    "/warehouse/",
    "/warehouse/units/",
    "/warehouse/units/{item}/",
    "/warehouse/units/{item}/label.pdf",
    "/warehouse/receive/",
    "/warehouse/receive/{reference}/",
    "/warehouse/receipts/{receipt}/",
    "/warehouse/receipts/{receipt}/labels.pdf",
    "/warehouse/count/",
    "/warehouse/count/{count}/",
]
POST_ONLY = [
    "/warehouse/receive/{reference}/damage/",
    "/warehouse/receive/{reference}/close/",
    "/warehouse/count/{count}/close/",
]


@pytest.mark.parametrize("url", GET_PAGES + POST_ONLY)
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_visitors_are_sent_to_log_in(client, world, url, method):
    path = url.format(**world)

    response = getattr(client, method)(path)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


@pytest.mark.parametrize("role", [None, roles.APPRAISER, roles.MERCHANT, roles.CUSTOMER_SERVICE])
@pytest.mark.parametrize("url", GET_PAGES + POST_ONLY)
def test_users_without_the_warehouse_role_are_refused(client, world, url, role):
    user = UserFactory()
    if role:
        user_grant_role(user=user, role=role)
    client.force_login(user)
    units_before = StockUnit.objects.count()

    get, post = client.get(url.format(**world)), client.post(url.format(**world))

    assert (get.status_code, post.status_code) == (403, 403)
    assert StockUnit.objects.count() == units_before
    assert StockCount.objects.get(pk=world["count"]).status == "open"


@pytest.mark.parametrize("url", GET_PAGES)
@pytest.mark.parametrize("role", [roles.WAREHOUSE, roles.PLATFORM_ADMIN])
def test_warehouse_staff_and_platform_admins_open_every_page(client, world, url, role):
    client.force_login(staff(role))

    response = client.get(url.format(**world))

    assert response.status_code == 200


@pytest.mark.parametrize("url", POST_ONLY)
def test_actions_take_posts_only(station, world, url):
    assert station.get(url.format(**world)).status_code == 405


def test_the_site_header_links_the_warehouse_for_its_staff_only(client, world, clerk):
    link = '<a href="/warehouse/">Warehouse</a>'
    client.force_login(clerk)
    assert link in client.get("/").content.decode()
    client.force_login(staff(roles.APPRAISER))
    assert link not in client.get("/").content.decode()


# --- dashboard -------------------------------------------------------------------------------


def test_dashboard_lists_open_shipments_counters_and_out_of_stock_records(
    station, clerk, serum, cream
):
    announced = announce((serum, 1), waybill="W-ANNOUNCED")
    receiving = announce((serum, 3), (cream, 2), waybill="W-RECEIVING")
    units = receive(receiving, {serum.pk: 3, cream.pk: 2}, clerk)
    closed = announce((cream, 1), waybill="W-CLOSED")
    receive(closed, {cream.pk: 1}, clerk)
    warehouse.inbound_close(shipment=closed, actor=clerk)
    cancelled = announce((cream, 1), waybill="W-CANCELLED")
    warehouse.inbound_cancel(shipment=cancelled, actor=clerk)
    warehouse.stock_set_reorder_point(product_id=cream.pk, reorder_point=1)  # opens a record
    warehouse.unit_relocate(item_number=units[0].item_number, location_code="APR-01", actor=clerk)

    response = station.get("/warehouse/")

    assert response.status_code == 200
    assert [s.reference for s in response.context["inbound"]] == [
        announced.reference,
        receiving.reference,
    ]
    rows = {
        row.product.name: (row.sellable, row.available, row.reserved, row.in_appraisal)
        for row in response.context["page"].rows
    }
    assert rows == {"Camellia Serum": (0, 0, 0, 3), "Rice Cream": (0, 0, 0, 3)}
    assert [r.product.name for r in response.context["out_of_stock"]] == ["Rice Cream"]
    page = text(response)
    assert f"{announced.reference} Announced" in page
    assert f"{receiving.reference} Receiving" in page
    assert closed.reference not in page
    assert cancelled.reference not in page
    html = response.content.decode()
    assert 'name="item_number"' in html
    assert "autofocus" in html
    assert 'action="/warehouse/units/"' in html


def test_dashboard_searches_products_by_name_and_pages_by_keyset(
    station, clerk, merchant, monkeypatch
):
    products = [ProductFactory(merchant=merchant, name=f"Tea {n}") for n in range(5)]
    ProductFactory(merchant=merchant, name="Coffee")
    shipment = announce(*[(p, 1) for p in products])
    receive(shipment, {p.pk: 1 for p in products}, clerk)
    monkeypatch.setattr(selectors, "STOCK_PAGE_SIZE", 2)

    first = station.get("/warehouse/", {"q": "tea"})
    after = first.context["page"].next_after
    second = station.get("/warehouse/", {"q": "tea", "after": after})
    third = station.get("/warehouse/", {"q": "tea", "after": second.context["page"].next_after})

    names = [[r.product.name for r in page.context["page"].rows] for page in (first, second, third)]
    assert names == [["Tea 0", "Tea 1"], ["Tea 2", "Tea 3"], ["Tea 4"]]
    assert after == products[1].pk
    assert third.context["page"].next_after is None
    assert f'href="?q=tea&amp;after={after}"' in first.content.decode()
    assert "First page" in text(second)
    nothing = station.get("/warehouse/", {"q": "Matcha"})
    assert "No product matches “Matcha”." in text(nothing)


# The user (sessions live in the cache), their roles, the counters page (product and merchant
# joined), open shipments (merchant joined), open out-of-stock records (product and merchant).
DASHBOARD_QUERIES = 5


@pytest.mark.parametrize("n", [1, 20])
def test_dashboard_query_count_does_not_grow_with_products(
    station, clerk, merchant, n, django_assert_num_queries
):
    products = [ProductFactory(merchant=merchant, name=f"Item {i}") for i in range(n)]
    for product in products:
        shipment = announce((product, 1))
        receive(shipment, {product.pk: 1}, clerk)
        warehouse.stock_set_reorder_point(product_id=product.pk, reorder_point=1)
        announce((product, 2))

    with django_assert_num_queries(DASHBOARD_QUERIES):
        response = station.get("/warehouse/")

    assert len(response.context["page"].rows) == n
    assert len(response.context["inbound"]) == 2 * n
    assert len(response.context["out_of_stock"]) == n


# --- finding a unit --------------------------------------------------------------------------


def test_scanning_an_item_number_opens_its_unit(station, world):
    response = station.get("/warehouse/units/", {"item_number": world["item"].lower()})

    assert response.status_code == 302
    assert response["Location"] == f"/warehouse/units/{world['item']}/"


def test_a_mistyped_item_number_is_refused_before_any_lookup(station, world):
    typo = world["item"][:-1] + ("A" if world["item"][-1] != "A" else "B")

    response = station.get("/warehouse/units/", {"item_number": typo})

    assert response.status_code == 400
    assert alerts(response) == [f"“{typo}” is not a valid item number; check it and scan again."]
    assert 'class="scan scan--bad"' in response.content.decode()


def test_the_scan_box_is_empty_again_after_a_bad_scan(station, world):
    # The scanner types the next code into the box: the last one must not stay in front of it.
    response = station.get("/warehouse/units/", {"item_number": "PV123"})

    box = re.search(r'<input[^>]*name="item_number"[^>]*>', response.content.decode()).group(0)
    assert "value=" not in box
    assert "autofocus" in box


def test_an_unknown_item_number_is_a_404_with_the_scan_box(station, world):
    unknown = "PV0000000000"
    assert selectors.unit_get(item_number=unknown) is None

    response = station.get(f"/warehouse/units/{unknown}/")

    assert response.status_code == 404
    assert alerts(response) == [f"No unit has the item number {unknown}."]
    assert "autofocus" in response.content.decode()


def test_an_item_number_typed_loosely_redirects_to_its_page(station, world):
    loose = world["item"].lower()[:4] + "-" + world["item"].lower()[4:]

    response = station.get(f"/warehouse/units/{loose}/")

    assert response.status_code == 302
    assert response["Location"] == f"/warehouse/units/{world['item']}/"


# --- the unit page ---------------------------------------------------------------------------


def test_unit_page_shows_the_unit_and_its_whole_history(station, clerk, serum, merchant):
    shipment = announce((serum, 1))
    unit = receive(shipment, {serum.pk: 1}, clerk)[0]
    warehouse.unit_relocate(
        item_number=unit.item_number, location_code="apr-01", actor=clerk, note="To the bench"
    )

    response = station.get(f"/warehouse/units/{unit.item_number}/")

    assert response.status_code == 200
    page = text(response)
    assert "Product Camellia Serum" in page
    assert "Merchant Kyoto Beauty Co." in page
    assert "Status Awaiting appraisal" in page
    assert "Location APR-01 · Appraisal bench" in page
    assert f"Inbound shipment {shipment.reference}" in page
    assert f"Receipt RCP-{unit.receipt_id}" in page
    history = response.context["history"]
    assert [(m.reason, m.from_status, m.to_status) for m in history] == [
        ("receive", "", "awaiting_appraisal"),
        ("relocate", "awaiting_appraisal", "awaiting_appraisal"),
    ]
    assert "Received from merchant Awaiting appraisal RCV-01" in page
    assert (
        f"Moved to another location To the bench Awaiting appraisal RCV-01 → APR-01 {clerk.email}"
        in page
    )
    assert shipment.reference in page  # the receipt's document
    # Where it may go: the usages its status allows.
    assert [loc.code for loc in response.context["locations"]] == ["RCV-01", "APR-01"]
    # Scanning a bin's label right after opening the unit moves it there.
    html = response.content.decode()
    location_box = re.search(r'<input[^>]*name="location"[^>]*>', html).group(0)
    next_box = re.search(r'<input[^>]*name="item_number"[^>]*>', html).group(0)
    assert "autofocus" in location_box
    assert "autofocus" not in next_box
    assert f'href="/warehouse/units/{unit.item_number}/label.pdf"' in response.content.decode()


def test_relocating_a_unit_writes_a_movement(station, clerk, world):
    response = station.post(
        f"/warehouse/units/{world['item']}/", {"location": " apr-01 ", "note": "bench"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/warehouse/units/{world['item']}/"
    assert flashed(response) == [f"{world['item']} moved to APR-01."]
    unit = StockUnit.objects.select_related("location").get(item_number=world["item"])
    assert unit.location.code == "APR-01"
    last = unit.movements.order_by("-id").first()
    assert (last.reason, last.actor, last.note) == ("relocate", clerk, "bench")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("NOWHERE", "Move to location: There is no active location NOWHERE."),
        (
            "STK-A01",
            "A unit that is Awaiting appraisal cannot be kept in STK-A01 · Stock aisle A, bin 1.",
        ),
        ("", "Move to location: This field is required."),
    ],
)
def test_a_refused_move_says_why_and_moves_nothing(station, world, code, message):
    moves = UnitMovement.objects.count()

    response = station.post(f"/warehouse/units/{world['item']}/", {"location": code})

    assert response.status_code == 200
    assert alerts(response) == [message]
    assert UnitMovement.objects.count() == moves
    assert StockUnit.objects.get(item_number=world["item"]).location.code == "RCV-01"


# The user, their roles, the unit (product, merchant, location, shipment joined), its history
# (locations and actors joined), and the active locations.
UNIT_QUERIES = 5


@pytest.mark.parametrize("moves", [1, 20])
def test_unit_page_query_count_does_not_grow_with_history(
    station, clerk, world, moves, django_assert_num_queries
):
    for n in range(moves):
        code = "APR-01" if n % 2 == 0 else "RCV-01"
        warehouse.unit_relocate(item_number=world["item"], location_code=code, actor=clerk)

    with django_assert_num_queries(UNIT_QUERIES):
        response = station.get(f"/warehouse/units/{world['item']}/")

    assert len(response.context["history"]) == moves + 1


# --- receiving -------------------------------------------------------------------------------


def test_a_scanned_reference_opens_its_shipment(station, world):
    number = int(world["reference"].removeprefix("IN-"))
    for typed in (world["reference"].lower(), f"IN{number}", str(number)):
        response = station.get("/warehouse/receive/", {"reference": typed})
        assert response.status_code == 302
        assert response["Location"] == f"/warehouse/receive/{world['reference']}/"


def test_a_reference_of_the_wrong_shape_is_refused(station, world):
    response = station.get("/warehouse/receive/", {"reference": "SF100200300"})

    assert response.status_code == 400
    assert alerts(response) == ["“SF100200300” is not an inbound reference (like IN-0000123)."]


def test_an_unknown_reference_is_a_404_that_says_so(station, world):
    response = station.get("/warehouse/receive/IN-9999999/")

    assert response.status_code == 404
    assert alerts(response) == ["No inbound shipment has the reference IN-9999999."]
    assert world["reference"] in text(response)  # the open shipments, to pick from


def test_receive_page_shows_announced_lines_and_what_came_so_far(station, clerk, serum, cream):
    shipment = announce((serum, 5), (cream, 2))
    receive(shipment, {serum.pk: 3}, clerk)

    response = station.get(f"/warehouse/receive/{shipment.reference}/")

    assert response.status_code == 200
    rows = [
        (line.product.name, line.quantity_announced, line.quantity_received)
        for line, _field in response.context["form"].count_fields()
    ]
    assert rows == [("Camellia Serum", 5, 3), ("Rice Cream", 2, 0)]
    page = text(response)
    assert "Camellia Serum 5 3" in page
    assert "Rice Cream 2 0" in page
    html = response.content.decode()
    first = re.search(r'<input[^>]*name="count_\d+"[^>]*>', html).group(0)
    assert "autofocus" in first
    assert f'name="count_{serum.pk}"' in first
    assert f'action="/warehouse/receive/{shipment.reference}/close/"' in html


def test_receiving_creates_units_and_shows_their_item_numbers(station, clerk, serum, cream):
    shipment = announce((serum, 2), (cream, 1))

    response = station.post(
        f"/warehouse/receive/{shipment.reference}/",
        {f"count_{serum.pk}": "2", f"count_{cream.pk}": "1", "note": "Pallet 1"},
    )

    units = list(StockUnit.objects.order_by("pk"))
    assert len(units) == 3
    receipt_id = units[0].receipt_id
    assert response.status_code == 302
    assert response["Location"] == f"/warehouse/receipts/{receipt_id}/"
    assert flashed(response) == [
        f"3 units received into {shipment.reference}. Print their labels and stick them on."
    ]
    assert {u.status for u in units} == {"awaiting_appraisal"}
    assert UnitMovement.objects.filter(reason="receive", actor=clerk, note="Pallet 1").count() == 3
    shipment.refresh_from_db()
    assert shipment.status == "receiving"

    page = station.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    for unit in units:
        assert f'<a class="mono" href="/warehouse/units/{unit.item_number}/">' in html
    assert f'href="/warehouse/receipts/{receipt_id}/labels.pdf"' in html
    assert "3 units, each under its own item number." in text(page)
    assert [(p.name, len(us)) for p, us in page.context["groups"]] == [
        ("Camellia Serum", 2),
        ("Rice Cream", 1),
    ]


@pytest.mark.parametrize("by", ["slug", "id", "datalist"])
def test_a_product_that_was_not_announced_is_received_as_a_discrepancy(
    station, clerk, serum, cream, by
):
    shipment = announce((serum, 1))
    other = {"slug": cream.slug, "id": str(cream.pk), "datalist": f"{cream.slug} · Rice Cream"}[by]

    response = station.post(
        f"/warehouse/receive/{shipment.reference}/",
        {f"count_{serum.pk}": "1", "other_product": other, "other_count": "2"},
    )

    assert response.status_code == 302
    assert StockUnit.objects.filter(product=cream).count() == 2
    assert list(InboundDiscrepancy.objects.values_list("kind", "product_id", "quantity")) == [
        ("wrong_product", cream.pk, 2)
    ]
    page = station.get(f"/warehouse/receive/{shipment.reference}/")
    assert "Rice Cream not announced 0 2" in text(page)
    assert "Product not in the announcement Rice Cream 2" in text(page)


def test_another_merchants_product_cannot_be_received_into_a_shipment(station, serum):
    shipment = announce((serum, 1))
    foreign = ProductFactory(name="Foreign Tea")

    response = station.post(
        f"/warehouse/receive/{shipment.reference}/",
        {"other_product": foreign.slug, "other_count": "1"},
    )

    assert response.status_code == 200
    assert alerts(response) == [
        f"Other product (id or slug): This merchant has no product “{foreign.slug}”. "
        "Give its id or slug."
    ]
    assert not StockUnit.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Count at least one item."),
        ({"count": "0"}, "Count at least one item."),
        ({"count": "-2"}, "Camellia Serum: Counts cannot be negative."),
        ({"count": "two"}, "Camellia Serum: Type a whole number."),
        ({"count": str(MAX_UNITS_PER_RECEIPT + 1)}, "Receive at most 5000 items at a time."),
        ({"other_count": "3"}, "Other product (id or slug): Which product are these?"),
        ({"other_product": "{slug}"}, "Items counted: How many of this product arrived?"),
    ],
)
def test_a_bad_count_is_refused_with_a_clear_message(station, serum, cream, data, message):
    shipment = announce((serum, 1))
    post = {
        (f"count_{serum.pk}" if key == "count" else key): value.format(slug=cream.slug)
        for key, value in data.items()
    }

    response = station.post(f"/warehouse/receive/{shipment.reference}/", post)

    assert response.status_code == 200
    assert alerts(response) == [message]
    assert not StockUnit.objects.exists()
    assert InboundShipment.objects.get(pk=shipment.pk).status == "announced"


def test_a_closed_shipment_takes_no_more_goods(station, clerk, serum):
    shipment = announce((serum, 1))
    receive(shipment, {serum.pk: 1}, clerk)
    warehouse.inbound_close(shipment=shipment, actor=clerk)

    response = station.post(f"/warehouse/receive/{shipment.reference}/", {f"count_{serum.pk}": "1"})

    assert response.status_code == 200
    assert alerts(response) == [
        f"Shipment {shipment.reference} is Received; it cannot receive goods."
    ]
    assert StockUnit.objects.count() == 1
    assert "This shipment is Received: it takes no more goods." in text(response)


def test_damaged_items_are_recorded_without_units(station, clerk, serum):
    shipment = announce((serum, 4))

    response = station.post(
        f"/warehouse/receive/{shipment.reference}/damage/",
        {"damage-product": str(serum.pk), "damage-quantity": "2", "damage-note": "Crushed box"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/warehouse/receive/{shipment.reference}/"
    assert flashed(response) == ["Recorded: 2 damaged items of Camellia Serum."]
    assert list(
        InboundDiscrepancy.objects.values_list(
            "kind", "product_id", "quantity", "note", "recorded_by"
        )
    ) == [("damaged", serum.pk, 2, "Crushed box", clerk.pk)]
    assert not StockUnit.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"damage-quantity": "0"}, "Damaged items: Give how many items are damaged."),
        ({"damage-quantity": "x"}, "Damaged items: Enter a whole number."),
        (
            {"damage-product": "999999", "damage-quantity": "1"},
            "Product: Select a valid choice. 999999 is not one of the available choices.",
        ),
    ],
)
def test_a_bad_damage_record_is_refused(station, serum, data, message):
    shipment = announce((serum, 4))

    response = station.post(
        f"/warehouse/receive/{shipment.reference}/damage/",
        {"damage-product": str(serum.pk), **data},
    )

    assert response.status_code == 200
    assert alerts(response) == [message]
    assert not InboundDiscrepancy.objects.exists()


def test_closing_a_shipment_records_short_and_over_quantities(station, clerk, serum, cream):
    shipment = announce((serum, 5), (cream, 2))
    receive(shipment, {serum.pk: 3, cream.pk: 4}, clerk)

    response = station.post(f"/warehouse/receive/{shipment.reference}/close/")

    assert response.status_code == 302
    assert flashed(response) == [f"{shipment.reference} is closed with 2 discrepancies recorded."]
    assert sorted(InboundDiscrepancy.objects.values_list("kind", "product_id", "quantity")) == [
        ("over", cream.pk, 2),
        ("short", serum.pk, 2),
    ]
    page = text(station.get(f"/warehouse/receive/{shipment.reference}/"))
    assert "Fewer than announced Camellia Serum 2" in page
    assert "More than announced Rice Cream 2" in page


def test_closing_a_shipment_before_receiving_anything_is_refused(station, serum):
    shipment = announce((serum, 5))

    response = station.post(f"/warehouse/receive/{shipment.reference}/close/")

    assert response.status_code == 302
    assert flashed(response) == ["Receive something before closing the shipment."]
    assert InboundShipment.objects.get(pk=shipment.pk).status == "announced"


# The user, their roles, the shipment (merchant joined), its lines, their products, the
# merchant's products (the "other product" list), receipts, discrepancies.
RECEIVE_QUERIES = 8


@pytest.mark.parametrize("n", [1, 20])
def test_receive_page_query_count_does_not_grow_with_lines(
    station, clerk, merchant, n, django_assert_num_queries
):
    products = [ProductFactory(merchant=merchant, name=f"Item {i}") for i in range(n)]
    shipment = announce(*[(p, 2) for p in products])
    for product in products:
        receive(shipment, {product.pk: 1}, clerk)

    with django_assert_num_queries(RECEIVE_QUERIES):
        response = station.get(f"/warehouse/receive/{shipment.reference}/")

    assert len(response.context["form"].lines) == n
    assert len(response.context["receipts"]) == n


def test_an_unknown_receipt_is_a_404(station, db):
    assert station.get("/warehouse/receipts/999999/").status_code == 404
    assert station.get("/warehouse/receipts/999999/labels.pdf").status_code == 404
    assert station.get("/warehouse/units/PV0000000000/label.pdf").status_code == 404


# --- cycle counts ----------------------------------------------------------------------------


def test_a_count_is_started_for_an_active_location(station, clerk):
    response = station.post("/warehouse/count/", {"location": _location_id("RCV-01")})

    count = StockCount.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/warehouse/count/{count.pk}/"
    assert (count.location.code, count.status, count.started_by) == ("RCV-01", "open", clerk)


def test_a_location_is_counted_once_at_a_time(station, clerk, world):
    response = station.post("/warehouse/count/", {"location": _location_id("RCV-01")})

    assert response.status_code == 200
    assert alerts(response) == [
        "A count of RCV-01 · Receiving dock is already open; finish it first."
    ]
    assert StockCount.objects.count() == 1
    assert f"CNT-{world['count']}" in text(response)


def test_counting_scans_units_then_closing_settles_the_ledger(station, clerk, serum):
    shipment = announce((serum, 3))
    units = receive(shipment, {serum.pk: 3}, clerk)
    warehouse.unit_relocate(item_number=units[2].item_number, location_code="APR-01", actor=clerk)
    count = warehouse.stock_count_start(location=units[0].location, actor=clerk)
    url = f"/warehouse/count/{count.pk}/"

    seen = station.post(url, {"item_number": units[0].item_number.lower()})
    assert seen.status_code == 302
    assert seen["Location"] == url
    assert flashed(seen) == [f"Seen: {units[0].item_number} · Camellia Serum"]
    elsewhere = station.post(url, {"item_number": units[2].item_number}, follow=True)
    assert (
        f"Seen: {units[2].item_number} · Camellia Serum. The records put it at APR-01; "
        "closing the count moves it here if its status allows."
    ) in text(elsewhere)
    station.post(url, {"item_number": units[0].item_number})  # twice is harmless
    page = station.get(url)
    assert [s.unit.item_number for s in page.context["scans"]] == [
        units[2].item_number,
        units[0].item_number,
    ]
    assert "recorded at APR-01" in text(page)

    closed = station.post(f"/warehouse/count/{count.pk}/close/")

    assert flashed(closed) == [
        "Count closed: 1 of 2 expected units found, 1 missing, 1 moved here."
    ]
    count.refresh_from_db()
    assert (count.status, count.expected, count.found, count.missing, count.relocated) == (
        "closed",
        2,
        1,
        1,
        1,
    )
    statuses = dict(StockUnit.objects.values_list("item_number", "status"))
    assert statuses[units[1].item_number] == "lost"
    assert StockUnit.objects.get(pk=units[2].pk).location.code == "RCV-01"
    result = text(station.get(url))
    assert "Expected 2 Found 1 Missing 1 Moved here 1" in result
    assert 'name="item_number"' not in station.get(url).content.decode()


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("PV0000000000", "No unit has the item number PV0000000000."),
        ("PV123", "“PV123” is not a valid item number; check it and scan again."),
        ("", "This field is required."),
    ],
)
def test_a_bad_count_scan_says_why(station, world, typed, message):
    response = station.post(f"/warehouse/count/{world['count']}/", {"item_number": typed})

    assert response.status_code == 200
    assert alerts(response) == [message]
    assert not StockCount.objects.get(pk=world["count"]).scans.exists()


def test_a_closed_count_takes_no_scans(station, clerk, world):
    count = StockCount.objects.get(pk=world["count"])
    warehouse.stock_count_close(count=count, actor=clerk)

    response = station.post(f"/warehouse/count/{count.pk}/", {"item_number": world["item"]})

    assert response.status_code == 200
    assert alerts(response) == ["This count is closed."]


def test_an_unknown_count_is_a_404(station, db):
    assert station.get("/warehouse/count/999999/").status_code == 404
    assert station.post("/warehouse/count/999999/close/").status_code == 404


def _location_id(code: str) -> str:
    return str(next(loc.pk for loc in selectors.locations_active() if loc.code == code))


def test_stock_rows_exist_only_for_received_products(serum, cream, clerk):
    receive(announce((serum, 1)), {serum.pk: 1}, clerk)
    assert list(ProductStock.objects.values_list("product_id", flat=True)) == [serum.pk]


def test_the_station_menu_leads_to_the_rejected_units(client, clerk):
    # Rejected goods wait there to be returned or destroyed; the clerk must not hunt for the URL.
    client.force_login(clerk)

    page = client.get("/warehouse/").content.decode()

    assert 'href="/authenticity/rejected/"' in page
    assert client.get("/authenticity/rejected/").status_code == 200
