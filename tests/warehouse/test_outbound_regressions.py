"""Regressions the fulfilment browser journey found at the pick, pack and ship stations."""

import re

import pytest
from django.urls import reverse

from tests.factories import orders as f
from tests.factories.warehouse import staff_user, unit_in_status
from warehouse.models import Parcel, StockUnit
from warehouse.states import UnitStatus

pytestmark = pytest.mark.django_db

QUOTA_USED_UP = "The orderer&#x27;s annual cross-border quota is used up (across all platforms)."


@pytest.fixture
def clerk(client):
    user = staff_user()
    client.force_login(user)
    return user


def _paid(*items):
    return f.pay(f.place(f.buyer(), *items))


def _autofocused(page: str) -> list[str]:
    """The names of the inputs that ask for the focus."""
    return re.findall(r'<input[^>]*\bautofocus\b[^>]*\bname="([^"]+)"', page) + re.findall(
        r'<input[^>]*\bname="([^"]+)"[^>]*\bautofocus\b', page
    )


@pytest.mark.parametrize("status", [UnitStatus.QUARANTINE, UnitStatus.REJECTED])
def test_a_unit_that_cannot_be_picked_is_named_with_its_status_in_words(client, clerk, status):
    # It read "This unit is In returns quarantine and cannot be picked.": which unit, and a
    # status label dropped mid-sentence.
    product = f.stocked_product(1)
    order = _paid((product, 1))
    unit = unit_in_status(status, product=product)
    response = client.post(
        reverse("warehouse:pick", args=[order.number]), {"item_number": unit.item_number}
    )
    label = UnitStatus(status).label
    assert (
        f"{unit.item_number} is “{label}” and cannot be picked: take another unit from a bin on "
        "the pick list."
    ) in response.content.decode()
    assert StockUnit.objects.get(pk=unit.pk).status == status


def test_a_picked_row_with_no_units_left_in_stock_is_not_flagged(client, clerk):
    # Once the last units of a product were picked, their done row said "none available" in red.
    done = f.stocked_product(1)
    order = _paid((done, 1))
    [unit] = StockUnit.objects.filter(product=done)
    url = reverse("warehouse:pick", args=[order.number])
    client.post(url, {"item_number": unit.item_number})
    page = client.get(url).content.decode()
    [row] = re.findall(r"<tr class=\"[^\"]*\">.*?</tr>", page, flags=re.S)
    assert "row--done" in row
    assert done.name in row
    assert "none available" not in row


def test_the_weight_box_takes_the_focus_once_every_unit_is_in_the_parcel(client, clerk):
    # The scan box kept the focus with nothing left to scan: a keyboard-only clerk had to tab.
    product = f.stocked_product(2)
    order = _paid((product, 2))
    first, second = StockUnit.objects.filter(product=product).order_by("pk")
    pick_url = reverse("warehouse:pick", args=[order.number])
    for unit in (first, second):
        client.post(pick_url, {"item_number": unit.item_number})
    url = reverse("warehouse:pack", args=[order.number])
    client.post(url, {"item_number": first.item_number})
    assert _autofocused(client.get(url).content.decode()) == ["item_number"]
    client.post(url, {"item_number": second.item_number})
    assert _autofocused(client.get(url).content.decode()) == ["weight_grams"]
    # a refused scan keeps the focus where its message is
    page = client.post(url, {"item_number": second.item_number}).content.decode()
    assert "already in this parcel" in page
    assert _autofocused(page) == ["item_number"]
    # so does a weight the form refuses
    page = client.post(url, {"weight_grams": "abc"}).content.decode()
    assert _autofocused(page) == ["weight_grams"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_customs_rejection_at_closing_says_the_parcel_must_not_ship(client, clerk, settings):
    # Customs answered (synchronously) while the parcel closed, yet the station said "Print the
    # label and the slip", still offered both, and said no unit was picked yet; the ship station
    # then refused the parcel without saying that customs had rejected the order, or why.
    settings.CUSTOMS_SIMULATED_DELAY_SECONDS = 0
    settings.CUSTOMS_SIMULATED_REJECT_IDS = [f.id_number()]
    product = f.stocked_product(1)
    order = _paid((product, 1))
    [unit] = StockUnit.objects.filter(product=product)
    client.post(reverse("warehouse:pick", args=[order.number]), {"item_number": unit.item_number})
    url = reverse("warehouse:pack", args=[order.number])
    client.post(url, {"item_number": unit.item_number})

    page = client.post(url, {"weight_grams": "300"}, follow=True).content.decode()
    parcel = Parcel.objects.get(order_ref=order.number)
    must_not_ship = (
        f"Customs rejected order {order.number}: {QUOTA_USED_UP} Parcel {parcel.code} must not "
        "ship: unpack it and put its units back in stock."
    )
    assert f'<li class="message message--error">{must_not_ship}</li>' in page
    assert "Print the label" not in page
    assert "Carrier label (PDF)" not in page
    assert "This order is cancelled: its units went back to stock." in page
    assert "No unit is picked for this order yet." not in page
    for kind in ("label", "slip"):
        document = reverse("warehouse:parcel_document", args=[parcel.code, kind])
        assert client.get(document).status_code == 404

    page = client.post(reverse("warehouse:ship"), {"parcel": parcel.code}).content.decode()
    assert "scan--bad" in page
    assert must_not_ship in page
    assert Parcel.objects.get(pk=parcel.pk).status == "cancelled"


def test_a_released_parcel_still_says_print_and_offers_its_documents(
    client, clerk, settings, django_capture_on_commit_callbacks
):
    settings.CUSTOMS_SIMULATED_DELAY_SECONDS = 0
    product = f.stocked_product(1)
    order = _paid((product, 1))
    [unit] = StockUnit.objects.filter(product=product)
    client.post(reverse("warehouse:pick", args=[order.number]), {"item_number": unit.item_number})
    url = reverse("warehouse:pack", args=[order.number])
    client.post(url, {"item_number": unit.item_number})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"weight_grams": "300"})
    page = client.get(url).content.decode()
    parcel = Parcel.objects.get(order_ref=order.number)
    assert f"Parcel {parcel.code} closed: waybill {parcel.waybill}." in page
    assert "Carrier label (PDF)" in page
    assert 'class="pill pill--released"' in page
