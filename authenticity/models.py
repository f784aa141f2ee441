from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from core.storage import private_storage


class Verdict(models.TextChoices):
    GENUINE = "genuine", _("Genuine")
    COUNTERFEIT = "counterfeit", _("Counterfeit")
    DEFECTIVE = "defective", _("Defective / not as described")
    INCONCLUSIVE = "inconclusive", _("Inconclusive")


class ChecklistTemplate(models.Model):
    """What an appraiser must check for products of a category (and its sub-categories)."""

    category = models.OneToOneField(
        "catalog.Category", verbose_name=_("category"), on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("appraisal checklist")
        verbose_name_plural = _("appraisal checklists")

    def __str__(self) -> str:
        return str(self.category)


class ChecklistItem(models.Model):
    template = models.ForeignKey(ChecklistTemplate, on_delete=models.CASCADE, related_name="items")
    text = models.CharField(_("check"), max_length=200)
    text_zh = models.CharField(_("check (Simplified Chinese)"), max_length=200, blank=True)
    required = models.BooleanField(_("required"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.display_text

    @property
    def display_text(self) -> str:
        if self.text_zh and (get_language() or "").startswith("zh"):
            return self.text_zh
        return self.text


class CaseStatus(models.TextChoices):
    AWAITING_SECOND = "awaiting_second", _("Awaiting a second appraiser")
    FINAL = "final", _("Final")


class AppraisalCase(models.Model):
    """One appraisal of one unit: a first verdict and, for failures, a second one."""

    unit = models.ForeignKey("warehouse.StockUnit", on_delete=models.PROTECT, related_name="+")
    merchant = models.ForeignKey("accounts.Merchant", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=CaseStatus.choices)
    final_verdict = models.CharField(max_length=12, choices=Verdict.choices, blank=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    finalized_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("appraisal case")
        verbose_name_plural = _("appraisal cases")
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["unit"],
                condition=Q(status="awaiting_second"),
                name="one_open_case_per_unit",
            ),
            models.CheckConstraint(
                condition=Q(status="final", final_verdict__in=Verdict.values)
                | Q(status="awaiting_second", final_verdict=""),
                name="final_case_has_verdict",
            ),
        ]

    def __str__(self) -> str:
        return f"APR-{self.pk}"

    @property
    def reference(self) -> str:
        return f"APR-{self.pk}"


class Stage(models.IntegerChoices):
    FIRST = 1, _("First appraisal")
    SECOND = 2, _("Second review")


class Appraisal(models.Model):
    """An appraiser's verdict with its evidence. Never edited: a second review is a new row."""

    case = models.ForeignKey(AppraisalCase, on_delete=models.PROTECT, related_name="appraisals")
    stage = models.PositiveSmallIntegerField(choices=Stage.choices)
    appraiser = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    verdict = models.CharField(_("verdict"), max_length=12, choices=Verdict.choices)
    # {checklist item id: "pass" | "fail" | "na"} as answered, with the item texts at the time.
    checklist = models.JSONField(default=list, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("appraisal")
        verbose_name_plural = _("appraisals")
        ordering = ["case", "stage"]
        constraints = [
            models.UniqueConstraint(fields=["case", "stage"], name="one_appraisal_per_stage"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}/{self.stage}: {self.verdict}"


def photo_upload_to(instance: "AppraisalPhoto", filename: str) -> str:
    return f"appraisals/{instance.appraisal.case_id}/{filename}"


class AppraisalPhoto(models.Model):
    appraisal = models.ForeignKey(Appraisal, on_delete=models.PROTECT, related_name="photos")
    image = models.ImageField(upload_to=photo_upload_to, storage=private_storage)
    thumbnail = models.ImageField(upload_to=photo_upload_to, storage=private_storage)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("appraisal photo")
        verbose_name_plural = _("appraisal photos")

    def __str__(self) -> str:
        return self.image.name


class Disposition(models.TextChoices):
    DESTROY = "destroy", _("Destroy")
    RETURN = "return", _("Return to merchant")


class DispositionPolicy(models.Model):
    """What happens to a merchant's failed units (the platform decides, per merchant)."""

    merchant = models.OneToOneField(
        "accounts.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+"
    )
    disposition = models.CharField(
        _("failed units are"), max_length=8, choices=Disposition.choices, default=Disposition.RETURN
    )
    counterfeit_disposition = models.CharField(
        _("counterfeit units are"),
        max_length=8,
        choices=Disposition.choices,
        default=Disposition.DESTROY,
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("disposition policy")
        verbose_name_plural = _("disposition policies")

    def __str__(self) -> str:
        return f"{self.merchant}: {self.disposition} / counterfeit {self.counterfeit_disposition}"


class UnitDisposition(models.Model):
    """The record of a failed unit leaving: destroyed before a witness, or sent back."""

    unit = models.OneToOneField("warehouse.StockUnit", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(AppraisalCase, on_delete=models.PROTECT, related_name="dispositions")
    kind = models.CharField(max_length=8, choices=Disposition.choices)
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    method = models.CharField(_("method"), max_length=100, blank=True)
    carrier = models.CharField(_("carrier"), max_length=60, blank=True)
    waybill = models.CharField(_("waybill number"), max_length=60, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("unit disposition")
        verbose_name_plural = _("unit dispositions")
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="destroy")
                | (Q(witness__isnull=False) & ~Q(witness=F("performed_by"))),
                name="destruction_has_independent_witness",
            ),
            models.CheckConstraint(
                condition=~Q(kind="return") | ~Q(waybill=""), name="return_has_waybill"
            ),
        ]

    def __str__(self) -> str:
        return f"DSP-{self.pk} {self.kind}"


class VerificationCheck(models.Model):
    """A successful public check of a unit's code (repeats are a counterfeit signal)."""

    unit = models.ForeignKey("warehouse.StockUnit", on_delete=models.PROTECT, related_name="+")
    client_hash = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["unit", "created_at"], name="verification_unit")]

    def __str__(self) -> str:
        return f"{self.unit_id} @ {self.created_at:%Y-%m-%d %H:%M}"
