"""The warehouse in /admin/: merchants announce shipments and follow their own units and stock,
never another merchant's; writes go through the services; received shipments are records."""

import pytest
from django.contrib.messages import get_messages

from accounts import roles
from accounts.services import user_grant_role
from tests.factories import MerchantFactory, PlatformAdminFactory, ProductFactory, UserFactory
from warehouse import services as warehouse
from warehouse.models import (
    InboundEvent,
    InboundLine,
    InboundShipment,
    Location,
    OutOfStockRecord,
    ProductStock,
    StockUnit,
)

pytestmark = pytest.mark.django_db

SHIPMENTS = "/admin/warehouse/inboundshipment/"
UNITS = "/admin/warehouse/stockunit/"
STOCK = "/admin/warehouse/productstock/"
OUT_OF_STOCK = "/admin/warehouse/outofstockrecord/"
LOCATIONS = "/admin/warehouse/location/"


def flashed(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def announce(product, quantity: int = 2, **kwargs) -> InboundShipment:
    merchant = product.merchant
    return warehouse.inbound_announce(
        merchant=merchant,
        actor=merchant.applicant,
        carrier=kwargs.get("carrier", "SF Express"),
        waybill=kwargs.get("waybill", "SF1"),
        lines=[(product, quantity)],
    )


def shipment_form(lines: list[tuple], initial: int = 0, **fields) -> dict:
    """The add/change form's POST: header fields, then lines of (product, qty[, line, delete])."""
    data = {
        "carrier": "SF Express",
        "waybill": "SF100200300",
        "expected_on": "",
        "note": "",
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": str(initial),
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for i, line in enumerate(lines):
        product, quantity = line[0], line[1]
        data[f"lines-{i}-product"] = str(product.pk) if product else ""
        data[f"lines-{i}-quantity_announced"] = str(quantity)
        if len(line) > 2:
            data[f"lines-{i}-id"] = str(line[2].pk)
            data[f"lines-{i}-shipment"] = str(line[2].shipment_id)
        if len(line) > 3 and line[3]:
            data[f"lines-{i}-DELETE"] = "on"
    return data


@pytest.fixture
def world(db):
    a, b = MerchantFactory(name="Alpha Goods"), MerchantFactory(name="Beta Goods")
    a_serum = ProductFactory(merchant=a, name="Alpha Serum")
    a_cream = ProductFactory(merchant=a, name="Alpha Cream")
    b_tea = ProductFactory(merchant=b, name="Beta Tea")
    clerk = user_grant_role(user=UserFactory(), role=roles.WAREHOUSE)
    a_shipment, b_shipment = announce(a_serum, 2), announce(b_tea, 2, waybill="B-1")
    b_received = warehouse.inbound_receive(shipment=b_shipment, counts={b_tea.pk: 2}, actor=clerk)
    warehouse.stock_set_reorder_point(product_id=b_tea.pk, reorder_point=5)
    return {
        "a": a,
        "b": b,
        "a_staff": a.applicant,
        "b_staff": b.applicant,
        "a_serum": a_serum,
        "a_cream": a_cream,
        "b_tea": b_tea,
        "clerk": clerk,
        "a_shipment": a_shipment,
        "b_shipment": b_shipment,
        "b_unit": StockUnit.objects.get(pk=b_received.unit_ids[0]),
        "b_oos": OutOfStockRecord.objects.get(product=b_tea),
    }


@pytest.fixture
def as_a(client, world):
    client.force_login(world["a_staff"])
    return client


# --- isolation -------------------------------------------------------------------------------


def test_merchant_staff_list_only_their_own_shipments(as_a, world):
    response = as_a.get(SHIPMENTS)

    assert response.status_code == 200
    assert [s.pk for s in response.context["cl"].result_list] == [world["a_shipment"].pk]
    assert "B-1" not in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/warehouse/inboundshipment/{b_shipment}/change/",
        "/admin/warehouse/inboundshipment/{b_shipment}/history/",
        "/admin/warehouse/stockunit/{b_unit}/change/",
        "/admin/warehouse/productstock/{b_tea}/change/",
        "/admin/warehouse/outofstockrecord/{b_oos}/change/",
    ],
)
def test_another_merchants_objects_are_404_by_url(as_a, world, url):
    path = url.format(**{k: world[k].pk for k in ("b_shipment", "b_unit", "b_tea", "b_oos")})

    assert as_a.get(path).status_code == 404
    assert (
        as_a.post(path, {"reorder_point": "0", "carrier": "X", "waybill": "Y"}).status_code == 404
    )
    assert ProductStock.objects.get(pk=world["b_tea"].pk).reorder_point == 5
    assert InboundShipment.objects.get(pk=world["b_shipment"].pk).waybill == "B-1"


