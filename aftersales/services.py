"""Writes of the survey module (seed 000 S3/S4): invitations, answers, ratings, replies.

Lock order, always: invitation rows (by id), then the product's RatingSummary row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts import selectors as accounts_selectors
from catalog import services as catalog_services
from core.admin import is_platform_staff
from core.errors import DomainError
from orders import selectors as orders_selectors
from warehouse import selectors as warehouse_selectors

from .models import (
    InvitationEvent,
    RatingSummary,
    ResponseEvent,
    SurveyAnswer,
    SurveyInvitation,
    SurveyQuestion,
    SurveyResponse,
)
from .states import InvitationStatus, QuestionKind

logger = logging.getLogger(__name__)

TOKEN_SALT = "aftersales.survey"  # noqa: S105 - a signing salt, not a secret
TRIGGER_DELIVERED = "delivered"
TRIGGER_SHIPPED = "shipped"
# Messages push could not deliver to anybody: the invitation is recorded as not sent.
UNDELIVERABLE = frozenset({"suppressed", "failed"})  # push.states.MessageStatus


# --- tokens ------------------------------------------------------------------------------------


def invitation_token(invitation_id: int) -> str:
    """The signed, unguessable token of an invitation's link (single use is the row's status)."""
    return signing.Signer(salt=TOKEN_SALT).sign(str(invitation_id))


def invitation_id_from_token(token: str) -> int | None:
    """The invitation id a token was signed for, or None for a tampered or made-up token."""
    try:
        return int(signing.Signer(salt=TOKEN_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        return None


def survey_link(invitation_id: int) -> str:
    path = reverse("aftersales:survey", args=[invitation_token(invitation_id)])
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


# --- creating invitations (set-based) ------------------------------------------------------------


@dataclass
class SweepResult:
    created: int = 0
    skipped: int = 0
    batches: int = 0
    ids: list[int] = field(default_factory=list)


def _line_id(ref: str | None) -> int | None:
    if not ref or not ref.startswith("OL") or not ref[2:].isdigit():
        return None
    return int(ref[2:])


def _invite_batch(units: list[Any], *, now: datetime) -> tuple[int, int]:
    """Invitation rows (and their events) for one batch of units: a few queries, in bulk."""
    line_of = {u.unit_id: _line_id(u.order_line_ref) for u in units}
    buyers = orders_selectors.line_buyers(line_ids=[i for i in line_of.values() if i])
    opted_out = accounts_selectors.survey_opted_out(
        user_ids=sorted({b.buyer_id for b in buyers.values()})
    )
    delay = timedelta(hours=settings.SURVEY_DELAY_AFTER_DELIVERY_HOURS)
    rows: list[SurveyInvitation] = []
    for unit in units:
        line = buyers.get(line_of[unit.unit_id] or 0)
        if line is None:  # not sold through an order line (cannot happen for a shipped unit)
            logger.warning("unit %s shipped without an order line", unit.item_number)
            continue
        delivered = unit.delivered_at is not None
        skip = ""
        if line.buyer_id in opted_out:
            skip = _("The buyer turned order surveys off.")
        elif line.line_status == "cancelled":
            skip = _("The order line was cancelled.")
        rows.append(
            SurveyInvitation(
                unit_id=unit.unit_id,
                item_number=unit.item_number,
                product_id=unit.product_id,
                merchant_id=unit.merchant_id,
                buyer_id=line.buyer_id,
                order_line_id=line.line_id,
                order_number=line.order_number,
                product_name=line.product_name,
                status=InvitationStatus.SKIPPED if skip else InvitationStatus.PENDING,
                skip_reason=skip,
                trigger=TRIGGER_DELIVERED if delivered else TRIGGER_SHIPPED,
                send_after=max(unit.delivered_at + delay, now) if delivered else now,
            )
        )
    with transaction.atomic():
        created = SurveyInvitation.objects.bulk_create(rows)
        InvitationEvent.objects.bulk_create(
            [
                InvitationEvent(
                    invitation_id=row.pk,
                    kind="skipped" if row.status == InvitationStatus.SKIPPED else "created",
                    note=row.skip_reason or row.trigger,
                )
                for row in created
            ]
        )
    skipped = sum(1 for row in created if row.status == InvitationStatus.SKIPPED)
    return len(created) - skipped, skipped


def invitations_create(
    *, now: datetime | None = None, parcel_code: str | None = None, batch_size: int | None = None
) -> SweepResult:
    """Invite the buyer of every unit delivered (or shipped N days ago without a delivery).

    Set-based: the database picks, batch by batch (keyset on the unit id), the units that have
    no invitation yet; each batch is a handful of queries and one short transaction. The unique
    invitation per unit is the database's: a batch that meets a concurrent sweep's row rolls back
    and is read again (without the units invited meanwhile).
    """
    now = now or timezone.now()
    size = batch_size or settings.SURVEY_BATCH_SIZE
    fallback = timedelta(days=settings.SURVEY_FALLBACK_DAYS_AFTER_SHIPPING)
    horizon = now - fallback - timedelta(days=settings.SURVEY_EXPIRY_DAYS)
    result, after_id, conflicts = SweepResult(), 0, 0
    while True:
        units = warehouse_selectors.shipped_units_for_survey(
            delivered_before=now,
            shipped_before=now - fallback,
            shipped_after=horizon,
            after_id=after_id,
            limit=size,
            parcel_code=parcel_code,
            without=SurveyInvitation.objects.all(),
        )
        if not units:
            return result
        try:
            created, skipped = _invite_batch(units, now=now)
        except IntegrityError:
            conflicts += 1
            if conflicts > 3:
                raise
            continue  # read the same range again: the units invited meanwhile drop out
        result.created += created
        result.skipped += skipped
        result.batches += 1
        after_id = units[-1].unit_id
        if len(units) < size:
            return result


def invitations_create_for_parcel(*, parcel_code: str) -> SweepResult:
    """The carrier delivered a parcel: invite the buyer for each of its units (after commit)."""
    return invitations_create(parcel_code=parcel_code)


# --- sending -------------------------------------------------------------------------------------


def _message_texts(invitation: SurveyInvitation, *, reminder: bool) -> str:
    # Neutral service notice: no incentive, no hint of which rating to give. The caller
    # (_enqueue) has switched to the survey's language.
    if reminder:
        return _(
            "Provena: a reminder that the short survey about %(product)s (order %(order)s) "
            "is open until %(date)s."
        ) % {
            "product": invitation.product_name,
            "order": invitation.order_number,
            "date": timezone.localdate(invitation.expires_at).isoformat(),
        }
    return _(
        "Provena: %(product)s from your order %(order)s has been delivered. How did it go? "
        "Please tell us in a short survey."
    ) % {"product": invitation.product_name, "order": invitation.order_number}


def _enqueue(invitations: list[SurveyInvitation], *, reminder: bool) -> dict[int, Any]:
    """The batch's messages in push's outbox (one call, a few queries): invitation id -> row.

    Written in the survey's language, the opt-out push adds included; push sends after commit.
    """
    from push import services as push_services  # push imports nothing of aftersales
    from push import states as push_states

    kind = "reminder" if reminder else "invitation"
    with translation.override(settings.SURVEY_MESSAGE_LANGUAGE):
        requests = [
            push_services.MessageRequest(
                user_id=invitation.buyer_id,
                category=push_states.MessageCategory.TRANSACTIONAL,
                purpose=f"survey_{kind}",
                body=_message_texts(invitation, reminder=reminder),
                link=survey_link(invitation.pk),
                idempotency_key=f"survey:{invitation.pk}:{kind}",
            )
            for invitation in invitations
        ]
        messages = push_services.message_enqueue_many(requests=requests)
    return {i.pk: messages[f"survey:{i.pk}:{kind}"] for i in invitations}


def invitations_send_due(*, now: datetime | None = None, limit: int | None = None) -> int:
    """Send one batch of due invitations through push; returns how many were handled.

    Rows are locked with SKIP LOCKED (two workers never take the same invitation) and each
    message is enqueued inside this transaction, idempotent on the invitation: push sends it
    after commit.
    """
    now = now or timezone.now()
    limit = limit or settings.SURVEY_BATCH_SIZE
    expiry = timedelta(days=settings.SURVEY_EXPIRY_DAYS)
    with transaction.atomic():
        batch = list(
            SurveyInvitation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=InvitationStatus.PENDING, send_after__lte=now)
            .order_by("send_after", "id")[:limit]
        )
        events = []
        messages = _enqueue(batch, reminder=False) if batch else {}
        # Rows that change alike are updated by one statement (a handful: channel x status),
        # not by one CASE per column over the whole batch.
        groups: dict[tuple, list[int]] = {}
        for invitation in batch:
            message = messages[invitation.pk]
            status = str(message.status)
            channel = str(message.channel or "")
            if status in UNDELIVERABLE:
                values = (
                    ("status", InvitationStatus.SKIPPED),
                    (
                        "skip_reason",
                        _("The message could not be sent (%(status)s).") % {"status": status},
                    ),
                    ("channel", channel),
                    ("message_status", status),
                )
                events.append(InvitationEvent(invitation=invitation, kind="skipped", note=status))
            else:
                values = (
                    ("status", InvitationStatus.SENT),
                    ("channel", channel),
                    ("message_status", status),
                    ("sent_at", now),
                    ("expires_at", now + expiry),
                )
                events.append(InvitationEvent(invitation=invitation, kind="sent", note=channel))
            groups.setdefault(values, []).append(invitation.pk)
        for values, ids in groups.items():
            SurveyInvitation.objects.filter(pk__in=ids).update(**dict(values))
        InvitationEvent.objects.bulk_create(events)
    return len(batch)


def invitations_remind_due(*, now: datetime | None = None, limit: int | None = None) -> int:
    """One reminder for invitations sent N days ago and still unanswered (and not expired)."""
    now = now or timezone.now()
    limit = limit or settings.SURVEY_BATCH_SIZE
    before = now - timedelta(days=settings.SURVEY_REMINDER_AFTER_DAYS)
    with transaction.atomic():
        batch = list(
            SurveyInvitation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                status=InvitationStatus.SENT,
                reminded_at__isnull=True,
                sent_at__lte=before,
                expires_at__gt=now,
            )
            .order_by("sent_at", "id")[:limit]
        )
        if batch:
            _enqueue(batch, reminder=True)
            # One value for the whole batch: one statement, not bulk_update's CASE per row.
            SurveyInvitation.objects.filter(pk__in=[i.pk for i in batch]).update(reminded_at=now)
        InvitationEvent.objects.bulk_create(
            [InvitationEvent(invitation=i, kind="reminded") for i in batch]
        )
    return len(batch)


def invitations_expire_due(*, now: datetime | None = None, limit: int | None = None) -> int:
    """Sent invitations past their expiry become expired (their link then says so)."""
    now = now or timezone.now()
    limit = limit or settings.SURVEY_BATCH_SIZE
    with transaction.atomic():
        ids = list(
            SurveyInvitation.objects.select_for_update(skip_locked=True)
            .filter(status=InvitationStatus.SENT, expires_at__lte=now)
            .order_by("id")
            .values_list("pk", flat=True)[:limit]
        )
        SurveyInvitation.objects.filter(pk__in=ids).update(status=InvitationStatus.EXPIRED)
        InvitationEvent.objects.bulk_create(
            [InvitationEvent(invitation_id=pk, kind="expired") for pk in ids]
        )
    return len(ids)


# --- the buyer's answers -------------------------------------------------------------------------


class SurveyError(DomainError):
    code = "survey_error"


def _gone(invitation: SurveyInvitation, now: datetime) -> SurveyError | None:
    if invitation.status == InvitationStatus.ANSWERED:
        return SurveyError(
            _("This survey has already been answered. Thank you!"), code="survey_used"
        )
    if invitation.status == InvitationStatus.EXPIRED or (
        invitation.status == InvitationStatus.SENT and invitation.expires_at <= now
    ):
        return SurveyError(
            _("This survey link has expired. Thank you for your interest."), code="survey_expired"
        )
    if invitation.status != InvitationStatus.SENT:
        return SurveyError(_("This survey link is not valid."), code="survey_invalid")
    return None


def invitation_check(*, invitation: SurveyInvitation, now: datetime | None = None) -> None:
    """Raise the SurveyError a buyer should read if this invitation cannot be answered now."""
    error = _gone(invitation, now or timezone.now())
    if error is not None:
        raise error


def invitation_open(*, invitation_id: int) -> None:
    """The buyer opened the link: remembered once (the first time), with an event."""
    with transaction.atomic():
        if SurveyInvitation.objects.filter(pk=invitation_id, opened_at__isnull=True).update(
            opened_at=timezone.now()
        ):
            InvitationEvent.objects.create(invitation_id=invitation_id, kind="opened")


def _clean_answers(
    questions: list[SurveyQuestion], answers: dict[int, Any]
) -> list[tuple[SurveyQuestion, int | None, str, str]]:
    cleaned = []
    for question in questions:
        value = answers.get(question.pk)
        value = "" if value is None else str(value).strip()
        if not value:
            if question.required:
                raise SurveyError(
                    _("Please answer “%(question)s”.") % {"question": question.prompt},
                    code="answer_missing",
                    field=f"q{question.pk}",
                )
            continue
        if question.kind == QuestionKind.STARS:
            if value not in {"1", "2", "3", "4", "5"}:
                raise SurveyError(
                    _("“%(question)s” takes 1 to 5 stars.") % {"question": question.prompt},
                    code="out_of_range",
                    field=f"q{question.pk}",
                )
            cleaned.append((question, int(value), "", ""))
        elif question.kind == QuestionKind.CHOICE:
            if value not in question.choice_list:
                raise SurveyError(
                    _("Choose one of the answers offered for “%(question)s”.")
                    % {"question": question.prompt},
                    code="out_of_range",
                    field=f"q{question.pk}",
                )
            cleaned.append((question, None, value, ""))
        else:
            cleaned.append((question, None, "", value[:2000]))
    return cleaned


def survey_submit(
    *,
    invitation_id: int,
    overall: Any,
    comment: str = "",
    answers: dict[int, Any] | None = None,
) -> SurveyResponse:
    """Record a buyer's answers: locks the invitation (single use, even under a double submit),
    stores the rating for the unit, order line and product, and updates the product's summary.
    """
    from .selectors import survey_questions_for_invitation

    if str(overall) not in {"1", "2", "3", "4", "5"}:
        raise SurveyError(
            _("Please choose an overall rating from 1 to 5 stars."),
            code="overall_missing",
            field="overall",
        )
    stars = int(overall)
    with transaction.atomic():
        invitation = (
            SurveyInvitation.objects.select_for_update(of=("self",))
            .select_related("product")
            .filter(pk=invitation_id)
            .first()
        )
        if invitation is None:
            raise SurveyError(_("This survey link is not valid."), code="survey_invalid")
        now = timezone.now()
        invitation_check(invitation=invitation, now=now)
        questions = survey_questions_for_invitation(invitation=invitation)
        cleaned = _clean_answers(questions, answers or {})
        response = SurveyResponse.objects.create(
            invitation=invitation,
            product_id=invitation.product_id,
            merchant_id=invitation.merchant_id,
            unit_id=invitation.unit_id,
            order_line_id=invitation.order_line_id,
            buyer_id=invitation.buyer_id,
            overall=stars,
            comment=(comment or "").strip()[:2000],
        )
        SurveyAnswer.objects.bulk_create(
            [
                SurveyAnswer(
                    response=response,
                    question=question,
                    product_id=invitation.product_id,
                    prompt=question.prompt,
                    stars=value,
                    choice=choice,
                    text=text,
                )
                for question, value, choice, text in cleaned
            ]
        )
        invitation.status = InvitationStatus.ANSWERED
        invitation.answered_at = now
        invitation.save(update_fields=["status", "answered_at"])
        InvitationEvent.objects.create(invitation=invitation, kind="answered", note=str(stars))
        _summary_add(invitation.product, stars)
    return response


def _summary_add(product: Any, stars: int) -> None:
    """Count one more rating in the product's summary (the UPDATE holds the row's lock)."""
    RatingSummary.objects.bulk_create([RatingSummary(product_id=product.pk)], ignore_conflicts=True)
    RatingSummary.objects.filter(pk=product.pk).update(
        count=F("count") + 1,
        total=F("total") + stars,
        **{f"stars_{stars}": F(f"stars_{stars}") + 1},
    )
    _summary_publish(product)


def _summary_publish(product: Any) -> None:
    """Store the summary on the product (catalog), which makes its cached pages stale."""
    summary = RatingSummary.objects.filter(pk=product.pk).first()
    count = summary.count if summary else 0
    avg = (Decimal(summary.total) / count).quantize(Decimal("0.01")) if count else None
    catalog_services.product_rating_set(product=product, avg=avg, count=count)


def rating_summary_rebuild(*, product: Any) -> RatingSummary:
    """Recount a product's summary from its ratings (repairs; hidden texts still count)."""
    from django.db.models import Count, Q, Sum

    with transaction.atomic():
        RatingSummary.objects.bulk_create(
            [RatingSummary(product_id=product.pk)], ignore_conflicts=True
        )
        summary = RatingSummary.objects.select_for_update().get(pk=product.pk)
        figures = SurveyResponse.objects.filter(product_id=product.pk).aggregate(
            count=Count("pk"),
            total=Sum("overall", default=0),
            **{f"stars_{n}": Count("pk", filter=Q(overall=n)) for n in range(1, 6)},
        )
        for name, value in figures.items():
            setattr(summary, name, value)
        summary.save()
        _summary_publish(product)
    return summary


