"""Every write of the orders app: carts, placing orders, payments, cancellations, refunds.

Each public function owns its transaction. Orders are locked (SELECT ... FOR UPDATE) before they
are read and changed; every status change goes through `_transition`, which writes an OrderEvent;
work outside the database (refunds at the gateway, messages) runs after commit.
"""

import contextlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts import selectors as accounts_selectors
from catalog import selectors as catalog_selectors
from core import crypto
from core.errors import DomainError, NotFoundError
from core.money import cents
from core.validators import mask_id_number, normalize_cn_resident_id
from logistics import selectors as logistics_selectors
from logistics import services as logistics_services
from warehouse import selectors as warehouse_selectors
from warehouse import services as warehouse_services

from .models import (
    Cart,
    CartLine,
    Order,
    OrdererQuota,
    OrderEvent,
    OrderLine,
    Payment,
    PaymentCallback,
    Refund,
    StockNotice,
)
from .payments import Notification, get_gateway
from .states import (
    CANCELLABLE,
    LineStatus,
    OrderStatus,
    PaymentStatus,
    RefundStatus,
    can_transition,
)

RISK_NOTICE_VERSION = "2019-486"
NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ZERO = Decimal(0)


class SoldOutError(DomainError):
    code = "sold_out"


# Carts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CartChange:
    line: CartLine | None
    capped: bool  # the buyer asked for more than can be sold; the line holds the most there is
    limit: int


def _purchasable(product: Any) -> int:
    """How many a buyer may have of this product now: sellable stock within the merchant's cap."""
    sellable = warehouse_selectors.sellable_quantity(product_id=product.pk)
    if product.listed_quantity_cap is not None:
        sellable = min(sellable, product.listed_quantity_cap)
    return max(0, sellable)


def _listed_product(product_id: int) -> Any:
    product = catalog_selectors.products_for_sale(ids=[product_id]).get(product_id)
    if product is None:
        raise NotFoundError(_("This product is not for sale."), code="not_listed")
    return product


def cart_get_or_create(*, user: Any | None = None, cart_id: int | None = None) -> Cart:
    if user is not None and user.is_authenticated:
        cart, _created = Cart.objects.get_or_create(user=user)
        return cart
    if cart_id:
        cart = Cart.objects.filter(pk=cart_id, user__isnull=True).first()
        if cart is not None:
            return cart
    return Cart.objects.create()


def cart_set_quantity(
    *, cart: Cart, product_id: int, quantity: int, add: bool = False
) -> CartChange:
    """Set (or with add=True, increase) a line's quantity, never beyond what can be sold."""
    if quantity < 0 or (add and quantity == 0):
        raise DomainError(_("Enter a quantity of at least 1."), code="bad_quantity")
    with transaction.atomic():
        Cart.objects.select_for_update().filter(pk=cart.pk).exists()
        line = CartLine.objects.filter(cart=cart, product_id=product_id).first()
        wanted = quantity + (line.quantity if (add and line) else 0)
        if wanted == 0:
            if line is not None:
                line.delete()
            return CartChange(None, False, 0)
        product = _listed_product(product_id)
        limit = _purchasable(product)
        if limit == 0:
            raise SoldOutError(
                _("%(name)s is sold out: no authenticated unit is available right now.")
                % {"name": product.name}
            )
        capped = wanted > limit
        wanted = min(wanted, limit)
        if line is None:
            line = CartLine.objects.create(cart=cart, product_id=product_id, quantity=wanted)
        else:
            line.quantity = wanted
            line.save(update_fields=["quantity"])
        Cart.objects.filter(pk=cart.pk).update(updated_at=timezone.now())
    return CartChange(line, capped, limit)


def cart_merge(*, anonymous_cart_id: int, user: Any) -> Cart:
    """After login: the anonymous cart's lines join the buyer's cart (within stock)."""
    with transaction.atomic():
        cart = cart_get_or_create(user=user)
        source = (
            Cart.objects.select_for_update().filter(pk=anonymous_cart_id, user__isnull=True).first()
        )
        if source is None:
            return cart
        for line in list(source.lines.all()):
            # Sold out or unlisted since: the line is dropped, the cart page shows what is left.
            with contextlib.suppress(DomainError):
                cart_set_quantity(
                    cart=cart, product_id=line.product_id, quantity=line.quantity, add=True
                )
        source.delete()
    return cart


# Placing orders --------------------------------------------------------------------------


@dataclass(frozen=True)
class Orderer:
    name: str
    id_number: str


def _order_number() -> str:
    stamp = timezone.localtime().strftime("%y%m%d")
    return "PV" + stamp + "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(6))


def _event(
    order: Order, kind: str, *, actor: Any = None, note: str = "", to_status: str = ""
) -> None:
    OrderEvent.objects.create(
        order=order,
        kind=kind,
        from_status=order.status if to_status else "",
        to_status=to_status,
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
        note=str(note)[:300],
    )


