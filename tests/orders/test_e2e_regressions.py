"""Bugs the browser journeys (tests/e2e/test_checkout.py) found, pinned without a browser."""

from decimal import Decimal

import pytest

from core.money import format_money
from orders import services
from orders.states import OrderStatus
from tests.factories import orders as f

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _rates():
    from catalog.services import exchange_rates_ensure_defaults

    exchange_rates_ensure_defaults()


def test_an_order_whose_amounts_do_not_add_up_exactly_in_binary_floating_point_is_placed():
    # 2,732.00 + 24.00 + 288.53 + 0 is 3,044.5299999999997 in floating point: SQLite's CHECK
    # `total = goods + shipping + tax + duty` refused the order and checkout was a 500.
    serum = f.stocked_product(1, price=Decimal("268.00"), hs_code="330499", weight_grams=120)
    tote = f.stocked_product(
        1, price=Decimal("320.00"), currency="EUR", hs_code="420221", weight_grams=900
    )
    order = f.place(f.buyer(), (serum, 1), (tote, 1))
    order.refresh_from_db()
    assert (order.goods_total, order.shipping_total) == (Decimal("2732.00"), Decimal("24.00"))
    assert order.total == order.goods_total + order.shipping_total + order.tax_total
    assert order.total == Decimal("3044.53")


def test_a_line_whose_price_times_quantity_is_inexact_in_floating_point_is_placed():
    # 19.99 x 5 is 99.94999999999999 in floating point (the line's CHECK on goods_total).
    product = f.stocked_product(5, price=Decimal("19.99"), hs_code="650100", weight_grams=100)
    order = f.place(f.buyer(), (product, 5))
    [line] = order.lines.all()
    assert line.goods_total == Decimal("99.95")


def test_refunding_every_line_separately_refunds_exactly_the_total():
    # Refunds were added up in SQL (`refunded_total + amount`, floating point on SQLite): lines
    # of 119.87 and 112.42 summed to 232.29000000000002 > total 232.29, which broke
    # `refunded_total <= total` when the second line was cancelled.
    a = f.stocked_product(1, price=Decimal("100.58"), hs_code="650100", weight_grams=100)
    b = f.stocked_product(1, price=Decimal("94.33"), hs_code="650100", weight_grams=100)
    order = f.pay(f.place(f.buyer(), (a, 1), (b, 1)))
    lines = list(order.lines.order_by("pk"))
    assert [line.amount for line in lines] == [Decimal("119.87"), Decimal("112.42")]
    for line in lines:
        services.line_cancel_out_of_stock(line_id=line.pk, merchant_id=line.merchant_id, actor=None)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.refunded_total == order.total == Decimal("232.29")


def test_the_sandbox_pay_button_shows_the_amount_as_the_page_does(client):
    # The button read "Pay ¥3044.53" under an amount of "¥3,044.53".
    product = f.stocked_product(1, price=Decimal("2999.00"), hs_code="650100", weight_grams=100)
    buyer = f.buyer()
    order = f.place(buyer, (product, 1))
    payment = f.start_payment(order)
    client.force_login(buyer)
    page = client.get(f"/pay/sandbox/{payment.out_trade_no}/").content.decode()
    shown = format_money(order.total, "CNY")
    assert "," in shown
    assert f"Pay {shown}</button>" in page