@pytest.mark.parametrize("url", [UNITS, STOCK, OUT_OF_STOCK])
def test_merchant_lists_of_units_and_stock_hold_nothing_of_another_merchant(as_a, world, url):
    response = as_a.get(url)

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


def test_searching_another_merchants_item_number_finds_nothing(as_a, world):
    response = as_a.get(UNITS, {"q": world["b_unit"].item_number})

    assert list(response.context["cl"].result_list) == []


def test_merchant_staff_see_these_warehouse_models(as_a, world):
    response = as_a.get("/admin/")

    apps = {app["app_label"]: app for app in response.context["app_list"]}
    assert sorted(m["object_name"] for m in apps["warehouse"]["models"]) == [
        "InboundShipment",
        "OutOfStockRecord",
        "ProductStock",
        "StockUnit",
    ]


def test_merchant_staff_cannot_see_locations(as_a, world):
    assert as_a.get(LOCATIONS).status_code == 403
    assert "Locations" not in as_a.get("/admin/").content.decode()


# --- announcing ------------------------------------------------------------------------------


def test_merchant_announces_a_shipment_through_the_services(as_a, world):
    data = shipment_form(
        [(world["a_serum"], 4), (world["a_cream"], 1)],
        expected_on="2026-12-01",
        note="Two cartons",
    )

    response = as_a.post(SHIPMENTS + "add/", data)

    assert response.status_code == 302
    shipment = InboundShipment.objects.filter(merchant=world["a"]).latest("pk")
    assert shipment.reference == f"IN-{shipment.pk:07d}"
    assert (shipment.status, shipment.announced_by, shipment.note) == (
        "announced",
        world["a_staff"],
        "Two cartons",
    )
    assert str(shipment.expected_on) == "2026-12-01"
    assert sorted(shipment.lines.values_list("product__name", "quantity_announced")) == [
        ("Alpha Cream", 1),
        ("Alpha Serum", 4),
    ]
    assert list(InboundEvent.objects.filter(shipment=shipment).values_list("to_status")) == [
        ("announced",)
    ]


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        ([("b_tea", 1)], "Select a valid choice. That choice is not one of the available choices."),
        ([("a_serum", 0)], "Announce at least one unit."),
        ([], "Announce at least one product."),
    ],
)
def test_a_bad_announcement_is_a_form_error_and_creates_nothing(as_a, world, lines, error):
    before = InboundShipment.objects.count()

    response = as_a.post(SHIPMENTS + "add/", shipment_form([(world[name], n) for name, n in lines]))

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    errors = [e for form in formset.forms for el in form.errors.values() for e in el]
    assert [*errors, *formset.non_form_errors()] == [error]
    assert InboundShipment.objects.count() == before


def test_a_product_is_announced_on_one_line_only(as_a, world):
    response = as_a.post(
        SHIPMENTS + "add/", shipment_form([(world["a_serum"], 1), (world["a_serum"], 2)])
    )

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.non_form_errors() == ["Please correct the duplicate data for product."]
    assert InboundShipment.objects.count() == 2


def test_platform_staff_cannot_mix_merchants_in_one_shipment(client, world):
    client.force_login(PlatformAdminFactory())

    response = client.post(
        SHIPMENTS + "add/",
        shipment_form([(world["b_tea"], 1)], merchant=str(world["a"].pk)),
    )

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.forms[0].errors["product"] == ["You can only send your own products."]
    assert InboundShipment.objects.count() == 2


def test_an_announced_shipment_can_be_corrected(as_a, world):
    shipment = world["a_shipment"]
    line = shipment.lines.get()

    response = as_a.post(
        f"{SHIPMENTS}{shipment.pk}/change/",
        shipment_form(
            [(world["a_cream"], 5, line), (world["a_serum"], 3)],
            initial=1,
            waybill="SF-CORRECTED",
        ),
    )

    assert response.status_code == 302
    shipment.refresh_from_db()
    assert shipment.waybill == "SF-CORRECTED"
    assert sorted(shipment.lines.values_list("product__name", "quantity_announced")) == [
        ("Alpha Cream", 5),
        ("Alpha Serum", 3),
    ]


