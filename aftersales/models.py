"""Surveys after delivery (seed 000 S3/S4): questions, invitations per unit, answers, ratings.

One invitation per shipped unit (found by its item number), one response per invitation, the
overall rating 1..5 on every response. Ratings are never deleted: staff may only hide the text
of an abusive one, with a recorded reason; its stars still count.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .states import InvitationStatus, QuestionKind


class SurveyQuestion(models.Model):
    """A merchant's question for one product, or the default of a category for its products."""

    merchant = models.ForeignKey(
        "accounts.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+"
    )
    product = models.ForeignKey(
        "catalog.Product",
        verbose_name=_("product"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    category = models.ForeignKey(
        "catalog.Category",
        verbose_name=_("category (default for its products)"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    kind = models.CharField(
        _("kind"), max_length=8, choices=QuestionKind.choices, default=QuestionKind.STARS
    )
    prompt = models.CharField(_("question"), max_length=200)
    choices = models.TextField(
        _("choices"), blank=True, help_text=_("Multiple choice only: one choice per line.")
    )
    required = models.BooleanField(_("answer required"), default=False)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(
        _("asked"),
        default=True,
        help_text=_("Questions with answers are never deleted: stop asking them instead."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("survey question")
        verbose_name_plural = _("survey questions")
        ordering = ["position", "id"]
        indexes = [
            models.Index(fields=["product", "active"], name="question_product"),
            models.Index(fields=["merchant", "category", "active"], name="question_category"),
        ]
        constraints = [
            # For a product, or a category's default: exactly one of the two.
            models.CheckConstraint(
                condition=Q(product__isnull=False, category__isnull=True)
                | Q(product__isnull=True, category__isnull=False),
                name="question_for_product_or_category",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=QuestionKind.values), name="question_kind_valid"
            ),
            models.CheckConstraint(
                condition=~Q(kind=QuestionKind.CHOICE) | ~Q(choices=""),
                name="question_choice_has_choices",
            ),
        ]

    def __str__(self) -> str:
        return self.prompt

    @property
    def choice_list(self) -> list[str]:
        return [c.strip() for c in self.choices.splitlines() if c.strip()]


class SurveyInvitation(models.Model):
    """The survey of one shipped unit, for the buyer of its order line (single use, signed link)."""

    unit = models.OneToOneField(
        "warehouse.StockUnit", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+"
    )
    item_number = models.CharField(_("item number"), max_length=16)
    product = models.ForeignKey(
        "catalog.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    merchant = models.ForeignKey(
        "accounts.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+"
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("buyer"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    order_line_id = models.BigIntegerField(_("order line"))
    order_number = models.CharField(_("order"), max_length=20)
    product_name = models.CharField(_("product"), max_length=200)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=InvitationStatus.choices,
        default=InvitationStatus.PENDING,
    )
    skip_reason = models.CharField(_("why not sent"), max_length=200, blank=True)
    # Which fact started it: the carrier's delivery, or shipped long enough ago without one.
    trigger = models.CharField(_("trigger"), max_length=10)
    send_after = models.DateTimeField(_("send after"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=10, blank=True)
    message_status = models.CharField(_("message status"), max_length=20, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)
    opened_at = models.DateTimeField(_("first opened"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("survey invitation")
        verbose_name_plural = _("survey invitations")
        ordering = ["-id"]
        indexes = [
            # The sender's queue: pending ones by due time; the reminder's: sent ones by send time.
            models.Index(
                fields=["send_after", "id"],
                name="invitation_to_send",
                condition=Q(status="pending"),
            ),
            models.Index(
                fields=["sent_at", "id"],
                name="invitation_to_remind",
                condition=Q(status="sent", reminded_at__isnull=True),
            ),
            models.Index(fields=["merchant", "-id"], name="invitation_merchant"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=InvitationStatus.values), name="invitation_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="skipped") | ~Q(skip_reason=""),
                name="invitation_skip_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "skipped"])
                | Q(sent_at__isnull=False, expires_at__isnull=False),
                name="invitation_sent_has_dates",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_number} ({self.get_status_display()})"


class InvitationEvent(models.Model):
    """Append-only: every change of an invitation (created, sent, skipped, reminded, ...)."""

    invitation = models.ForeignKey(
        SurveyInvitation, on_delete=models.PROTECT, related_name="events"
    )
    kind = models.CharField(max_length=12)
    note = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("invitation event")
        verbose_name_plural = _("invitation events")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.invitation_id} {self.kind}"


class SurveyResponse(models.Model):
    """A buyer's answer to one invitation: the rating of that unit, order line and product."""

    invitation = models.OneToOneField(
        SurveyInvitation,
        verbose_name=_("invitation"),
        on_delete=models.PROTECT,
        related_name="response",
    )
    product = models.ForeignKey(
        "catalog.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    merchant = models.ForeignKey(
        "accounts.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+"
    )
    unit = models.OneToOneField(
        "warehouse.StockUnit", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+"
    )
    order_line_id = models.BigIntegerField(_("order line"))
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("buyer"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    overall = models.PositiveSmallIntegerField(_("overall rating"))
    comment = models.TextField(_("comment"), blank=True, max_length=2000)
    hidden = models.BooleanField(_("text hidden"), default=False)
    hidden_reason = models.CharField(_("why the text is hidden"), max_length=200, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("hidden by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    hidden_at = models.DateTimeField(_("hidden at"), null=True, blank=True)
    reply = models.TextField(_("merchant's reply"), blank=True, max_length=2000)
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)
    created_at = models.DateTimeField(_("answered at"), auto_now_add=True)

    class Meta:
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["product", "-id"], name="response_product_recent"),
            models.Index(fields=["merchant", "-id"], name="response_merchant"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(overall__gte=1, overall__lte=5), name="response_overall_1_to_5"
            ),
            models.CheckConstraint(
                condition=Q(hidden=False) | ~Q(hidden_reason=""), name="response_hidden_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.overall}★ {self.product_id} ({self.invitation_id})"

    @property
    def verified(self) -> bool:
        """Every rating comes from the buyer of a shipped unit, through its own invitation."""
        return True


class SurveyAnswer(models.Model):
    response = models.ForeignKey(SurveyResponse, on_delete=models.PROTECT, related_name="answers")
    question = models.ForeignKey(SurveyQuestion, on_delete=models.PROTECT, related_name="+")
    # Denormalised for the product page's per-question averages (one indexed read).
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    prompt = models.CharField(_("question"), max_length=200)  # as asked
    stars = models.PositiveSmallIntegerField(_("stars"), null=True, blank=True)
    choice = models.CharField(_("choice"), max_length=200, blank=True)
    text = models.TextField(_("answer"), blank=True, max_length=2000)

    class Meta:
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        ordering = ["id"]
        indexes = [models.Index(fields=["product", "question"], name="answer_product_question")]
        constraints = [
            models.UniqueConstraint(
                fields=["response", "question"], name="one_answer_per_question"
            ),
            models.CheckConstraint(
                condition=Q(stars__isnull=True) | Q(stars__gte=1, stars__lte=5),
                name="answer_stars_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.response_id}/{self.question_id}"


class ResponseEvent(models.Model):
    """Append-only: a reply, a hidden or shown text, with who did it and why."""

    response = models.ForeignKey(SurveyResponse, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=12)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.response_id} {self.kind}"


class RatingSummary(models.Model):
    """A product's ratings as counters (kept by aftersales.services, under the row's lock)."""

    product = models.OneToOneField(
        "catalog.Product", on_delete=models.PROTECT, related_name="+", primary_key=True
    )
    count = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    stars_1 = models.PositiveIntegerField(default=0)
    stars_2 = models.PositiveIntegerField(default=0)
    stars_3 = models.PositiveIntegerField(default=0)
    stars_4 = models.PositiveIntegerField(default=0)
    stars_5 = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    count=models.F("stars_1")
                    + models.F("stars_2")
                    + models.F("stars_3")
                    + models.F("stars_4")
                    + models.F("stars_5")
                ),
                name="rating_summary_count_adds_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.count}"