def _transition(order: Order, to_status: str, *, actor: Any = None, note: str = "") -> bool:
    """The one place an order's status changes: validated, saved and recorded. Needs the lock."""
    if order.status == to_status:
        return False
    if not can_transition(order.status, to_status):
        raise DomainError(
            _("An order that is %(status)s cannot become %(to)s.")
            % {"status": order.get_status_display(), "to": OrderStatus(to_status).label},
            code="bad_transition",
        )
    _event(order, "status", actor=actor, note=note, to_status=to_status)
    order.status = to_status
    order.save(update_fields=["status", "paid_at", "updated_at"])
    return True


def order_transition(*, order_id: int, to_status: str, actor: Any = None, note: str = "") -> Order:
    """Move an order to a state its lifecycle allows (idempotent when it is already there)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        _transition(order, to_status, actor=actor, note=note)
    return order


def _lock_quota(id_index: str, year: int) -> OrdererQuota:
    try:
        with transaction.atomic():
            OrdererQuota.objects.get_or_create(id_index=id_index, year=year)
    except IntegrityError:
        pass  # a concurrent first order of the same orderer made it
    return OrdererQuota.objects.select_for_update().get(id_index=id_index, year=year)


def _quota_give_back(order: Order, amount: Decimal) -> None:
    if not order.orderer_id_index or not order.quota_year or amount <= 0:
        return
    quota = _lock_quota(order.orderer_id_index, order.quota_year)
    quota.used = max(ZERO, quota.used - amount)
    quota.save(update_fields=["used", "updated_at"])


def order_place(
    *,
    buyer: Any,
    cart: Cart,
    address_id: int,
    shipping_method: str,
    display_currency: str = "CNY",
    orderer: Orderer | None = None,
    risk_notice_accepted: bool = False,
    expected_total: Decimal | None = None,
) -> Order:
    """Turn the buyer's cart into an order waiting for payment, with its stock reserved.

    All or nothing: a limit broken, a product sold out or a price changed since the buyer's quote
    refuses the order with a message and leaves the cart, stock and quota as they were.
    """
    address = accounts_selectors.address_for_user(user=buyer, address_id=address_id)
    if address is None:
        raise DomainError(
            _("Choose one of your delivery addresses."), code="bad_address", field="address"
        )
    method = logistics_selectors.shipping_method_get(code=shipping_method)
    regime = logistics_selectors.regime_for_destination(country=address.country)
    if display_currency not in settings.DISPLAY_CURRENCIES:
        display_currency = "CNY"
    id_index, id_encrypted, id_masked, orderer_name = "", "", "", ""
    if regime is not None and regime.requires_orderer_identity:
        orderer_name = (orderer.name if orderer else "").strip()
        if not orderer_name:
            raise DomainError(
                _("Enter the orderer's real name, as on the ID card."),
                code="no_orderer",
                field="orderer_name",
            )
        try:
            id_number = normalize_cn_resident_id(orderer.id_number if orderer else "")
        except ValidationError as exc:
            raise DomainError(exc.messages[0], code=exc.code, field="orderer_id") from exc
        id_index, id_encrypted = crypto.blind_index(id_number), crypto.encrypt(id_number)
        id_masked = mask_id_number(id_number)
    if regime is not None and regime.requires_risk_notice and not risk_notice_accepted:
        raise DomainError(
            _("Read and accept the cross-border shopping notice to place the order."),
            code="risk_notice",
            field="risk_notice",
        )
    rates = catalog_selectors.exchange_rates()
    if display_currency not in rates:
        display_currency = "CNY"
    now = timezone.now()
    year = timezone.localdate().year
    with transaction.atomic():
        Cart.objects.select_for_update().filter(pk=cart.pk).exists()
        cart_lines = list(CartLine.objects.filter(cart=cart).order_by("product_id"))
        if not cart_lines:
            raise DomainError(_("Your cart is empty."), code="empty_cart")
        products = catalog_selectors.products_for_sale(ids=[line.product_id for line in cart_lines])
        priced = []
        for line in cart_lines:
            product = products.get(line.product_id)
            if product is None:
                raise DomainError(
                    _("An item in your cart is no longer for sale; remove it to continue."),
                    code="not_listed",
                )
            if (
                product.listed_quantity_cap is not None
                and line.quantity > product.listed_quantity_cap
            ):
                raise SoldOutError(
                    _("%(name)s: at most %(n)s can be ordered.")
                    % {"name": product.name, "n": product.listed_quantity_cap}
                )
            rate = rates.get(product.currency)
            if rate is None:
                raise DomainError(
                    _("A price in your cart cannot be converted right now."), code="no_rate"
                )
            priced.append((line, product, cents(product.price * rate.cny_per_unit)))
        quota = _lock_quota(id_index, year) if id_index else None
        cost = logistics_selectors.landed_cost(
            country=address.country,
            lines=[
                logistics_selectors.CostLine(p.pk, p.hs_code, line.quantity, price)
                for line, p, price in priced
            ],
            method=method,
            weight_grams=sum(p.weight_grams * line.quantity for line, p, _price in priced),
            cny_per_unit={code: r.cny_per_unit for code, r in rates.items()},
            annual_used=quota.used if quota else ZERO,
        )
        if not cost.ok:
            problem = cost.problems[0]
            raise DomainError(problem.message, code=problem.code)
        if expected_total is not None and cents(expected_total) != cost.total:
            raise DomainError(
                _(
                    "Prices or rates changed while you were checking out: the total is now "
                    "%(total)s. Review it and place the order again."
                )
                % {"total": f"¥{cost.total:,.2f}"},
                code="total_changed",
            )
        try:
            reservations = warehouse_services.stock_reserve(
                items=[(p.pk, line.quantity) for line, p, _price in priced]
            )
        except warehouse_services.InsufficientStockError as exc:
            product = products[exc.product_id]
            if exc.sellable == 0:
                message = _("Sold out: %(name)s was just bought by someone else.") % {
                    "name": product.name
                }
            else:
                message = _("Only %(n)s of %(name)s left; lower the quantity in your cart.") % {
                    "n": exc.sellable,
                    "name": product.name,
                }
            raise SoldOutError(message) from exc
        reserved = {r.product_id: r for r in reservations}
        taxes = {t.key: t for t in cost.lines}
        order = Order.objects.create(
            number=_order_number(),
            buyer=buyer,
            regime_code=cost.regime.code,
            goods_total=cost.goods,
            shipping_total=cost.shipping,
            tax_total=cost.tax,
            duty_total=cost.duty,
            total=cost.total,
            dutiable_value=cost.dutiable,
            full_tax=cost.full_tax,
            display_currency=display_currency,
            fx_snapshot={
                code: {
                    "rate": str(r.cny_per_unit),
                    "source": r.source,
                    "as_of": r.as_of.isoformat(),
                }
                for code, r in rates.items()
                if code in {display_currency, *(p.currency for _l, p, _pr in priced)}
            },
            shipping_method_code=method.code,
            shipping_method_name=method.name,
            promised_days_min=method.days_min,
            promised_days_max=method.days_max,
            weight_grams=sum(p.weight_grams * line.quantity for line, p, _price in priced),
            recipient=address.recipient,
            phone=address.phone,
            country=address.country,
            province=address.province,
            city=address.city,
            district=address.district,
            line1=address.line1,
            postal_code=address.postal_code,
            orderer_name=orderer_name,
            orderer_id_encrypted=id_encrypted,
            orderer_id_index=id_index,
            orderer_id_masked=id_masked,
            quota_year=year if quota else None,
            risk_notice_accepted_at=now if risk_notice_accepted else None,
            risk_notice_version=RISK_NOTICE_VERSION if risk_notice_accepted else "",
            expires_at=now + timedelta(minutes=settings.ORDER_PAYMENT_MINUTES),
        )
        for line, product, price in priced:
            tax = taxes[product.pk]
            OrderLine.objects.create(
                order=order,
                product=product,
                merchant_id=product.merchant_id,
                product_name=product.name,
                product_slug=product.slug,
                merchant_name=product.merchant.name,
                hs_code=product.hs_code,
                list_price=product.price,
                list_currency=product.currency,
                unit_price=price,
                quantity=line.quantity,
                goods_total=price * line.quantity,
                freight_share=tax.freight_share,
                tax=tax.tax,
                vat_rate=tax.vat_rate,
                consumption_tax_rate=tax.consumption_tax_rate,
                reservation_id=reserved[product.pk].pk,
            )
        if quota is not None:
            quota.used += cost.dutiable
            quota.save(update_fields=["used", "updated_at"])
        Payment.objects.create(
            order=order,
            gateway=settings.PAYMENT_GATEWAY,
            out_trade_no=order.number + "P1",
            amount=order.total,
        )
        _event(order, "placed", actor=buyer)
        CartLine.objects.filter(cart=cart).delete()
    return order


# Payments ---------------------------------------------------------------------------------


def payment_open(*, order: Order) -> Payment:
    """The payment the buyer should pay now: the pending one, or a new one after a failure."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status != OrderStatus.PENDING_PAYMENT or order.expires_at <= timezone.now():
            raise DomainError(_("This order can no longer be paid."), code="not_payable")
        payment = order.payments.filter(status=PaymentStatus.PENDING).first()
        if payment is None:
            attempt = order.payments.count() + 1
            payment = Payment.objects.create(
                order=order,
                gateway=settings.PAYMENT_GATEWAY,
                out_trade_no=f"{order.number}P{attempt}",
                amount=order.total,
            )
    return payment