def test_a_line_can_be_removed_while_announced(as_a, world):
    shipment = world["a_shipment"]
    keep = warehouse.inbound_line_set(shipment=shipment, product=world["a_cream"], quantity=1)
    drop = shipment.lines.get(product=world["a_serum"])

    response = as_a.post(
        f"{SHIPMENTS}{shipment.pk}/change/",
        shipment_form(
            [(world["a_serum"], 2, drop, True), (world["a_cream"], 1, keep)],
            initial=2,
        ),
    )

    assert response.status_code == 302
    assert list(shipment.lines.values_list("product__name", flat=True)) == ["Alpha Cream"]


def test_once_receiving_starts_the_shipment_is_a_read_only_record(as_a, world):
    shipment = world["a_shipment"]
    warehouse.inbound_receive(
        shipment=shipment, counts={world["a_serum"].pk: 1}, actor=world["clerk"]
    )
    unit = StockUnit.objects.get(product=world["a_serum"])

    page = as_a.get(f"{SHIPMENTS}{shipment.pk}/change/")
    post = as_a.post(
        f"{SHIPMENTS}{shipment.pk}/change/",
        shipment_form([(world["a_serum"], 9, shipment.lines.get())], initial=1, waybill="X"),
    )

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    html = page.content.decode()
    assert 'name="lines-0-quantity_announced"' not in html
    assert 'name="carrier"' not in html
    assert unit.item_number in html
    assert "Awaiting appraisal" in html
    assert f'href="/admin/warehouse/stockunit/?q={shipment.reference}"' in html
    assert "Receiving" in html  # the history
    assert post.status_code == 403
    shipment.refresh_from_db()
    assert shipment.waybill == "SF1"
    assert shipment.lines.get().quantity_announced == 2


def test_a_race_with_the_warehouse_is_a_message_not_a_500(as_a, world, monkeypatch):
    from core.errors import DomainError

    def refuse(**kwargs):
        raise DomainError("Receiving has started; the announcement can no longer change.")

    monkeypatch.setattr(warehouse, "inbound_shipment_update", refuse)
    shipment = world["a_shipment"]

    response = as_a.post(
        f"{SHIPMENTS}{shipment.pk}/change/",
        shipment_form([(world["a_serum"], 7, shipment.lines.get())], initial=1, waybill="NEW"),
    )

    assert response.status_code == 302
    assert flashed(response) == ["Receiving has started; the announcement can no longer change."]
    shipment.refresh_from_db()
    assert shipment.waybill == "SF1"
    assert shipment.lines.get().quantity_announced == 2


def test_cancel_action_cancels_announced_shipments_only(as_a, world):
    receiving = announce(world["a_cream"], 1, waybill="A-2")
    warehouse.inbound_receive(
        shipment=receiving, counts={world["a_cream"].pk: 1}, actor=world["clerk"]
    )

    response = as_a.post(
        SHIPMENTS,
        {
            "action": "cancel_shipments",
            "_selected_action": [world["a_shipment"].pk, receiving.pk, world["b_shipment"].pk],
        },
    )

    assert response.status_code == 302
    assert flashed(response) == [
        f"{receiving.reference}: Only a shipment not yet received can be cancelled.",
        "1 shipment cancelled.",
    ]
    statuses = dict(InboundShipment.objects.values_list("pk", "status"))
    assert statuses[world["a_shipment"].pk] == "cancelled"
    assert statuses[receiving.pk] == "receiving"
    assert statuses[world["b_shipment"].pk] == "receiving"  # never in A's queryset


def test_shipments_are_never_deleted(as_a, world):
    url = f"{SHIPMENTS}{world['a_shipment'].pk}/delete/"
    assert as_a.post(url, {"post": "yes"}).status_code == 403
    assert InboundShipment.objects.filter(pk=world["a_shipment"].pk).exists()


# --- units and stock -------------------------------------------------------------------------


