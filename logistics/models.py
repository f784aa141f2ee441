"""Cross-border rules as data (effective-dated, edited by platform staff) and shipping methods.

A customs regime (China cross-border retail import, EU IOSS, ...) covers a set of destination
countries; its limits and tax rates are rows with an effective date range, so a rate change is a
new row, and an order placed on a given day is priced by the rows in force that day.
"""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

RATE = [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal("0.99"))]


class DutiableBasis(models.TextChoices):
    GOODS_AND_FREIGHT = "goods_freight", _("Goods and shipping")
    GOODS = "goods", _("Goods only")


class CustomsRegime(models.Model):
    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_zh = models.CharField(_("name (Simplified Chinese)"), max_length=100, blank=True)
    # Limits are stated in this currency (CNY for China, EUR for IOSS).
    currency = models.CharField(_("currency of the limits"), max_length=3)
    destinations = models.CharField(
        _("destination countries"),
        max_length=300,
        help_text=_("ISO country codes separated by commas, e.g. CN or DE,FR,IT."),
    )
    requires_orderer_identity = models.BooleanField(
        _("orderer real name and ID number required"), default=False
    )
    requires_risk_notice = models.BooleanField(_("risk notice must be accepted"), default=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("customs regime")
        verbose_name_plural = _("customs regimes")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.name_zh and (get_language() or "").lower().startswith("zh"):
            return self.name_zh
        return self.name

    @property
    def destination_set(self) -> set[str]:
        return {c.strip().upper() for c in self.destinations.split(",") if c.strip()}


class EffectiveDated(models.Model):
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(
        _("effective until"), null=True, blank=True, help_text=_("Last day in force; empty = open.")
    )

    class Meta:
        abstract = True


class RegimeRule(EffectiveDated):
    """Limits and tax factors of a regime for a period."""

    regime = models.ForeignKey(CustomsRegime, on_delete=models.PROTECT, related_name="rules")
    per_order_limit = models.DecimalField(
        _("limit per order"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    per_order_basis = models.CharField(
        _("the per-order limit applies to"),
        max_length=16,
        choices=DutiableBasis.choices,
        default=DutiableBasis.GOODS_AND_FREIGHT,
    )
    annual_limit = models.DecimalField(
        _("limit per orderer per calendar year"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
    )
    single_item_exception = models.BooleanField(
        _("one indivisible item may exceed the per-order limit (taxed in full)"), default=False
    )
    tax_factor = models.DecimalField(
        _("share of VAT and consumption tax charged"),
        max_digits=4,
        decimal_places=3,
        default=Decimal(1),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
    )
    tax_on_freight = models.BooleanField(_("shipping is taxed"), default=True)
    duty_per_tariff_heading = models.DecimalField(
        _("flat duty per HS sub-heading in the parcel"),
        max_digits=8,
        decimal_places=2,
        default=Decimal(0),
        help_text=_("In the regime's currency (EU: 3.00 EUR from 2026-07-01)."),
    )

    class Meta:
        verbose_name = _("regime rule")
        verbose_name_plural = _("regime rules")
        ordering = ["regime", "-effective_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=F("effective_from")),
                name="regime_rule_dates_ordered",
            ),
            models.UniqueConstraint(
                fields=["regime", "effective_from"], name="one_regime_rule_per_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.regime.code} from {self.effective_from}"


class TaxRate(EffectiveDated):
    """VAT / consumption tax / MFN tariff for goods whose HS code starts with `hs_prefix`.

    The longest matching prefix wins ('' matches everything); `destination` narrows a rate to
    one country of the regime (EU VAT differs by member state).
    """

    regime = models.ForeignKey(CustomsRegime, on_delete=models.PROTECT, related_name="tax_rates")
    hs_prefix = models.CharField(_("HS code prefix"), max_length=10, blank=True)
    destination = models.CharField(_("destination country"), max_length=2, blank=True)
    description = models.CharField(_("description"), max_length=120, blank=True)
    vat_rate = models.DecimalField(_("VAT rate"), max_digits=5, decimal_places=4, validators=RATE)
    consumption_tax_rate = models.DecimalField(
        _("consumption tax rate"),
        max_digits=5,
        decimal_places=4,
        default=Decimal(0),
        validators=RATE,
    )
    tariff_rate = models.DecimalField(
        _("tariff rate (full-tax orders)"),
        max_digits=5,
        decimal_places=4,
        default=Decimal(0),
        validators=RATE,
    )

    class Meta:
        verbose_name = _("tax rate")
        verbose_name_plural = _("tax rates")
        ordering = ["regime", "destination", "hs_prefix", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["regime", "hs_prefix", "destination", "effective_from"],
                name="one_tax_rate_per_start",
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=F("effective_from")),
                name="tax_rate_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        where = f"{self.destination} " if self.destination else ""
        return f"{self.regime.code} {where}{self.hs_prefix or '*'}: VAT {self.vat_rate}"


class ShippingMethod(models.Model):
    code = models.SlugField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_zh = models.CharField(_("name (Simplified Chinese)"), max_length=100, blank=True)
    regime = models.ForeignKey(
        CustomsRegime, on_delete=models.PROTECT, related_name="shipping_methods"
    )
    base_price_cny = models.DecimalField(_("base price (CNY)"), max_digits=8, decimal_places=2)
    per_kg_cny = models.DecimalField(
        _("price per started kg (CNY)"), max_digits=8, decimal_places=2, default=Decimal(0)
    )
    days_min = models.PositiveSmallIntegerField(_("promised days (from)"))
    days_max = models.PositiveSmallIntegerField(_("promised days (to)"))
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("shipping method")
        verbose_name_plural = _("shipping methods")
        ordering = ["position", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(days_max__gte=F("days_min")), name="shipping_days_ordered"
            ),
            models.CheckConstraint(
                condition=Q(base_price_cny__gte=0) & Q(per_kg_cny__gte=0),
                name="shipping_prices_nonneg",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.name_zh and (get_language() or "").lower().startswith("zh"):
            return self.name_zh
        return self.name


# Carriers and tracking ----------------------------------------------------------------------


class TrackingStatus(models.TextChoices):
    INFO_RECEIVED = "info_received", _("Information received")
    IN_TRANSIT = "in_transit", _("In transit")
    CUSTOMS_PROCESSING = "customs_processing", _("Customs processing")
    CUSTOMS_RELEASED = "customs_released", _("Released by customs")
    OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
    DELIVERED = "delivered", _("Delivered")
    EXCEPTION = "exception", _("Exception")
    RETURNED_TO_SENDER = "returned_to_sender", _("Returned to sender")


# A shipment's status only moves forward along this order; an exception is recorded beside it.
TRACKING_RANK = {
    TrackingStatus.INFO_RECEIVED: 1,
    TrackingStatus.IN_TRANSIT: 2,
    TrackingStatus.CUSTOMS_PROCESSING: 3,
    TrackingStatus.CUSTOMS_RELEASED: 4,
    TrackingStatus.OUT_FOR_DELIVERY: 5,
    TrackingStatus.DELIVERED: 6,
    TrackingStatus.RETURNED_TO_SENDER: 6,
}


class Shipment(models.Model):
    """A parcel in a carrier's hands under its waybill number."""

    carrier_code = models.CharField(_("carrier"), max_length=20)
    waybill = models.CharField(_("waybill"), max_length=60)
    parcel_code = models.CharField(_("parcel"), max_length=16, unique=True)
    order_ref = models.CharField(_("order"), max_length=20, db_index=True)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=TrackingStatus.choices,
        default=TrackingStatus.INFO_RECEIVED,
    )
    exception_note = models.CharField(_("last exception"), max_length=200, blank=True)
    handed_over_at = models.DateTimeField(_("handed to the carrier"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["carrier_code", "waybill"], name="one_shipment_per_waybill"
            ),
            models.CheckConstraint(
                condition=Q(status__in=TrackingStatus.values), name="shipment_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.carrier_code} {self.waybill}"


class TrackingEvent(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="events")
    event_id = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=TrackingStatus.choices)
    description = models.CharField(max_length=200, blank=True)
    location = models.CharField(max_length=100, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("tracking event")
        verbose_name_plural = _("tracking events")
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "event_id"], name="one_tracking_event_per_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id} {self.status}"


# Customs declarations ------------------------------------------------------------------------


class DeclarationStatus(models.TextChoices):
    MISMATCH = "mismatch", _("Documents disagree")
    SUBMITTED = "submitted", _("Submitted")
    RELEASED = "released", _("Released")
    REJECTED = "rejected", _("Rejected")


class CustomsDeclaration(models.Model):
    """The order, payment and waybill documents of one cross-border order, checked against each
    other and declared; customs releases or rejects it."""

    order_ref = models.CharField(_("order"), max_length=20, unique=True)
    regime_code = models.CharField(_("customs regime"), max_length=20)
    status = models.CharField(_("status"), max_length=10, choices=DeclarationStatus.choices)
    order_document = models.JSONField(_("order document"), default=dict)
    payment_document = models.JSONField(_("payment document"), default=dict)
    waybill_document = models.JSONField(_("waybill document"), default=dict)
    mismatches = models.JSONField(_("disagreements"), default=list)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    authority_ref = models.CharField(_("customs reference"), max_length=40, blank=True)
    submissions = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("customs declaration")
        verbose_name_plural = _("customs declarations")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.order_ref} {self.status}"


class CustomsEvent(models.Model):
    declaration = models.ForeignKey(
        CustomsDeclaration, on_delete=models.PROTECT, related_name="events"
    )
    status = models.CharField(max_length=10, choices=DeclarationStatus.choices)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.declaration_id} {self.status}"
