"""Reads of push for other apps, the admin and the opt-out page."""

from .models import Message


def message_statuses(*, idempotency_keys: list[str]) -> dict[str, str]:
    """key -> status of the messages with these keys (unknown keys are left out); one query."""
    return dict(
        Message.objects.filter(idempotency_key__in=idempotency_keys).values_list(
            "idempotency_key", "status"
        )
    )


def message_counts_by_status() -> dict[str, int]:
    from django.db.models import Count

    return dict(Message.objects.values_list("status").annotate(n=Count("id")).order_by())
