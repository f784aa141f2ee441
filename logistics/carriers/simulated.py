"""A simulated carrier for local use and tests: waybill numbers, a realistic route with customs
clearance, some exceptions and returns, pushed to the shop as signed webhooks over time.

Each waybill's route is fixed by its number (so replays and polls agree): events are due one step
apart (settings CARRIERS["simulated"]["MINUTES_PER_STEP"]) after the handover; one waybill in
twelve meets an exception on the way (and then carries on); one in forty is returned to sender.
"""

import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta

from django.utils.dateparse import parse_datetime

from ..models import TrackingStatus as T
from . import BadSignatureError, Carrier, MalformedPushError, TrackingUpdate

ROUTE = [
    (T.INFO_RECEIVED, "Shipping information received", "Provena bonded warehouse"),
    (T.IN_TRANSIT, "Departed the origin facility", "Hangzhou export hub"),
    (T.CUSTOMS_PROCESSING, "Customs clearance in progress", "Hangzhou customs"),
    (T.CUSTOMS_RELEASED, "Released by customs", "Hangzhou customs"),
    (T.IN_TRANSIT, "Arrived at the destination facility", "Destination sorting centre"),
    (T.OUT_FOR_DELIVERY, "Out for delivery", "Local delivery station"),
    (T.DELIVERED, "Delivered, signed for by the recipient", "Recipient's address"),
]
EXCEPTION = (T.EXCEPTION, "Delivery attempt failed: recipient not available", "Local station")
RETURN = [
    (T.EXCEPTION, "Address could not be found", "Local delivery station"),
    (T.RETURNED_TO_SENDER, "Returned to sender", "Provena bonded warehouse"),
]


def sign(body: bytes, key: str) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


class SimulatedCarrier(Carrier):
    @property
    def key(self) -> str:
        return self.options["KEY"]

    @property
    def step(self) -> timedelta:
        return timedelta(minutes=float(self.options.get("MINUTES_PER_STEP", 2)))

    def create_waybill(self, *, parcel_code, order_ref, weight_grams, consignee) -> str:
        return "SIM" + "".join(secrets.choice("0123456789") for _ in range(12))

    def cancel_waybill(self, *, waybill) -> None:
        return None

    def plan(self, *, waybill: str, handed_over_at: datetime) -> list[TrackingUpdate]:
        """The waybill's whole route, each event with the moment it happens."""
        fate = int(hashlib.sha256(waybill.encode()).hexdigest(), 16)
        route = list(ROUTE)
        if fate % 40 == 0:
            route = route[:5] + RETURN
        elif fate % 12 == 0:
            route = [*route[:6], EXCEPTION, *route[5:]]
        return [
            TrackingUpdate(
                waybill=waybill,
                event_id=f"{waybill}-{i}",
                status=status,
                occurred_at=handed_over_at + self.step * i,
                description=description,
                location=location,
            )
            for i, (status, description, location) in enumerate(route)
        ]

    def track(self, *, waybill, handed_over_at=None, now=None) -> list[TrackingUpdate]:
        if handed_over_at is None:
            return []
        return [
            u
            for u in self.plan(waybill=waybill, handed_over_at=handed_over_at)
            if u.occurred_at <= now
        ]

    def push_body(self, updates: list[TrackingUpdate]) -> tuple[bytes, str]:
        body = json.dumps(
            {
                "events": [
                    {
                        "waybill": u.waybill,
                        "event_id": u.event_id,
                        "status": u.status,
                        "description": u.description,
                        "location": u.location,
                        "occurred_at": u.occurred_at.isoformat(),
                    }
                    for u in updates
                ]
            }
        ).encode()
        return body, sign(body, self.key)

    def parse_push(self, *, body, signature) -> list[TrackingUpdate]:
        if not signature or not hmac.compare_digest(signature, sign(body, self.key)):
            raise BadSignatureError
        try:
            events = json.loads(body)["events"]
            updates = []
            for event in events:
                when = parse_datetime(event["occurred_at"])
                if when is None or event["status"] not in T.values:
                    raise ValueError(event)
                updates.append(
                    TrackingUpdate(
                        waybill=str(event["waybill"])[:60],
                        event_id=str(event["event_id"])[:64],
                        status=event["status"],
                        occurred_at=when,
                        description=str(event.get("description", ""))[:200],
                        location=str(event.get("location", ""))[:100],
                    )
                )
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedPushError(str(exc)[:200]) from exc
        return updates