def _return_stray_payment(payment: Payment, notification: Notification, reason: str) -> None:
    """Money that the order cannot take is recorded, then refunded in full after commit."""
    payment.status = PaymentStatus.RETURNED
    payment.gateway_trade_no = notification.gateway_trade_no
    payment.payer_name = notification.payer_name[:60]
    payment.paid_at = timezone.now()
    payment.save(update_fields=["status", "gateway_trade_no", "payer_name", "paid_at"])
    refund = Refund.objects.create(
        order=payment.order, payment=payment, amount=notification.amount, reason=reason[:200]
    )
    _event(payment.order, "payment_returned", note=reason)
    _refund_after_commit(refund)


def _refund_after_commit(refund: Refund) -> None:
    from .tasks import refund_execute

    transaction.on_commit(lambda: refund_execute.delay(refund.pk))


def payment_notification_apply(*, notification: Notification) -> str:
    """Apply a verified gateway notification; idempotent. Returns what happened (a code)."""
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .filter(out_trade_no=notification.out_trade_no)
            .first()
        )
        if payment is None:
            return "unknown_payment"
        if payment.status in (PaymentStatus.PAID, PaymentStatus.RETURNED):
            return "duplicate"
        if notification.amount != payment.amount or notification.currency != payment.currency:
            _event(
                payment.order,
                "payment_mismatch",
                note=f"{payment.out_trade_no}: {notification.amount} {notification.currency} "
                f"!= {payment.amount} {payment.currency}",
            )
            return "amount_mismatch"
        if not notification.paid:
            if payment.status == PaymentStatus.PENDING:
                payment.status = PaymentStatus.FAILED
                payment.save(update_fields=["status"])
                _event(payment.order, "payment_failed", note=payment.out_trade_no)
            return "failed"
        order = Order.objects.select_for_update().get(pk=payment.order_id)
        payment.order = order
        if order.orderer_name and notification.payer_name.strip() != order.orderer_name:
            _return_stray_payment(payment, notification, "payer is not the orderer")
            _cancel_locked(
                order, actor=None, reason=_("The payer was not the orderer."), refund=False
            )
            return "payer_mismatch"
        if order.status != OrderStatus.PENDING_PAYMENT:
            _return_stray_payment(payment, notification, f"order already {order.status}")
            return "returned"
        payment.status = PaymentStatus.PAID
        payment.gateway_trade_no = notification.gateway_trade_no
        payment.payer_name = notification.payer_name[:60]
        payment.paid_at = timezone.now()
        payment.save(update_fields=["status", "gateway_trade_no", "payer_name", "paid_at"])
        order.paid_at = payment.paid_at
        for line in order.lines.all():
            if line.reservation_id:
                warehouse_services.reservation_commit(
                    reservation_id=line.reservation_id, order_line_ref=line.ref
                )
        _transition(order, OrderStatus.PAID, note=payment.out_trade_no)
        order.payments.filter(status=PaymentStatus.PENDING).update(status=PaymentStatus.CLOSED)
    return "paid"


