"""Every write of push: the outbox (enqueue), the batched sender, receipts and opt-out.

Other apps call `message_enqueue` inside their own transaction; the row is the promise to send.
After commit a Celery task (push.tasks.messages_send) drains the outbox with
`messages_send_batch`: it claims due rows with SELECT ... FOR UPDATE SKIP LOCKED, leases them
(status `sending`, `next_attempt_at` = end of the lease, a claim token), commits, sends them per
channel in batched HTTP requests over a kept-alive connection, then records every outcome in bulk,
only for rows still carrying its claim token. A row whose lease ran out (the worker died mid-send)
or whose last attempt timed out is `needs_check`: the provider is asked by idempotency key before
anything is sent again, so no message goes out twice.
"""

import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import selectors as accounts_selectors
from accounts import services as accounts_services
from core.errors import DomainError, NotFoundError
from core.validators import E164

from . import backends
from .models import Message, MessageEvent
from .states import (
    CLAIMABLE,
    Channel,
    MessageCategory,
    MessageStatus,
    SuppressReason,
    can_transition,
    parse_quiet_hours,
    quiet_until,
)

logger = logging.getLogger(__name__)

S = MessageStatus
UNSUBSCRIBE_SALT = "push.unsubscribe"
PURPOSE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
QQ_NUMBER = re.compile(r"^[1-9]\d{4,11}$")
SURVEY_PURPOSES = frozenset({"survey_invitation", "survey_reminder"})
FOUND_AT_PROVIDER = "found at provider"  # a checked message the provider already had
# Replies to an SMS that withdraw consent (Chinese carriers' conventions: R = 拒收, TD = 退订).
OPT_OUT_REPLIES = frozenset({"R", "TD", "T", "N", "STOP", "退订", "拒收"})


# --- enqueue -----------------------------------------------------------------------------------


def unsubscribe_token(user_id: int) -> str:
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign(str(user_id))


