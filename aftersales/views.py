"""The buyer's survey page: /survey/<token>/, no login, single use, mobile-first."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from . import selectors, services
from .forms import SurveyForm
from .services import SurveyError

# A link that can no longer be answered: used (thanks on a visit, 410 to a second submit),
# expired (410) or never valid (404).
GONE_STATUS = {"survey_used": 410, "survey_expired": 410, "survey_invalid": 404}


def _private(response: HttpResponse) -> HttpResponse:
    # The token is the buyer's key: not sent on to other sites, not indexed. Not "no-referrer":
    # under it browsers send `Origin: null` with the form's POST, which CSRF refuses (403).
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex"
    return response


def _gone(request: HttpRequest, error: SurveyError, *, thanks: bool = False) -> HttpResponse:
    status = 200 if thanks else GONE_STATUS.get(error.code, 410)
    context = {"message": error.message, "thanks": thanks}
    return _private(render(request, "aftersales/survey_closed.html", context, status=status))


@never_cache
@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    invitation = selectors.invitation_for_token(token=token)
    if invitation is None:
        return _gone(
            request, SurveyError(_("This survey link is not valid."), code="survey_invalid")
        )
    try:
        services.invitation_check(invitation=invitation)
    except SurveyError as error:
        thanks = error.code == "survey_used" and request.method == "GET"
        return _gone(request, error, thanks=thanks)
    questions = selectors.survey_questions_for_invitation(invitation=invitation)
    status = 200
    if request.method == "POST":
        form = SurveyForm(request.POST, questions=questions)
        if form.is_valid():
            try:
                services.survey_submit(
                    invitation_id=invitation.pk,
                    overall=form.cleaned_data["overall"],
                    comment=form.cleaned_data["comment"],
                    answers=form.answers(),
                )
            except SurveyError as error:
                if error.code in GONE_STATUS:
                    return _gone(request, error)
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                return redirect(request.path)  # shows the thanks: the link is now used
        status = 400
    else:
        services.invitation_open(invitation_id=invitation.pk)
        form = SurveyForm(questions=questions)
    context = {"invitation": invitation, "form": form, "preview": False}
    return _private(render(request, "aftersales/survey.html", context, status=status))
