"""A sandbox gateway that behaves like Alipay / WeChat Pay, for local use and tests.

It keeps its own book (SandboxTrade), shows a hosted pay page at /pay/sandbox/<out_trade_no>/ where
the buyer confirms or fails, and tells the shop asynchronously: a form-encoded notify POST signed
with HMAC-SHA256 over the sorted fields, repeated with back-off until the shop answers `success`.
The pay page can make it misbehave on purpose: send duplicates, send late, send a wrong amount or
a bad signature, or never send (so only a status query can find the payment).
"""

import hashlib
import hmac
import secrets
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl, urlencode

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ..models import SandboxRefund, SandboxTrade, SandboxTradeStatus
from . import BadSignatureError, Gateway, MalformedCallbackError, Notification

FIELDS = ("out_trade_no", "trade_no", "total_amount", "currency", "trade_status", "payer_name")


class NotifyMode:
    NORMAL = "normal"
    DUPLICATE = "duplicate"  # the same notify three times, at once
    DELAYED = "delayed"  # the first notify only after a while
    WRONG_AMOUNT = "wrong_amount"  # total_amount one yuan less, correctly signed
    BAD_SIGNATURE = "bad_signature"  # signed with the wrong key
    SILENT = "silent"  # never notifies: only a status query finds the payment
    ALL = (NORMAL, DUPLICATE, DELAYED, WRONG_AMOUNT, BAD_SIGNATURE, SILENT)


def sign(fields: dict[str, str], key: str) -> str:
    canonical = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "sign" and fields[k])
    return hmac.new(key.encode(), canonical.encode(), hashlib.sha256).hexdigest()


class SandboxGateway(Gateway):
    @property
    def key(self) -> str:
        return self.options["KEY"]

    def start(self, *, payment, subject, payer_name, request) -> str:
        base = self.options.get("NOTIFY_BASE_URL") or request.build_absolute_uri("/")
        notify_url = base.rstrip("/") + reverse("payment_webhook", args=[self.code])
        SandboxTrade.objects.get_or_create(
            out_trade_no=payment.out_trade_no,
            defaults={
                "trade_no": "SBX" + secrets.token_hex(10).upper(),
                "subject": subject[:200],
                "amount": payment.amount,
                "currency": payment.currency,
                "payer_name": payer_name,
                "notify_url": notify_url,
                "return_url": reverse("orders:detail", args=[payment.order.number]),
            },
        )
        return reverse("orders:sandbox_pay", args=[payment.out_trade_no])

    def notify_fields(self, trade: SandboxTrade, *, mode: str = NotifyMode.NORMAL) -> dict:
        amount = trade.amount - (Decimal(1) if mode == NotifyMode.WRONG_AMOUNT else 0)
        fields = {
            "out_trade_no": trade.out_trade_no,
            "trade_no": trade.trade_no,
            "total_amount": f"{amount:.2f}",
            "currency": trade.currency,
            "trade_status": "TRADE_SUCCESS"
            if trade.status == SandboxTradeStatus.PAID
            else "TRADE_CLOSED",
            "payer_name": trade.payer_name,
            "notify_time": timezone.now().strftime("%Y-%m-%d %H:%M:%S"),
            "notify_id": secrets.token_hex(8),
        }
        key = "not-the-key" if mode == NotifyMode.BAD_SIGNATURE else self.key
        fields["sign"] = sign(fields, key)
        return fields

    def notify_body(self, trade: SandboxTrade, *, mode: str = NotifyMode.NORMAL) -> bytes:
        return urlencode(self.notify_fields(trade, mode=mode)).encode()

    def parse_callback(self, *, body, content_type) -> Notification:
        try:
            fields = dict(
                parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedCallbackError("unreadable body") from exc
        given = fields.get("sign", "")
        if not given or not hmac.compare_digest(given, sign(fields, self.key)):
            raise BadSignatureError
        missing = [name for name in FIELDS if name not in fields]
        if missing:
            raise MalformedCallbackError("missing " + ", ".join(missing))
        try:
            amount = Decimal(fields["total_amount"])
        except InvalidOperation as exc:
            raise MalformedCallbackError("bad total_amount") from exc
        return Notification(
            out_trade_no=fields["out_trade_no"],
            gateway_trade_no=fields["trade_no"],
            amount=amount,
            currency=fields["currency"],
            paid=fields["trade_status"] in ("TRADE_SUCCESS", "TRADE_FINISHED"),
            payer_name=fields["payer_name"],
        )

    def query(self, *, out_trade_no) -> Notification | None:
        trade = SandboxTrade.objects.filter(out_trade_no=out_trade_no).first()
        if trade is None or trade.status != SandboxTradeStatus.PAID:
            return None
        return Notification(
            out_trade_no=trade.out_trade_no,
            gateway_trade_no=trade.trade_no,
            amount=trade.amount,
            currency=trade.currency,
            paid=True,
            payer_name=trade.payer_name,
        )

    def refund(self, *, out_trade_no, amount, refund_no) -> str:
        with transaction.atomic():
            trade = SandboxTrade.objects.select_for_update().get(out_trade_no=out_trade_no)
            done = SandboxRefund.objects.filter(refund_no=refund_no).first()
            if done is not None:
                return done.refund_no
            if trade.status != SandboxTradeStatus.PAID or trade.refunded + amount > trade.amount:
                raise ValueError("refund exceeds what was paid")
            trade.refunded += amount
            trade.save(update_fields=["refunded"])
            SandboxRefund.objects.create(trade=trade, refund_no=refund_no, amount=amount)
        return refund_no

    # The pay page's buttons ---------------------------------------------------------------

    def settle(self, *, out_trade_no: str, paid: bool, payer_name: str) -> SandboxTrade:
        """The payer confirmed (or failed) on the hosted page; a settled trade stays settled."""
        with transaction.atomic():
            trade = SandboxTrade.objects.select_for_update().get(out_trade_no=out_trade_no)
            if trade.status == SandboxTradeStatus.WAITING:
                trade.status = SandboxTradeStatus.PAID if paid else SandboxTradeStatus.FAILED
                trade.payer_name = payer_name[:60]
                trade.paid_at = timezone.now() if paid else None
                trade.save(update_fields=["status", "payer_name", "paid_at"])
        return trade
