"""Scheduled survey work: create invitations in bulk, send due ones, remind once, expire."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="aftersales.tasks.survey_sweep", ignore_result=True)
def survey_sweep() -> int:
    """Every few minutes: invite the buyers of units delivered, or shipped N days ago."""
    from .services import invitations_create

    result = invitations_create()
    if result.created or result.skipped:
        logger.info("survey invitations: %s created, %s skipped", result.created, result.skipped)
    return result.created


@shared_task(name="aftersales.tasks.survey_send_due", ignore_result=True)
def survey_send_due(max_batches: int = 200) -> int:
    """Every minute: send due invitations and reminders (batch after batch), expire old links."""
    from .services import invitations_expire_due, invitations_remind_due, invitations_send_due

    sent = 0
    for _batch in range(max_batches):
        n = invitations_send_due()
        sent += n
        if not n:
            break
    for _batch in range(max_batches):
        if not invitations_remind_due():
            break
    invitations_expire_due()
    return sent


@shared_task(name="aftersales.tasks.survey_invite_parcel", ignore_result=True)
def survey_invite_parcel(parcel_code: str) -> int:
    """A parcel was delivered: invite its units' buyers now (the sweep catches any missed)."""
    from .services import invitations_create_for_parcel

    return invitations_create_for_parcel(parcel_code=parcel_code).created
