from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from ..states import COUNTER_FIELDS, LocationUsage, MovementReason, UnitStatus


class Location(models.Model):
    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    usage = models.CharField(_("usage"), max_length=12, choices=LocationUsage.choices)
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"


class StockUnit(models.Model):
    """One physical item, under its own item number, from receipt to the buyer and back."""

    item_number = models.CharField(_("item number"), max_length=16, unique=True)
    product = models.ForeignKey(
        "catalog.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    merchant = models.ForeignKey(
        "accounts.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+"
    )
    inbound_line = models.ForeignKey(
        "warehouse.InboundLine",
        verbose_name=_("inbound line"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="units",
    )
    receipt = models.ForeignKey(
        "warehouse.Receipt", null=True, blank=True, on_delete=models.PROTECT, related_name="units"
    )
    status = models.CharField(_("status"), max_length=24, choices=UnitStatus.choices)
    location = models.ForeignKey(
        Location, verbose_name=_("location"), on_delete=models.PROTECT, related_name="units"
    )
    reservation = models.ForeignKey(
        "warehouse.Reservation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="units",
    )
    parcel = models.ForeignKey(
        "warehouse.Parcel",
        verbose_name=_("parcel"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="units",
    )
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stock unit")
        verbose_name_plural = _("stock units")
        indexes = [
            models.Index(fields=["product", "status"], name="unit_product_status"),
            models.Index(fields=["status", "received_at"], name="unit_status_age"),
            models.Index(fields=["location", "status"], name="unit_location_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=UnitStatus.values), name="unit_status_valid"
            ),
            # A unit is tied to an order's reservation exactly while it is picked or later.
            models.CheckConstraint(
                condition=Q(reservation__isnull=True)
                | Q(status__in=["picked", "packed", "shipped", "delivered"]),
                name="unit_reservation_only_when_allocated",
            ),
            # A unit is in a parcel exactly from packing on (a unit ships once, in one box).
            models.CheckConstraint(
                condition=Q(parcel__isnull=True) | Q(status__in=["packed", "shipped", "delivered"]),
                name="unit_parcel_only_when_packed",
            ),
        ]

    def __str__(self) -> str:
        return self.item_number


class UnitMovement(models.Model):
    """Append-only ledger: every change of a unit's status or place, in the same transaction.

    Never updated or deleted (a PostgreSQL trigger refuses it); corrections are new movements.
    """

    unit = models.ForeignKey(StockUnit, on_delete=models.PROTECT, related_name="movements")
    from_status = models.CharField(max_length=24, choices=UnitStatus.choices, blank=True)
    to_status = models.CharField(max_length=24, choices=UnitStatus.choices)
    from_location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=24, choices=MovementReason.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    document = models.CharField(max_length=40, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("unit movement")
        verbose_name_plural = _("unit movements")
        ordering = ["id"]
        indexes = [models.Index(fields=["unit", "id"], name="movement_unit_seq")]

    def __str__(self) -> str:
        return f"{self.unit_id}: {self.from_status or '∅'} -> {self.to_status} ({self.reason})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Unit movements are immutable; record a new movement instead.")
        super().save(*args, **kwargs)


class ProductStock(models.Model):
    """Per-product counters, kept in step with unit statuses by warehouse.services.

    Sellable = available - reserved: one indexed row read for the storefront, never a COUNT.
    """

    product = models.OneToOneField(
        "catalog.Product", primary_key=True, on_delete=models.PROTECT, related_name="+"
    )
    merchant = models.ForeignKey("accounts.Merchant", on_delete=models.PROTECT, related_name="+")
    available = models.PositiveIntegerField(_("available"), default=0)
    reserved = models.PositiveIntegerField(_("reserved"), default=0)
    allocated = models.PositiveIntegerField(_("picked or packed"), default=0)
    in_appraisal = models.PositiveIntegerField(_("in appraisal"), default=0)
    in_quarantine = models.PositiveIntegerField(_("in quarantine"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    reorder_point = models.PositiveIntegerField(
        _("reorder point"),
        default=0,
        help_text=_("Open an out-of-stock record when sellable stock falls to this level."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("product stock")
        verbose_name_plural = _("product stock")
        constraints = [
            models.CheckConstraint(
                condition=Q(reserved__lte=F("available")), name="stock_reserved_within_available"
            ),
            *[
                models.CheckConstraint(condition=Q(**{f"{f}__gte": 0}), name=f"stock_{f}_nonneg")
                for f in COUNTER_FIELDS
            ],
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.sellable} sellable"

    @property
    def sellable(self) -> int:
        return self.available - self.reserved


class ReservationStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    RELEASED = "released", _("Released")
    FULFILLED = "fulfilled", _("Fulfilled (all units picked)")


class Reservation(models.Model):
    """N units of a product held for an order; specific units are assigned when picked."""

    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    picked = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=ReservationStatus.choices, default=ReservationStatus.ACTIVE
    )
    # The orders app's line reference (set when the reservation is committed to an order line).
    order_line_ref = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="reservation_quantity_pos"),
            models.CheckConstraint(
                condition=Q(picked__lte=F("quantity")), name="reservation_picked_le_quantity"
            ),
        ]

    def __str__(self) -> str:
        return f"R{self.pk}: {self.quantity} x {self.product_id} ({self.status})"


class ReservationEvent(models.Model):
    reservation = models.ForeignKey(Reservation, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=20)
    quantity = models.IntegerField()
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.reservation_id} {self.kind} {self.quantity}"


class OutOfStockRecord(models.Model):
    """Opened when sellable stock reaches the reorder point (default 0); closed when it is back."""

    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    merchant = models.ForeignKey("accounts.Merchant", on_delete=models.PROTECT, related_name="+")
    reorder_point = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("out-of-stock record")
        verbose_name_plural = _("out-of-stock records")
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["product"], condition=Q(closed_at__isnull=True), name="one_open_oos_record"
            )
        ]

    def __str__(self) -> str:
        return f"{self.product_id} out of stock since {self.opened_at:%Y-%m-%d}"


class CountStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class StockCount(models.Model):
    """A cycle count of one location: scanned units vs the units the ledger puts there."""

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="counts")
    status = models.CharField(max_length=8, choices=CountStatus.choices, default=CountStatus.OPEN)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    expected = models.PositiveIntegerField(default=0)
    found = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0)
    relocated = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("stock count")
        verbose_name_plural = _("stock counts")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"CNT-{self.pk} {self.location_id}"


class StockCountScan(models.Model):
    count = models.ForeignKey(StockCount, on_delete=models.CASCADE, related_name="scans")
    unit = models.ForeignKey(StockUnit, on_delete=models.PROTECT, related_name="+")
    scanned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["count", "unit"], name="one_scan_per_unit_per_count")
        ]

    def __str__(self) -> str:
        return f"{self.count_id}:{self.unit_id}"
