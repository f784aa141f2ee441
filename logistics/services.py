"""Writes of logistics: shipments with carriers, tracking events, customs declarations.

Tracking is append-only and idempotent: an event is stored once per (shipment, event id), a
shipment's status only moves forward (TRACKING_RANK), and a delivery is passed to the orders app in
the same transaction. A customs declaration compares the order, payment and waybill documents
before anything is declared; a rejection is passed to the orders app, which refunds the order.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError

from .carriers import BadSignatureError, MalformedPushError, TrackingUpdate, get_carrier
from .customs import get_authority
from .models import (
    TRACKING_RANK,
    CustomsDeclaration,
    CustomsEvent,
    DeclarationStatus,
    Shipment,
    TrackingEvent,
    TrackingStatus,
)

FINAL = (TrackingStatus.DELIVERED, TrackingStatus.RETURNED_TO_SENDER)


def shipment_create(
    *,
    parcel_code: str,
    order_ref: str,
    weight_grams: int,
    consignee: dict,
    carrier_code: str | None = None,
) -> Shipment:
    """Book the parcel with the carrier (idempotent per parcel): its waybill number."""
    existing = Shipment.objects.filter(parcel_code=parcel_code).first()
    if existing is not None:
        return existing
    carrier = get_carrier(carrier_code)
    waybill = carrier.create_waybill(
        parcel_code=parcel_code, order_ref=order_ref, weight_grams=weight_grams, consignee=consignee
    )
    with transaction.atomic():
        return Shipment.objects.create(
            carrier_code=carrier.code, waybill=waybill, parcel_code=parcel_code, order_ref=order_ref
        )


def shipment_handed_over(*, parcel_code: str) -> Shipment:
    with transaction.atomic():
        shipment = Shipment.objects.select_for_update().get(parcel_code=parcel_code)
        if shipment.handed_over_at is None:
            shipment.handed_over_at = timezone.now()
            shipment.save(update_fields=["handed_over_at", "updated_at"])
    return shipment


@dataclass
class TrackingResult:
    outcome: str  # ok / bad_signature / malformed / unknown_waybill
    stored: int = 0
    duplicates: int = 0
    delivered: list[str] = field(default_factory=list)
    detail: str = ""


def _advance(shipment: Shipment, update: TrackingUpdate) -> set[str]:
    """Apply a newly stored event to its shipment in memory; the fields that changed."""
    if update.status == TrackingStatus.EXCEPTION:
        shipment.exception_note = update.description[:200]
        return {"exception_note"}
    if shipment.status in FINAL or TRACKING_RANK[update.status] <= TRACKING_RANK.get(
        shipment.status, 0
    ):
        return set()  # late or out of order: kept in the history, the status never goes back
    shipment.status = update.status
    if update.status == TrackingStatus.DELIVERED:
        shipment.delivered_at = update.occurred_at
        return {"status", "delivered_at"}
    return {"status"}


def tracking_ingest(*, carrier_code: str, updates: list[TrackingUpdate]) -> TrackingResult:
    """Store a batch of tracking updates (all or nothing); unknown waybills refuse the batch.

    The shipments' row locks keep any other batch from storing their events meanwhile, so one
    query finds the events already stored, one inserts the new ones, and each shipment is saved
    once: no savepoint per event (a batch of deliveries used to open hundreds of subtransactions).
    """
    result = TrackingResult("ok")
    with transaction.atomic():
        waybills = sorted({u.waybill for u in updates})
        shipments = {
            s.waybill: s
            for s in Shipment.objects.select_for_update()
            .filter(carrier_code=carrier_code, waybill__in=waybills)
            .order_by("pk")
        }
        unknown = [w for w in waybills if w not in shipments]
        if unknown:
            return TrackingResult("unknown_waybill", detail=", ".join(unknown)[:200])
        known = set(
            TrackingEvent.objects.filter(
                shipment_id__in=[s.pk for s in shipments.values()],
                event_id__in=sorted({u.event_id for u in updates}),
            ).values_list("shipment_id", "event_id")
        )
        fresh = []
        for update in sorted(updates, key=lambda u: u.occurred_at):
            key = (shipments[update.waybill].pk, update.event_id)
            if key in known:
                result.duplicates += 1
                continue
            known.add(key)
            fresh.append(update)
        TrackingEvent.objects.bulk_create(
            [
                TrackingEvent(
                    shipment=shipments[u.waybill],
                    event_id=u.event_id,
                    status=u.status,
                    description=u.description,
                    location=u.location,
                    occurred_at=u.occurred_at,
                )
                for u in fresh
            ]
        )
        result.stored = len(fresh)
        changed: dict[int, set[str]] = {}
        for update in fresh:
            shipment = shipments[update.waybill]
            changed.setdefault(shipment.pk, set()).update(_advance(shipment, update))
        for shipment in shipments.values():  # in pk order, as locked
            fields = changed.get(shipment.pk)
            if not fields:
                continue
            shipment.save(update_fields=[*sorted(fields), "updated_at"])
            if "delivered_at" in fields:
                from orders.services import parcel_delivered  # orders imports logistics

                parcel_delivered(order_ref=shipment.order_ref, parcel_code=shipment.parcel_code)
                result.delivered.append(shipment.parcel_code)
    return result


def tracking_receive(*, carrier_code: str, body: bytes, signature: str) -> TrackingResult:
    """A carrier's webhook push: verified, then ingested."""
    try:
        carrier = get_carrier(carrier_code)
    except LookupError:
        return TrackingResult("unknown_carrier")
    try:
        updates = carrier.parse_push(body=body, signature=signature)
    except BadSignatureError:
        return TrackingResult("bad_signature")
    except MalformedPushError as exc:
        return TrackingResult("malformed", detail=str(exc))
    return tracking_ingest(carrier_code=carrier.code, updates=updates)


