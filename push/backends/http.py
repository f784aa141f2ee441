"""HTTP backends: an SMS gateway and WeChat / QQ template-message APIs, configured in settings.

All three speak JSON over one kept-alive connection per process, send up to PUSH_REQUEST_SIZE
messages per request (like Tencent's SendSms or Aliyun's SendBatchSms), sign each request with
HMAC-SHA256 of the body under the channel's secret, and can ask the provider about messages by
our idempotency key (the provider's client reference, like Aliyun's OutId or WeChat's clientmsgid).
"""

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from . import (
    ACCEPTED,
    DELIVERED,
    FAILED,
    REJECTED,
    RETRY,
    UNKNOWN,
    Backend,
    Outgoing,
    ProviderUnavailableError,
    QueryResult,
    SendResult,
    sign,
)


class _TransportError(Exception):
    def __init__(self, answer: str, *, uncertain: bool):
        super().__init__(answer)
        self.answer, self.uncertain = answer, uncertain


class HttpProviderBackend(Backend):
    path_prefix = ""

    def __init__(self, channel: str, options: dict[str, Any]):
        super().__init__(channel, options)
        base = urlsplit(options["BASE_URL"])
        self.scheme, self.netloc = base.scheme, base.netloc
        self.base_path = base.path.rstrip("/")
        self._conn: http.client.HTTPConnection | None = None

    # -- wire --------------------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            https = self.scheme == "https"
            cls = http.client.HTTPSConnection if https else http.client.HTTPConnection
            self._conn = cls(self.netloc, timeout=settings.PUSH_HTTP_TIMEOUT)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _post(self, path: str, payload: dict) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Api-Key": self.options.get("API_KEY", ""),
            "X-Signature": sign(self.options.get("API_SECRET", ""), body),
        }
        url = f"{self.base_path}{self.path_prefix}{path}"
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request("POST", url, body, headers)
            except OSError as exc:
                # Nothing was read by the provider: a kept-alive connection it had closed.
                self.close()
                if attempt == 2:
                    raise _TransportError(f"unreachable: {exc}", uncertain=False) from exc
                continue
            try:
                response = conn.getresponse()
                data = response.read()
            except TimeoutError as exc:
                self.close()
                raise _TransportError("timed out waiting for the provider", uncertain=True) from exc
            except (http.client.HTTPException, OSError) as exc:
                self.close()
                raise _TransportError(f"connection lost: {exc!r}", uncertain=True) from exc
            if response.will_close:
                self.close()
            return response.status, dict(response.getheaders()), data
        raise _TransportError("unreachable", uncertain=False)  # pragma: no cover

    # -- payloads (per channel) -----------------------------------------------------------------

    def template(self, purpose: str) -> str:
        templates = self.options.get("TEMPLATES", {})
        return templates.get(purpose) or templates.get("default", "")

    def payload(self, messages: list[Outgoing]) -> dict:
        raise NotImplementedError

    # -- API ---------------------------------------------------------------------------------

    def send_many(self, messages: list[Outgoing]) -> dict[str, SendResult]:
        results: dict[str, SendResult] = {}
        size = max(1, settings.PUSH_REQUEST_SIZE)
        for start in range(0, len(messages), size):
            chunk = messages[start : start + size]
            results.update(self._send_chunk(chunk))
        return results

    def _send_chunk(self, chunk: list[Outgoing]) -> dict[str, SendResult]:
        def every(result: SendResult) -> dict[str, SendResult]:
            return {m.key: result for m in chunk}

        try:
            status, headers, data = self._post("/send", self.payload(chunk))
        except _TransportError as exc:
            return every(SendResult(RETRY, exc.answer, uncertain=exc.uncertain))
        answer = f"HTTP {status}: {data[:300].decode('utf-8', 'replace')}"
        if status == 429:
            retry_after = headers.get("Retry-After", "")
            wait = int(retry_after) if retry_after.isdigit() else None
            return every(SendResult(RETRY, answer, retry_after=wait))
        if status >= 500:
            # The provider may have taken part of the batch before failing: ask before resending.
            return every(SendResult(RETRY, answer, uncertain=True))
        if status in (401, 403):
            # Our credentials are wrong: retry (someone fixes the settings), then give up.
            return every(SendResult(RETRY, answer))
        if status != 200:
            return every(SendResult(REJECTED, answer))
        try:
            items = json.loads(data)["results"]
        except (ValueError, KeyError, TypeError):
            return every(SendResult(RETRY, f"unreadable answer: {answer}", uncertain=True))
        results: dict[str, SendResult] = {}
        for item in items:
            key, outcome = str(item.get("id", "")), item.get("status")
            text = f"{item.get('code', '')} {item.get('message', '')}".strip()
            if outcome == "accepted":
                results[key] = SendResult(ACCEPTED, text, str(item.get("provider_id", "")))
            elif outcome == "rejected":
                results[key] = SendResult(REJECTED, text or "rejected")
            else:
                results[key] = SendResult(RETRY, text or str(outcome), uncertain=True)
        return results

    def query(self, keys: list[str]) -> dict[str, QueryResult]:
        known: dict[str, QueryResult] = {}
        size = max(1, settings.PUSH_REQUEST_SIZE)
        for start in range(0, len(keys), size):
            chunk = keys[start : start + size]
            try:
                status, _headers, data = self._post("/query", {"ids": chunk})
            except _TransportError as exc:
                raise ProviderUnavailableError(exc.answer) from exc
            if status != 200:
                raise ProviderUnavailableError(f"HTTP {status}: {data[:200]!r}")
            try:
                found = json.loads(data)["results"]
            except (ValueError, KeyError, TypeError) as exc:
                raise ProviderUnavailableError("unreadable status answer") from exc
            for key in chunk:
                item = found.get(key) or {}
                state = item.get("status", UNKNOWN)
                if state not in (ACCEPTED, DELIVERED, FAILED):
                    state = UNKNOWN
                known[key] = QueryResult(
                    state, str(item.get("answer", "")), str(item.get("provider_id", ""))
                )
        return known


class SmsHttpBackend(HttpProviderBackend):
    path_prefix = "/sms"

    def payload(self, messages: list[Outgoing]) -> dict:
        return {
            "sign_name": self.options.get("SIGN_NAME", ""),
            "messages": [
                {
                    "id": m.key,
                    "phone": m.recipient,
                    "template": self.template(m.purpose),
                    "text": m.text,
                }
                for m in messages
            ],
        }


class WeChatTemplateBackend(HttpProviderBackend):
    path_prefix = "/wechat"

    def payload(self, messages: list[Outgoing]) -> dict:
        return {
            "messages": [
                {
                    "id": m.key,
                    "touser": m.recipient,
                    "template_id": self.template(m.purpose),
                    "url": m.link or m.unsubscribe_url,
                    "data": {"content": m.text, "unsubscribe": m.unsubscribe_url},
                }
                for m in messages
            ]
        }


class QQTemplateBackend(WeChatTemplateBackend):
    path_prefix = "/qq"
