"""Background work of orders: expiring unpaid orders, refunds, and the sandbox's notify calls."""

import logging
import urllib.error
import urllib.request

from celery import shared_task

logger = logging.getLogger(__name__)

# Like Alipay: retry a notify the shop did not acknowledge with growing gaps (seconds).
NOTIFY_BACKOFF = (4, 15, 60, 180, 600, 1800, 3600, 7200)


@shared_task(name="orders.tasks.expire_unpaid_orders", ignore_result=True)
def expire_unpaid_orders() -> int:
    """Scheduled every minute: unpaid orders past their deadline release their stock."""
    from .services import orders_expire_due

    expired = orders_expire_due()
    if expired:
        logger.info("expired %s unpaid orders", expired)
    return expired


@shared_task(
    name="orders.tasks.refund_execute",
    bind=True,
    max_retries=8,
    ignore_result=True,
)
def refund_execute(self, refund_id: int) -> None:
    from .services import refund_execute as execute

    try:
        execute(refund_id=refund_id)
    except Exception as exc:  # the gateway said no or was unreachable: try again later
        logger.warning("refund %s failed: %s", refund_id, exc)
        raise self.retry(exc=exc, countdown=min(3600, 30 * 2**self.request.retries)) from exc


def _post(url: str, body: bytes) -> str:
    request = urllib.request.Request(  # noqa: S310 (the URL is the shop's own notify endpoint)
        url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.read(200).decode("utf-8", "replace").strip()
    except urllib.error.HTTPError as exc:
        return exc.read(200).decode("utf-8", "replace").strip() or str(exc.code)
    except (urllib.error.URLError, OSError) as exc:
        return f"unreachable: {exc}"


@shared_task(name="orders.tasks.sandbox_notify", bind=True, max_retries=len(NOTIFY_BACKOFF))
def sandbox_notify(self, out_trade_no: str, mode: str = "normal", copies: int = 1) -> str:
    """The sandbox gateway tells the shop about a settled trade, until it hears `success`."""
    from django.db.models import F

    from .models import SandboxTrade
    from .payments import get_gateway
    from .payments.sandbox import NotifyMode

    trade = SandboxTrade.objects.get(out_trade_no=out_trade_no)
    if trade.notify_acknowledged:
        return "acknowledged"
    gateway = get_gateway("sandbox")
    answers = []
    for _copy in range(copies):
        SandboxTrade.objects.filter(pk=trade.pk).update(notify_attempts=F("notify_attempts") + 1)
        answers.append(_post(trade.notify_url, gateway.notify_body(trade, mode=mode)))
    if "success" in answers:
        SandboxTrade.objects.filter(pk=trade.pk).update(notify_acknowledged=True)
        return "success"
    logger.info("sandbox notify %s not acknowledged: %s", out_trade_no, answers[-1])
    if self.request.retries >= len(NOTIFY_BACKOFF):
        return answers[-1]
    # A deliberately broken notify stays broken on retry only once; then it is sent correctly,
    # like a gateway whose bug was fixed: the shop must cope with both.
    retry_mode = NotifyMode.NORMAL if self.request.retries >= 1 else mode
    raise self.retry(
        args=(out_trade_no, retry_mode, 1), countdown=NOTIFY_BACKOFF[self.request.retries]
    )