def payment_callback_receive(
    *, gateway_code: str, body: bytes, content_type: str
) -> tuple[bool, str]:
    """Store a notify callback, verify it and apply it. Returns (acknowledge?, outcome)."""
    from .payments import BadSignatureError, MalformedCallbackError

    gateway = get_gateway(gateway_code)
    record = PaymentCallback(gateway=gateway_code, body=body.decode("utf-8", "replace")[:10000])
    try:
        notification = gateway.parse_callback(body=body, content_type=content_type)
    except BadSignatureError:
        record.outcome = "bad_signature"
    except MalformedCallbackError as exc:
        record.outcome, record.detail = "malformed", str(exc)[:300]
    else:
        record.signature_ok = True
        record.out_trade_no = notification.out_trade_no[:40]
        record.outcome = payment_notification_apply(notification=notification)
    record.save()
    acknowledged = record.outcome in ("paid", "duplicate", "failed", "returned", "payer_mismatch")
    return acknowledged, record.outcome


def payment_sync(*, order: Order) -> str:
    """Ask the gateway about the order's open payments (the verified status query)."""
    outcome = "unpaid"
    for payment in order.payments.filter(status=PaymentStatus.PENDING):
        notification = get_gateway(payment.gateway).query(out_trade_no=payment.out_trade_no)
        if notification is not None:
            outcome = payment_notification_apply(notification=notification)
    return outcome


# Cancelling, expiring, refunding ------------------------------------------------------------


def _release_lines(order: Order, lines: list[OrderLine], note: str) -> None:
    for line in lines:
        if line.reservation_id:
            warehouse_services.reservation_release(reservation_id=line.reservation_id, note=note)