def simulated_carrier_push_due(*, now: Any = None, carrier_code: str = "simulated") -> int:
    """The simulated carrier pushes every due event of its shipments in the hands of the carrier.

    It goes through the same verification as a webhook: the body is signed and parsed back.
    """
    now = now or timezone.now()
    carrier = get_carrier(carrier_code)
    pushed = 0
    shipments = Shipment.objects.filter(
        carrier_code=carrier.code, handed_over_at__isnull=False
    ).exclude(status__in=FINAL)
    for shipment in shipments.iterator():
        known = set(shipment.events.values_list("event_id", flat=True))
        due = [
            u
            for u in carrier.track(
                waybill=shipment.waybill, handed_over_at=shipment.handed_over_at, now=now
            )
            if u.event_id not in known
        ]
        if due:
            body, signature = carrier.push_body(due)
            result = tracking_receive(carrier_code=carrier.code, body=body, signature=signature)
            pushed += result.stored
    return pushed


# Customs ------------------------------------------------------------------------------------


def _disagreements(order: dict, payment: dict, waybill: dict) -> list[str]:
    """The three documents must agree (order number, amounts, orderer = payer, phone)."""
    problems = []
    if not (order.get("order_no") == payment.get("order_no") == waybill.get("order_no")):
        problems.append(_("The documents name different orders."))
    if Decimal(str(payment.get("amount_paid", "0"))) != Decimal(
        str(order.get("actual_paid", "-1"))
    ):
        problems.append(
            _("The payment (%(paid)s) differs from the order's amount (%(due)s).")
            % {"paid": payment.get("amount_paid"), "due": order.get("actual_paid")}
        )
    if payment.get("currency") != order.get("currency"):
        problems.append(_("The payment's currency differs from the order's."))
    if order.get("orderer_name") and payment.get("payer_name") != order.get("orderer_name"):
        problems.append(_("The payer is not the orderer."))
    if waybill.get("consignee_phone") != order.get("consignee_phone"):
        problems.append(_("The waybill's phone differs from the order's."))
    return problems


def declaration_file(
    *,
    order_ref: str,
    regime_code: str,
    order_document: dict,
    payment_document: dict,
    waybill_document: dict,
) -> CustomsDeclaration:
    """Check the three documents against each other and declare them (idempotent per order)."""
    problems = _disagreements(order_document, payment_document, waybill_document)
    with transaction.atomic():
        declaration, _created = CustomsDeclaration.objects.select_for_update().get_or_create(
            order_ref=order_ref,
            defaults={"regime_code": regime_code, "status": DeclarationStatus.MISMATCH},
        )
        if declaration.status in (DeclarationStatus.SUBMITTED, DeclarationStatus.RELEASED):
            return declaration
        declaration.order_document = order_document
        declaration.payment_document = payment_document
        declaration.waybill_document = waybill_document
        declaration.mismatches = [str(p) for p in problems]
        if problems:
            declaration.status = DeclarationStatus.MISMATCH
            declaration.reason = str(problems[0])[:300]
        else:
            declaration.status = DeclarationStatus.SUBMITTED
            declaration.reason = ""
            declaration.submissions += 1
            declaration.authority_ref = get_authority().submit(declaration=declaration)
        declaration.save()
        CustomsEvent.objects.create(
            declaration=declaration, status=declaration.status, note=declaration.reason
        )
    return declaration


def declaration_decide(*, order_ref: str, released: bool, reason: str = "") -> CustomsDeclaration:
    """The authority's answer; a rejection stops the order's shipping and refunds it."""
    with transaction.atomic():
        declaration = CustomsDeclaration.objects.select_for_update().get(order_ref=order_ref)
        if declaration.status != DeclarationStatus.SUBMITTED:
            return declaration
        if not released and not reason:
            raise DomainError(_("A rejection needs a reason."), code="no_reason")
        declaration.status = DeclarationStatus.RELEASED if released else DeclarationStatus.REJECTED
        declaration.reason = reason[:300]
        declaration.decided_at = timezone.now()
        declaration.save(update_fields=["status", "reason", "decided_at"])
        CustomsEvent.objects.create(declaration=declaration, status=declaration.status, note=reason)
        if not released:
            from orders.services import order_customs_rejected  # orders imports logistics

            order_customs_rejected(order_ref=order_ref, reason=reason)
    return declaration
