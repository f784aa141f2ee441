"""A buyer fills a cart from two merchants, checks out across the border, pays in the sandbox.

Also: an order over the per-order limit is refused with its reason, an unpaid order expires and
gives its stock back, and a merchant's staff see and process only their own order lines.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, Page, expect

from core.money import format_money
from tests.factories import orders as order_factories

from .helpers import (
    PASSWORD,
    PHONE,
    assert_no_horizontal_scroll,
    login,
    screenshot,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BUYER_EMAIL = "mei@buyer.example"
ORDERER = "王芳"
MONEY = re.compile(r"¥([\d,]+\.\d\d)")


# What the two merchants of the `catalog` fixture have in stock for these journeys:
# name, merchant, authenticated units, price, currency, origin, HS code, grams.
STOCK = {
    "serum": ("Yuzu Vitamin C Serum", "kyoto", 3, "268.00", "CNY", "JP", "330499", 120),
    "bag": ("Florentine Leather Weekender", "milano", 2, "320.00", "EUR", "IT", "420221", 900),
    "watch": ("Swiss Diver Chronograph", "milano", 2, "4999.00", "CNY", "CH", "910211", 80),
}


@dataclass
class Shop:
    kyoto_staff: str
    serum: object
    bag: object
    watch: object
    buyer: object


@pytest.fixture
def shop(catalog) -> Shop:
    from allauth.account.models import EmailAddress

    merchants = {"kyoto": catalog.merchant, "milano": catalog.other_merchant}
    products = {
        key: order_factories.stocked_product(
            units,
            merchant=merchants[merchant],
            name=name,
            price=Decimal(price),
            currency=currency,
            origin_country=origin,
            hs_code=hs_code,
            weight_grams=grams,
        )
        for key, (name, merchant, units, price, currency, origin, hs_code, grams) in STOCK.items()
    }
    buyer = order_factories.buyer(email=BUYER_EMAIL, password=PASSWORD)
    EmailAddress.objects.create(user=buyer, email=BUYER_EMAIL, primary=True, verified=True)
    return Shop(catalog.merchant_staff_email, buyer=buyer, **products)


def amount(text: str) -> Decimal:
    found = MONEY.search(text)
    assert found, f"no CNY amount in {text!r}"
    return Decimal(found.group(1).replace(",", ""))


def figures(totals) -> dict[str, Decimal]:
    """A `.totals` list as {label: amount}."""
    labels = totals.locator("dt").all_inner_texts()
    amounts = [amount(text) for text in totals.locator("dd").all_inner_texts()]
    return dict(zip(labels, amounts, strict=True))


def add_to_cart(page: Page, product, *, quantity: int = 1, in_stock: int) -> None:
    page.goto(f"/products/{product.slug}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(product.name)
    expect(page.locator(".buy-box")).to_contain_text(f"{in_stock} authenticated unit")
    page.locator(".buy-box").get_by_label("Quantity").fill(str(quantity))
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    expect(page.get_by_role("heading", name="Your cart", level=1)).to_be_visible()


def stock_text(page: Page, product) -> str:
    page.goto(f"/products/{product.slug}/")
    return page.locator(".buy-box .stock").inner_text()


def fill_orderer_and_accept(page: Page) -> None:
    page.get_by_label("Orderer's real name").fill(ORDERER)
    page.get_by_label("Orderer's ID card number").fill(order_factories.id_number())
    page.get_by_label("I have read the cross-border shopping notice and accept it.").check()


def test_buyer_orders_from_two_merchants_and_pays_in_the_sandbox(page: Page, live_server, shop):
    from orders.models import Order, PaymentCallback, SandboxTrade

    login(page, email=BUYER_EMAIL)

    # the buy box puts one of each into the cart
    add_to_cart(page, shop.serum, in_stock=3)
    expect(page.get_by_role("listitem").filter(has_text="Your cart is updated.")).to_be_visible()
    add_to_cart(page, shop.bag, in_stock=2)

    # the cart lists both lines and says they come from two merchants
    rows = page.locator(".cart__table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Yuzu Vitamin C Serum")).to_contain_text(
        "Sold by Kyoto Atelier Co."
    )
    expect(rows.filter(has_text="Florentine Leather Weekender")).to_contain_text(
        "Sold by Milano Pelle S.r.l."
    )
    summary = page.locator(".cart__summary")
    expect(summary).to_contain_text("2 items · from 2 merchants")
    # €320 at the bootstrap rate 7.70 is ¥2,464.00; with the serum ¥2,732.00 of goods.
    expect(summary).to_contain_text("Goods: ¥2,732.00")
    expect(page.get_by_role("banner").get_by_label("2 items")).to_have_text("2")
    screenshot(page, "desktop-cart")

    # checkout shows the landed cost: goods, shipping, import taxes and the total
    page.get_by_role("link", name="Check out").click()
    expect(page.get_by_role("heading", name="Checkout", level=1)).to_be_visible()
    order_summary = page.get_by_role("complementary", name="Order summary")
    expect(order_summary.get_by_role("heading", name="Kyoto Atelier Co.")).to_be_visible()
    expect(order_summary.get_by_role("heading", name="Milano Pelle S.r.l.")).to_be_visible()
    quote = figures(order_summary.locator(".totals"))
    # 1,020 g started as 2 kg on bonded express: 12 + 2 x 6.
    assert quote["Goods"] == Decimal("2732.00")
    assert quote["Shipping"] == Decimal("24.00")
    # Cosmetics pay (15% + 13%) / (1 - 15%) x 70%, other goods 13% x 70%, of goods + freight.
    assert quote["Import taxes"] == Decimal("288.53")
    assert quote["Total"] == quote["Goods"] + quote["Shipping"] + quote["Import taxes"]
    total = format_money(quote["Total"], "CNY")
    expect(page.get_by_role("alert")).to_have_count(0)

    # the cross-border notice with its three clauses, and the orderer's identity
    notice = page.get_by_role("group", name="Cross-border shopping notice")
    clauses = notice.get_by_role("listitem")
    expect(clauses).to_have_count(3)
    expect(clauses.nth(0)).to_contain_text("standards of their country of origin")
    expect(clauses.nth(1)).to_contain_text("no Chinese label")
    expect(clauses.nth(2)).to_contain_text("personal use and may not be resold")
    expect(page.get_by_role("group", name="Orderer (China customs)")).to_be_visible()
    fill_orderer_and_accept(page)
    screenshot(page, "desktop-checkout")

    # placing the order leads to the sandbox's pay page, with the orderer as the payer
    page.get_by_role("button", name="Place order and pay").click()
    expect(page).to_have_url(re.compile(r"/pay/sandbox/[^/]+/$"))
    expect(page.get_by_role("heading", name="Confirm payment")).to_be_visible()
    expect(page.get_by_text("Sandbox gateway: no real money moves.")).to_be_visible()
    expect(page.get_by_label("Payer's real name")).to_have_value(ORDERER)
    expect(page.locator(".sandbox-pay__amount")).to_have_text(total)
    screenshot(page, "desktop-sandbox-pay")
    order = Order.objects.get(buyer=shop.buyer)
    assert order.total == quote["Total"]

    # paying: the sandbox posts its signed notify to the live server, which marks the order paid
    page.get_by_role("button", name=f"Pay {total}").click()
    expect(page).to_have_url(f"{live_server.url}/orders/{order.number}/")
    expect(page.get_by_role("heading", name=f"Order {order.number}", level=1)).to_be_visible()
    expect(page.locator(".order-status .status")).to_have_text("Paid")
    timeline = page.get_by_role("region", name="Timeline")
    expect(timeline).to_contain_text("Order placed; items reserved for you.")
    expect(timeline).to_contain_text("Payment confirmed by the gateway.")
    expect(page.get_by_role("region", name="Delivery")).to_contain_text(
        re.compile(rf"Orderer: {ORDERER}, ID 1101\*+\w{{4}}")
    )
    screenshot(page, "desktop-order-paid")

    # the notify really went over HTTP to the live server's webhook, and was acknowledged
    trade = SandboxTrade.objects.get(out_trade_no=f"{order.number}P1")
    assert trade.notify_url == f"{live_server.url}/webhooks/payments/sandbox/"
    assert (trade.notify_attempts, trade.notify_acknowledged) == (1, True)
    callbacks = list(PaymentCallback.objects.values_list("signature_ok", "outcome"))
    assert callbacks == [(True, "paid")]

    # the cart is empty again, and the stock went down by what was bought
    page.goto("/cart/")
    expect(page.get_by_text("Your cart is empty.")).to_be_visible()
    assert stock_text(page, shop.serum) == "2 authenticated units in stock"
    assert stock_text(page, shop.bag) == "1 authenticated unit in stock"


def test_an_order_over_the_per_order_limit_is_refused_with_its_reason(
    page: Page, live_server, shop
):
    from orders.models import Order

    login(page, email=BUYER_EMAIL)
    add_to_cart(page, shop.watch, quantity=2, in_stock=2)
    page.get_by_role("link", name="Check out").click()

    # 2 x 4,999 + shipping 12 + 6 (160 g) = 10,016: 5,016 over the 5,000 limit
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("¥10,016.00")
    expect(refusal).to_contain_text("¥5,016.00 over the ¥5,000.00 limit for one cross-border order")
    place = page.get_by_role("button", name="Place order and pay")
    expect(place).to_be_disabled()
    screenshot(page, "desktop-checkout-over-limit")

    # even with everything filled in, the order cannot be placed
    fill_orderer_and_accept(page)
    page.get_by_role("button", name="Update totals").click()
    expect(page.get_by_role("alert")).to_contain_text("over the ¥5,000.00 limit")
    expect(page.get_by_role("button", name="Place order and pay")).to_be_disabled()
    assert not Order.objects.exists()

    # one watch alone is an indivisible single item: allowed, taxed in full
    page.goto("/cart/")
    page.get_by_label("Quantity of Swiss Diver Chronograph").fill("1")
    page.get_by_role("button", name="Update").click()
    expect(page.get_by_text("Your cart is updated.")).to_be_visible()
    page.get_by_role("link", name="Check out").click()
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_text("taxed in full: single item over the order limit")).to_be_visible()
    expect(page.get_by_role("button", name="Place order and pay")).to_be_enabled()


def test_an_unpaid_order_expires_and_its_stock_goes_back_on_sale(page: Page, live_server, shop):
    from django.utils import timezone

    from orders.models import Order
    from orders.services import orders_expire_due

    login(page, email=BUYER_EMAIL)
    add_to_cart(page, shop.serum, quantity=2, in_stock=3)
    page.get_by_role("link", name="Check out").click()
    fill_orderer_and_accept(page)
    page.get_by_role("button", name="Place order and pay").click()
    expect(page.get_by_role("heading", name="Confirm payment")).to_be_visible()
    order = Order.objects.get(buyer=shop.buyer)

    # the order page asks for payment; meanwhile the two units are held for the buyer
    page.goto(f"/orders/{order.number}/")
    expect(page.locator(".order-status .status")).to_have_text("Waiting for payment")
    expect(page.get_by_role("link", name="Pay now")).to_be_visible()
    assert stock_text(page, shop.serum) == "1 authenticated unit in stock"

    # when the deadline passes and the scheduled job runs
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timezone.timedelta(1))
    assert orders_expire_due() == 1

    # then the order is expired, cannot be paid, and its units are for sale again
    page.goto(f"/orders/{order.number}/")
    expect(page.locator(".order-status .status")).to_have_text("Expired (not paid in time)")
    expect(page.get_by_role("region", name="Timeline")).to_contain_text(
        "Expired: not paid in time; the items went back on sale."
    )
    expect(page.get_by_role("link", name="Pay now")).to_have_count(0)
    assert stock_text(page, shop.serum) == "3 authenticated units in stock"


def test_merchant_staff_see_only_their_lines_and_cancel_one_out_of_stock(
    page: Page, live_server, shop, browser: Browser, browser_context_args
):
    order = order_factories.pay(order_factories.place(shop.buyer, (shop.serum, 1), (shop.bag, 1)))
    other_buyer = order_factories.buyer(email="li.wei@buyer.example")
    other_order = order_factories.pay(order_factories.place(other_buyer, (shop.watch, 1)))

    # given the Kyoto merchant's staff in the console
    page.goto("/admin/")
    page.get_by_label("Username").fill(shop.kyoto_staff)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Merchant and platform console")).to_be_visible()

    # the order lines list holds their line, and none of the other merchant's
    page.goto("/admin/orders/orderline/")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(order.number)
    expect(rows.first).to_contain_text("Yuzu Vitamin C Serum")
    expect(page.get_by_text("Florentine Leather Weekender")).to_have_count(0)
    expect(page.get_by_text(other_order.number)).to_have_count(0)
    screenshot(page, "desktop-admin-order-lines")

    # when they cancel it as out of stock
    rows.first.get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option(
        label="Out of stock: cancel the selected lines and refund the buyer"
    )
    page.get_by_role("button", name="Run").click()
    expect(page.locator(".messagelist")).to_contain_text("1 line cancelled and refunded.")
    expect(rows.first).to_contain_text("Cancelled")

    # then the buyer sees the line cancelled, the refund, and the rest of the order still paid
    serum_line = order.lines.get(product=shop.serum)
    buyer_context = browser.new_context(**browser_context_args)
    try:
        buyer_page = buyer_context.new_page()
        login(buyer_page, email=BUYER_EMAIL)
        buyer_page.goto(f"/orders/{order.number}/")
        expect(buyer_page.locator(".order-status .status")).to_have_text("Partially refunded")
        items = buyer_page.get_by_role("region", name="Items")
        serum_row = items.get_by_role("row").filter(has_text="Yuzu Vitamin C Serum")
        expect(serum_row).to_contain_text("Cancelled")
        expect(serum_row).to_contain_text(f"refunded {format_money(serum_line.amount)}")
        bag_row = items.get_by_role("row").filter(has_text="Florentine Leather Weekender")
        expect(bag_row).not_to_contain_text("Cancelled")
        assert figures(items.locator(".totals"))["Refunded"] == serum_line.amount
        timeline = buyer_page.get_by_role("region", name="Timeline")
        expect(timeline).to_contain_text("The merchant could not supply Yuzu Vitamin C Serum")
        expect(timeline).to_contain_text(f"Refunded: {serum_line.amount} CNY.")
        screenshot(buyer_page, "desktop-order-partially-refunded")
    finally:
        buyer_context.close()


@pytest.mark.browser_context_args(
    viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
)
def test_phone_buyer_checks_out_without_sideways_scrolling(page: Page, live_server, shop):
    from orders.models import Order

    login(page, email=BUYER_EMAIL)
    add_to_cart(page, shop.serum, in_stock=3)
    assert_no_horizontal_scroll(page)
    add_to_cart(page, shop.bag, in_stock=2)
    expect(page.locator(".cart__summary")).to_contain_text("from 2 merchants")
    assert_no_horizontal_scroll(page)
    screenshot(page, "phone-cart")

    page.get_by_role("link", name="Check out").tap()
    expect(page.get_by_role("complementary", name="Order summary")).to_be_visible()
    assert_no_horizontal_scroll(page)
    fill_orderer_and_accept(page)
    screenshot(page, "phone-checkout")

    page.get_by_role("button", name="Place order and pay").tap()
    expect(page.get_by_role("heading", name="Confirm payment")).to_be_visible()
    assert_no_horizontal_scroll(page)
    screenshot(page, "phone-sandbox-pay")

    page.get_by_role("button", name=re.compile(r"^Pay ¥")).tap()
    expect(page.locator(".order-status .status")).to_have_text("Paid")
    assert_no_horizontal_scroll(page)
    screenshot(page, "phone-order-paid")
    assert Order.objects.get(buyer=shop.buyer).status == "paid"
