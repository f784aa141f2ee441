"""Carts, placing orders, payments, expiry, cancellation and merchant processing (services)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog import services as catalog_services
from core import crypto
from core.errors import DomainError, NotFoundError
from orders import selectors, services
from orders.models import Order, OrdererQuota, OrderEvent, PaymentCallback, Refund, StockNotice
from orders.payments.sandbox import NotifyMode
from orders.states import LineStatus, OrderStatus, PaymentStatus, RefundStatus
from tests.factories import orders as f
from tests.factories.accounts import MerchantFactory, UserFactory, merchant_staff
from warehouse.models import Reservation
from warehouse.selectors import sellable_quantity

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks):
    """Run what services schedule after commit (refunds at the gateway) as a commit would."""

    def run(call, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run


def receive(body: bytes) -> tuple[bool, str]:
    return services.payment_callback_receive(
        gateway_code="sandbox", body=body, content_type="application/x-www-form-urlencoded"
    )


# Carts ---------------------------------------------------------------------------------------


def test_cart_quantity_is_capped_by_sellable_stock_with_the_limit_reported():
    product = f.stocked_product(2)
    cart = services.cart_get_or_create(user=UserFactory())
    change = services.cart_set_quantity(cart=cart, product_id=product.pk, quantity=5)
    assert change.capped
    assert change.limit == 2
    assert change.line.quantity == 2
    change = services.cart_set_quantity(cart=cart, product_id=product.pk, quantity=1, add=True)
    assert change.capped
    assert change.line.quantity == 2


def test_cart_refuses_sold_out_and_unlisted_products_and_respects_the_merchant_cap():
    sold_out = f.stocked_product(0)
    cart = services.cart_get_or_create(user=UserFactory())
    with pytest.raises(services.SoldOutError, match="sold out"):
        services.cart_set_quantity(cart=cart, product_id=sold_out.pk, quantity=1)
    capped = f.stocked_product(5, listed_quantity_cap=1)
    assert services.cart_set_quantity(cart=cart, product_id=capped.pk, quantity=3).limit == 1
    catalog_services.product_set_status(product=capped, status="paused")
    with pytest.raises(NotFoundError):
        services.cart_set_quantity(cart=cart, product_id=capped.pk, quantity=1)
    with pytest.raises(DomainError):
        services.cart_set_quantity(cart=cart, product_id=capped.pk, quantity=-1)


def test_anonymous_cart_merges_into_the_buyers_cart_within_stock():
    product, other = f.stocked_product(3), f.stocked_product(1)
    anonymous = services.cart_get_or_create()
    services.cart_set_quantity(cart=anonymous, product_id=product.pk, quantity=2)
    services.cart_set_quantity(cart=anonymous, product_id=other.pk, quantity=1)
    user = UserFactory()
    mine = f.cart_of(user, (product, 2))
    merged = services.cart_merge(anonymous_cart_id=anonymous.pk, user=user)
    assert merged.pk == mine.pk
    view = selectors.cart_view(cart=merged)
    assert {row.product.pk: row.quantity for row in view.rows} == {product.pk: 3, other.pk: 1}
    assert not type(anonymous).objects.filter(pk=anonymous.pk).exists()


# Placing orders ------------------------------------------------------------------------------


def test_placing_an_order_reserves_stock_snapshots_lines_and_encrypts_the_id_number():
    catalog_services.exchange_rates_ensure_defaults()
    a, b = (
        f.stocked_product(3, price=D("80.00")),
        f.stocked_product(2, currency="JPY", price=D("2000")),
    )
    buyer = f.buyer()
    order = f.place(buyer, (a, 2), (b, 1))
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert sellable_quantity(product_id=a.pk) == 1
    assert sellable_quantity(product_id=b.pk) == 1
    lines = {line.product_id: line for line in order.lines.all()}
    assert lines[a.pk].merchant_id == a.merchant_id
    assert lines[b.pk].merchant_id == b.merchant_id
    assert lines[b.pk].list_currency == "JPY"
    assert lines[b.pk].unit_price < D("2000")
    assert order.total == order.goods_total + order.shipping_total + order.tax_total
    assert order.orderer_id_masked.startswith("1101")
    assert "*" in order.orderer_id_masked
    assert crypto.decrypt(order.orderer_id_encrypted) == f.id_number()
    assert f.id_number() not in order.orderer_id_encrypted
    assert "JPY" in order.fx_snapshot
    assert order.risk_notice_accepted_at is not None
    assert (
        not buyer.test_address.profile.user.pk
        or selectors.cart_view(cart=services.cart_get_or_create(user=buyer)).rows == []
    )
    # Later catalog edits never change the order.
    a.name = "Renamed"
    catalog_services.product_save(product=a)
    assert Order.objects.get(pk=order.pk).lines.get(product=a).product_name != "Renamed"


def test_sold_out_at_checkout_refuses_everything_and_leaves_no_trace():
    product = f.stocked_product(1)
    first, second = f.buyer(), f.buyer()
    f.cart_of(second, (product, 1))
    f.place(first, (product, 1))
    with pytest.raises(services.SoldOutError, match="Sold out"):
        services.order_place(
            buyer=second,
            cart=services.cart_get_or_create(user=second),
            address_id=second.test_address.pk,
            shipping_method="cn-bonded",
            orderer=services.Orderer("李雷", f.id_number("44030119851201123")),
            risk_notice_accepted=True,
        )
    assert Order.objects.filter(buyer=second).count() == 0
    assert selectors.cart_view(cart=services.cart_get_or_create(user=second)).count == 1
    assert OrdererQuota.objects.filter(used__gt=0).count() == 1


@pytest.mark.parametrize(
    ("name", "id_number", "accepted", "field"),
    [
        ("", None, True, "orderer_name"),
        ("王芳", "110101199003074510", True, "orderer_id"),  # wrong check digit
        ("王芳", "1101011990", True, "orderer_id"),
        ("王芳", None, False, "risk_notice"),
    ],
)
def test_china_orders_need_the_orderers_identity_and_the_accepted_notice(
    name, id_number, accepted, field
):
    product, buyer = f.stocked_product(1), f.buyer()
    with pytest.raises(DomainError) as err:
        services.order_place(
            buyer=buyer,
            cart=f.cart_of(buyer, (product, 1)),
            address_id=buyer.test_address.pk,
            shipping_method="cn-bonded",
            orderer=services.Orderer(name, id_number or f.id_number()),
            risk_notice_accepted=accepted,
        )
    assert err.value.field == field
    assert str(err.value)
    assert sellable_quantity(product_id=product.pk) == 1


def test_another_buyers_address_is_refused():
    product, buyer, other = f.stocked_product(1), f.buyer(), f.buyer()
    with pytest.raises(DomainError, match="delivery addresses"):
        services.order_place(
            buyer=buyer,
            cart=f.cart_of(buyer, (product, 1)),
            address_id=other.test_address.pk,
            shipping_method="cn-bonded",
        )


def test_a_changed_total_since_the_quote_is_refused_with_the_new_total():
    product, buyer = f.stocked_product(1), f.buyer()
    with pytest.raises(DomainError, match="total is now") as err:
        services.order_place(
            buyer=buyer,
            cart=f.cart_of(buyer, (product, 1)),
            address_id=buyer.test_address.pk,
            shipping_method="cn-bonded",
            orderer=services.Orderer("王芳", f.id_number()),
            risk_notice_accepted=True,
            expected_total=D("1.00"),
        )
    assert err.value.code == "total_changed"


def test_over_the_order_limit_is_refused_with_its_reason():
    product, buyer = f.stocked_product(2, price=D("2600.00")), f.buyer()
    with pytest.raises(DomainError, match=r"over the ¥5,000.00 limit") as err:
        f.place(buyer, (product, 2))
    assert err.value.code == "per_order"
    assert sellable_quantity(product_id=product.pk) == 2


def test_the_annual_limit_follows_the_orderer_id_across_buyers_and_comes_back_on_cancel():
    product = f.stocked_product(10, price=D("4500.00"), hs_code="650100")
    orders = [f.place(f.buyer(), (product, 1)) for _ in range(5)]  # 5 x 4,518 = 22,590
    with pytest.raises(DomainError, match="annual limit") as err:
        f.place(f.buyer(), (product, 1))
    assert err.value.code == "annual"
    services.order_cancel(order_id=orders[0].pk, actor=None)
    assert f.place(f.buyer(), (product, 1)).status == OrderStatus.PENDING_PAYMENT
    other_person = f.place(f.buyer(), (product, 1), orderer_id=f.id_number("44030119851201123"))
    assert other_person.status == OrderStatus.PENDING_PAYMENT


def test_eu_orders_need_no_chinese_identity_and_charge_destination_vat():
    product, buyer = f.stocked_product(1, hs_code="650100"), f.buyer(country="DE")
    order = services.order_place(
        buyer=buyer,
        cart=f.cart_of(buyer, (product, 1)),
        address_id=buyer.test_address.pk,
        shipping_method="eu-tracked",
    )
    assert order.regime_code == "eu_ioss"
    assert order.orderer_name == ""
    assert order.tax_total == ((order.goods_total + order.shipping_total) * D("0.19")).quantize(
        D("0.01")
    )


# Payments ------------------------------------------------------------------------------------


def test_a_verified_callback_pays_the_order_and_commits_its_reservations():
    product, buyer = f.stocked_product(2), f.buyer()
    order = f.pay(f.place(buyer, (product, 1)))
    assert order.status == OrderStatus.PAID
    assert order.paid_at
    line = order.lines.get()
    assert Reservation.objects.get(pk=line.reservation_id).order_line_ref == line.ref
    assert order.payments.get(status=PaymentStatus.PAID).payer_name == f.ORDERER_NAME


def test_replayed_callbacks_change_nothing_and_are_acknowledged():
    order = f.place(f.buyer(), (f.stocked_product(1), 1))
    trade = f.sandbox_settle(order)
    body = f.notify_body(trade)
    outcomes = [receive(body) for _ in range(5)]
    assert outcomes == [(True, "paid")] + [(True, "duplicate")] * 4
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1
    assert PaymentCallback.objects.filter(out_trade_no=trade.out_trade_no).count() == 5


def test_bad_signature_wrong_amount_and_garbage_never_pay():
    order = f.place(f.buyer(), (f.stocked_product(1), 1))
    trade = f.sandbox_settle(order)
    assert receive(f.notify_body(trade, NotifyMode.BAD_SIGNATURE)) == (False, "bad_signature")
    assert receive(f.notify_body(trade, NotifyMode.WRONG_AMOUNT)) == (False, "amount_mismatch")
    assert receive(b"\xff\xfe not a form") == (False, "malformed")
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.events.filter(kind="payment_mismatch").count() == 1
    assert list(PaymentCallback.objects.values_list("signature_ok", flat=True)) == [
        False,
        True,
        False,
    ]


def test_the_browser_return_alone_pays_nothing_but_a_status_query_does():
    order = f.place(f.buyer(), (f.stocked_product(1), 1))
    f.sandbox_settle(order)  # paid at the gateway, notify never sent (silent)
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert services.payment_sync(order=order) == "paid"
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_a_declined_payment_can_be_retried_with_a_new_payment():
    order = f.place(f.buyer(), (f.stocked_product(1), 1))
    trade = f.sandbox_settle(order, paid=False)
    assert receive(f.notify_body(trade)) == (True, "failed")
    retry = services.payment_open(order=order)
    assert retry.out_trade_no.endswith("P2")
    assert f.pay(order).status == OrderStatus.PAID


def test_a_payer_who_is_not_the_orderer_gets_the_money_back_and_the_stock_is_released(
    after_commit,
):
    product = f.stocked_product(1)
    order = f.place(f.buyer(), (product, 1))
    trade = f.sandbox_settle(order, payer_name="Somebody Else")
    assert after_commit(receive, f.notify_body(trade)) == (True, "payer_mismatch")
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    refund = Refund.objects.get(order=order)
    assert refund.status == RefundStatus.DONE
    assert refund.amount == order.total
    assert sellable_quantity(product_id=product.pk) == 1


# Expiry, cancellation, refunds --------------------------------------------------------------


def _overdue(order: Order) -> None:
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(minutes=1))


def test_unpaid_orders_expire_and_release_their_stock_and_quota():
    product = f.stocked_product(2, price=D("1000.00"))
    order = f.place(f.buyer(), (product, 2))
    assert services.orders_expire_due() == 0
    _overdue(order)
    assert services.orders_expire_due() == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    assert sellable_quantity(product_id=product.pk) == 2
    assert OrdererQuota.objects.get().used == 0
    assert services.orders_expire_due() == 0
    with pytest.raises(DomainError):
        services.payment_open(order=order)


def test_expiry_asks_the_gateway_first_and_a_late_payment_is_returned(after_commit):
    product = f.stocked_product(2)
    paid_silently = f.place(f.buyer(), (product, 1))
    f.sandbox_settle(paid_silently)
    _overdue(paid_silently)
    late = f.place(f.buyer(), (product, 1))
    trade = f.start_payment(late)
    _overdue(late)
    assert services.orders_expire_due() == 1
    paid_silently.refresh_from_db()
    assert paid_silently.status == OrderStatus.PAID
    from orders.payments import get_gateway

    trade = get_gateway("sandbox").settle(
        out_trade_no=trade.out_trade_no, paid=True, payer_name=f.ORDERER_NAME
    )
    assert after_commit(receive, f.notify_body(trade)) == (True, "returned")
    late.refresh_from_db()
    assert late.status == OrderStatus.EXPIRED
    assert late.payments.get().status == PaymentStatus.RETURNED
    assert Refund.objects.get(order=late).status == RefundStatus.DONE


def test_cancelling_a_paid_order_releases_stock_and_refunds_in_full(after_commit):
    product = f.stocked_product(1)
    buyer = f.buyer()
    order = f.pay(f.place(buyer, (product, 1)))
    after_commit(services.order_cancel, order_id=order.pk, actor=buyer)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.refunded_total == order.total
    assert Refund.objects.get(order=order).status == RefundStatus.DONE
    assert sellable_quantity(product_id=product.pk) == 1
    services.order_cancel(order_id=order.pk, actor=buyer)  # twice changes nothing
    assert Refund.objects.filter(order=order).count() == 1


def test_orders_past_packing_cannot_be_cancelled():
    order = f.pay(f.place(f.buyer(), (f.stocked_product(1), 1)))
    for status in (OrderStatus.ALLOCATED, OrderStatus.PACKED):
        services.order_transition(order_id=order.pk, to_status=status)
    with pytest.raises(DomainError, match="can no longer be cancelled"):
        services.order_cancel(order_id=order.pk, actor=None)
    with pytest.raises(DomainError, match="cannot become"):
        services.order_transition(order_id=order.pk, to_status=OrderStatus.PAID)


# Merchant processing -------------------------------------------------------------------------


def test_merchants_process_only_their_own_lines(after_commit):
    mine, theirs = MerchantFactory(), MerchantFactory()
    a = f.stocked_product(2, merchant=mine)
    b = f.stocked_product(2, merchant=theirs)
    buyer = f.buyer()
    order = f.pay(f.place(buyer, (a, 1), (b, 1)))
    line_a, line_b = order.lines.get(product=a), order.lines.get(product=b)
    staff = merchant_staff(mine)
    with pytest.raises(NotFoundError):
        services.line_accept(line_id=line_b.pk, merchant_id=mine.pk, actor=staff)
    assert services.line_accept(line_id=line_a.pk, merchant_id=mine.pk, actor=staff).status == (
        LineStatus.ACCEPTED
    )
    after_commit(
        services.line_cancel_out_of_stock, line_id=line_b.pk, merchant_id=theirs.pk, actor=staff
    )
    order.refresh_from_db()
    line_b.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    assert line_b.status == LineStatus.CANCELLED
    assert line_b.refunded == line_b.amount
    assert order.refunded_total == line_b.amount
    assert Refund.objects.get(line=line_b).status == RefundStatus.DONE
    assert sellable_quantity(product_id=b.pk) == 2
    assert StockNotice.objects.filter(user=buyer, product=b).exists()
    # The last open line cancelled: the whole order is, and everything is refunded.
    services.line_cancel_out_of_stock(line_id=line_a.pk, merchant_id=mine.pk, actor=staff)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.refunded_total == order.total


def test_unpaid_lines_cannot_be_processed():
    order = f.place(f.buyer(), (f.stocked_product(1), 1))
    line = order.lines.get()
    with pytest.raises(DomainError):
        services.line_accept(line_id=line.pk, merchant_id=line.merchant_id, actor=None)


def test_back_in_stock_requests_are_idempotent_and_count_as_lost_demand():
    product, buyer = f.stocked_product(0), UserFactory()
    first = services.stock_notice_request(user=buyer, product_id=product.pk)
    assert services.stock_notice_request(user=buyer, product_id=product.pk) == first
    services.stock_notice_request(user=UserFactory(), product_id=product.pk)
    assert selectors.stock_notice_demand(product_ids=[product.pk]) == {product.pk: 2}
