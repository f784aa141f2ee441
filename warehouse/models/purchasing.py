from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class InboundStatus(models.TextChoices):
    ANNOUNCED = "announced", _("Announced")
    RECEIVING = "receiving", _("Receiving")
    RECEIVED = "received", _("Received")
    CANCELLED = "cancelled", _("Cancelled")


class InboundShipment(models.Model):
    """Goods a merchant sends to the platform's warehouse (an advance shipping notice)."""

    reference = models.CharField(_("reference"), max_length=20, unique=True)
    merchant = models.ForeignKey(
        "accounts.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+"
    )
    carrier = models.CharField(_("carrier"), max_length=60)
    waybill = models.CharField(_("waybill number"), max_length=60)
    expected_on = models.DateField(_("expected on"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=InboundStatus.choices, default=InboundStatus.ANNOUNCED
    )
    announced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("announced at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("inbound shipment")
        verbose_name_plural = _("inbound shipments")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["merchant", "-created_at"], name="inbound_merchant")]

    def __str__(self) -> str:
        return self.reference


class InboundLine(models.Model):
    shipment = models.ForeignKey(InboundShipment, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "catalog.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    quantity_announced = models.PositiveIntegerField(_("quantity announced"))
    quantity_received = models.PositiveIntegerField(_("quantity received"), default=0)

    class Meta:
        verbose_name = _("inbound line")
        verbose_name_plural = _("inbound lines")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "product"], name="one_line_per_product"),
            models.CheckConstraint(condition=Q(quantity_announced__gte=0), name="line_qty_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id}: {self.quantity_announced} x {self.product_id}"


class Receipt(models.Model):
    """One receiving session at the station: the units it created share a label batch."""

    shipment = models.ForeignKey(InboundShipment, on_delete=models.PROTECT, related_name="receipts")
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    unit_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"RCP-{self.pk}"


class DiscrepancyKind(models.TextChoices):
    SHORT = "short", _("Fewer than announced")
    OVER = "over", _("More than announced")
    WRONG_PRODUCT = "wrong_product", _("Product not in the announcement")
    DAMAGED = "damaged", _("Damaged on arrival")


class InboundDiscrepancy(models.Model):
    """What arrived differs from what was announced: recorded, never hidden."""

    shipment = models.ForeignKey(
        InboundShipment, on_delete=models.PROTECT, related_name="discrepancies"
    )
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=DiscrepancyKind.choices)
    quantity = models.PositiveIntegerField(_("quantity"))
    note = models.TextField(_("note"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("inbound discrepancy")
        verbose_name_plural = _("inbound discrepancies")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.shipment_id} {self.kind} {self.quantity}"


class InboundEvent(models.Model):
    shipment = models.ForeignKey(InboundShipment, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=10, choices=InboundStatus.choices, blank=True)
    to_status = models.CharField(max_length=10, choices=InboundStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.shipment_id}: {self.from_status or '-'} -> {self.to_status}"
