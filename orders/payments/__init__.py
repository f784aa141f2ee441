"""Payment gateways: one interface, backends named in settings.PAYMENT_GATEWAYS.

A gateway starts a payment (where to send the buyer), turns a signed notify callback into a
Notification (or refuses it), answers a status query, and refunds. The order is paid only from a
verified Notification (callback or query), never from the buyer's browser coming back.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string


class BadSignatureError(Exception):
    """The callback was not signed by the gateway (or was altered)."""


class MalformedCallbackError(Exception):
    """The callback lacks fields or has unreadable values."""


@dataclass(frozen=True)
class Notification:
    out_trade_no: str
    gateway_trade_no: str
    amount: Decimal
    currency: str
    paid: bool
    payer_name: str = ""


class Gateway:
    code = ""

    def __init__(self, code: str, options: dict[str, Any]):
        self.code, self.options = code, options

    def start(self, *, payment: Any, subject: str, payer_name: str, request: HttpRequest) -> str:
        """Open the payment at the gateway; return the URL the buyer's browser goes to."""
        raise NotImplementedError

    def parse_callback(self, *, body: bytes, content_type: str) -> Notification:
        """Verify and read a notify callback; raise BadSignatureError / MalformedCallbackError."""
        raise NotImplementedError

    def query(self, *, out_trade_no: str) -> Notification | None:
        """Ask the gateway for the payment's state (None: not paid / unknown)."""
        raise NotImplementedError

    def refund(self, *, out_trade_no: str, amount: Decimal, refund_no: str) -> str:
        """Refund `amount` of a paid payment; idempotent per refund_no; returns the refund id."""
        raise NotImplementedError

    def acknowledge(self) -> HttpResponse:
        """What the gateway needs to hear to stop retrying (Alipay: the literal `success`)."""
        return HttpResponse("success", content_type="text/plain")

    def reject(self) -> HttpResponse:
        return HttpResponse("fail", content_type="text/plain", status=400)


def get_gateway(code: str | None = None) -> Gateway:
    code = code or settings.PAYMENT_GATEWAY
    try:
        config = settings.PAYMENT_GATEWAYS[code]
    except KeyError:
        raise LookupError(code) from None
    return import_string(config["BACKEND"])(code, config)
