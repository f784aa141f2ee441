"""Appraiser stations (queue, appraise, rejected units) and the public verify page."""

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from accounts import roles
from core.errors import DomainError
from core.permissions import has_role, role_required
from core.storage import private_file_response
from warehouse.codes import normalize_item_number
from warehouse.selectors import unit_get, unit_history
from warehouse.states import UnitStatus

from . import selectors, services
from .forms import AppraisalForm, DestroyForm, ReturnForm, ScanForm, VerifyForm
from .models import CaseStatus, Stage, Verdict

# --- Appraisal queue --------------------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """A row of the queue: the unit or case and how long it has waited."""

    obj: Any
    hours: int
    overdue: bool


def _waiting(obj: Any, since: Any, now: Any) -> Waiting:
    hours = max(0, int((now - since).total_seconds() // 3600))
    return Waiting(obj=obj, hours=hours, overdue=hours >= settings.APPRAISAL_SLA_HOURS)


@role_required(roles.APPRAISER)
@require_safe
def queue(request: HttpRequest) -> HttpResponse:
    scan = ScanForm(request.GET if "item" in request.GET else None)
    if scan.is_bound and scan.is_valid():
        return redirect("authenticity:unit", item_number=scan.cleaned_data["item"])
    page = selectors.appraisal_queue_page(page=request.GET.get("page", 1))
    now = timezone.now()
    return render(
        request,
        "authenticity/queue.html",
        {
            "scan": scan,
            "page": page,
            "units": [_waiting(unit, unit.received_at, now) for unit in page.object_list],
            "second": [
                _waiting(case, case.unit.received_at, now)
                for case in selectors.second_reviews_for(appraiser=request.user)
            ],
            "sla_hours": settings.APPRAISAL_SLA_HOURS,
        },
    )


# --- Appraise one unit ------------------------------------------------------------------------

# What each verdict leads to, shown next to it (lazy: in the appraiser's language).
VERDICT_NEXT = {
    Stage.FIRST: {
        Verdict.GENUINE: gettext_lazy("Final: the unit goes into stock and can be sold."),
        Verdict.COUNTERFEIT: gettext_lazy(
            "A second appraiser must confirm it. Notes and at least one photo are required."
        ),
        Verdict.DEFECTIVE: gettext_lazy(
            "Final: the unit is rejected and the merchant is told. Notes and a photo are required."
        ),
        Verdict.INCONCLUSIVE: gettext_lazy(
            "A second appraiser examines it; the unit stays in the queue. Notes are required."
        ),
    },
    Stage.SECOND: {
        Verdict.GENUINE: gettext_lazy("Final: the unit goes into stock and can be sold."),
        Verdict.COUNTERFEIT: gettext_lazy(
            "Final: the unit is rejected and the merchant is told. Notes and a photo are required."
        ),
        Verdict.DEFECTIVE: gettext_lazy(
            "Final: the unit is rejected and the merchant is told. Notes and a photo are required."
        ),
        Verdict.INCONCLUSIVE: gettext_lazy(
            "Final: authenticity not established, so the unit is rejected. Notes are required."
        ),
    },
}


def _verdict_options(form: AppraisalForm, stage: int) -> list[tuple[Any, str]]:
    return [(radio, VERDICT_NEXT[stage][radio.data["value"]]) for radio in form["verdict"]]


def _appraisal_done_message(case: Any, number: str) -> str:
    if case.status == CaseStatus.AWAITING_SECOND:
        return _(
            "%(number)s: your verdict (%(verdict)s) is recorded. "
            "The unit now waits for a second appraiser."
        ) % {
            "number": number,
            "verdict": case.appraisals.get(stage=Stage.FIRST).get_verdict_display(),
        }
    if case.final_verdict == Verdict.GENUINE:
        return _("%(number)s is genuine and went into stock.") % {"number": number}
    return _(
        "%(number)s was rejected (%(verdict)s) and moved to rejected goods; the merchant is told. "
        "It waits on the rejected units page to be returned or destroyed."
    ) % {"number": number, "verdict": case.get_final_verdict_display()}


@role_required(roles.APPRAISER)
@require_http_methods(["GET", "POST"])
def unit(request: HttpRequest, item_number: str) -> HttpResponse:
    found = unit_get(item_number=item_number)
    if found is None:
        raise Http404
    if found.item_number != item_number:
        return redirect("authenticity:unit", item_number=found.item_number)
    if found.status != UnitStatus.AWAITING_APPRAISAL:
        return render(
            request,
            "authenticity/unit_done.html",
            {
                "unit": found,
                "cases": selectors.cases_for_unit(unit_id=found.pk),
                "history": unit_history(unit=found),
                "can_warehouse": has_role(request.user, roles.WAREHOUSE),
            },
        )
    template = services.checklist_for_category(category_id=found.product.category_id)
    case = selectors.open_case_for_unit(unit_id=found.pk)
    first = selectors.first_appraisal(case) if case else None
    stage = Stage.SECOND if case else Stage.FIRST
    form = AppraisalForm(
        request.POST or None,
        request.FILES or None,
        template=template,
        initial={"stage": stage},
    )
    if request.method == "POST" and form.is_valid():
        try:
            done = services.appraisal_record(
                item_number=found.item_number,
                appraiser=request.user,
                verdict=form.cleaned_data["verdict"],
                answers=form.answers(),
                notes=form.cleaned_data["notes"],
                photos=form.photo_files(),
                expect_stage=form.cleaned_data["stage"],
            )
        except DomainError as err:
            if err.code in ("not_awaiting_appraisal", "stage_changed", "same_appraiser"):
                # The unit moved on under us: show its current state, not a stale form.
                messages.error(request, err.message)
                return redirect("authenticity:unit", item_number=found.item_number)
            form.add_domain_error(err)
        else:
            messages.success(request, _appraisal_done_message(done, found.item_number))
            return redirect("authenticity:queue")
    now = timezone.now()
    return render(
        request,
        "authenticity/unit.html",
        {
            "unit": found,
            "waiting": _waiting(found, found.received_at, now),
            "images": list(found.product.images.all()),
            "form": form,
            "verdict_options": _verdict_options(form, stage),
            "stage": stage,
            "case": case,
            "first": first,
            "own_first": first is not None and first.appraiser_id == request.user.pk,
            "photos_dropped": request.method == "POST" and bool(request.FILES),
        },
    )


# --- Rejected units awaiting disposition ------------------------------------------------------


@role_required(roles.WAREHOUSE, roles.APPRAISER)
@require_http_methods(["GET", "POST"])
def rejected(request: HttpRequest) -> HttpResponse:
    witnesses = [u for u in services.staff_witness_candidates() if u.pk != request.user.pk]
    bound = None
    if request.method == "POST":
        if request.POST.get("action") == "destroy":
            bound = DestroyForm(request.POST, witnesses=witnesses, auto_id="destroy-%s")
        else:
            bound = ReturnForm(request.POST, auto_id="return-%s")
        if bound.is_valid():
            data = bound.cleaned_data
            try:
                if isinstance(bound, DestroyForm):
                    services.unit_destroy(
                        item_number=data["item_number"],
                        actor=request.user,
                        witness=bound.witness_user(),
                        method=data["method"],
                        note=data["note"],
                    )
                    done = _("%(number)s was destroyed; the record names you and the witness.")
                else:
                    services.unit_return_to_merchant(
                        item_number=data["item_number"],
                        actor=request.user,
                        carrier=data["carrier"],
                        waybill=data["waybill"],
                        note=data["note"],
                    )
                    done = _("%(number)s is on its way back to the merchant.")
            except DomainError as err:
                bound.add_domain_error(err)
            else:
                messages.success(request, done % {"number": data["item_number"]})
                return redirect(request.get_full_path())
    page = selectors.rejected_units_page(page=request.GET.get("page", 1))
    rows = []
    for row in page.object_list:
        number = row.unit.item_number
        if bound is not None and bound.data.get("item_number") == number:
            form = bound
        elif row.destroy:
            form = DestroyForm(
                initial={"item_number": number},
                witnesses=witnesses,
                auto_id=f"destroy-{number}-%s",
            )
        else:
            form = ReturnForm(initial={"item_number": number}, auto_id=f"return-{number}-%s")
        rows.append((row, form))
    if bound is not None and bound.errors and not any(f is bound for _r, f in rows):
        # The unit left the page meanwhile (another clerk disposed of it): say so at the top.
        for error in bound.non_field_errors() or [_("This unit is no longer waiting.")]:
            messages.error(request, error)
    return render(
        request,
        "authenticity/rejected.html",
        {
            "page": page,
            "rows": rows,
            "no_witness": not witnesses,
            "can_appraise": has_role(request.user, roles.APPRAISER),
        },
    )


# --- Public verification ----------------------------------------------------------------------


def _client_ip(request: HttpRequest) -> str:
    # The same client IP the sign-in rate limits use (honours ALLAUTH_TRUSTED_PROXY_COUNT).
    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:
        return "unknown"


def _rate_limited(request: HttpRequest) -> bool:
    """Count an attempt for this client IP; True once it is over VERIFY_RATE_LIMIT."""
    limit, window = settings.VERIFY_RATE_LIMIT
    key = "verify:attempts:" + hashlib.sha256(_client_ip(request).encode()).hexdigest()[:32]
    cache.add(key, 0, timeout=window)
    try:
        attempts = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        attempts = 1
    return attempts > limit


def _too_many(request: HttpRequest) -> HttpResponse:
    _limit, window = settings.VERIFY_RATE_LIMIT
    response = render(
        request, "verify/too_many.html", {"minutes": max(1, window // 60)}, status=429
    )
    response["Retry-After"] = str(window)
    return response


def _verify_state(result: services.VerificationResult) -> str:
    """The one word the big verdict shows: genuine, destroyed, withdrawn, retired, lost, pending."""
    out_of_sale = (UnitStatus.REJECTED, UnitStatus.DESTROYED, UnitStatus.RETURNED_TO_MERCHANT)
    if result.verdict == Verdict.GENUINE and result.status in out_of_sale:
        return "retired"  # sold, returned, failed the return inspection
    if result.status == UnitStatus.DESTROYED:
        return "destroyed"
    if result.status in (UnitStatus.REJECTED, UnitStatus.RETURNED_TO_MERCHANT):
        return "withdrawn"
    if result.status == UnitStatus.LOST:
        return "lost"
    if result.genuine:
        return "genuine"
    return "pending"


@never_cache
@require_safe
def verify(request: HttpRequest) -> HttpResponse:
    asked = "item" in request.GET or "code" in request.GET
    form = VerifyForm(request.GET if asked else None)
    if form.is_bound and form.is_valid():
        url = reverse("authenticity:verify_result", args=[form.cleaned_data["item"]])
        return redirect(f"{url}?{urlencode({'c': form.cleaned_data['code']})}")
    return render(request, "verify/form.html", {"form": form})


@never_cache
@require_safe
def verify_result(request: HttpRequest, item_number: str) -> HttpResponse:
    number = normalize_item_number(item_number)[:40]
    code = request.GET.get("c", "")
    form = VerifyForm(initial={"item": number, "code": normalize_item_number(code)[:40]})
    if not code or request.method == "HEAD":
        # HEAD is what link previews send: it must not count as somebody checking the label.
        return render(request, "verify/form.html", {"form": form})
    if _rate_limited(request):
        return _too_many(request)
    client = f"{_client_ip(request)}\n{request.headers.get('user-agent', '')}"
    result = services.unit_verify(item_number=number, code=code[:40], client=client)
    if result is None:
        # Wrong code or no such unit: the same page either way, so guessing learns nothing.
        return render(request, "verify/form.html", {"form": form, "failed": True})
    response = render(
        request,
        "verify/result.html",
        {"result": result, "state": _verify_state(result), "form": VerifyForm()},
    )
    response["X-Robots-Tag"] = "noindex"  # the URL carries the label's code
    return response


# --- Evidence photos ---------------------------------------------------------------------------

PHOTO_KINDS = ("image", "thumbnail")


@login_required
@require_safe
def photo(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """An evidence photo, for appraisers and platform admins, and for the staff of the merchant
    whose unit it shows (their admin lists the verdicts); a 404 for anyone else."""
    found = selectors.appraisal_photo_get(photo_id=pk) if kind in PHOTO_KINDS else None
    if found is None:
        raise Http404
    user = request.user
    appraiser = not user.merchant_id and has_role(user, roles.APPRAISER)
    if not appraiser and user.merchant_id != found.appraisal.case.merchant_id:
        raise Http404
    return private_file_response(
        getattr(found, kind), download_stem=f"case-{found.appraisal.case_id}-photo-{pk}-{kind}"
    )
