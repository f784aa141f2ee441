from celery import shared_task
from django.core.management import call_command


@shared_task(name="core.tasks.clear_expired_sessions", ignore_result=True)
def clear_expired_sessions() -> None:
    """Scheduled: delete expired sessions so the table does not grow forever."""
    call_command("clearsessions")
