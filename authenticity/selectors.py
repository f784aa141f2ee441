"""Reads for the appraisal pages, the admin and the rejection notice."""

from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from warehouse.selectors import units_awaiting_appraisal
from warehouse.states import UnitStatus

from .models import (
    Appraisal,
    AppraisalCase,
    AppraisalPhoto,
    CaseStatus,
    Disposition,
    DispositionPolicy,
    Stage,
    Verdict,
)

QUEUE_PAGE_SIZE = 50
SECOND_REVIEW_LIMIT = 50
REJECTED_PAGE_SIZE = 25


def rejection_notice(*, case_id: int) -> dict[str, Any] | None:
    case = (
        AppraisalCase.objects.select_related(
            "unit__product", "unit__inbound_line__shipment", "merchant"
        )
        .filter(pk=case_id, status=CaseStatus.FINAL)
        .exclude(final_verdict=Verdict.GENUINE)
        .first()
    )
    if case is None:
        return None
    from .services import required_disposition

    last = case.appraisals.order_by("-stage").first()
    line = case.unit.inbound_line
    return {
        "item_number": case.unit.item_number,
        "product": case.unit.product.name,
        "inbound": line.shipment.reference if line else "-",
        "verdict": Verdict(case.final_verdict).label,
        "notes": last.notes if last else "",
        "disposition": _("destroyed")
        if required_disposition(case=case) == "destroy"
        else _("returned to you"),
        "email": case.merchant.contact_email,
    }


def cases_awaiting_second_review() -> QuerySet[AppraisalCase]:
    return (
        AppraisalCase.objects.filter(status=CaseStatus.AWAITING_SECOND)
        .select_related("unit__product", "merchant")
        .prefetch_related("appraisals__appraiser")
        .order_by("opened_at")
    )


def open_case_for_unit(*, unit_id: int) -> AppraisalCase | None:
    return (
        AppraisalCase.objects.filter(unit_id=unit_id, status=CaseStatus.AWAITING_SECOND)
        .prefetch_related("appraisals__photos", "appraisals__appraiser")
        .first()
    )


def cases_for_unit(*, unit_id: int) -> list[AppraisalCase]:
    return list(
        AppraisalCase.objects.filter(unit_id=unit_id)
        .prefetch_related("appraisals__photos", "appraisals__appraiser", "dispositions")
        .order_by("opened_at")
    )


def first_appraisal(case: AppraisalCase):
    return next((a for a in case.appraisals.all() if a.stage == Stage.FIRST), None)


def required_disposition_by(*, policy: DispositionPolicy | None, verdict: str) -> str:
    """What a merchant's policy (or the default one) asks for a unit failed with this verdict."""
    policy = policy or DispositionPolicy()
    if verdict == Verdict.COUNTERFEIT:
        return policy.counterfeit_disposition
    return policy.disposition


def appraisal_queue_page(*, page: Any = 1, page_size: int = QUEUE_PAGE_SIZE) -> Page:
    """Units waiting for a first verdict, oldest first, with their inbound shipment.

    Units with an open case wait for a second review and are listed by
    `second_reviews_for` instead. A count and a page query, whatever the queue's length.
    """
    open_cases = AppraisalCase.objects.filter(status=CaseStatus.AWAITING_SECOND)
    queue = (
        units_awaiting_appraisal()
        .exclude(pk__in=open_cases.values("unit_id"))
        .select_related("inbound_line__shipment")
    )
    return Paginator(queue, page_size).get_page(page)


def second_reviews_for(*, appraiser: Any, limit: int = SECOND_REVIEW_LIMIT) -> list[AppraisalCase]:
    """Open cases this appraiser may review: not those where they gave the first verdict."""
    own = Appraisal.objects.filter(stage=Stage.FIRST, appraiser_id=appraiser.pk)
    return list(cases_awaiting_second_review().exclude(pk__in=own.values("case_id"))[:limit])


@dataclass(frozen=True)
class RejectedUnit:
    case: AppraisalCase
    unit: Any
    disposition: str  # Disposition value the merchant's policy requires

    @property
    def destroy(self) -> bool:
        return self.disposition == Disposition.DESTROY


def rejected_units_page(*, page: Any = 1, page_size: int = REJECTED_PAGE_SIZE) -> Page:
    """Rejected units still in the warehouse, oldest verdict first, each with its failing case
    and the disposition its merchant's policy requires. Three queries whatever the page size."""
    cases = (
        AppraisalCase.objects.filter(
            status=CaseStatus.FINAL,
            unit__status=UnitStatus.REJECTED,
            dispositions__isnull=True,
        )
        .exclude(final_verdict=Verdict.GENUINE)
        .select_related("unit__product", "unit__location", "merchant")
        .order_by("finalized_at", "id")
    )
    result = Paginator(cases, page_size).get_page(page)
    found = list(result.object_list)
    policies = {
        p.merchant_id: p
        for p in DispositionPolicy.objects.filter(merchant_id__in={c.merchant_id for c in found})
    }
    result.object_list = [
        RejectedUnit(
            case=case,
            unit=case.unit,
            disposition=required_disposition_by(
                policy=policies.get(case.merchant_id), verdict=case.final_verdict
            ),
        )
        for case in found
    ]
    return result


def appraisal_photo_get(*, photo_id: int) -> AppraisalPhoto | None:
    """A photo with the merchant of the unit it shows (who may see it is the view's question)."""
    return (
        AppraisalPhoto.objects.select_related("appraisal__case")
        .only("image", "thumbnail", "appraisal__case__merchant_id", "appraisal__case__id")
        .filter(pk=photo_id)
        .first()
    )
