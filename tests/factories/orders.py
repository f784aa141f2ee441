"""Buyers, carts and orders built through the orders services, and the sandbox's callbacks."""

from decimal import Decimal

from orders import services
from orders.models import Order, Payment, SandboxTrade
from orders.payments import get_gateway
from orders.payments.sandbox import NotifyMode

from .accounts import AddressFactory, UserFactory
from .catalog import ProductFactory
from .warehouse import units_available

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(seventeen: str = "11010119900307451") -> str:
    """A resident ID number with its correct check character (GB 11643)."""
    total = sum(int(d) * w for d, w in zip(seventeen, _WEIGHTS, strict=True))
    return seventeen + "10X98765432"[total % 11]


def stocked_product(n: int = 3, **kwargs):
    """A listed product with n authenticated, available units."""
    product = ProductFactory(**kwargs)
    if n:
        units_available(product=product, n=n)
    return product


def buyer(country: str = "CN", **kwargs):
    user = UserFactory(**kwargs)
    where = (
        {} if country == "CN" else {"province": "Berlin", "city": "Berlin", "postal_code": "10115"}
    )
    user.test_address = AddressFactory(user=user, make_default=True, country=country, **where)
    return user


def cart_of(user, *items: tuple) -> object:
    cart = services.cart_get_or_create(user=user)
    for product, quantity in items:
        services.cart_set_quantity(cart=cart, product_id=product.pk, quantity=quantity)
    return cart


ORDERER_NAME = "王芳"


def place(user, *items: tuple, method: str | None = None, orderer_id: str | None = None) -> Order:
    """Cart -> order waiting for payment (the orderer is the buyer's `ORDERER_NAME`)."""
    cart = cart_of(user, *items)
    address = user.test_address
    return services.order_place(
        buyer=user,
        cart=cart,
        address_id=address.pk,
        shipping_method=method or ("cn-bonded" if address.country == "CN" else "eu-tracked"),
        orderer=services.Orderer(ORDERER_NAME, orderer_id or id_number()),
        risk_notice_accepted=True,
    )


class _Request:
    """What SandboxGateway.start needs of a request: the site's own address."""

    def build_absolute_uri(self, path: str) -> str:
        return "http://testserver" + path


def start_payment(order: Order) -> Payment:
    payment = services.payment_open(order=order)
    get_gateway("sandbox").start(
        payment=payment, subject=order.number, payer_name=order.orderer_name, request=_Request()
    )
    return payment


def sandbox_settle(
    order: Order, *, paid: bool = True, payer_name: str | None = None
) -> SandboxTrade:
    payment = start_payment(order)
    return get_gateway("sandbox").settle(
        out_trade_no=payment.out_trade_no,
        paid=paid,
        payer_name=order.orderer_name if payer_name is None else payer_name,
    )


def notify_body(trade: SandboxTrade, mode: str = NotifyMode.NORMAL) -> bytes:
    return get_gateway("sandbox").notify_body(trade, mode=mode)


def pay(order: Order) -> Order:
    """Settle at the sandbox and deliver its signed callback (as the notify task would)."""
    trade = sandbox_settle(order)
    acknowledged, outcome = services.payment_callback_receive(
        gateway_code="sandbox",
        body=notify_body(trade),
        content_type="application/x-www-form-urlencoded",
    )
    assert (acknowledged, outcome) == (True, "paid"), outcome
    order.refresh_from_db()
    return order


def money(value: str) -> Decimal:
    return Decimal(value)
