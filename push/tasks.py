"""Background work of push: drain the outbox in batches (after commit and on a beat)."""

import logging
import time

from celery import shared_task
from django.conf import settings

logger = logging.getLogger(__name__)


@shared_task(name="push.tasks.messages_send", acks_late=True, ignore_result=True)
def messages_send() -> int:
    """Send due batches for up to PUSH_DRAIN_SECONDS, then hand over to a fresh task if more wait.

    Idempotent and safe in parallel: rows are leased per batch (SKIP LOCKED); a worker killed
    mid-batch leaves its rows leased until the lease ends, and the next sender asks the
    provider about them before sending anything again.
    """
    from .services import messages_send_batch

    deadline = time.monotonic() + settings.PUSH_DRAIN_SECONDS
    handled = 0
    while True:
        report = messages_send_batch()
        handled += report.claimed + report.held + report.suppressed
        if report.claimed + report.held + report.suppressed == 0:
            return handled
        if time.monotonic() >= deadline:
            messages_send.delay()
            return handled
