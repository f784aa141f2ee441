"""Placing an order for a product that sold out after the checkout form was shown.

Found by `make bench BENCH_ARGS="--only orders"` (100 buyers over HTTP for the last 10 units): the
checkout view sent a short cart back to the cart page, with "Some quantities are above what is in
stock; adjust them first.", before order_place could say what happened. 75 of the 90 buyers who
lost the race read that instead of "Sold out".
"""

import re

import pytest
from django.urls import reverse

from orders.models import Order
from tests.factories import orders as f

pytestmark = pytest.mark.django_db


def test_placing_after_the_last_unit_went_to_someone_else_says_sold_out_in_the_form(client):
    product = f.stocked_product(1, name="Rose serum")
    buyer = f.buyer()
    client.force_login(buyer)
    client.post(reverse("orders:cart_add"), {"product": product.pk, "quantity": 1})
    page = client.get(reverse("orders:checkout")).content.decode()
    data = {
        "action": "place",
        "address": re.search(r'name="address" value="(\d+)"', page).group(1),
        "shipping_method": "cn-bonded",
        "display_currency": "CNY",
        "orderer_name": f.ORDERER_NAME,
        "orderer_id": f.id_number(),
        "risk_notice": "on",
        "expected_total": re.search(r'name="expected_total" value="([\d.]+)"', page).group(1),
    }
    f.place(f.buyer(), (product, 1))  # meanwhile another buyer takes the last unit

    response = client.post(reverse("orders:checkout"), data)

    assert response.status_code == 200
    assert "Sold out: Rose serum was just bought by someone else." in response.content.decode()
    assert not Order.objects.filter(buyer=buyer).exists()
    # Opening the checkout again still sends the short cart back to the cart page.
    again = client.get(reverse("orders:checkout"), follow=True)
    assert again.redirect_chain[-1][0] == reverse("orders:cart")
    assert "Sold out right now." in again.content.decode()
