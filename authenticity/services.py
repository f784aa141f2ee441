"""Authenticity: verdicts, second review, disposition of failed units, public verification.

Rules (seed 004, commodity identification):
- A genuine or defective first verdict is final. Counterfeit and inconclusive need a second,
  different appraiser; the second verdict is final (an inconclusive second verdict fails the unit:
  authenticity that cannot be established is not sold).
- A final genuine verdict releases the unit to stock; any other final verdict rejects it, and the
  merchant is told. Rejected units leave by the merchant's disposition policy only: destroyed
  before an independent witness, or returned with a waybill.
Locking: the unit row (warehouse.services.unit_lock) then the case row, inside one transaction.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import roles
from catalog.selectors import category_tree
from core.errors import DomainError
from core.images import process_upload
from warehouse import services as warehouse
from warehouse.codes import code_matches, is_well_formed, normalize_item_number
from warehouse.selectors import unit_get, unit_history
from warehouse.states import UnitStatus

from .models import (
    Appraisal,
    AppraisalCase,
    AppraisalPhoto,
    CaseStatus,
    ChecklistItem,
    ChecklistTemplate,
    Disposition,
    DispositionPolicy,
    Stage,
    UnitDisposition,
    Verdict,
    VerificationCheck,
)
from .selectors import required_disposition_by

MAX_PHOTOS = 8
ANSWERS = ("pass", "fail", "na")
FAILED = frozenset({Verdict.COUNTERFEIT, Verdict.DEFECTIVE, Verdict.INCONCLUSIVE})


def checklist_for_category(*, category_id: int) -> ChecklistTemplate | None:
    """The checklist of the nearest category up the tree that has one."""
    chain = [node.id for node in category_tree().ancestors(category_id)]
    templates = {
        t.category_id: t
        for t in ChecklistTemplate.objects.filter(category_id__in=chain).prefetch_related("items")
    }
    for category in reversed(chain):
        if category in templates:
            return templates[category]
    return None


def _checked_answers(
    template: ChecklistTemplate | None, answers: dict[int, str], verdict: str
) -> list:
    items = list(template.items.all()) if template else []
    known = {item.pk for item in items}
    if set(answers) - known:
        raise DomainError(_("The checklist changed; reload the page."), code="stale_checklist")
    record = []
    for item in items:
        answer = answers.get(item.pk, "")
        if answer not in ANSWERS:
            if item.required:
                raise DomainError(
                    _("Answer every required check (missing: %(check)s).")
                    % {"check": item.display_text},
                    code="checklist_incomplete",
                    field="checklist",
                )
            answer = "na"
        if verdict == Verdict.GENUINE and item.required and answer == "fail":
            raise DomainError(
                _("A unit that fails “%(check)s” cannot be genuine.")
                % {"check": item.display_text},
                code="genuine_with_failed_check",
                field="verdict",
            )
        record.append({"item": item.pk, "text": item.text, "answer": answer})
    return record


def appraisal_record(
    *,
    item_number: str,
    appraiser: Any,
    verdict: str,
    answers: dict[int, str] | None = None,
    notes: str = "",
    photos: Sequence[IO[bytes]] = (),
    expect_stage: int | None = None,
) -> AppraisalCase:
    """Record a verdict for a unit awaiting appraisal; final verdicts move the unit.

    `expect_stage` is the stage the appraiser's page showed: if another appraiser recorded a
    verdict meanwhile, the submission is refused rather than silently becoming the other stage.
    """
    if verdict not in Verdict.values:
        raise DomainError(_("Choose a verdict."), code="bad_verdict", field="verdict")
    if verdict in FAILED and not notes.strip():
        raise DomainError(
            _("Say what you found: a failing verdict needs notes."),
            code="notes_required",
            field="notes",
        )
    if verdict in (Verdict.COUNTERFEIT, Verdict.DEFECTIVE) and not photos:
        raise DomainError(
            _("Add at least one photo as evidence for this verdict."),
            code="photo_required",
            field="photos",
        )
    if len(photos) > MAX_PHOTOS:
        raise DomainError(
            _("Add at most %(n)s photos.") % {"n": MAX_PHOTOS},
            code="too_many_photos",
            field="photos",
        )
    # Pillow work before any lock is taken.
    processed = [process_upload(photo, name=getattr(photo, "name", "photo")) for photo in photos]
    with transaction.atomic():
        unit = warehouse.unit_lock(item_number=item_number)
        if unit.status != UnitStatus.AWAITING_APPRAISAL:
            raise DomainError(
                _("Unit %(number)s is %(status)s, not awaiting appraisal.")
                % {"number": unit.item_number, "status": unit.get_status_display()},
                code="not_awaiting_appraisal",
            )
        case = (
            AppraisalCase.objects.select_for_update()
            .filter(unit=unit, status=CaseStatus.AWAITING_SECOND)
            .first()
        )
        if case is None:
            stage = Stage.FIRST
            case = AppraisalCase.objects.create(
                unit=unit, merchant_id=unit.merchant_id, status=CaseStatus.AWAITING_SECOND
            )
        else:
            stage = Stage.SECOND
            first = case.appraisals.get(stage=Stage.FIRST)
            if first.appraiser_id == appraiser.pk:
                raise DomainError(
                    _("A second appraiser must review this unit; you gave the first verdict."),
                    code="same_appraiser",
                )
        if expect_stage is not None and stage != expect_stage:
            raise DomainError(
                _(
                    "Another appraiser recorded a verdict on this unit while you were working. "
                    "Read it and submit yours again."
                ),
                code="stage_changed",
            )
        template = checklist_for_category(category_id=unit.product.category_id)
        appraisal = Appraisal.objects.create(
            case=case,
            stage=stage,
            appraiser=appraiser,
            verdict=verdict,
            checklist=_checked_answers(template, answers or {}, verdict),
            notes=notes.strip(),
        )
        for image in processed:
            photo = AppraisalPhoto(appraisal=appraisal)
            photo.image.save(image.image.name, image.image, save=False)
            photo.thumbnail.save(image.thumbnail.name, image.thumbnail, save=False)
            photo.save()
        final = stage == Stage.SECOND or verdict in (Verdict.GENUINE, Verdict.DEFECTIVE)
        if final:
            case.status = CaseStatus.FINAL
            case.final_verdict = verdict
            case.finalized_at = timezone.now()
            case.save(update_fields=["status", "final_verdict", "finalized_at"])
            if verdict == Verdict.GENUINE:
                warehouse.unit_release_to_stock(unit=unit, actor=appraiser, document=case.reference)
            else:
                warehouse.unit_reject(
                    unit=unit, actor=appraiser, document=case.reference, note=notes.strip()[:500]
                )
                from .tasks import notify_rejection

                transaction.on_commit(lambda: notify_rejection.delay(case.pk))
    return case


def required_disposition(*, case: AppraisalCase) -> str:
    policy = DispositionPolicy.objects.filter(merchant_id=case.merchant_id).first()
    return required_disposition_by(policy=policy, verdict=case.final_verdict)


def _rejected_unit_and_case(item_number: str) -> tuple[Any, AppraisalCase]:
    unit = warehouse.unit_lock(item_number=item_number)
    if unit.status != UnitStatus.REJECTED:
        raise DomainError(
            _("Unit %(number)s is %(status)s; only rejected units are disposed of.")
            % {"number": unit.item_number, "status": unit.get_status_display()},
            code="not_rejected",
        )
    case = (
        AppraisalCase.objects.filter(unit=unit, status=CaseStatus.FINAL)
        .exclude(final_verdict=Verdict.GENUINE)
        .order_by("-finalized_at")
        .first()
    )
    if case is None:
        raise DomainError(_("This unit has no failing verdict on record."), code="no_case")
    return unit, case


def unit_destroy(
    *, item_number: str, actor: Any, witness: Any, method: str, note: str = ""
) -> UnitDisposition:
    """Destroy a rejected unit whose merchant's policy says so, before an independent witness."""
    if witness is None or witness.pk == actor.pk:
        raise DomainError(
            _("Someone other than you must witness the destruction."),
            code="witness_required",
            field="witness",
        )
    if not witness.is_active or not (
        witness.is_superuser
        or witness.groups.filter(
            name__in=[roles.WAREHOUSE, roles.APPRAISER, roles.PLATFORM_ADMIN]
        ).exists()
    ):
        raise DomainError(
            _("The witness must be platform warehouse, appraisal or admin staff."),
            code="witness_not_staff",
            field="witness",
        )
    if not method.strip():
        raise DomainError(
            _("Say how the unit was destroyed."), code="method_required", field="method"
        )
    with transaction.atomic():
        unit, case = _rejected_unit_and_case(item_number)
        if required_disposition(case=case) != Disposition.DESTROY:
            raise DomainError(
                _("This merchant's policy is to return failed units, not destroy them."),
                code="policy_mismatch",
            )
        record = UnitDisposition.objects.create(
            unit=unit,
            case=case,
            kind=Disposition.DESTROY,
            performed_by=actor,
            witness=witness,
            method=method.strip(),
            note=note,
        )
        warehouse.unit_dispose(
            unit=unit, destroy=True, actor=actor, document=f"DSP-{record.pk}", note=note
        )
    return record


