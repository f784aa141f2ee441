"""Carts, orders with their lines and events, payments, callbacks, refunds and quota.

Amounts are Decimal CNY. An order snapshots everything later edits could change: product names,
merchants, prices, taxes, the address, the shipping method and the exchange rates used.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round
from django.utils.translation import gettext_lazy as _

from .states import (
    OPEN_FOR_FULFILMENT,
    LineStatus,
    OrderStatus,
    PaymentStatus,
    RefundStatus,
)

MONEY = {"max_digits": 12, "decimal_places": 2}


class Cart(models.Model):
    """A signed-in buyer's cart, or an anonymous one whose id lives in the session."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("cart")
        verbose_name_plural = _("carts")

    def __str__(self) -> str:
        return f"cart {self.pk}"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField()
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "product"], name="one_cart_line_per_product"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="cart_line_quantity_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"


class Order(models.Model):
    number = models.CharField(_("order number"), max_length=20, unique=True)
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("buyer"),
        on_delete=models.PROTECT,
        related_name="orders",
    )
    status = models.CharField(
        _("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING_PAYMENT
    )
    regime_code = models.CharField(_("customs regime"), max_length=20)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    goods_total = models.DecimalField(_("goods"), **MONEY)
    shipping_total = models.DecimalField(_("shipping"), **MONEY)
    tax_total = models.DecimalField(_("import taxes"), **MONEY)
    duty_total = models.DecimalField(_("duties"), **MONEY, default=Decimal(0))
    total = models.DecimalField(_("total"), **MONEY)
    refunded_total = models.DecimalField(_("refunded"), **MONEY, default=Decimal(0))
    dutiable_value = models.DecimalField(_("dutiable value"), **MONEY)
    full_tax = models.BooleanField(_("taxed in full (single-item exception)"), default=False)
    # The buyer's display currency and the rates in force when the order was placed.
    display_currency = models.CharField(_("display currency"), max_length=3, default="CNY")
    fx_snapshot = models.JSONField(_("exchange rates used"), default=dict)
    # Shipping method snapshot.
    shipping_method_code = models.CharField(max_length=30)
    shipping_method_name = models.CharField(_("shipping method"), max_length=100)
    promised_days_min = models.PositiveSmallIntegerField()
    promised_days_max = models.PositiveSmallIntegerField()
    weight_grams = models.PositiveIntegerField(default=0)
    # Delivery address snapshot.
    recipient = models.CharField(_("recipient"), max_length=100)
    phone = models.CharField(_("phone"), max_length=16)
    country = models.CharField(_("country"), max_length=2)
    province = models.CharField(_("province / state"), max_length=60)
    city = models.CharField(_("city"), max_length=60)
    district = models.CharField(_("district"), max_length=60, blank=True)
    line1 = models.CharField(_("street address"), max_length=200)
    postal_code = models.CharField(_("postal code"), max_length=12, blank=True)
    # Orderer identity (China cross-border): the name, the ID number encrypted, and its blind
    # index (the annual quota's key). Empty for regimes that do not ask for them.
    orderer_name = models.CharField(_("orderer's real name"), max_length=60, blank=True)
    orderer_id_encrypted = models.TextField(blank=True)
    orderer_id_index = models.CharField(max_length=64, blank=True, db_index=True)
    orderer_id_masked = models.CharField(_("orderer's ID number"), max_length=24, blank=True)
    quota_year = models.PositiveSmallIntegerField(null=True, blank=True)
    risk_notice_accepted_at = models.DateTimeField(
        _("risk notice accepted at"), null=True, blank=True
    )
    risk_notice_version = models.CharField(max_length=20, blank=True)
    expires_at = models.DateTimeField(_("pay before"))
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    created_at = models.DateTimeField(_("placed at"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["buyer", "-created_at"], name="order_buyer_recent"),
            models.Index(fields=["status", "expires_at"], name="order_status_expiry"),
            # The pick station's queue (orders_to_fulfil): read in order, never sorted, however
            # many orders were ever placed or are waiting.
            models.Index(
                fields=["paid_at", "id"],
                name="order_fulfil_queue",
                condition=Q(status__in=sorted(OPEN_FOR_FULFILMENT)),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values), name="order_status_valid"
            ),
            # Rounded to cents: SQLite does this arithmetic in binary floating point, where
            # 2732.00 + 24.00 + 288.53 is 3044.5299999999997 (PostgreSQL's numeric is exact).
            models.CheckConstraint(
                condition=Q(
                    total=Round(
                        F("goods_total") + F("shipping_total") + F("tax_total") + F("duty_total"),
                        2,
                    )
                ),
                name="order_total_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(refunded_total__gte=0) & Q(refunded_total__lte=F("total")),
                name="order_refund_within_total",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="lines")
    product = models.ForeignKey(
        "catalog.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    merchant = models.ForeignKey(
        "accounts.Merchant",
        verbose_name=_("merchant"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Snapshots: later catalog edits never change an order.
    product_name = models.CharField(_("product"), max_length=200)
    product_slug = models.CharField(max_length=220)
    merchant_name = models.CharField(_("merchant"), max_length=200)
    hs_code = models.CharField(_("HS code"), max_length=10)
    list_price = models.DecimalField(_("listed price"), **MONEY)
    list_currency = models.CharField(max_length=3)
    unit_price = models.DecimalField(_("unit price (CNY)"), **MONEY)
    quantity = models.PositiveIntegerField(_("quantity"))
    goods_total = models.DecimalField(_("goods"), **MONEY)
    freight_share = models.DecimalField(_("share of shipping"), **MONEY)
    tax = models.DecimalField(_("import tax"), **MONEY)
    vat_rate = models.DecimalField(max_digits=5, decimal_places=4)
    consumption_tax_rate = models.DecimalField(max_digits=5, decimal_places=4)
    status = models.CharField(
        _("status"), max_length=10, choices=LineStatus.choices, default=LineStatus.OPEN
    )
    refunded = models.DecimalField(_("refunded"), **MONEY, default=Decimal(0))
    reservation_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["id"]
        indexes = [models.Index(fields=["merchant", "-id"], name="order_line_merchant")]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity_pos"),
            models.CheckConstraint(
                condition=Q(goods_total=Round(F("unit_price") * F("quantity"), 2)),
                name="order_line_goods_adds_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.pk} {self.quantity} x {self.product_name}"

    @property
    def ref(self) -> str:
        """The reference the warehouse keeps on this line's reservation."""
        return f"OL{self.pk}"

    @property
    def amount(self) -> Decimal:
        return self.goods_total + self.freight_share + self.tax


class OrderEvent(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=30)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind}"


class OrdererQuota(models.Model):
    """What an orderer ID number has used of the annual cross-border limit (CNY), per year."""

    id_index = models.CharField(max_length=64)
    year = models.PositiveSmallIntegerField()
    used = models.DecimalField(**MONEY, default=Decimal(0))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["id_index", "year"], name="one_quota_per_id_year"),
            models.CheckConstraint(condition=Q(used__gte=0), name="quota_used_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.id_index[:8]}… {self.year}: {self.used}"


class Payment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    gateway = models.CharField(_("gateway"), max_length=20)
    out_trade_no = models.CharField(_("payment number"), max_length=40, unique=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    status = models.CharField(
        _("status"), max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    gateway_trade_no = models.CharField(_("gateway transaction"), max_length=64, blank=True)
    payer_name = models.CharField(_("payer"), max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=Q(status="paid"), name="one_paid_payment_per_order"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_pos"),
        ]

    def __str__(self) -> str:
        return self.out_trade_no


class PaymentCallback(models.Model):
    """Every notify callback a gateway sent, verified or not, with what we made of it."""

    gateway = models.CharField(max_length=20)
    out_trade_no = models.CharField(max_length=40, blank=True, db_index=True)
    body = models.TextField()
    signature_ok = models.BooleanField(default=False)
    outcome = models.CharField(max_length=30)
    detail = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment callback")
        verbose_name_plural = _("payment callbacks")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.gateway} {self.out_trade_no} {self.outcome}"


class Refund(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    line = models.ForeignKey(
        OrderLine, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(_("amount"), **MONEY)
    reason = models.CharField(_("reason"), max_length=200)
    status = models.CharField(
        max_length=10, choices=RefundStatus.choices, default=RefundStatus.PENDING
    )
    gateway_refund_no = models.CharField(max_length=64, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_pos")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.amount}"


class StockNotice(models.Model):
    """A buyer asked to be told when an unavailable product is back (sent through push later)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey(
        "catalog.Product", verbose_name=_("product"), on_delete=models.CASCADE, related_name="+"
    )
    merchant = models.ForeignKey(
        "accounts.Merchant", verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(_("asked at"), auto_now_add=True)
    notified_at = models.DateTimeField(_("told at"), null=True, blank=True)

    class Meta:
        verbose_name = _("back-in-stock request")
        verbose_name_plural = _("back-in-stock requests")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "product"],
                condition=Q(notified_at__isnull=True),
                name="one_waiting_notice_per_buyer_product",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} waits for {self.product_id}"


class SandboxTradeStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting for the payer")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")


class SandboxTrade(models.Model):
    """The sandbox gateway's own book (what Alipay or WeChat Pay would keep on their side)."""

    out_trade_no = models.CharField(max_length=40, unique=True)
    trade_no = models.CharField(max_length=40, unique=True)
    subject = models.CharField(max_length=200)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    payer_name = models.CharField(max_length=60, blank=True)
    notify_url = models.URLField(max_length=300)
    return_url = models.CharField(max_length=300)
    status = models.CharField(
        max_length=10, choices=SandboxTradeStatus.choices, default=SandboxTradeStatus.WAITING
    )
    refunded = models.DecimalField(**MONEY, default=Decimal(0))
    notify_attempts = models.PositiveIntegerField(default=0)
    notify_acknowledged = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("sandbox trade")
        verbose_name_plural = _("sandbox trades")
        constraints = [
            models.CheckConstraint(
                condition=Q(refunded__gte=0) & Q(refunded__lte=F("amount")),
                name="sandbox_refund_within_amount",
            )
        ]

    def __str__(self) -> str:
        return self.out_trade_no


class SandboxRefund(models.Model):
    trade = models.ForeignKey(SandboxTrade, on_delete=models.CASCADE, related_name="refunds")
    refund_no = models.CharField(max_length=40, unique=True)
    amount = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.refund_no
