"""Cart, checkout, payment pages, the buyer's orders, and the payment webhooks."""

import contextlib
import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors as accounts_selectors
from catalog import selectors as catalog_selectors
from core import crypto
from core.errors import DomainError
from core.money import cents
from core.validators import normalize_cn_resident_id
from logistics import selectors as logistics_selectors

from . import selectors, services
from .forms import CartLineForm, CheckoutForm, SandboxPayForm
from .models import Payment, SandboxTrade, SandboxTradeStatus
from .payments import get_gateway
from .payments.sandbox import NotifyMode
from .states import PaymentStatus

logger = logging.getLogger(__name__)
SESSION_CART = "cart_id"
SESSION_COUNT = "cart_n"


# Cart ------------------------------------------------------------------------------------


def _cart(request: HttpRequest, *, create: bool):
    """The visitor's cart; after login the anonymous cart's lines move into the buyer's."""
    anonymous_id = request.session.get(SESSION_CART)
    if request.user.is_authenticated:
        if anonymous_id:
            cart = services.cart_merge(anonymous_cart_id=anonymous_id, user=request.user)
            del request.session[SESSION_CART]
            return cart
        if create:
            return services.cart_get_or_create(user=request.user)
        return selectors.cart_for_user(user=request.user)
    if not anonymous_id and not create:
        return None
    cart = services.cart_get_or_create(cart_id=anonymous_id)
    request.session[SESSION_CART] = cart.pk
    return cart


def _remember_count(request: HttpRequest, view: selectors.CartView) -> None:
    """The header's cart badge reads the session (no query on other pages); keep it true."""
    if request.session.get(SESSION_COUNT, 0) != view.count:
        request.session[SESSION_COUNT] = view.count


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


