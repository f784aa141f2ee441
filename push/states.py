"""Message categories and the message state machine as data; quiet hours as a pure function."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _


class MessageCategory(TextChoices):
    # Service notices the buyer's purchase calls for (survey invitations count as these).
    TRANSACTIONAL = "transactional", _("Transactional")
    # Promotions: only with the buyer's marketing consent.
    MARKETING = "marketing", _("Marketing")


class MessageStatus(TextChoices):
    QUEUED = "queued", _("Queued")
    HELD = "held", _("Held (quiet hours)")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    SUPPRESSED = "suppressed", _("Suppressed")


class SuppressReason(TextChoices):
    NO_CONSENT = "no_consent", _("No consent to marketing")
    UNSUBSCRIBED = "unsubscribed", _("The buyer unsubscribed")
    NO_CHANNEL = "no_channel", _("No reachable channel")


class Channel(TextChoices):
    # The same codes as accounts.models.MessageChannel (the buyer's preferred channel).
    SMS = "sms", _("SMS")
    QQ = "qq", _("QQ")
    WECHAT = "wechat", _("WeChat")


S = MessageStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.QUEUED: frozenset({S.HELD, S.SENDING, S.SUPPRESSED}),
    S.HELD: frozenset({S.QUEUED, S.SENDING, S.SUPPRESSED}),
    # sending -> queued: a retry after a temporary failure; sending -> sending: a lease that ran
    # out (the worker died) is claimed again.
    S.SENDING: frozenset(
        {S.SENDING, S.QUEUED, S.HELD, S.SENT, S.DELIVERED, S.FAILED, S.SUPPRESSED}
    ),
    # A receipt may come before our own record of the send (sending -> delivered above).
    S.SENT: frozenset({S.DELIVERED, S.FAILED}),
    S.DELIVERED: frozenset(),
    S.FAILED: frozenset(),
    S.SUPPRESSED: frozenset(),
}
# Statuses the sender picks up when their next_attempt_at is due.
CLAIMABLE = (S.QUEUED, S.HELD, S.SENDING)
FINAL = frozenset({S.DELIVERED, S.FAILED, S.SUPPRESSED})


def can_transition(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def parse_quiet_hours(value: str) -> tuple[time, time] | None:
    """'21:00-08:00' -> (21:00, 08:00); '' -> None (no quiet hours)."""
    if not value:
        return None
    start, end = (time.fromisoformat(part.strip()) for part in value.split("-", 1))
    return start, end


def quiet_until(now: datetime, tz_name: str, window: tuple[time, time] | None) -> datetime | None:
    """When `now` falls in the quiet window of the buyer's time zone, the moment it ends."""
    if window is None:
        return None
    try:
        tz = ZoneInfo(tz_name or "Asia/Shanghai")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("Asia/Shanghai")
    local = now.astimezone(tz)
    start, end = window
    clock = local.time().replace(tzinfo=None)
    if start <= end:
        quiet = start <= clock < end
        opens_day = local.date()
    else:  # the window spans midnight
        quiet = clock >= start or clock < end
        opens_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not quiet:
        return None
    return datetime.combine(opens_day, end, tzinfo=tz)
