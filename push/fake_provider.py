"""A fake message provider for tests, `make run` and the bench: a real HTTP server on 127.0.0.1.

It speaks the protocol of push.backends.http (SMS, WeChat and QQ at /sms, /wechat, /qq: `send`
and `query`), checks each request's signature, keeps its own book of accepted messages by
idempotency key and counts duplicates honestly (a key accepted a second time is a duplicate:
real providers would deliver it twice). It can post signed delivery receipts back to the shop.

Failures are scripted through `fail(...)` (or POST /_control): the next requests answer 500,
time out before accepting, accept and then stall (the client times out or its worker dies while
the provider has the message), or rate-limit with 429 and Retry-After. Phones ending in 0000
are rejected as invalid numbers. GET /_stats reports the counts.
"""

import json
import threading
import time
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .backends import sign

CHANNELS = ("sms", "wechat", "qq")
MODES = ("error", "timeout", "accept_then_stall", "rate_limit", "reject")


class FakeProvider:
    def __init__(
        self,
        *,
        secrets: dict[str, str],
        webhook_keys: dict[str, str] | None = None,
        receipts_url: str = "",
        host: str = "127.0.0.1",
        port: int = 0,
        stall_seconds: float = 3.0,
    ):
        self.secrets = secrets
        self.webhook_keys = webhook_keys or {}
        self.receipts_url = receipts_url.rstrip("/")
        self.stall_seconds = stall_seconds
        self.lock = threading.Lock()
        self.accepted: dict[str, dict[str, Any]] = {}
        self.duplicates = 0
        self.requests = 0
        self.send_requests = 0
        self.query_requests = 0
        self.bad_signatures = 0
        self.script: deque[str] = deque()
        self.pending_receipts: deque[tuple[str, str]] = deque()
        self.release = threading.Event()  # ends a stall early
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/_stats":
                    self._json(200, provider.stats())
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = self.path.strip("/").split("/")
                if parts == ["_control"]:
                    data = json.loads(body or b"{}")
                    if data.get("reset"):
                        provider.reset()
                    provider.fail(*data.get("fail", []))
                    self._json(200, provider.stats())
                    return
                if len(parts) != 2 or parts[0] not in CHANNELS or parts[1] not in ("send", "query"):
                    self._json(404, {"error": "not found"})
                    return
                channel, action = parts
                expected = sign(provider.secrets.get(channel, ""), body)
                if self.headers.get("X-Signature", "") != expected:
                    with provider.lock:
                        provider.bad_signatures += 1
                    self._json(401, {"code": "bad_signature", "message": "signature mismatch"})
                    return
                try:
                    data = json.loads(body)
                except ValueError:
                    self._json(400, {"code": "bad_json"})
                    return
                if action == "query":
                    self._json(200, provider.query(data.get("ids", [])))
                    return
                mode = provider.next_mode()
                if mode == "error":
                    self._json(500, {"code": "internal_error", "message": "try again later"})
                elif mode == "rate_limit":
                    self._json(
                        429,
                        {"code": "rate_limited", "message": "too many requests"},
                        extra={"Retry-After": "7"},
                    )
                elif mode == "timeout":
                    provider.release.wait(provider.stall_seconds)
                    self._json(503, {"code": "timeout"})
                else:
                    answer = provider.accept(
                        channel, data.get("messages", []), reject=mode == "reject"
                    )
                    if mode == "accept_then_stall":
                        provider.release.wait(provider.stall_seconds)
                    self._json(200, answer)

            def _json(self, status: int, data: Any, extra: dict | None = None) -> None:
                out = json.dumps(data).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    for name, value in (extra or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:  # the client gave up (timed out): nothing to answer
                    self.close_connection = True

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

        self.server = Server((host, port), Handler)
        self.thread: threading.Thread | None = None
        self.receipt_thread: threading.Thread | None = None
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    # -- book --------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.accepted.clear()
            self.duplicates = self.requests = self.send_requests = self.query_requests = 0
            self.bad_signatures = 0
            self.script.clear()
            self.pending_receipts.clear()

    def fail(self, *modes: str) -> None:
        """Script the next send requests: each mode applies to one request, in order."""
        for mode in modes:
            if mode not in MODES:
                raise ValueError(f"unknown mode {mode}; one of {MODES}")
        with self.lock:
            self.script.extend(modes)

    def next_mode(self) -> str:
        with self.lock:
            self.requests += 1
            self.send_requests += 1
            return self.script.popleft() if self.script else "ok"

    def accept(self, channel: str, messages: list[dict], *, reject: bool = False) -> dict:
        results = []
        now = time.time()
        with self.lock:
            for item in messages:
                key = str(item.get("id", ""))
                to = str(item.get("phone") or item.get("touser") or "")
                if reject or not key or not to or (channel == "sms" and to.endswith("0000")):
                    results.append(
                        {
                            "id": key,
                            "status": "rejected",
                            "code": "invalid_recipient",
                            "message": f"the recipient {to[-4:]} cannot receive messages",
                        }
                    )
                    continue
                if key in self.accepted:
                    self.duplicates += 1
                    self.accepted[key]["copies"] += 1
                else:
                    self.accepted[key] = {
                        "channel": channel,
                        "to": to,
                        "text": item.get("text") or item.get("data", {}).get("content", ""),
                        "provider_id": f"{channel}-{len(self.accepted) + 1}",
                        "copies": 1,
                        "at": now,
                    }
                    if self.receipts_url:
                        self.pending_receipts.append((channel, key))
                results.append(
                    {
                        "id": key,
                        "status": "accepted",
                        "provider_id": self.accepted[key]["provider_id"],
                    }
                )
        return {"results": results}

    def query(self, ids: list[str]) -> dict:
        with self.lock:
            self.requests += 1
            self.query_requests += 1
            found = {
                key: {"status": "accepted", "provider_id": self.accepted[key]["provider_id"]}
                for key in ids
                if key in self.accepted
            }
        return {"results": found}

    def stats(self) -> dict:
        with self.lock:
            return {
                "accepted": len(self.accepted),
                "duplicates": self.duplicates,
                "requests": self.requests,
                "send_requests": self.send_requests,
                "query_requests": self.query_requests,
                "bad_signatures": self.bad_signatures,
                "scripted": list(self.script),
            }

    # -- receipts ----------------------------------------------------------------------------

    def receipt_body(self, receipts: list[dict]) -> bytes:
        return json.dumps({"receipts": receipts}).encode()

    def signed_receipts(self, channel: str, receipts: list[dict]) -> tuple[bytes, str]:
        body = self.receipt_body(receipts)
        return body, sign(self.webhook_keys.get(channel, ""), body)

    def _post_receipts(self) -> None:
        while not self.stopping.wait(0.5):
            batch: dict[str, list[dict]] = {}
            with self.lock:
                while self.pending_receipts and sum(map(len, batch.values())) < 500:
                    channel, key = self.pending_receipts.popleft()
                    batch.setdefault(channel, []).append({"id": key, "status": "delivered"})
            for channel, receipts in batch.items():
                body, signature = self.signed_receipts(channel, receipts)
                request = urllib.request.Request(  # noqa: S310 (the shop's own webhook URL)
                    f"{self.receipts_url}/{channel}/",
                    data=body,
                    headers={"Content-Type": "application/json", "X-Push-Signature": signature},
                )
                try:
                    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
                        pass
                except OSError:
                    continue  # the shop is down or said no: receipts are best effort

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "FakeProvider":
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        if self.receipts_url:
            self.receipt_thread = threading.Thread(target=self._post_receipts, daemon=True)
            self.receipt_thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def from_settings(**kwargs: Any) -> FakeProvider:
    """A provider that knows this site's channel secrets and receipt keys."""
    from django.conf import settings

    return FakeProvider(
        secrets={c: o.get("API_SECRET", "") for c, o in settings.PUSH_BACKENDS.items()},
        webhook_keys={c: o.get("WEBHOOK_KEY", "") for c, o in settings.PUSH_BACKENDS.items()},
        **kwargs,
    )