@require_http_methods(["GET", "POST"])
def cart(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = CartLineForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                messages.error(request, errors[0])
            return redirect("orders:cart")
        quantity = 0 if "remove" in request.POST else form.cleaned_data["quantity"]
        _change_line(request, form.cleaned_data["product"], quantity, add=False)
        return redirect("orders:cart")
    view = selectors.cart_view(cart=_cart(request, create=False))
    _remember_count(request, view)
    return render(request, "orders/cart.html", {"view": view})


def _change_line(request: HttpRequest, product_id: int, quantity: int, *, add: bool) -> bool:
    cart_obj = _cart(request, create=True)
    try:
        change = services.cart_set_quantity(
            cart=cart_obj, product_id=product_id, quantity=quantity, add=add
        )
    except DomainError as err:
        messages.error(request, err.message)
        return False
    if change.capped:
        messages.warning(
            request,
            _("Only %(n)s can be bought right now; your cart holds that many.")
            % {"n": change.limit},
        )
    elif change.line is None:
        messages.success(request, _("Removed from your cart."))
    else:
        messages.success(request, _("Your cart is updated."))
    request.session[SESSION_COUNT] = selectors.cart_count(cart_id=cart_obj.pk, user=request.user)
    return True


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    form = CartLineForm(request.POST)
    if not form.is_valid() or form.cleaned_data["quantity"] < 1:
        messages.error(request, _("Enter a quantity of at least 1."))
        return redirect(_next_url(request, reverse("orders:cart")))
    added = _change_line(
        request, form.cleaned_data["product"], form.cleaned_data["quantity"], add=True
    )
    return redirect("orders:cart" if added else _next_url(request, reverse("orders:cart")))


@login_required
@require_POST
def stock_notice(request: HttpRequest, product_id: int) -> HttpResponse:
    try:
        services.stock_notice_request(user=request.user, product_id=product_id)
    except DomainError as err:
        messages.error(request, err.message)
    else:
        messages.success(
            request, _("We will tell you when an authenticated unit is back in stock.")
        )
    return redirect(_next_url(request, reverse("catalog:product_list")))


# Checkout --------------------------------------------------------------------------------


def _quote(request, view, form_data, addresses):
    """The landed cost for the chosen address and method, and the options to choose from."""
    by_id = {a.pk: a for a in addresses}
    try:
        address = by_id.get(int(form_data.get("address") or 0))
    except (TypeError, ValueError):
        address = None
    address = address or (addresses[0] if addresses else None)
    country = address.country if address else ""
    shipping = selectors.shipping_options(country=country, weight_grams=view.weight_grams)
    codes = [m.code for m, _price in shipping]
    chosen = form_data.get("shipping_method")
    method = next((m for m, _p in shipping if m.code == chosen), shipping[0][0] if codes else None)
    regime = logistics_selectors.regime_for_destination(country=country)
    annual_used = Decimal(0)
    id_number = (form_data.get("orderer_id") or "").strip()
    if regime is not None and regime.requires_orderer_identity and id_number:
        with contextlib.suppress(ValidationError):  # the form reports a bad ID number
            annual_used = selectors.quota_used(
                id_index=crypto.blind_index(normalize_cn_resident_id(id_number))
            )
    rates = catalog_selectors.exchange_rates()
    cost = logistics_selectors.landed_cost(
        country=country,
        lines=[
            logistics_selectors.CostLine(
                row.product.pk, row.product.hs_code, row.quantity, row.unit_price_cny
            )
            for row in view.rows
        ],
        method=method,
        weight_grams=view.weight_grams,
        cny_per_unit={code: r.cny_per_unit for code, r in rates.items()},
        annual_used=annual_used,
    )
    currency = form_data.get("display_currency") or "CNY"
    rate = rates.get(currency)
    if currency not in settings.DISPLAY_CURRENCIES or rate is None:
        currency, rate = "CNY", rates["CNY"]
    return {
        "address": address,
        "shipping": shipping,
        "method": method,
        "regime": regime,
        "cost": cost,
        "display_currency": currency,
        "display_rate": rate,
        "display_total": cents(cost.total / rate.cny_per_unit),
        "annual_used": annual_used,
        "rows_by_merchant": _by_merchant(view.rows),
    }


def _by_merchant(rows: list[Any]) -> list[tuple[str, list[Any]]]:
    groups: dict[str, list[Any]] = {}
    for row in rows:
        groups.setdefault(row.product.merchant.name, []).append(row)
    return list(groups.items())


@login_required
@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    cart_obj = _cart(request, create=False)
    view = selectors.cart_view(cart=cart_obj)
    if not view.rows:
        messages.info(request, _("Your cart is empty."))
        return redirect("orders:cart")
    placing = request.method == "POST" and request.POST.get("action") == "place"
    # Placing re-checks stock itself (order_place): a line sold out since the form was shown is
    # reported there, in the form, as sold out; only showing the form sends a short cart back.
    if not view.ready and not placing:
        messages.warning(
            request, _("Some quantities are above what is in stock; adjust them first.")
        )
        return redirect("orders:cart")
    addresses = accounts_selectors.addresses_for_user(user=request.user)
    data = request.POST if request.method == "POST" else {}
    quote = _quote(request, view, data, addresses)
    initial = {
        "address": quote["address"].pk if quote["address"] else None,
        "shipping_method": quote["method"].code if quote["method"] else None,
        "expected_total": quote["cost"].total,
    }
    form = CheckoutForm(
        request.POST if placing else None,
        initial=initial if not placing else None,
        addresses=addresses,
        shipping=quote["shipping"],
    )
    if request.method == "POST" and not placing:  # "update totals": show the choices again
        form = CheckoutForm(
            initial={**dict(request.POST.items()), **initial},
            addresses=addresses,
            shipping=quote["shipping"],
        )
    if placing and form.is_valid():
        data = form.cleaned_data
        try:
            order = services.order_place(
                buyer=request.user,
                cart=cart_obj,
                address_id=data["address"],
                shipping_method=data["shipping_method"],
                display_currency=data["display_currency"],
                orderer=services.Orderer(data["orderer_name"], data["orderer_id"]),
                risk_notice_accepted=data["risk_notice"],
                expected_total=data["expected_total"],
            )
        except DomainError as err:
            if err.field and err.field in form.fields:
                form.add_error(err.field, err.message)
            else:
                form.add_error(None, err.message)
            if err.code == "total_changed":  # the new total is in the summary: accept it next
                form.data = form.data.copy()
                form.data["expected_total"] = str(quote["cost"].total)
        else:
            request.session[SESSION_COUNT] = 0
            return redirect("orders:pay", number=order.number)
    return render(
        request,
        "orders/checkout.html",
        {"view": view, "form": form, "addresses": addresses, **quote},
    )


# Payment ---------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest, number: str) -> HttpResponse:
    """Send the buyer to the gateway's hosted page for the order's open payment."""
    order = selectors.order_for_buyer(user=request.user, number=number)
    try:
        payment = services.payment_open(order=order)
    except DomainError as err:
        messages.error(request, err.message)
        return redirect("orders:detail", number=number)
    url = get_gateway(payment.gateway).start(
        payment=payment,
        subject=_("Provena order %(number)s") % {"number": order.number},
        payer_name=order.orderer_name,
        request=request,
    )
    return redirect(url)


@login_required
@require_http_methods(["GET", "POST"])
def sandbox_pay(request: HttpRequest, out_trade_no: str) -> HttpResponse:
    """The sandbox gateway's hosted page: the payer confirms or declines."""
    trade = SandboxTrade.objects.filter(out_trade_no=out_trade_no).first()
    payment = (
        Payment.objects.select_related("order")
        .filter(out_trade_no=out_trade_no, order__buyer=request.user)
        .first()
    )
    if trade is None or payment is None:
        raise Http404
    form = SandboxPayForm(request.POST or None, initial={"payer_name": trade.payer_name})
    if request.method == "POST" and trade.status != SandboxTradeStatus.WAITING:
        messages.info(request, _("This payment is already settled."))
        return redirect(trade.return_url)
    if request.method == "POST" and form.is_valid():
        paid = form.cleaned_data["outcome"] == "pay"
        mode = form.cleaned_data["mode"] or NotifyMode.NORMAL
        payer = form.cleaned_data["payer_name"] or trade.payer_name
        gateway = get_gateway("sandbox")
        gateway.settle(out_trade_no=out_trade_no, paid=paid, payer_name=payer)
        if mode != NotifyMode.SILENT:
            from .tasks import sandbox_notify

            copies = 3 if mode == NotifyMode.DUPLICATE else 1
            countdown = 30 if mode == NotifyMode.DELAYED else 0
            transaction.on_commit(
                lambda: sandbox_notify.apply_async(
                    args=(out_trade_no, mode, copies), countdown=countdown
                )
            )
        if paid:
            messages.info(
                request,
                _("Payment sent. Your order is marked paid as soon as the gateway confirms it."),
            )
        else:
            messages.warning(request, _("The payment was declined. You can try again."))
        return redirect(trade.return_url)
    return render(
        request, "orders/sandbox_pay.html", {"trade": trade, "form": form, "order": payment.order}
    )


@csrf_exempt
@require_POST
def payment_webhook(request: HttpRequest, gateway: str) -> HttpResponse:
    """Gateways' asynchronous notify callbacks: stored, verified, applied idempotently."""
    try:
        backend = get_gateway(gateway)
    except LookupError:
        raise Http404 from None
    acknowledged, outcome = services.payment_callback_receive(
        gateway_code=gateway, body=request.body, content_type=request.content_type or ""
    )
    if outcome not in ("paid", "duplicate"):
        logger.info("payment callback from %s: %s", gateway, outcome)
    if outcome == "bad_signature":
        return HttpResponse("bad signature", content_type="text/plain", status=401)
    return backend.acknowledge() if acknowledged else backend.reject()


# The buyer's orders ----------------------------------------------------------------------


@login_required
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    orders = list(selectors.orders_for_buyer(user=request.user)[:100])
    return render(request, "orders/order_list.html", {"orders": orders})


@login_required
@require_GET
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    order = selectors.order_for_buyer(user=request.user, number=number)
    return render(
        request,
        "orders/order_detail.html",
        {
            "order": order,
            "lines": list(order.lines.all()),
            "events": list(order.events.all()),
            "refunds": list(order.refunds.all()),
            "cancellable": selectors.order_is_cancellable(order),
            "display_total": selectors.order_display_total(order),
            "shipments": selectors.order_shipments(order),
            "awaits_payment": selectors.order_awaits_payment(order),
            "paid_payment": next(
                (p for p in order.payments.all() if p.status == PaymentStatus.PAID), None
            ),
        },
    )


@login_required
@require_POST
def order_check_payment(request: HttpRequest, number: str) -> HttpResponse:
    order = selectors.order_for_buyer(user=request.user, number=number)
    outcome = services.payment_sync(order=order)
    if outcome == "paid":
        messages.success(request, _("Payment confirmed by the gateway. Thank you!"))
    else:
        messages.info(request, _("The gateway has no payment for this order yet."))
    return redirect("orders:detail", number=number)


@login_required
@require_POST
def order_cancel(request: HttpRequest, number: str) -> HttpResponse:
    order = selectors.order_for_buyer(user=request.user, number=number)
    try:
        services.order_cancel(order_id=order.pk, actor=request.user)
    except DomainError as err:
        messages.error(request, err.message)
    else:
        messages.success(request, _("Your order is cancelled. Anything you paid is refunded."))
    return redirect("orders:detail", number=number)
