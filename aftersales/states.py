"""Survey invitation states as data (no ORM): who may move where."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class InvitationStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("Sent")
    ANSWERED = "answered", _("Answered")
    SKIPPED = "skipped", _("Not sent")
    EXPIRED = "expired", _("Expired")


class QuestionKind(models.TextChoices):
    STARS = "stars", _("Star rating (1 to 5)")
    CHOICE = "choice", _("Multiple choice")
    TEXT = "text", _("Free text")


TRANSITIONS: dict[str, frozenset[str]] = {
    InvitationStatus.PENDING: frozenset({InvitationStatus.SENT, InvitationStatus.SKIPPED}),
    InvitationStatus.SENT: frozenset({InvitationStatus.ANSWERED, InvitationStatus.EXPIRED}),
    InvitationStatus.ANSWERED: frozenset(),
    InvitationStatus.SKIPPED: frozenset(),
    InvitationStatus.EXPIRED: frozenset(),
}

# An invitation a buyer can still answer.
ANSWERABLE = frozenset({InvitationStatus.SENT})


def can_move(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())
