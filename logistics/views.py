"""Carrier webhooks: signed tracking pushes (bad signature 401, unknown waybill 404)."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import services

STATUS = {"ok": 200, "bad_signature": 401, "unknown_waybill": 404, "unknown_carrier": 404}


@csrf_exempt
@require_POST
def carrier_webhook(request: HttpRequest, carrier: str) -> JsonResponse:
    result = services.tracking_receive(
        carrier_code=carrier,
        body=request.body,
        signature=request.headers.get("X-Carrier-Signature", ""),
    )
    return JsonResponse(
        {
            "outcome": result.outcome,
            "stored": result.stored,
            "duplicates": result.duplicates,
            "detail": result.detail,
        },
        status=STATUS.get(result.outcome, 400),
    )
