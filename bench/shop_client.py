"""A buyer's browser over plain HTTP, standard library only: cookies, CSRF, forms, redirects.

The orders bench drives gunicorn with it and tests/orders/test_oversell_http.py drives
pytest-django's live_server. One `Browser` per thread; every request is timed under a label.
`checkout` walks the storefront the way a buyer's browser does: product page, add to cart, cart,
checkout form, place the order, the sandbox gateway's pay page, pay, back to the order. `race`
sends many shoppers through it at once (all placing at the same instant); `throughput` loops it.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

PAY_PATH = re.compile(r"^/orders/(?P<number>[^/]+)/pay/$")
SANDBOX_PATH = re.compile(r"^/pay/sandbox/(?P<out_trade_no>[^/]+)/$")
ERRORS = re.compile(r'<div class="form-errors"[^>]*>(.*?)</div>', re.S)
MESSAGES = re.compile(r'<li class="message message--(\w+)">(.*?)</li>', re.S)
TAGS = re.compile(r"<[^>]+>")
SOLD_OUT = "Sold out:"  # the start of orders.services.SoldOutError's message at checkout
PAID = 'class="status status--paid"'  # the order page's status badge


@dataclass
class Response:
    method: str
    path: str
    status: int
    headers: dict[str, str]
    text: str
    ms: float

    @property
    def location(self) -> str:
        """The redirect target as a path (the site's own absolute URLs are cut to the path)."""
        target = self.headers.get("location", "")
        parts = urlsplit(target)
        return parts.path + (f"?{parts.query}" if parts.query else "") if parts.netloc else target


class _Inputs(HTMLParser):
    """Every <input> of a page as a dict of its attributes (enough for Django's forms)."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "input":
            self.inputs.append({k: v or "" for k, v in attrs})


def inputs(html: str) -> list[dict[str, str]]:
    parser = _Inputs()
    parser.feed(html)
    return parser.inputs


def field_values(html: str, name: str) -> list[str]:
    return [i.get("value", "") for i in inputs(html) if i.get("name") == name]


def text_of(fragment: str) -> str:
    return " ".join(unescape(TAGS.sub(" ", fragment)).split())


def form_errors(html: str) -> str:
    return " | ".join(text_of(m) for m in ERRORS.findall(html))


def messages(html: str) -> list[tuple[str, str]]:
    return [(level, text_of(body)) for level, body in MESSAGES.findall(html)]


class Browser:
    """One visitor: a cookie jar and the CSRF token of the last form seen; no keep-alive."""

    def __init__(self, base_url: str, *, cookies: dict[str, str] | None = None, timeout=120.0):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.cookies: dict[str, str] = dict(cookies or {})
        self.timeout = timeout
        self.csrf = ""
        self.timings: dict[str, list[float]] = defaultdict(list)
        self.statuses: list[tuple[str, str, int]] = []

    def request(self, method: str, path: str, data: dict | bytes | None = None, *, label=""):
        """One request on a new connection; `data` is a form (dict) or an encoded form body."""
        headers = {"Connection": "close", "Accept-Language": "en"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = data if isinstance(data, bytes) else urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            raw = conn.getresponse()
            text = raw.read().decode("utf-8", "replace")
        finally:
            conn.close()
        ms = (time.perf_counter() - started) * 1000
        for header in raw.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.coded_value  # sent back as received
        response = Response(
            method, path, raw.status, {k.lower(): v for k, v in raw.getheaders()}, text, ms
        )
        self.timings[label or f"{method} {path}"].append(ms)
        self.statuses.append((method, path, raw.status))
        token = field_values(text, "csrfmiddlewaretoken")
        if token:
            self.csrf = token[0]
        return response

    def get(self, path: str, *, label: str = "") -> Response:
        return self.request("GET", path, label=label)

    def post(self, path: str, data: dict, *, label: str = "") -> Response:
        return self.request("POST", path, {"csrfmiddlewaretoken": self.csrf, **data}, label=label)

    def follow(self, response: Response, *, label: str = "", hops: int = 5) -> Response:
        while response.status in (301, 302, 303) and hops:
            response, hops = self.get(response.location, label=label), hops - 1
        return response


@dataclass
class Outcome:
    kind: str  # paid, sold_out, refused_at_cart, refused, unpaid, error
    detail: str = ""
    number: str = ""
    steps: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Purchase:
    product_id: int
    product_path: str
    orderer_name: str
    orderer_id: str
    shipping_method: str = "cn-bonded"
    display_currency: str = "CNY"


@dataclass(frozen=True)
class Shopper:
    cookies: dict[str, str]  # a signed-in session
    purchase: Purchase


def _unexpected(step: str, response: Response) -> Outcome:
    detail = form_errors(response.text) or "; ".join(m for _l, m in messages(response.text))
    kind = "error" if response.status >= 500 else "refused"
    return Outcome(kind, f"{step}: HTTP {response.status} {detail or response.text[:200]!r}")


def checkout(
    browser: Browser,
    purchase: Purchase,
    *,
    before_place: Callable[[], object] | None = None,
    wait_paid: float = 0.0,
) -> Outcome:
    """One unit of a product from the product page to a paid order; what became of it.

    `before_place` runs between reading the checkout form and placing the order (a barrier, so
    that many buyers place at the same instant). `wait_paid`: seconds to keep reloading the order
    page until it shows "Paid" (when the gateway's notify is sent by a worker, not inline).
    """
    if not browser.csrf:
        page = browser.get(purchase.product_path, label="product")
        if page.status != 200:
            return _unexpected("product page", page)
    added = browser.post(
        "/cart/add/",
        {"product": purchase.product_id, "quantity": 1, "next": purchase.product_path},
        label="cart_add",
    )
    if added.status != 302:
        return _unexpected("add to cart", added)
    if added.location != "/cart/":  # refused: back to the product page with the reason
        page = browser.follow(added, label="product")
        return Outcome("refused_at_cart", "; ".join(m for _l, m in messages(page.text)))
    cart = browser.follow(added, label="cart")
    if cart.status != 200:
        return _unexpected("cart", cart)
    form = browser.get("/checkout/", label="checkout")
    if form.status != 200:
        return _unexpected("checkout form", browser.follow(form, label="cart"))
    addresses = field_values(form.text, "address")
    methods = field_values(form.text, "shipping_method")
    expected = field_values(form.text, "expected_total")
    if not addresses or purchase.shipping_method not in methods or not expected:
        return Outcome("error", f"checkout form lacks fields: {addresses} {methods} {expected}")
    if before_place is not None:
        before_place()
    placed = browser.post(
        "/checkout/",
        {
            "action": "place",
            "address": addresses[0],
            "shipping_method": purchase.shipping_method,
            "display_currency": purchase.display_currency,
            "orderer_name": purchase.orderer_name,
            "orderer_id": purchase.orderer_id,
            "risk_notice": "on",
            "expected_total": expected[0],
        },
        label="place",
    )
    pay_path = PAY_PATH.match(placed.location) if placed.status == 302 else None
    if pay_path is None:
        errors = form_errors(placed.text)
        if placed.status == 200 and SOLD_OUT in errors:
            return Outcome("sold_out", errors)
        return _unexpected("place", placed)
    number = pay_path["number"]
    gateway = browser.get(placed.location, label="pay_redirect")
    sandbox = SANDBOX_PATH.match(gateway.location) if gateway.status == 302 else None
    if sandbox is None:
        return _unexpected("pay", gateway)
    page = browser.get(gateway.location, label="pay_page")
    if page.status != 200:
        return _unexpected("sandbox pay page", page)
    paid = browser.post(
        gateway.location,
        {"outcome": "pay", "payer_name": purchase.orderer_name, "mode": "normal"},
        label="pay",
    )
    if paid.status != 302:
        return _unexpected("sandbox pay", paid)
    detail = browser.follow(paid, label="order")
    deadline = time.monotonic() + wait_paid
    while detail.status == 200 and PAID not in detail.text and time.monotonic() < deadline:
        time.sleep(0.05)  # the notify comes from a worker: reload the order page meanwhile
        detail = browser.get(paid.location, label="order_reload")
    if detail.status != 200:
        return _unexpected("order page", detail)
    if PAID not in detail.text:
        shown = messages(detail.text)
        return Outcome("unpaid", f"order page after paying: {shown}", number)
    return Outcome("paid", "", number)


# ---------------------------------------------------------------- many buyers at once


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {"n": len(ordered), "p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": at(1.0)}


def merged_timings(browsers: list[Browser]) -> tuple[dict, dict]:
    timings: dict[str, list[float]] = {}
    statuses: Counter = Counter()
    for browser in browsers:
        for label, values in browser.timings.items():
            timings.setdefault(label, []).extend(values)
        statuses.update(str(status) for _m, _p, status in browser.statuses)
    return {k: percentiles(v) for k, v in sorted(timings.items())}, dict(statuses)


def _summary(outcomes: list[Outcome]) -> dict:
    kinds = Counter(o.kind for o in outcomes)
    details = Counter(o.detail for o in outcomes if o.kind not in {"paid", "sold_out"})
    sold_out_texts = Counter(o.detail for o in outcomes if o.kind == "sold_out")
    return {
        "outcomes": dict(kinds),
        "other_details": [f"{n} x {d}" for d, n in details.most_common(5)],
        "sold_out_messages": [f"{n} x {d}" for d, n in sold_out_texts.most_common(3)],
    }


def in_threads(run: Callable[[int], object], n: int) -> float:
    """run(0) ... run(n - 1), each in a thread of its own; the seconds until all are done."""
    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def race(base_url: str, shoppers: list[Shopper], *, wait_paid: float = 0.0) -> dict:
    """Every shopper walks to the checkout form, then all place the order at the same instant."""
    n = len(shoppers)
    released: list[float] = []
    barrier = threading.Barrier(n, action=lambda: released.append(time.perf_counter()))
    outcomes: list[Outcome] = [Outcome("error", "did not finish")] * n
    browsers = [Browser(base_url, cookies=s.cookies) for s in shoppers]
    finished: list[float] = [0.0] * n

    def run(i: int) -> None:
        waited = False

        def before_place() -> None:
            nonlocal waited
            waited = True
            barrier.wait(timeout=300)

        try:
            outcomes[i] = checkout(
                browsers[i],
                shoppers[i].purchase,
                before_place=before_place,
                wait_paid=wait_paid,
            )
        except Exception as exc:  # a finding, not a crash of the bench
            outcomes[i] = Outcome("error", repr(exc)[:300])
        finally:
            finished[i] = time.perf_counter()
            if not waited:  # stopped before the checkout form: let the others go
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait(timeout=300)

    wall = in_threads(run, n)
    latency, statuses = merged_timings(browsers)
    return {
        "buyers": n,
        "wall_s": round(wall, 2),
        "from_place_to_last_answer_s": round(max(finished) - released[0], 2) if released else None,
        **_summary(outcomes),
        "http_statuses": statuses,
        "latency": latency,
        "paid_orders": sorted(o.number for o in outcomes if o.kind == "paid"),
    }


def throughput(base_url: str, shoppers: list[Shopper], *, orders: int, wait_paid: float = 0.0):
    """Shoppers loop cart -> checkout -> place -> pay until `orders` orders were started."""
    lock = threading.Lock()
    tickets = iter(range(orders))
    outcomes: list[Outcome] = []
    browsers = [Browser(base_url, cookies=s.cookies) for s in shoppers]

    def take() -> bool:
        with lock:
            return next(tickets, None) is not None

    def run(i: int) -> None:
        while take():
            try:
                outcome = checkout(browsers[i], shoppers[i].purchase, wait_paid=wait_paid)
            except Exception as exc:
                outcome = Outcome("error", repr(exc)[:300])
            with lock:
                outcomes.append(outcome)

    wall = in_threads(run, len(shoppers))
    latency, statuses = merged_timings(browsers)
    paid = sum(1 for o in outcomes if o.kind == "paid")
    return {
        "buyers": len(shoppers),
        "orders": orders,
        "wall_s": round(wall, 2),
        "orders_per_s": round(paid / wall, 2),
        **_summary(outcomes),
        "http_statuses": statuses,
        "latency": latency,
    }
