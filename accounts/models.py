from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.countries import COUNTRIES
from core.storage import private_storage
from core.validators import validate_e164


class ProvenaUserManager(UserManager):
    """Users log in by email; `username` is kept only as an internal, unique handle."""

    def create_user(self, username=None, email=None, password=None, **extra_fields):
        return super().create_user(username or email, email, password, **extra_fields)

    def create_superuser(self, username=None, email=None, password=None, **extra_fields):
        return super().create_superuser(username or email, email, password, **extra_fields)


class User(AbstractUser):
    email = models.EmailField(_("email address"), unique=True)
    # A merchant's staff belong to exactly one merchant; buyers and platform staff to none.
    merchant = models.ForeignKey(
        "accounts.Merchant",
        verbose_name=_("merchant"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
    )

    objects = ProvenaUserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email or self.username


class MessageChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    QQ = "qq", _("QQ")
    WECHAT = "wechat", _("WeChat")


class BuyerProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="buyer_profile"
    )
    full_name = models.CharField(_("full name"), max_length=100, blank=True)
    phone = models.CharField(
        _("mobile phone"), max_length=16, blank=True, validators=[validate_e164]
    )
    qq = models.CharField(_("QQ number"), max_length=12, blank=True)
    wechat_id = models.CharField(_("WeChat ID"), max_length=40, blank=True)
    preferred_channel = models.CharField(
        _("preferred message channel"),
        max_length=10,
        choices=MessageChannel.choices,
        default=MessageChannel.SMS,
    )
    timezone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    marketing_consent = models.BooleanField(_("marketing messages"), default=False)
    marketing_consent_at = models.DateTimeField(
        _("marketing consent changed"), null=True, blank=True
    )
    survey_consent = models.BooleanField(_("order surveys"), default=True)
    survey_consent_at = models.DateTimeField(_("survey consent changed"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("buyer profile")
        verbose_name_plural = _("buyer profiles")

    def __str__(self) -> str:
        return self.full_name or str(self.user)


class Address(models.Model):
    profile = models.ForeignKey(BuyerProfile, on_delete=models.CASCADE, related_name="addresses")
    recipient = models.CharField(_("recipient"), max_length=100)
    phone = models.CharField(_("phone"), max_length=16, validators=[validate_e164])
    country = models.CharField(_("country"), max_length=2, choices=COUNTRIES, default="CN")
    province = models.CharField(_("province / state"), max_length=60)
    city = models.CharField(_("city"), max_length=60)
    district = models.CharField(_("district"), max_length=60, blank=True)
    line1 = models.CharField(_("street address"), max_length=200)
    postal_code = models.CharField(_("postal code"), max_length=12, blank=True)
    is_default = models.BooleanField(_("default address"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        ordering = ["-is_default", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["profile"], condition=Q(is_default=True), name="one_default_address"
            )
        ]

    def __str__(self) -> str:
        return f"{self.recipient}, {self.city} {self.line1}"


class MerchantStatus(models.TextChoices):
    PENDING = "pending", _("Pending review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SUSPENDED = "suspended", _("Suspended")


def licence_upload_to(instance: "Merchant", filename: str) -> str:
    return f"merchant-licences/{instance.licence_number}/{filename}"


class Merchant(models.Model):
    name = models.CharField(_("company name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    country = models.CharField(_("country"), max_length=2, choices=COUNTRIES)
    licence_number = models.CharField(_("business licence number"), max_length=64, unique=True)
    licence_document = models.FileField(
        _("licence document"), upload_to=licence_upload_to, storage=private_storage
    )
    contact_name = models.CharField(_("contact person"), max_length=100)
    contact_email = models.EmailField(_("contact email"))
    contact_phone = models.CharField(_("contact phone"), max_length=16, validators=[validate_e164])
    status = models.CharField(
        _("status"), max_length=10, choices=MerchantStatus.choices, default=MerchantStatus.PENDING
    )
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("applicant"),
        on_delete=models.PROTECT,
        related_name="merchant_applications",
    )
    review_note = models.TextField(_("review note"), blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("applied at"), auto_now_add=True)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MerchantEvent(models.Model):
    """Append-only record of every change to a merchant's standing."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=10, choices=MerchantStatus.choices, blank=True)
    to_status = models.CharField(max_length=10, choices=MerchantStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("merchant event")
        verbose_name_plural = _("merchant events")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.merchant_id}: {self.from_status or '-'} -> {self.to_status}"