def unsubscribe_user_id(token: str) -> int | None:
    try:
        return int(signing.Signer(salt=UNSUBSCRIBE_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        return None


def unsubscribe_url(user_id: int) -> str:
    path = reverse("push:unsubscribe", args=[unsubscribe_token(user_id)])
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def _reachable(contact: dict, channel: str) -> str:
    """The buyer's valid address on this channel, or ''."""
    if channel == Channel.SMS:
        phone = contact.get("phone") or ""
        return phone if E164.match(phone) else ""
    if channel == Channel.QQ:
        qq = contact.get("qq") or ""
        return qq if QQ_NUMBER.match(qq) else ""
    if channel == Channel.WECHAT:
        return (contact.get("wechat_id") or "").strip()
    return ""


def _route(contact: dict, channel: str | None) -> tuple[str, str]:
    """(channel, address): the asked or preferred channel first, then the configured fallbacks."""
    order = [channel] if channel else []
    order.append(contact.get("preferred_channel") or Channel.SMS)
    order.extend(settings.PUSH_CHANNEL_FALLBACK)
    for candidate in dict.fromkeys(order):
        if candidate in settings.PUSH_BACKENDS and (address := _reachable(contact, candidate)):
            return candidate, address
    return "", ""


def suppress_reason(*, category: str, purpose: str, contact: dict | None) -> str:
    """Why this message must not go to this buyer ('' when it may)."""
    if contact is None:
        return SuppressReason.NO_CHANNEL
    if category == MessageCategory.MARKETING and not contact.get("marketing_consent"):
        withdrawn = contact.get("marketing_consent_at") is not None
        return SuppressReason.UNSUBSCRIBED if withdrawn else SuppressReason.NO_CONSENT
    if purpose in SURVEY_PURPOSES and not contact.get("survey_consent", True):
        return SuppressReason.UNSUBSCRIBED
    return ""


def compose_text(*, body: str, link: str, channel: str, unsubscribe: str) -> str:
    """What the buyer reads: the caller's text, its link, and the opt-out push always adds."""
    parts = [body.strip()]
    if link:
        parts.append(link)
    if channel == Channel.SMS:
        parts.append(_("Reply R/TD to unsubscribe, or open %(url)s") % {"url": unsubscribe})
    else:
        parts.append(_("Unsubscribe: %(url)s") % {"url": unsubscribe})
    return "\n".join(parts)


def _validate(
    *, category: str, purpose: str, body: str, link: str, key: str, channel: str | None
) -> None:
    if category not in MessageCategory.values:
        raise DomainError(
            _("Unknown message category %(value)s.") % {"value": category},
            code="bad_category",
            field="category",
        )
    if not PURPOSE.match(purpose or ""):
        raise DomainError(
            _("A purpose is a short code of lower-case letters, digits and underscores."),
            code="bad_purpose",
            field="purpose",
        )
    if not (body or "").strip():
        raise DomainError(_("A message needs a text."), code="empty_body", field="body")
    if not key or len(key) > 120:
        raise DomainError(
            _("An idempotency key of 1 to 120 characters is required."),
            code="bad_idempotency_key",
            field="idempotency_key",
        )
    if channel is not None and channel not in Channel.values:
        raise DomainError(
            _("Unknown channel %(value)s.") % {"value": channel},
            code="bad_channel",
            field="channel",
        )
    if link:
        try:
            URLValidator(schemes=["http", "https"])(link)
        except ValidationError as exc:
            raise DomainError(
                _("The link must be an absolute http(s) URL."), code="bad_link", field="link"
            ) from exc


def _kick_after_commit() -> None:
    """Ask for a sender once per transaction, however many messages it enqueued."""
    if not settings.PUSH_KICK_AFTER_COMMIT:
        return
    if any(entry[1] is _kick for entry in connection.run_on_commit):
        return
    transaction.on_commit(_kick)


def _kick() -> None:
    from .tasks import messages_send

    try:
        messages_send.delay()
    except Exception:  # the broker is down: beat's sweep sends the rows later
        logger.exception("could not queue the message sender")


@dataclass(frozen=True)
class MessageRequest:
    """One message for `message_enqueue_many` (the arguments of `message_enqueue`, by user id)."""

    user_id: int
    category: str
    purpose: str
    body: str
    idempotency_key: str
    link: str = ""
    channel: str | None = None


def message_enqueue(
    *,
    user,
    category: str,
    purpose: str,
    body: str,
    link: str = "",
    idempotency_key: str,
    channel: str | None = None,
) -> Message:
    """Write a message to the outbox in the caller's transaction; idempotent on the key.

    A second call with the same key returns the first row and sends nothing. The row is queued,
    held (quiet hours in the buyer's time zone), or suppressed with a reason (no consent, opted
    out, no reachable channel). The opt-out is added here. Sending happens after commit.
    """
    request = MessageRequest(
        user_id=user.pk,
        category=category,
        purpose=purpose,
        body=body,
        link=link,
        idempotency_key=idempotency_key,
        channel=channel,
    )
    return message_enqueue_many(requests=[request])[idempotency_key]


@transaction.atomic
def message_enqueue_many(*, requests: list[MessageRequest]) -> dict[str, Message]:
    """`message_enqueue` for a batch, in four queries however many: the rows by key.

    All or nothing: one bad request refuses the batch. Keys already in the outbox return their
    row (a key of another user is refused); a key twice in the batch is written once. Two
    transactions racing to write the same new key: the second fails on the unique key and its
    caller retries, then finds the row.
    """
    for r in requests:
        _validate(
            category=r.category,
            purpose=r.purpose,
            body=r.body,
            link=r.link,
            key=r.idempotency_key,
            channel=r.channel,
        )
    wanted: dict[str, MessageRequest] = {}
    for r in requests:
        wanted.setdefault(r.idempotency_key, r)  # the first of a key wins, in request order
    found = {m.idempotency_key: m for m in Message.objects.filter(idempotency_key__in=wanted)}
    for key, message in found.items():
        if message.user_id != wanted[key].user_id:
            raise DomainError(
                _("This idempotency key belongs to a message for another user."),
                code="idempotency_key_conflict",
                field="idempotency_key",
            )
    fresh = [r for key, r in wanted.items() if key not in found]
    if not fresh:
        return found
    now = timezone.now()
    contacts = accounts_selectors.message_contacts(user_ids=sorted({r.user_id for r in fresh}))
    quiet_hours = parse_quiet_hours(settings.PUSH_QUIET_HOURS)
    opens_by_tz: dict[str, datetime | None] = {}
    unsubscribe_by_user: dict[int, str] = {}
    rows = []
    for r in fresh:
        contact = contacts.get(r.user_id)
        reason = suppress_reason(category=r.category, purpose=r.purpose, contact=contact)
        route_channel, address = ("", "") if reason else _route(contact or {}, r.channel)
        if not reason and not route_channel:
            reason = SuppressReason.NO_CHANNEL
        tz_name = (contact or {}).get("timezone") or settings.TIME_ZONE
        status, due = S.QUEUED, now
        if reason:
            status, due = S.SUPPRESSED, None
        elif r.purpose not in settings.PUSH_QUIET_HOURS_EXEMPT:
            if tz_name not in opens_by_tz:
                opens_by_tz[tz_name] = quiet_until(now, tz_name, quiet_hours)
            if opens := opens_by_tz[tz_name]:
                status, due = S.HELD, opens
        text = ""
        if route_channel:
            if r.user_id not in unsubscribe_by_user:
                unsubscribe_by_user[r.user_id] = unsubscribe_url(r.user_id)
            text = compose_text(
                body=r.body,
                link=r.link,
                channel=route_channel,
                unsubscribe=unsubscribe_by_user[r.user_id],
            )
        rows.append(
            Message(
                user_id=r.user_id,
                category=r.category,
                purpose=r.purpose,
                channel=route_channel,
                recipient=address,
                body=r.body,
                link=r.link,
                text=text,
                buyer_timezone=tz_name,
                idempotency_key=r.idempotency_key,
                status=status,
                reason=reason,
                next_attempt_at=due,
            )
        )
    created = Message.objects.bulk_create(rows)
    MessageEvent.objects.bulk_create(
        MessageEvent(message=m, from_status="", to_status=m.status, note=m.reason) for m in created
    )
    if any(m.status == S.QUEUED for m in created):
        _kick_after_commit()
    return {**found, **{m.idempotency_key: m for m in created}}


# --- sending -----------------------------------------------------------------------------------


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    retried: int = 0
    held: int = 0
    suppressed: int = 0
    resolved_by_query: int = 0
    stale: int = 0  # outcomes dropped because another sender took the rows over
    counts: dict = field(default_factory=dict)


@dataclass
class _Outcome:
    status: str
    note: str = ""
    provider_id: str = ""
    retry_after: int | None = None
    uncertain: bool = False


def _backoff(attempts: int) -> int:
    steps = settings.PUSH_RETRY_BACKOFF
    return steps[min(max(attempts, 1), len(steps)) - 1]


def _claim(*, now: datetime, limit: int) -> tuple[str, list[Message], SendReport]:
    """Lease a batch of due rows to this sender; suppress or hold those that may not go now."""
    report = SendReport()
    token = uuid.uuid4().hex
    window = parse_quiet_hours(settings.PUSH_QUIET_HOURS)
    lease = timedelta(seconds=settings.PUSH_LEASE_SECONDS)
    with transaction.atomic():
        rows = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(status__in=CLAIMABLE, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")[:limit]
        )
        if not rows:
            return token, [], report
        contacts = accounts_selectors.message_contacts(
            user_ids=sorted({row.user_id for row in rows})
        )
        events, leased, plain = [], [], []
        opens_by_tz: dict[str, datetime | None] = {}
        for row in rows:
            before = row.status
            reason = suppress_reason(
                category=row.category, purpose=row.purpose, contact=contacts.get(row.user_id)
            )
            opens = None
            if not reason and row.purpose not in settings.PUSH_QUIET_HOURS_EXEMPT:
                if row.buyer_timezone not in opens_by_tz:
                    opens_by_tz[row.buyer_timezone] = quiet_until(now, row.buyer_timezone, window)
                opens = opens_by_tz[row.buyer_timezone]
            if reason:
                row.status, row.reason, row.next_attempt_at = S.SUPPRESSED, reason, None
                report.suppressed += 1
            elif opens is not None:
                # The send can wait; a lease that ran out is still checked before sending.
                row.needs_check = row.needs_check or before == S.SENDING
                row.status, row.next_attempt_at = S.HELD, opens
                report.held += 1
            elif before == S.SENDING and row.attempts >= settings.PUSH_MAX_ATTEMPTS:
                # The last attempt's worker died; ask the provider once more, never resend.
                row.needs_check = True
                row.status, row.next_attempt_at = S.SENDING, now + lease
                row.claim_token = token
                leased.append(row)
            else:
                fresh = before != S.SENDING and not row.needs_check
                row.needs_check = row.needs_check or before == S.SENDING
                row.status, row.next_attempt_at = S.SENDING, now + lease
                row.attempts += 1
                row.claim_token = token
                leased.append(row)
                if fresh:  # the common case: written below by one statement for all of them
                    plain.append(row.pk)
            if row.status != before or before == S.SENDING:
                note = "lease expired" if before == S.SENDING else row.reason
                events.append(
                    MessageEvent(message=row, from_status=before, to_status=row.status, note=note)
                )
        if plain:
            Message.objects.filter(pk__in=plain).update(
                status=S.SENDING,
                next_attempt_at=now + lease,
                attempts=F("attempts") + 1,
                claim_token=token,
            )
        plain_ids = set(plain)
        others = [row for row in rows if row.pk not in plain_ids]
        if others:
            Message.objects.bulk_update(
                others,
                ["status", "reason", "next_attempt_at", "attempts", "claim_token", "needs_check"],
            )
        MessageEvent.objects.bulk_create(events)
    report.claimed = len(leased)
    return token, leased, report


def _outgoing(row: Message, unsubscribe: dict[int, str]) -> backends.Outgoing:
    if row.user_id not in unsubscribe:
        unsubscribe[row.user_id] = unsubscribe_url(row.user_id)
    return backends.Outgoing(
        key=row.idempotency_key,
        recipient=row.recipient,
        text=row.text,
        body=row.body,
        link=row.link,
        unsubscribe_url=unsubscribe[row.user_id],
        purpose=row.purpose,
        category=row.category,
    )


def _deliver(rows: list[Message]) -> dict[int, _Outcome]:
    """Talk to the providers (no transaction open): ask first where needed, then send."""
    outcomes: dict[int, _Outcome] = {}
    by_channel: dict[str, list[Message]] = {}
    for row in rows:
        by_channel.setdefault(row.channel, []).append(row)
    for channel, channel_rows in by_channel.items():
        backend = backends.get_backend(channel)
        to_send = [row for row in channel_rows if not row.needs_check]
        to_check = [row for row in channel_rows if row.needs_check]
        if to_check:
            try:
                known = backend.query([row.idempotency_key for row in to_check])
            except backends.ProviderUnavailableError as exc:
                for row in to_check:
                    outcomes[row.pk] = _Outcome(S.QUEUED, f"status query failed: {exc}"[:500])
                known = None
            for row in to_check if known is not None else []:
                found = known.get(row.idempotency_key)
                if found is None or found.status == backends.UNKNOWN:
                    to_send.append(row)
                elif found.status == backends.ACCEPTED:
                    outcomes[row.pk] = _Outcome(S.SENT, FOUND_AT_PROVIDER, found.provider_id)
                elif found.status == backends.DELIVERED:
                    outcomes[row.pk] = _Outcome(S.DELIVERED, FOUND_AT_PROVIDER, found.provider_id)
                else:
                    outcomes[row.pk] = _Outcome(S.FAILED, found.answer or "failed at provider")
        if to_send:
            unsubscribe: dict[int, str] = {}
            results = backend.send_many([_outgoing(row, unsubscribe) for row in to_send])
            for row in to_send:
                result = results.get(row.idempotency_key) or backends.SendResult(
                    backends.RETRY, "no answer for this message", uncertain=True
                )
                if result.outcome == backends.ACCEPTED:
                    outcomes[row.pk] = _Outcome(S.SENT, result.answer, result.provider_id)
                elif result.outcome == backends.REJECTED:
                    outcomes[row.pk] = _Outcome(S.FAILED, result.answer)
                else:
                    outcomes[row.pk] = _Outcome(
                        S.QUEUED,
                        result.answer,
                        retry_after=result.retry_after,
                        uncertain=result.uncertain,
                    )
    return outcomes


def _finalize(
    *,
    token: str,
    rows: list[Message],
    outcomes: dict[int, _Outcome],
    now: datetime,
    report: SendReport,
) -> None:
    """Record the outcomes of the rows this sender still holds (claim token unchanged)."""
    with transaction.atomic():
        held = set(
            Message.objects.select_for_update()
            .filter(pk__in=[row.pk for row in rows], claim_token=token, status=S.SENDING)
            .values_list("pk", flat=True)
        )
        report.stale += len(rows) - len(held)
        sent_ids, changed, events = [], [], []
        for row in rows:
            if row.pk not in held:
                continue
            outcome = outcomes[row.pk]
            status = outcome.status
            if status == S.QUEUED and row.attempts >= settings.PUSH_MAX_ATTEMPTS:
                status = S.FAILED
                outcome.note = f"gave up after {row.attempts} attempts: {outcome.note}"
            row.claim_token = ""
            if status == S.SENT:
                sent_ids.append(row.pk)
                report.sent += 1
            else:
                row.status = status
                row.provider_answer = outcome.note[:500]
                if outcome.provider_id:
                    row.provider_message_id = outcome.provider_id
                if status == S.QUEUED:
                    wait = outcome.retry_after or _backoff(row.attempts)
                    row.next_attempt_at = now + timedelta(seconds=wait)
                    row.needs_check = row.needs_check or outcome.uncertain
                    report.retried += 1
                else:
                    row.next_attempt_at = None
                    row.needs_check = False
                    if status == S.DELIVERED:
                        row.sent_at = row.sent_at or now
                        row.delivered_at = now
                        report.delivered += 1
                    else:
                        row.failed_at = now
                        row.reason = row.reason or "provider_failed"
                        report.failed += 1
                changed.append(row)
            note = outcome.provider_id or outcome.note
            if outcome.note == FOUND_AT_PROVIDER:  # not sent again: say so in the history
                note = f"{FOUND_AT_PROVIDER}: {outcome.provider_id}".rstrip(": ")
            events.append(
                MessageEvent(message=row, from_status=S.SENDING, to_status=status, note=note[:500])
            )
        if sent_ids:
            # The common case in one statement: no per-row values to write.
            Message.objects.filter(pk__in=sent_ids).update(
                status=S.SENT, sent_at=now, next_attempt_at=None, claim_token="", needs_check=False
            )
        if changed:
            Message.objects.bulk_update(
                changed,
                [
                    "status",
                    "provider_answer",
                    "provider_message_id",
                    "next_attempt_at",
                    "needs_check",
                    "claim_token",
                    "sent_at",
                    "delivered_at",
                    "failed_at",
                    "reason",
                ],
            )
        MessageEvent.objects.bulk_create(events)


def messages_send_batch(*, now: datetime | None = None, limit: int | None = None) -> SendReport:
    """Send one batch of due messages: claim (SKIP LOCKED, leased), send, record in bulk.

    Safe to run in many workers at once: a row is leased to one sender; a sender whose lease was
    taken over records nothing for that row. Holds no transaction while talking to providers.
    """
    now = now or timezone.now()
    token, rows, report = _claim(now=now, limit=limit or settings.PUSH_BATCH_SIZE)
    if not rows:
        return report
    outcomes = _deliver(rows)
    _finalize(token=token, rows=rows, outcomes=outcomes, now=timezone.now(), report=report)
    return report


# --- receipts and replies ---------------------------------------------------------------------


@dataclass
class InboundResult:
    outcome: str  # ok | bad_signature | unknown_channel | unknown_message | malformed
    applied: int = 0
    ignored: int = 0
    unknown: list[str] = field(default_factory=list)
    unsubscribed: int = 0
    detail: str = ""


def inbound_receive(*, channel: str, body: bytes, signature: str) -> InboundResult:
    """Apply a provider's signed receipts (and SMS opt-out replies); replays change nothing.

    Locks the named messages in pk order; a receipt never moves a message backwards.
    """
    try:
        backend = backends.get_backend(channel)
    except KeyError:
        return InboundResult("unknown_channel", detail=f"no channel {channel}")
    try:
        inbound = backend.parse_inbound(body, signature)
    except backends.BadSignatureError:
        return InboundResult("bad_signature", detail="signature does not match")
    except backends.MalformedReceiptError as exc:
        return InboundResult("malformed", detail=str(exc)[:200])
    result = InboundResult("ok")
    now = timezone.now()
    if inbound.receipts:
        with transaction.atomic():
            by_key = {r.key: r for r in inbound.receipts}
            rows = list(
                Message.objects.select_for_update()
                .filter(idempotency_key__in=list(by_key), channel=channel)
                .order_by("pk")
            )
            found = {row.idempotency_key for row in rows}
            result.unknown = sorted(set(by_key) - found)
            events, changed = [], []
            for row in rows:
                receipt = by_key[row.idempotency_key]
                target = S.DELIVERED if receipt.status == backends.DELIVERED else S.FAILED
                if not can_transition(row.status, target):
                    result.ignored += 1
                    continue
                events.append(
                    MessageEvent(
                        message=row,
                        from_status=row.status,
                        to_status=target,
                        note=f"receipt: {receipt.answer}"[:500],
                    )
                )
                row.status, row.next_attempt_at, row.claim_token = target, None, ""
                row.needs_check = False
                if target == S.DELIVERED:
                    row.delivered_at, row.sent_at = now, row.sent_at or now
                else:
                    row.failed_at = now
                    row.reason = "provider_failed"
                    row.provider_answer = receipt.answer[:500]
                changed.append(row)
            Message.objects.bulk_update(
                changed,
                [
                    "status",
                    "next_attempt_at",
                    "claim_token",
                    "needs_check",
                    "delivered_at",
                    "sent_at",
                    "failed_at",
                    "reason",
                    "provider_answer",
                ],
            )
            MessageEvent.objects.bulk_create(events)
            result.applied = len(changed)
    for phone, text in inbound.replies:
        if text.strip().upper() in OPT_OUT_REPLIES:
            for user_id in accounts_selectors.user_ids_with_phone(phone=phone):
                _opt_out(user_id=user_id, marketing=True, surveys=True)
                result.unsubscribed += 1
    if inbound.receipts and not result.applied and not result.ignored and result.unknown:
        result.outcome = "unknown_message"
    return result


# --- opt-out -----------------------------------------------------------------------------------


def _opt_out(*, user_id: int, marketing: bool, surveys: bool) -> None:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(pk=user_id)
    data = {}
    if marketing:
        data["marketing_consent"] = False
    if surveys:
        data["survey_consent"] = False
    if data:
        accounts_services.buyer_profile_update(user=user, data=data)


def unsubscribe_apply(*, token: str, marketing: bool, surveys: bool) -> int:
    """Withdraw the buyer's consent named by the token (signed user id); returns the user id.

    Consent lives on the buyer's profile (accounts), time-stamped there; messages already queued
    are suppressed when the sender claims them.
    """
    user_id = unsubscribe_user_id(token)
    if user_id is None:
        raise NotFoundError(_("This unsubscribe link is not valid."), code="bad_token")
    _opt_out(user_id=user_id, marketing=marketing, surveys=surveys)
    return user_id