def _cancel_locked(order: Order, *, actor: Any, reason: str, refund: bool = True) -> None:
    open_lines = list(order.lines.exclude(status=LineStatus.CANCELLED))
    _release_lines(order, open_lines, f"order {order.number} cancelled")
    OrderLine.objects.filter(pk__in=[line.pk for line in open_lines]).update(
        status=LineStatus.CANCELLED
    )
    _quota_give_back(
        order, sum((line.goods_total + line.freight_share for line in open_lines), ZERO)
    )
    paid = order.payments.filter(status=PaymentStatus.PAID).first()
    order.payments.filter(status=PaymentStatus.PENDING).update(status=PaymentStatus.CLOSED)
    _transition(order, OrderStatus.CANCELLED, actor=actor, note=reason)
    remaining = order.total - order.refunded_total
    if refund and paid is not None and remaining > 0:
        _refund(order, paid, remaining, reason=str(reason), actor=actor)


def _refund(order: Order, payment: Payment, amount: Decimal, *, reason: str, actor: Any, line=None):
    refund = Refund.objects.create(
        order=order, line=line, payment=payment, amount=amount, reason=reason[:200], actor=actor
    )
    # The caller holds the order's lock. Add in Decimal, not in SQL: SQLite adds in floating
    # point, and 119.87 + 112.42 there is 232.29000000000002, over a total of 232.29.
    order.refunded_total += amount
    Order.objects.filter(pk=order.pk).update(refunded_total=order.refunded_total)
    _event(order, "refund_requested", actor=actor, note=f"{amount} CNY: {reason}")
    _refund_after_commit(refund)
    return refund