def unit_return_to_merchant(
    *, item_number: str, actor: Any, carrier: str, waybill: str, note: str = ""
) -> UnitDisposition:
    """Send a rejected unit back to its merchant, under a waybill, when the policy says so."""
    if not carrier.strip() or not waybill.strip():
        raise DomainError(
            _("Give the carrier and waybill number of the return."),
            code="waybill_required",
            field="waybill",
        )
    with transaction.atomic():
        unit, case = _rejected_unit_and_case(item_number)
        if required_disposition(case=case) != Disposition.RETURN:
            raise DomainError(
                _("This merchant's policy is to destroy such units, not return them."),
                code="policy_mismatch",
            )
        record = UnitDisposition.objects.create(
            unit=unit,
            case=case,
            kind=Disposition.RETURN,
            performed_by=actor,
            carrier=carrier.strip(),
            waybill=waybill.strip(),
            note=note,
        )
        warehouse.unit_dispose(
            unit=unit, destroy=False, actor=actor, document=f"DSP-{record.pk}", note=note
        )
    return record


# Public verification -------------------------------------------------------------------------

REPEAT_FLAG_TOTAL = 5
REPEAT_FLAG_OTHER_CLIENTS = 2


@dataclass(frozen=True)
class CustodyStep:
    when: Any
    text: str


