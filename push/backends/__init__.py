"""Channel backends, pluggable like Django's email backends: settings.PUSH_BACKENDS maps a channel
code (sms, qq, wechat) to a dotted class path and its options (base URL, keys, templates).

A backend sends a batch of messages and answers per message; it never raises for the provider's
failures, it reports them (accepted / rejected for good / retry, and whether the provider may
have taken the message anyway). It can ask the provider what became of messages by idempotency
key, and it reads the provider's signed delivery receipts.
"""

import hashlib
import hmac
import threading
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

ACCEPTED = "accepted"
REJECTED = "rejected"  # for good: the provider's answer is final (invalid number, blocked, ...)
RETRY = "retry"  # temporary: timeout, 5xx, rate limit, unreachable
DELIVERED = "delivered"
FAILED = "failed"
UNKNOWN = "unknown"


class BadSignatureError(Exception):
    pass


class MalformedReceiptError(Exception):
    pass


@dataclass(frozen=True)
class Outgoing:
    key: str
    recipient: str
    text: str
    body: str
    link: str
    unsubscribe_url: str
    purpose: str
    category: str


@dataclass(frozen=True)
class SendResult:
    outcome: str  # ACCEPTED | REJECTED | RETRY
    answer: str = ""
    provider_id: str = ""
    retry_after: int | None = None
    # The request may have reached the provider (timeout, connection lost mid-answer).
    uncertain: bool = False


@dataclass(frozen=True)
class QueryResult:
    status: str  # ACCEPTED | DELIVERED | FAILED | UNKNOWN
    answer: str = ""
    provider_id: str = ""


@dataclass(frozen=True)
class Receipt:
    key: str
    status: str  # DELIVERED | FAILED
    answer: str = ""


@dataclass
class Inbound:
    receipts: list[Receipt] = field(default_factory=list)
    # (phone, text) of replies such as "TD" or "R".
    replies: list[tuple[str, str]] = field(default_factory=list)


class Backend:
    signature_header = "X-Push-Signature"

    def __init__(self, channel: str, options: dict[str, Any]):
        self.channel, self.options = channel, options

    def send_many(self, messages: list[Outgoing]) -> dict[str, SendResult]:
        raise NotImplementedError

    def query(self, keys: list[str]) -> dict[str, QueryResult]:
        """What the provider knows of these keys; ProviderUnavailableError if it cannot say."""
        raise NotImplementedError

    def parse_inbound(self, body: bytes, signature: str) -> Inbound:
        """Verify the signature (BadSignatureError) and read receipts and replies."""
        verify_signature(self.options.get("WEBHOOK_KEY", ""), body, signature)
        return parse_inbound_json(body)

    def close(self) -> None:
        return None


class ProviderUnavailableError(Exception):
    pass


def sign(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(key: str, body: bytes, signature: str) -> None:
    if not key or not signature or not hmac.compare_digest(sign(key, body), signature):
        raise BadSignatureError("bad signature")


def parse_inbound_json(body: bytes) -> Inbound:
    import json

    try:
        data = json.loads(body)
        receipts = [
            Receipt(
                key=str(item["id"]), status=str(item["status"]), answer=str(item.get("answer", ""))
            )
            for item in data.get("receipts", [])
        ]
        replies = [(str(r["from"]), str(r["text"])) for r in data.get("replies", [])]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise MalformedReceiptError(str(exc)) from exc
    if any(r.status not in (DELIVERED, FAILED) for r in receipts):
        raise MalformedReceiptError("a receipt's status is neither delivered nor failed")
    return Inbound(receipts=receipts, replies=replies)


_local = threading.local()


def get_backend(channel: str) -> Backend:
    """The backend of a channel, kept per thread so its HTTP connection is reused (not shared)."""
    config = settings.PUSH_BACKENDS.get(channel)
    if config is None:
        raise KeyError(channel)
    _cache: dict[str, tuple[dict, Backend]] = _local.__dict__.setdefault("backends", {})
    cached = _cache.get(channel)
    if cached and cached[0] is config:
        return cached[1]
    if cached:
        cached[1].close()
    backend = import_string(config["BACKEND"])(channel, config)
    _cache[channel] = (config, backend)
    return backend