def order_cancel(*, order_id: int, actor: Any, reason: str = "") -> Order:
    """The buyer (or staff) cancels before packing: stock released, payment refunded."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status == OrderStatus.CANCELLED:
            return order
        if order.status not in CANCELLABLE:
            raise DomainError(
                _(
                    "This order is %(status)s and can no longer be cancelled; open an after-sales "
                    "request instead."
                )
                % {"status": order.get_status_display()},
                code="not_cancellable",
            )
        _cancel_locked(order, actor=actor, reason=reason or _("Cancelled by the buyer."))
    return order


def order_expire(*, order_id: int) -> bool:
    """An unpaid order past its deadline expires and gives its stock back. True if it did."""
    order = Order.objects.get(pk=order_id)
    if order.status != OrderStatus.PENDING_PAYMENT:
        return False
    if payment_sync(order=order) == "paid":  # paid, but the callback has not arrived yet
        return False
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != OrderStatus.PENDING_PAYMENT or order.expires_at > timezone.now():
            return False
        lines = list(order.lines.all())
        _release_lines(order, lines, f"order {order.number} expired")
        _quota_give_back(order, order.dutiable_value)
        order.payments.filter(status=PaymentStatus.PENDING).update(status=PaymentStatus.CLOSED)
        _transition(order, OrderStatus.EXPIRED, note=_("Not paid in time."))
    return True


def orders_expire_due(*, limit: int = 500) -> int:
    due = Order.objects.filter(
        status=OrderStatus.PENDING_PAYMENT, expires_at__lte=timezone.now()
    ).values_list("pk", flat=True)[:limit]
    return sum(1 for pk in list(due) if order_expire(order_id=pk))


def refund_execute(*, refund_id: int) -> Refund:
    """Send a requested refund to the gateway (idempotent: the refund number is the key)."""
    refund = Refund.objects.select_related("payment", "order").get(pk=refund_id)
    if refund.status == RefundStatus.DONE:
        return refund
    gateway = get_gateway(refund.payment.gateway)
    try:
        gateway_no = gateway.refund(
            out_trade_no=refund.payment.out_trade_no,
            amount=refund.amount,
            refund_no=f"RF{refund.pk}",
        )
    except Exception as exc:
        with transaction.atomic():
            refund = Refund.objects.select_for_update().get(pk=refund_id)
            refund.status = RefundStatus.FAILED
            refund.save(update_fields=["status"])
            _event(refund.order, "refund_failed", note=str(exc))
        raise
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status == RefundStatus.DONE:
            return refund
        refund.status, refund.gateway_refund_no, refund.done_at = (
            RefundStatus.DONE,
            gateway_no,
            timezone.now(),
        )
        refund.save(update_fields=["status", "gateway_refund_no", "done_at"])
        _event(refund.order, "refunded", note=f"{refund.amount} CNY")
    return refund


# Merchant processing -------------------------------------------------------------------------


def _merchant_line(line_id: int, merchant_id: int) -> tuple[Order, OrderLine]:
    line = OrderLine.objects.filter(pk=line_id, merchant_id=merchant_id).first()
    if line is None:
        raise NotFoundError(_("No such order line."))
    order = Order.objects.select_for_update().get(pk=line.order_id)
    line = OrderLine.objects.select_for_update().get(pk=line_id)
    return order, line


PROCESSABLE = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.ALLOCATED)


def line_accept(*, line_id: int, merchant_id: int, actor: Any) -> OrderLine:
    with transaction.atomic():
        order, line = _merchant_line(line_id, merchant_id)
        if line.status == LineStatus.ACCEPTED:
            return line
        if order.status not in PROCESSABLE or line.status != LineStatus.OPEN:
            raise DomainError(_("Only open lines of paid orders can be accepted."), code="not_open")
        line.status = LineStatus.ACCEPTED
        line.save(update_fields=["status"])
        _event(order, "line_accepted", actor=actor, note=f"{line.product_name} x {line.quantity}")
    return line


def line_cancel_out_of_stock(
    *, line_id: int, merchant_id: int, actor: Any, reason: str = ""
) -> OrderLine:
    """The merchant cannot supply a paid line: its stock is released and the buyer refunded."""
    with transaction.atomic():
        order, line = _merchant_line(line_id, merchant_id)
        if line.status == LineStatus.CANCELLED:
            return line
        if order.status not in PROCESSABLE:
            raise DomainError(
                _("Only lines of paid orders that are not packed yet can be cancelled."),
                code="not_open",
            )
        note = reason or _("Out of stock at the merchant.")
        _release_lines(order, [line], f"{line.ref} out of stock")
        line.status = LineStatus.CANCELLED
        line.refunded = line.amount
        line.save(update_fields=["status", "refunded"])
        _quota_give_back(order, line.goods_total + line.freight_share)
        StockNotice.objects.get_or_create(
            user_id=order.buyer_id,
            product_id=line.product_id,
            notified_at=None,
            defaults={"merchant_id": line.merchant_id},
        )
        _event(order, "line_out_of_stock", actor=actor, note=f"{line.product_name}: {note}")
        paid = order.payments.filter(status=PaymentStatus.PAID).first()
        still_open = order.lines.exclude(status=LineStatus.CANCELLED).exists()
        if still_open:
            if paid is not None:
                _refund(order, paid, line.amount, reason=str(note), actor=actor, line=line)
            _transition(order, OrderStatus.PARTIALLY_REFUNDED, actor=actor, note=note)
        else:
            if paid is not None:
                _refund(
                    order,
                    paid,
                    order.total - order.refunded_total,
                    reason=str(note),
                    actor=actor,
                    line=line,
                )
            _transition(order, OrderStatus.CANCELLED, actor=actor, note=note)
    return line


# Back-in-stock requests --------------------------------------------------------------------


def stock_notice_request(*, user: Any, product_id: int) -> StockNotice:
    """Remember that this buyer wants to hear when the product is back (idempotent)."""
    product = _listed_product(product_id)
    try:
        with transaction.atomic():
            notice, _created = StockNotice.objects.get_or_create(
                user=user,
                product_id=product.pk,
                notified_at=None,
                defaults={"merchant_id": product.merchant_id},
            )
    except IntegrityError:
        notice = StockNotice.objects.get(user=user, product_id=product.pk, notified_at=None)
    return notice


# Fulfilment: pick, pack and ship by item number (the warehouse stations call these) ----------


def _fulfilment_order(order_number: str) -> Order:
    order = Order.objects.select_for_update().filter(number=order_number.strip().upper()).first()
    if order is None:
        raise NotFoundError(
            _("No order has the number “%(number)s”.") % {"number": order_number},
            code="unknown_order",
        )
    return order


def _open_lines(order: Order) -> list[OrderLine]:
    return [
        line
        for line in order.lines.exclude(status=LineStatus.CANCELLED).order_by("id")
        if line.reservation_id
    ]


def fulfil_pick(*, order_number: str, item_number: str, actor: Any) -> OrderLine:
    """Pick a scanned unit for the order: it must be available and of a product still to pick."""
    with transaction.atomic():
        order = _fulfilment_order(order_number)
        if order.status not in (
            OrderStatus.PAID,
            OrderStatus.PARTIALLY_REFUNDED,
            OrderStatus.ALLOCATED,
        ):
            raise DomainError(
                _("Order %(number)s is %(status)s: there is nothing to pick.")
                % {"number": order.number, "status": order.get_status_display()},
                code="not_pickable",
            )
        unit = warehouse_selectors.unit_get(item_number=item_number)
        if unit is None:
            raise DomainError(
                _("No unit has the item number “%(item)s”.") % {"item": item_number},
                code="unknown_unit",
            )
        lines = _open_lines(order)
        progress = warehouse_selectors.reservation_progress(
            reservation_ids=[line.reservation_id for line in lines]
        )
        wanted = [line for line in lines if line.product_id == unit.product_id]
        if not wanted:
            raise DomainError(
                _("%(item)s is %(product)s, which this order does not contain.")
                % {"item": unit.item_number, "product": unit.product.name},
                code="wrong_product",
            )
        line = next((ln for ln in wanted if progress[ln.reservation_id].to_pick > 0), None)
        if line is None:
            raise DomainError(
                _("Every unit of %(product)s for this order is picked already.")
                % {"product": unit.product.name},
                code="nothing_to_pick",
            )
        warehouse_services.unit_pick(
            item_number=unit.item_number, reservation_id=line.reservation_id, actor=actor
        )
        if order.status != OrderStatus.ALLOCATED:
            _transition(order, OrderStatus.ALLOCATED, actor=actor, note=_("Picking started."))
    return line


def fulfil_pack_scan(*, order_number: str, item_number: str, actor: Any) -> Any:
    """Put a scanned unit into the order's open parcel (a wrong, duplicate or shipped unit is
    refused with the reason)."""
    with transaction.atomic():
        order = _fulfilment_order(order_number)
        if order.status != OrderStatus.ALLOCATED:
            raise DomainError(
                _("Order %(number)s is %(status)s: it cannot be packed now.")
                % {"number": order.number, "status": order.get_status_display()},
                code="not_packable",
            )
        parcel = warehouse_services.parcel_open(order_ref=order.number, actor=actor)
        warehouse_services.parcel_add_unit(
            parcel_code=parcel.code,
            item_number=item_number,
            reservation_ids=[line.reservation_id for line in _open_lines(order)],
            actor=actor,
        )
    return parcel


def _documents(order: Order, payment: Payment | None, shipment: Any, parcel: Any) -> tuple:
    """The order, payment and waybill documents (CEB311 / CEB411 / CEB511 in substance)."""
    order_doc = {
        "order_no": order.number,
        "goods_value": str(order.goods_total),
        "freight": str(order.shipping_total),
        "tax_total": str(order.tax_total + order.duty_total),
        "discount": "0.00",
        "actual_paid": str(order.total),
        "currency": order.currency,
        "orderer_name": order.orderer_name,
        "orderer_id_index": order.orderer_id_index,
        "orderer_id_masked": order.orderer_id_masked,
        "consignee": order.recipient,
        "consignee_phone": order.phone,
        "consignee_address": f"{order.province} {order.city} {order.district} {order.line1}",
        "lines": [
            {
                "hs_code": line.hs_code,
                "name": line.product_name,
                "quantity": line.quantity,
                "price": str(line.unit_price),
                "total": str(line.goods_total),
            }
            for line in _open_lines(order)
        ],
    }
    payment_doc = {
        "order_no": order.number,
        "pay_transaction_id": payment.gateway_trade_no if payment else "",
        "amount_paid": str(payment.amount) if payment else "0",
        "currency": payment.currency if payment else "",
        "payer_name": payment.payer_name if payment else "",
        "paid_at": payment.paid_at.isoformat() if payment and payment.paid_at else "",
    }
    waybill_doc = {
        "order_no": order.number,
        "carrier": shipment.carrier_code,
        "logistics_no": shipment.waybill,
        "weight_grams": parcel.weight_grams,
        "consignee": order.recipient,
        "consignee_phone": order.phone,
    }
    return order_doc, payment_doc, waybill_doc


def fulfil_pack_close(*, order_number: str, weight_grams: int, actor: Any) -> Any:
    """The order's units are all in the parcel: weigh it, book the carrier, declare to customs."""
    with transaction.atomic():
        order = _fulfilment_order(order_number)
        if order.status == OrderStatus.PACKED:
            return warehouse_selectors.parcels_for_order(order_ref=order.number)[-1]
        if order.status != OrderStatus.ALLOCATED:
            raise DomainError(
                _("Order %(number)s is %(status)s: it cannot be packed now.")
                % {"number": order.number, "status": order.get_status_display()},
                code="not_packable",
            )
        lines = _open_lines(order)
        progress = warehouse_selectors.reservation_progress(
            reservation_ids=[line.reservation_id for line in lines]
        )
        missing = sum(line.quantity - progress[line.reservation_id].packed for line in lines)
        if missing:
            raise DomainError(
                ngettext(
                    "%(n)s unit of this order is not in the parcel yet.",
                    "%(n)s units of this order are not in the parcel yet.",
                    missing,
                )
                % {"n": missing},
                code="not_all_packed",
            )
        parcel = warehouse_services.parcel_open(order_ref=order.number, actor=actor)
        parcel = warehouse_services.parcel_close(
            parcel_code=parcel.code, weight_grams=weight_grams, actor=actor
        )
        shipment = logistics_services.shipment_create(
            parcel_code=parcel.code,
            order_ref=order.number,
            weight_grams=weight_grams,
            consignee={"name": order.recipient, "phone": order.phone, "country": order.country},
        )
        parcel = warehouse_services.parcel_set_waybill(
            parcel_code=parcel.code, carrier_code=shipment.carrier_code, waybill=shipment.waybill
        )
        regime = logistics_selectors.regime_get(code=order.regime_code)
        if regime is not None and regime.requires_orderer_identity:
            paid = order.payments.filter(status=PaymentStatus.PAID).first()
            order_doc, payment_doc, waybill_doc = _documents(order, paid, shipment, parcel)
            logistics_services.declaration_file(
                order_ref=order.number,
                regime_code=order.regime_code,
                order_document=order_doc,
                payment_document=payment_doc,
                waybill_document=waybill_doc,
            )
        _transition(order, OrderStatus.PACKED, actor=actor, note=shipment.waybill)
    return parcel