@dataclass(frozen=True)
class VerificationResult:
    item_number: str
    product_name: str
    product_slug: str
    product_listed: bool
    merchant_name: str
    status: str
    status_label: str
    verdict: str
    appraised_at: Any
    custody: list[CustodyStep]
    previous_checks: int
    first_checked_at: Any
    flagged: bool

    @property
    def genuine(self) -> bool:
        return self.verdict == Verdict.GENUINE and self.status not in (
            UnitStatus.REJECTED,
            UnitStatus.DESTROYED,
            UnitStatus.RETURNED_TO_MERCHANT,
        )


# Lazy: built at import, shown in each reader's language.
CUSTODY_TEXT = {
    "receive": gettext_lazy("Received at the Provena warehouse from the merchant"),
    "appraise_genuine": gettext_lazy(
        "Examined by a Provena appraiser and found genuine; put into stock"
    ),
    "appraise_reject": gettext_lazy("Failed authentication and was withdrawn from sale"),
    "destroy": gettext_lazy("Destroyed under witness"),
    "return_to_merchant": gettext_lazy("Returned to the merchant, never sold"),
    "pick": gettext_lazy("Picked for a buyer's order"),
    "pack": gettext_lazy("Packed"),
    "ship": gettext_lazy("Handed to the carrier"),
    "deliver": gettext_lazy("Delivered to the buyer"),
    "return_receive": gettext_lazy("Came back as a return and was quarantined"),
    "restock": gettext_lazy("Inspected after return, re-verified and restocked"),
    "inspect_reject": gettext_lazy("Failed inspection after return"),
}


def unit_verify(*, item_number: str, code: str, client: str) -> VerificationResult | None:
    """The truth about a unit for whoever holds its label; None for any wrong number or code.

    A wrong code and an unknown number look the same, so guessing reveals nothing. Each
    successful check is recorded; many checks of one label suggest copied labels.
    """
    number = normalize_item_number(item_number)
    if not is_well_formed(number) or not code_matches(number, code):
        return None
    unit = unit_get(item_number=number)
    if unit is None:
        return None
    client_hash = hashlib.sha256(client.encode()).hexdigest()[:16]
    # One aggregate, however often a (copied) label was checked.
    earlier = VerificationCheck.objects.filter(unit=unit).aggregate(
        total=Count("id"),
        others=Count("client_hash", distinct=True, filter=~Q(client_hash=client_hash)),
        first=Min("created_at"),
    )
    VerificationCheck.objects.create(unit=unit, client_hash=client_hash)
    case = (
        AppraisalCase.objects.filter(unit=unit, status=CaseStatus.FINAL)
        .order_by("-finalized_at")
        .first()
    )
    custody = [
        CustodyStep(when=m.created_at, text=str(CUSTODY_TEXT[m.reason]))
        for m in unit_history(unit=unit)
        if m.reason in CUSTODY_TEXT
    ]
    return VerificationResult(
        item_number=unit.item_number,
        product_name=unit.product.name,
        product_slug=unit.product.slug,
        product_listed=unit.product.status == "listed",
        merchant_name=unit.merchant.name,
        status=unit.status,
        status_label=unit.get_status_display(),
        verdict=case.final_verdict if case else "",
        appraised_at=case.finalized_at if case else None,
        custody=custody,
        previous_checks=earlier["total"],
        first_checked_at=earlier["first"],
        flagged=earlier["total"] >= REPEAT_FLAG_TOTAL
        or earlier["others"] >= REPEAT_FLAG_OTHER_CLIENTS,
    )


def disposition_policy_set(
    *, merchant: Any, disposition: str, counterfeit_disposition: str
) -> DispositionPolicy:
    if disposition not in Disposition.values or counterfeit_disposition not in Disposition.values:
        raise DomainError(_("Unknown disposition."), code="bad_disposition")
    policy, _created = DispositionPolicy.objects.update_or_create(
        merchant=merchant,
        defaults={"disposition": disposition, "counterfeit_disposition": counterfeit_disposition},
    )
    return policy


def staff_witness_candidates() -> list[Any]:
    return list(
        get_user_model()
        .objects.filter(
            is_active=True,
            groups__name__in=[roles.WAREHOUSE, roles.APPRAISER, roles.PLATFORM_ADMIN],
        )
        .distinct()
        .order_by("email")
    )


def checklist_template_ensure(*, category_id: int, items: Sequence[str]) -> ChecklistTemplate:
    """Create a category's checklist with these required items unless it already has one."""
    with transaction.atomic():
        template, created = ChecklistTemplate.objects.get_or_create(category_id=category_id)
        if created:
            template.items.bulk_create(
                ChecklistItem(template=template, text=text, position=i)
                for i, text in enumerate(items)
            )
    return template
