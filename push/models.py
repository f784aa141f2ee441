"""The outbox: one row per message to a buyer's phone, its events, and nothing else.

Rows are written by push.services only. The sender claims due rows in batches (SKIP LOCKED) and
leases them through `next_attempt_at`; see push/services.py.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.validators import mask_phone

from .states import CLAIMABLE, Channel, MessageCategory, MessageStatus


class Message(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_messages"
    )
    category = models.CharField(_("category"), max_length=16, choices=MessageCategory.choices)
    purpose = models.CharField(_("purpose"), max_length=40)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, blank=True)
    # The address on that channel (E.164 phone, QQ number, WeChat openid): needed to send,
    # shown masked everywhere else.
    recipient = models.CharField(_("recipient"), max_length=64, blank=True)
    body = models.TextField(_("body"))
    link = models.URLField(_("link"), max_length=500, blank=True)
    # What goes out: body, link and the opt-out, composed once at enqueue.
    text = models.TextField(_("text sent"), blank=True)
    buyer_timezone = models.CharField(max_length=64, default="Asia/Shanghai")
    idempotency_key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    status = models.CharField(
        _("status"), max_length=12, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    # Why it was suppressed or failed (a stable code).
    reason = models.CharField(_("reason"), max_length=40, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Queued/held: when it may be sent; sending: when the claim's lease runs out.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    # An attempt may have reached the provider (timeout, worker died): ask it before resending.
    needs_check = models.BooleanField(default=False)
    provider_message_id = models.CharField(max_length=64, blank=True)
    provider_answer = models.CharField(_("provider's answer"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=MessageStatus.values), name="push_message_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(category__in=MessageCategory.values),
                name="push_message_category_valid",
            ),
            # Waiting rows always say when they are due (the sender's only index).
            models.CheckConstraint(
                condition=~Q(status__in=CLAIMABLE) | Q(next_attempt_at__isnull=False),
                name="push_message_due_when_waiting",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status__in=CLAIMABLE),
                name="push_message_due",
            ),
            models.Index(fields=["user", "-created_at"], name="push_message_user"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} → {self.masked_recipient} ({self.status})"

    @property
    def masked_recipient(self) -> str:
        if self.channel == Channel.SMS:
            return mask_phone(self.recipient)
        if len(self.recipient) <= 4:
            return "****" if self.recipient else ""
        return f"{self.recipient[:2]}****{self.recipient[-2:]}"


class MessageEvent(models.Model):
    """Append-only: every status change of a message, with the provider's answer if any."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("message event")
        verbose_name_plural = _("message events")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status}"
