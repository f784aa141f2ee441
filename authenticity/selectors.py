"""Reads for the appraisal pages, the admin and the rejection notice."""

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from .models import AppraisalCase, CaseStatus, Stage, Verdict


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
