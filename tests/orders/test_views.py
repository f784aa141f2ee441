"""Cart, checkout, pay pages, order pages and the payment webhook: views, permissions, queries."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts import roles
from accounts.services import user_grant_role
from catalog import services as catalog_services
from orders.models import Order, PaymentCallback
from orders.payments.sandbox import NotifyMode
from orders.states import OrderStatus
from tests.factories import orders as f
from tests.factories.accounts import MerchantFactory, UserFactory, merchant_staff

pytestmark = pytest.mark.django_db
WEBHOOK = "/webhooks/payments/sandbox/"


def add(client, product, quantity=1):
    return client.post(reverse("orders:cart_add"), {"product": product.pk, "quantity": quantity})


# Cart ---------------------------------------------------------------------------------------


def test_anonymous_visitor_fills_a_cart_and_keeps_it_through_login(client):
    product = f.stocked_product(2)
    response = add(client, product, 5)
    assert response.status_code == 302
    page = client.get(reverse("orders:cart"))
    text = page.content.decode()
    assert product.name in text
    assert "Only 2 can be bought right now" in text
    assert 'value="2"' in text
    buyer = f.buyer()
    client.force_login(buyer)
    page = client.get(reverse("orders:cart"))
    assert product.name in page.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"product": "x", "quantity": "1"}, "Enter a quantity of at least 1."),
        ({"product": "1", "quantity": "abc"}, "Enter a quantity of at least 1."),
        ({"product": "1", "quantity": "0"}, "Enter a quantity of at least 1."),
        ({"product": "999999", "quantity": "1"}, "This product is not for sale."),
    ],
)
def test_bad_cart_input_gets_a_clear_message(client, data, message):
    response = client.post(reverse("orders:cart_add"), data, follow=True)
    assert response.status_code == 200
    assert message in response.content.decode()


def test_cart_update_and_remove(client):
    product = f.stocked_product(3)
    add(client, product)
    client.post(reverse("orders:cart"), {"product": product.pk, "quantity": 3})
    assert 'value="3"' in client.get(reverse("orders:cart")).content.decode()
    client.post(reverse("orders:cart"), {"product": product.pk, "quantity": 3, "remove": "1"})
    assert "Your cart is empty." in client.get(reverse("orders:cart")).content.decode()
    response = client.post(reverse("orders:cart"), {"product": product.pk, "quantity": "-4"})
    assert response.status_code == 302


def test_cart_page_queries_do_not_grow_with_lines(client, django_assert_max_num_queries):
    products = [f.stocked_product(1) for _ in range(6)]
    buyer = f.buyer()
    f.cart_of(buyer, *[(p, 1) for p in products])
    client.force_login(buyer)
    client.get(reverse("orders:cart"))
    # session, user, cart, lines, products, stock, rates, the header's roles
    with django_assert_max_num_queries(8):
        response = client.get(reverse("orders:cart"))
    assert response.content.decode().count('name="quantity"') == 6


def test_sold_out_product_page_offers_a_back_in_stock_notice(client):
    product = f.stocked_product(0)
    page = client.get(reverse("catalog:product_detail", args=[product.slug])).content.decode()
    assert "Tell me when it is back" in page
    assert "Add to cart" not in page
    url = reverse("orders:stock_notice", args=[product.pk])
    assert client.post(url).status_code == 302  # to login
    client.force_login(UserFactory())
    response = client.post(url, {"next": f"/products/{product.slug}/"}, follow=True)
    assert "We will tell you when" in response.content.decode()


# Checkout and payment -----------------------------------------------------------------------


def test_checkout_needs_login_and_a_cart(client):
    assert client.get(reverse("orders:checkout")).status_code == 302
    client.force_login(f.buyer())
    response = client.get(reverse("orders:checkout"), follow=True)
    assert "Your cart is empty." in response.content.decode()


def _checkout_form(page: str) -> dict:
    return {
        "address": re.search(r'name="address" value="(\d+)"', page).group(1),
        "shipping_method": "cn-bonded",
        "display_currency": "USD",
        "expected_total": re.search(r'name="expected_total" value="([\d.]+)"', page).group(1),
    }


def test_checkout_shows_landed_cost_and_the_notice_then_places_and_pays(client, settings):
    catalog_services.exchange_rates_ensure_defaults()
    a, b = f.stocked_product(2, merchant=MerchantFactory()), f.stocked_product(2)
    buyer = f.buyer()
    client.force_login(buyer)
    add(client, a)
    add(client, b, 2)
    page = client.get(reverse("orders:checkout")).content.decode()
    for text in ("Import taxes", "Shipping", "Total", "personal use and may not be resold"):
        assert text in page
    data = _checkout_form(page)
    # Missing orderer and notice: errors next to the fields, nothing placed.
    response = client.post(reverse("orders:checkout"), {**data, "action": "place"})
    assert "Enter the orderer" in response.content.decode()
    assert not Order.objects.exists()
    data.update(orderer_name=f.ORDERER_NAME, orderer_id=f.id_number(), risk_notice="on")
    response = client.post(reverse("orders:checkout"), {**data, "action": "place"})
    order = Order.objects.get()
    assert response.url == reverse("orders:pay", args=[order.number])
    assert order.lines.count() == 2
    assert order.display_currency == "USD"
    pay_page = client.get(response.url)
    assert pay_page.status_code == 302
    assert "/pay/sandbox/" in pay_page.url
    hosted = client.get(pay_page.url)
    assert f"{order.total}" in hosted.content.decode()
    # Paying with the notify silenced: the return trip alone does not mark the order paid.
    response = client.post(
        pay_page.url,
        {"outcome": "pay", "payer_name": f.ORDERER_NAME, "mode": NotifyMode.SILENT},
        follow=True,
    )
    assert "Waiting for payment" in response.content.decode()
    response = client.post(reverse("orders:check_payment", args=[order.number]), follow=True)
    assert "Payment confirmed" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    page = client.get(reverse("orders:detail", args=[order.number])).content.decode()
    assert "US$" in page  # the total in the buyer's display currency, at the order's rate


def test_checkout_over_the_limit_shows_the_reason_and_disables_placing(client):
    product = f.stocked_product(2, price=Decimal("2600.00"))
    client.force_login(f.buyer())
    add(client, product, 2)
    page = client.get(reverse("orders:checkout")).content.decode()
    assert "over the ¥5,000.00 limit for one cross-border order" in page
    assert re.search(r'value="place" class="btn" disabled', page)


def test_checkout_reports_a_changed_total_and_accepts_it_next_time(client):
    product = f.stocked_product(1)
    client.force_login(f.buyer())
    add(client, product)
    data = _checkout_form(client.get(reverse("orders:checkout")).content.decode())
    data.update(
        orderer_name=f.ORDERER_NAME,
        orderer_id=f.id_number(),
        risk_notice="on",
        expected_total="1.00",
        action="place",
    )
    page = client.post(reverse("orders:checkout"), data).content.decode()
    assert "total is now" in page
    data["expected_total"] = re.search(r'name="expected_total" value="([\d.]+)"', page).group(1)
    assert client.post(reverse("orders:checkout"), data).status_code == 302


def test_somebody_elses_order_and_pay_page_are_404(client):
    order = f.place(f.buyer(), (f.stocked_product(1), 1))
    payment = f.start_payment(order)
    client.force_login(f.buyer())
    for url in (
        reverse("orders:detail", args=[order.number]),
        reverse("orders:pay", args=[order.number]),
        reverse("orders:sandbox_pay", args=[payment.out_trade_no]),
    ):
        assert client.get(url).status_code == 404
    assert client.post(reverse("orders:cancel", args=[order.number])).status_code == 404


def test_order_pages_need_login(client):
    order = f.place(f.buyer(), (f.stocked_product(1), 1))
    for url in (reverse("orders:list"), reverse("orders:detail", args=[order.number])):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response.url


def test_order_list_and_detail_show_the_buyers_orders_in_constant_queries(
    client, django_assert_max_num_queries
):
    buyer = f.buyer()
    orders = [f.place(buyer, (f.stocked_product(1), 1)) for _ in range(4)]
    f.place(f.buyer(), (f.stocked_product(1), 1))
    client.force_login(buyer)
    client.get(reverse("orders:list"))
    with django_assert_max_num_queries(4):  # session, user, orders, lines
        page = client.get(reverse("orders:list")).content.decode()
    assert all(o.number in page for o in orders)
    assert page.count("/orders/PV") == 4
    with django_assert_max_num_queries(7):  # session, user, order, lines, events, refunds, payments
        page = client.get(reverse("orders:detail", args=[orders[0].number])).content.decode()
    assert "Order placed; items reserved for you." in page
    assert "Pay now" in page


def test_buyer_cancels_from_the_order_page(client):
    buyer = f.buyer()
    order = f.place(buyer, (f.stocked_product(1), 1))
    client.force_login(buyer)
    response = client.post(reverse("orders:cancel", args=[order.number]), follow=True)
    assert "Your order is cancelled" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


# Webhook ------------------------------------------------------------------------------------


def test_webhook_answers_success_only_to_verified_callbacks(client):
    order = f.place(f.buyer(), (f.stocked_product(1), 1))
    trade = f.sandbox_settle(order)
    form = "application/x-www-form-urlencoded"
    bad = client.post(WEBHOOK, f.notify_body(trade, NotifyMode.BAD_SIGNATURE), content_type=form)
    assert bad.status_code == 401
    wrong = client.post(WEBHOOK, f.notify_body(trade, NotifyMode.WRONG_AMOUNT), content_type=form)
    assert (wrong.status_code, wrong.content) == (400, b"fail")
    for _ in range(2):
        good = client.post(WEBHOOK, f.notify_body(trade), content_type=form)
        assert (good.status_code, good.content) == (200, b"success")
    assert client.post("/webhooks/payments/nope/", b"x", content_type=form).status_code == 404
    assert client.get(WEBHOOK).status_code == 405
    assert PaymentCallback.objects.count() == 4
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


# Admin: merchants process their own lines; staff read orders --------------------------------


def test_merchant_admin_lists_and_processes_only_its_own_lines(client):
    mine, theirs = MerchantFactory(), MerchantFactory()
    a, b = f.stocked_product(1, merchant=mine), f.stocked_product(1, merchant=theirs)
    order = f.pay(f.place(f.buyer(), (a, 1), (b, 1)))
    client.force_login(merchant_staff(mine))
    page = client.get("/admin/orders/orderline/").content.decode()
    assert a.name in page
    assert b.name not in page
    their_line = order.lines.get(product=b)
    assert client.get(f"/admin/orders/orderline/{their_line.pk}/change/").status_code == 404
    assert client.get("/admin/orders/order/").status_code == 403
    my_line = order.lines.get(product=a)
    response = client.post(
        "/admin/orders/orderline/",
        {"action": "accept_lines", "_selected_action": [my_line.pk, their_line.pk]},
        follow=True,
    )
    my_line.refresh_from_db()
    their_line.refresh_from_db()
    assert my_line.status == "accepted"
    assert their_line.status == "open"
    assert "1 line accepted." in response.content.decode()


def test_customer_service_reads_orders_but_cannot_process_lines(client):
    order = f.place(f.buyer(), (f.stocked_product(1), 1))
    agent = UserFactory(is_staff=True)
    user_grant_role(user=agent, role=roles.CUSTOMER_SERVICE)
    client.force_login(agent)
    assert order.number in client.get("/admin/orders/order/").content.decode()
    page = client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert order.orderer_id_masked in page
    assert order.orderer_id_encrypted not in page
    assert client.get("/admin/orders/orderline/").status_code == 403


def test_merchant_order_line_list_queries_do_not_grow_with_lines(
    client, django_assert_max_num_queries
):
    merchant = MerchantFactory()
    products = [f.stocked_product(2, merchant=merchant) for _ in range(5)]
    for product in products:
        f.pay(f.place(f.buyer(), (product, 1)))
    client.force_login(merchant_staff(merchant))
    client.get("/admin/orders/orderline/")
    # session, user, the platform-role check, the filtered and total counts, the page of lines
    # with their orders (one join), the actions' permission check: 7 for 5 lines or 100
    with django_assert_max_num_queries(7):
        page = client.get("/admin/orders/orderline/").content.decode()
    assert all(p.name in page for p in products)