def customs_rejection_notice(*, declaration: Any, order_number: str, parcel_code: str) -> str:
    """What the clerk reads when customs refused the order of this parcel ('' when it did not)."""
    if declaration is None or declaration.status != "rejected":
        return ""
    return _(
        "Customs rejected order %(number)s: %(reason)s Parcel %(parcel)s must not "
        "ship: unpack it and put its units back in stock."
    ) % {"number": order_number, "reason": declaration.reason, "parcel": parcel_code}


def fulfil_ship(*, parcel_code: str, actor: Any) -> Order:
    """Handover at the ship station: units shipped, tracking starts, the buyer's order shipped."""
    parcel = warehouse_selectors.parcel_get(code=parcel_code)
    if parcel is None:
        raise DomainError(
            _("No parcel has the code “%(code)s”.") % {"code": parcel_code}, code="unknown_parcel"
        )
    with transaction.atomic():
        order = _fulfilment_order(parcel.order_ref)
        if order.status == OrderStatus.SHIPPED and parcel.status == "shipped":
            return order
        declaration = logistics_selectors.declaration_for(order_ref=order.number)
        refusal = customs_rejection_notice(
            declaration=declaration, order_number=order.number, parcel_code=parcel.code
        )
        if refusal:
            raise DomainError(refusal, code="customs_rejected")
        if order.status != OrderStatus.PACKED:
            raise DomainError(
                _("Order %(number)s is %(status)s: this parcel must not ship.")
                % {"number": order.number, "status": order.get_status_display()},
                code="not_shippable",
            )
        regime = logistics_selectors.regime_get(code=order.regime_code)
        needs_release = regime is not None and regime.requires_orderer_identity
        if needs_release and (declaration is None or declaration.status != "released"):
            reason = declaration.reason if declaration else ""
            raise DomainError(
                _("Customs has not released order %(number)s (%(status)s). %(reason)s")
                % {
                    "number": order.number,
                    "status": declaration.get_status_display() if declaration else "—",
                    "reason": reason,
                },
                code="customs_not_released",
            )
        parcel = warehouse_services.parcel_ship(parcel_code=parcel.code, actor=actor)
        logistics_services.shipment_handed_over(parcel_code=parcel.code)
        _transition(order, OrderStatus.SHIPPED, actor=actor, note=parcel.waybill)
    return order


