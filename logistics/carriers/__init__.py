"""Carriers are pluggable backends, named in settings.CARRIERS by a code (used in webhook URLs).

A backend creates and cancels waybills, reports tracking for a waybill (polling), and reads the
carrier's signed webhook pushes. Statuses use one vocabulary (logistics.models.TrackingStatus).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string


class BadSignatureError(Exception):
    pass


class MalformedPushError(Exception):
    pass


@dataclass(frozen=True)
class TrackingUpdate:
    waybill: str
    event_id: str
    status: str
    occurred_at: datetime
    description: str = ""
    location: str = ""


class Carrier:
    def __init__(self, code: str, options: dict[str, Any]):
        self.code, self.options = code, options

    def create_waybill(
        self, *, parcel_code: str, order_ref: str, weight_grams: int, consignee: dict
    ) -> str:
        raise NotImplementedError

    def cancel_waybill(self, *, waybill: str) -> None:
        raise NotImplementedError

    def track(self, *, waybill: str) -> list[TrackingUpdate]:
        raise NotImplementedError

    def parse_push(self, *, body: bytes, signature: str) -> list[TrackingUpdate]:
        raise NotImplementedError


def get_carrier(code: str | None = None) -> Carrier:
    code = code or settings.DEFAULT_CARRIER
    try:
        config = settings.CARRIERS[code]
    except KeyError:
        raise LookupError(code) from None
    return import_string(config["BACKEND"])(code, config)
