"""Orders in the admin: merchants process their own lines; staff read orders, payments, refunds.

Nothing here edits an order directly: processing actions call orders.services, and orders,
payments, callbacks and refunds are read-only records.
"""

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import MerchantScopedAdmin, ReadOnlyAdmin, is_platform_staff
from core.errors import DomainError
from logistics import selectors as logistics_selectors

from . import services
from .models import Order, OrderEvent, OrderLine, Payment, PaymentCallback, Refund, StockNotice
from .states import LineStatus


class OrderLineInline(ReadOnlyAdmin, admin.TabularInline):
    model = OrderLine
    fields = [
        "product_name",
        "merchant_name",
        "quantity",
        "unit_price",
        "tax",
        "status",
        "refunded",
    ]
    readonly_fields = fields
    extra = 0


class OrderEventInline(ReadOnlyAdmin, admin.TabularInline):
    model = OrderEvent
    fields = ["created_at", "kind", "from_status", "to_status", "actor", "note"]
    readonly_fields = fields
    extra = 0


class PaymentInline(ReadOnlyAdmin, admin.TabularInline):
    model = Payment
    fields = ["out_trade_no", "gateway", "amount", "status", "gateway_trade_no", "paid_at"]
    readonly_fields = fields
    extra = 0


class RefundInline(ReadOnlyAdmin, admin.TabularInline):
    model = Refund
    fields = ["created_at", "amount", "reason", "status", "line", "done_at"]
    readonly_fields = fields
    extra = 0


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Whole orders (every merchant's lines, the buyer's address): platform staff and customer
    service only; merchant staff work on their own lines below."""

    list_display = ["number", "buyer", "status", "total", "regime_code", "created_at"]
    list_filter = ["status", "regime_code"]
    search_fields = ["number", "buyer__email", "recipient"]
    list_select_related = ["buyer"]
    date_hierarchy = "created_at"
    inlines = [OrderLineInline, PaymentInline, RefundInline, OrderEventInline]
    exclude = ["orderer_id_encrypted", "orderer_id_index"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Order._meta.fields if f.name not in self.exclude]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not request.user.merchant_id and super().has_view_permission(request, obj)


@admin.register(OrderLine)
class OrderLineAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    list_display = [
        "order_number",
        "product_name",
        "quantity",
        "unit_price",
        "status",
        "order_status",
        "tracking",
        "order_placed",
    ]
    list_filter = ["status", "order__status"]
    search_fields = ["order__number", "product_name"]
    list_select_related = ["order"]
    actions = ["accept_lines", "cancel_out_of_stock"]
    fields = [
        "order_number",
        "order_status",
        "product",
        "product_name",
        "quantity",
        "unit_price",
        "goods_total",
        "tax",
        "status",
        "refunded",
        "ship_to",
    ]
    readonly_fields = fields

    @admin.display(description=_("order"), ordering="order__number")
    def order_number(self, line: OrderLine) -> str:
        return line.order.number

    @admin.display(description=_("order status"))
    def order_status(self, line: OrderLine) -> str:
        return line.order.get_status_display()

    def get_queryset(self, request: HttpRequest):
        # The latest waybill and tracking status of each line's order: one subquery, no N+1.
        return (
            super()
            .get_queryset(request)
            .annotate(
                tracking=logistics_selectors.tracking_expression(order_ref_field="order__number")
            )
        )

    @admin.display(description=_("waybill and tracking"))
    def tracking(self, line: OrderLine) -> str:
        return line.tracking or "—"

    @admin.display(description=_("placed at"), ordering="order__created_at")
    def order_placed(self, line: OrderLine) -> Any:
        return line.order.created_at

    @admin.display(description=_("ship to"))
    def ship_to(self, line: OrderLine) -> str:
        order = line.order
        return f"{order.city}, {order.province}, {order.country}"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        if not request.user.merchant_id and not is_platform_staff(request.user):
            return {}
        return actions

    def _merchant_of(self, request: HttpRequest, line: OrderLine) -> int:
        return line.merchant_id if is_platform_staff(request.user) else request.user.merchant_id

    def _run(self, request: HttpRequest, queryset, action, done: str) -> None:
        count, errors = 0, []
        for line in queryset.select_related("order"):
            try:
                action(line)
            except DomainError as err:
                errors.append(f"{line.order.number} · {line.product_name}: {err.message}")
            else:
                count += 1
        if count:
            self.message_user(request, done % {"n": count}, messages.SUCCESS)
        for error in errors:
            self.message_user(request, error, messages.ERROR)

    @admin.action(description=_("Accept the selected lines"))
    def accept_lines(self, request: HttpRequest, queryset) -> None:
        self._run(
            request,
            queryset,
            lambda line: services.line_accept(
                line_id=line.pk, merchant_id=self._merchant_of(request, line), actor=request.user
            ),
            ngettext("%(n)s line accepted.", "%(n)s lines accepted.", queryset.count()),
        )

    @admin.action(description=_("Out of stock: cancel the selected lines and refund the buyer"))
    def cancel_out_of_stock(self, request: HttpRequest, queryset) -> None:
        self._run(
            request,
            queryset.exclude(status=LineStatus.CANCELLED),
            lambda line: services.line_cancel_out_of_stock(
                line_id=line.pk, merchant_id=self._merchant_of(request, line), actor=request.user
            ),
            ngettext(
                "%(n)s line cancelled and refunded.",
                "%(n)s lines cancelled and refunded.",
                queryset.count(),
            ),
        )


@admin.register(StockNotice)
class StockNoticeAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    list_display = ["product", "created_at", "notified_at"]
    list_filter = [("notified_at", admin.EmptyFieldListFilter)]
    search_fields = ["product__name"]
    list_select_related = ["product"]
    fields = ["product", "created_at", "notified_at"]
    readonly_fields = fields


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["out_trade_no", "order", "gateway", "amount", "status", "paid_at"]
    list_filter = ["status", "gateway"]
    search_fields = ["out_trade_no", "order__number", "gateway_trade_no"]
    list_select_related = ["order"]


@admin.register(PaymentCallback)
class PaymentCallbackAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["received_at", "gateway", "out_trade_no", "signature_ok", "outcome"]
    list_filter = ["gateway", "signature_ok", "outcome"]
    search_fields = ["out_trade_no"]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["order", "amount", "reason", "status", "created_at", "done_at"]
    list_filter = ["status"]
    search_fields = ["order__number"]
    list_select_related = ["order"]
