from celery import shared_task
from django.core.mail import send_mail
from django.utils.translation import gettext as _


@shared_task(
    name="authenticity.tasks.notify_rejection",
    autoretry_for=(OSError,),
    retry_backoff=30,
    max_retries=5,
    ignore_result=True,
)
def notify_rejection(case_id: int) -> None:
    """Tell the merchant one of its units failed authentication, and why."""
    from .selectors import rejection_notice

    notice = rejection_notice(case_id=case_id)
    if notice is None:
        return
    send_mail(
        subject=_("Unit %(number)s failed authentication") % {"number": notice["item_number"]},
        message=_(
            "Unit %(item_number)s of %(product)s (inbound %(inbound)s) was appraised as "
            "%(verdict)s.\n\n"
            "Appraiser's notes: %(notes)s\n\nIt will be %(disposition)s under your policy. "
            "The evidence is in your console under Appraisal cases."
        )
        % notice,
        from_email=None,
        recipient_list=[notice["email"]],
    )
