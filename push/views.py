"""The one-step opt-out page every message links to, and the providers' signed receipts."""

import logging

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from . import services
from .forms import UnsubscribeForm

logger = logging.getLogger(__name__)

STATUS = {
    "ok": 200,
    "bad_signature": 401,
    "unknown_message": 404,
    "unknown_channel": 404,
    "malformed": 400,
}


@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    # The signed token is the permission: anyone holding the message may stop such messages.
    if services.unsubscribe_user_id(token) is None:
        raise Http404
    form = UnsubscribeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        services.unsubscribe_apply(
            token=token,
            marketing=form.cleaned_data["marketing"],
            surveys=form.cleaned_data["surveys"],
        )
        return render(request, "push/unsubscribed.html", {"choices": form.cleaned_data})
    return render(
        request, "push/unsubscribe.html", {"form": form}, status=400 if form.errors else 200
    )


@csrf_exempt
@require_POST
def message_webhook(request: HttpRequest, channel: str) -> JsonResponse:
    result = services.inbound_receive(
        channel=channel,
        body=request.body,
        signature=request.headers.get("X-Push-Signature", ""),
    )
    if result.outcome != "ok":
        logger.info("message webhook %s: %s %s", channel, result.outcome, result.detail)
    return JsonResponse(
        {
            "outcome": result.outcome,
            "applied": result.applied,
            "ignored": result.ignored,
            "unknown": result.unknown,
            "unsubscribed": result.unsubscribed,
            "detail": result.detail,
        },
        status=STATUS.get(result.outcome, 400),
    )