def test_units_are_read_only_with_their_movements(client, world):
    client.force_login(world["b_staff"])
    unit = world["b_unit"]
    url = f"{UNITS}{unit.pk}/change/"

    found = client.get(UNITS, {"q": unit.item_number.lower()})
    page = client.get(url)
    post = client.post(url, {"status": "available"})

    assert [u.pk for u in found.context["cl"].result_list] == [unit.pk]
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    html = page.content.decode()
    assert "Received from merchant" in html
    assert world["clerk"].email not in html  # which clerk moved it is not the merchant's business
    assert post.status_code == 403
    unit.refresh_from_db()
    assert unit.status == "awaiting_appraisal"


def test_units_of_a_shipment_are_found_by_its_reference(client, world):
    client.force_login(world["b_staff"])

    response = client.get(UNITS, {"q": world["b_shipment"].reference.lower()})

    assert sorted(u.pk for u in response.context["cl"].result_list) == sorted(
        StockUnit.objects.filter(product=world["b_tea"]).values_list("pk", flat=True)
    )


def test_setting_the_reorder_point_opens_an_out_of_stock_record(as_a, world):
    shipment = world["a_shipment"]
    warehouse.inbound_receive(
        shipment=shipment, counts={world["a_serum"].pk: 2}, actor=world["clerk"]
    )
    product = world["a_serum"]

    response = as_a.post(
        f"{STOCK}{product.pk}/change/", {"reorder_point": "3", "available": "99", "rejected": "7"}
    )

    assert response.status_code == 302
    stock = ProductStock.objects.get(pk=product.pk)
    assert (stock.reorder_point, stock.available, stock.rejected, stock.in_appraisal) == (
        3,
        0,
        0,
        2,
    )
    record = OutOfStockRecord.objects.get(product=product)
    assert (record.merchant, record.reorder_point, record.closed_at) == (world["a"], 3, None)
    assert as_a.get(f"{OUT_OF_STOCK}{record.pk}/change/").context["has_change_permission"] is False


def test_a_negative_reorder_point_is_a_form_error(as_a, world):
    warehouse.inbound_receive(
        shipment=world["a_shipment"], counts={world["a_serum"].pk: 1}, actor=world["clerk"]
    )

    response = as_a.post(f"{STOCK}{world['a_serum'].pk}/change/", {"reorder_point": "-1"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["reorder_point"] == [
        "Ensure this value is greater than or equal to 0."
    ]


# --- locations -------------------------------------------------------------------------------


@pytest.fixture
def platform(client, world):
    client.force_login(PlatformAdminFactory())
    return client


def test_platform_staff_add_locations_through_the_service(platform):
    response = platform.post(
        LOCATIONS + "add/",
        {"code": " stk-b01 ", "name": "Stock aisle B, bin 1", "usage": "stock", "position": "40"},
    )

    assert response.status_code == 302
    location = Location.objects.get(code="STK-B01")
    assert (location.name, location.usage, location.is_active) == (
        "Stock aisle B, bin 1",
        "stock",
        False,  # an unticked checkbox
    )


def test_a_location_holding_units_keeps_its_usage(platform, world):
    receiving = Location.objects.get(code="RCV-01")

    response = platform.post(
        f"{LOCATIONS}{receiving.pk}/change/",
        {
            "code": "RCV-01",
            "name": "Receiving dock",
            "usage": "stock",
            "position": "10",
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    assert flashed(response) == ["Units are kept at RCV-01; move them before changing its usage."]
    assert Location.objects.get(pk=receiving.pk).usage == "receiving"


def test_platform_staff_see_every_merchants_shipments(platform, world):
    response = platform.get(SHIPMENTS)

    assert sorted(s.pk for s in response.context["cl"].result_list) == sorted(
        [world["a_shipment"].pk, world["b_shipment"].pk]
    )


def test_merchant_staff_have_the_warehouse_permissions_they_need(world):
    user = world["a_staff"]
    wanted = {
        "warehouse.add_inboundshipment",
        "warehouse.change_inboundshipment",
        "warehouse.view_inboundshipment",
        "warehouse.add_inboundline",
        "warehouse.change_inboundline",
        "warehouse.delete_inboundline",
        "warehouse.view_stockunit",
        "warehouse.view_unitmovement",
        "warehouse.change_productstock",
        "warehouse.view_outofstockrecord",
        "warehouse.view_inbounddiscrepancy",
    }
    granted = {p for p in user.get_all_permissions() if p.startswith("warehouse.")}
    assert wanted <= granted
    assert "warehouse.delete_inboundshipment" not in granted
    assert "warehouse.change_location" not in granted
    assert InboundLine.objects.exists()