def parcel_delivered(*, order_ref: str, parcel_code: str) -> None:
    """The carrier delivered a parcel (called inside logistics' transaction)."""
    warehouse_services.parcel_deliver(parcel_code=parcel_code)
    order = _fulfilment_order(order_ref)
    parcels = warehouse_selectors.parcels_for_order(order_ref=order_ref)
    if all(p.status in ("delivered", "cancelled") for p in parcels):
        _transition(order, OrderStatus.DELIVERED, note=_("Delivered by the carrier."))
    # Surveys (seed 000 S3): once the delivery is stored, invite the buyer of each unit. A
    # failure there never undoes a delivery; the survey sweep invites whoever was missed.
    transaction.on_commit(lambda: _survey_invite(parcel_code), robust=True)


def _survey_invite(parcel_code: str) -> None:
    from aftersales import services as aftersales_services  # aftersales reads orders

    aftersales_services.invitations_create_for_parcel(parcel_code=parcel_code)


def order_customs_rejected(*, order_ref: str, reason: str) -> None:
    """Customs refused the declaration: the parcel is unpacked, the order cancelled and refunded."""
    order = _fulfilment_order(order_ref)
    if order.status not in (OrderStatus.PACKED, OrderStatus.ALLOCATED):
        return
    for parcel in warehouse_selectors.parcels_for_order(order_ref=order_ref):
        warehouse_services.parcel_unpack(
            parcel_code=parcel.code, actor=None, note=f"customs rejected {order_ref}"
        )
    _cancel_locked(
        order, actor=None, reason=_("Customs rejected the order: %(reason)s") % {"reason": reason}
    )