# --- merchants and staff -------------------------------------------------------------------------


def _locked_response(response_id: int) -> SurveyResponse:
    response = (
        SurveyResponse.objects.select_for_update(of=("self",))
        .select_related("product")
        .filter(pk=response_id)
        .first()
    )
    if response is None:
        raise DomainError(_("No such rating."), code="not_found")
    return response


def response_reply(*, response_id: int, actor: Any, text: str) -> SurveyResponse:
    """The merchant answers a rating in public (their own products only; platform staff too)."""
    text = (text or "").strip()
    with transaction.atomic():
        response = _locked_response(response_id)
        if not is_platform_staff(actor) and actor.merchant_id != response.merchant_id:
            raise DomainError(_("No such rating."), code="not_found")
        if text == response.reply:
            return response
        response.reply = text[:2000]
        response.replied_at = timezone.now() if text else None
        response.save(update_fields=["reply", "replied_at"])
        ResponseEvent.objects.create(response=response, kind="replied", actor=actor, note=text)
        _summary_publish(response.product)  # the page shows the reply: its cache goes stale
    return response


def response_hide(
    *, response_id: int, actor: Any, reason: str, hidden: bool = True
) -> SurveyResponse:
    """Staff hide (or show again) the text of an abusive rating, with a recorded reason.

    The rating itself stays and still counts: ratings are never deleted.
    """
    from accounts import roles
    from core.permissions import has_role

    reason = (reason or "").strip()
    if not has_role(actor, roles.CUSTOMER_SERVICE):
        raise DomainError(
            _("Only platform staff may hide a rating's text."), code="permission_denied"
        )
    if not reason:
        raise DomainError(_("Give the reason, it is kept with the rating."), code="reason_missing")
    with transaction.atomic():
        response = _locked_response(response_id)
        if response.hidden == hidden:
            return response
        response.hidden = hidden
        response.hidden_reason = reason[:200] if hidden else ""
        response.hidden_by = actor if hidden else None
        response.hidden_at = timezone.now() if hidden else None
        response.save(update_fields=["hidden", "hidden_reason", "hidden_by", "hidden_at"])
        ResponseEvent.objects.create(
            response=response, kind="hidden" if hidden else "shown", actor=actor, note=reason
        )
        _summary_publish(response.product)
    return response


# --- questions -----------------------------------------------------------------------------------


def question_save(*, question: SurveyQuestion, actor: Any) -> SurveyQuestion:
    """Save a merchant's question (the admin's form); a product's question is its merchant's."""
    if question.product_id is not None:
        question.merchant_id = question.product.merchant_id
        question.category = None
    if not is_platform_staff(actor) and question.merchant_id != actor.merchant_id:
        raise DomainError(_("No such product."), code="not_found")
    if question.kind != QuestionKind.CHOICE:
        question.choices = ""
    with transaction.atomic():
        question.save()
    return question
