"""Packing and outbound: parcels of an order's units, from the pack station to the carrier."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ParcelStatus(models.TextChoices):
    PACKING = "packing", _("Being packed")
    PACKED = "packed", _("Packed, waiting for the carrier")
    SHIPPED = "shipped", _("Handed to the carrier")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Unpacked, units back in stock")


class Parcel(models.Model):
    """One box: units of one order, a weight, and (once packed) the carrier's waybill."""

    code = models.CharField(_("parcel code"), max_length=16, unique=True)
    order_ref = models.CharField(_("order"), max_length=20, db_index=True)
    status = models.CharField(
        _("status"), max_length=10, choices=ParcelStatus.choices, default=ParcelStatus.PACKING
    )
    weight_grams = models.PositiveIntegerField(_("weight (g)"), null=True, blank=True)
    carrier_code = models.CharField(_("carrier"), max_length=20, blank=True)
    waybill = models.CharField(_("waybill"), max_length=60, blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    packed_at = models.DateTimeField(null=True, blank=True)
    shipped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("parcel")
        verbose_name_plural = _("parcels")
        ordering = ["-opened_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="packing") | Q(weight_grams__gt=0),
                name="parcel_weighed_when_packed",
            ),
            models.UniqueConstraint(
                fields=["carrier_code", "waybill"],
                condition=~Q(waybill=""),
                name="one_parcel_per_waybill",
            ),
            # One box is open at a time per order at the pack station.
            models.UniqueConstraint(
                fields=["order_ref"],
                condition=Q(status="packing"),
                name="one_open_parcel_per_order",
            ),
        ]

    def __str__(self) -> str:
        return self.code
