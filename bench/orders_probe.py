"""Measurements of the orders section, run in a child process with the bench environment.

Builds the shop through the services (a merchant, products with authenticated units, buyers with
a CN address and a signed-in session each), serves it with gunicorn, drives it over HTTP from
threads (bench/shop_client.py) and checks the database afterwards. Prints one JSON object on its
last line. Invoked by bench/orders.py; not meant to be run alone.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.harness import (  # noqa: E402 - the repository must be importable first
    CpuMeter,
    Gunicorn,
    install_signal_handlers,
    log,
    process_cpu_seconds,
    process_tree,
    spawn,
    stop_all_children,
)
from bench.shop_client import (  # noqa: E402
    Browser,
    Purchase,
    Shopper,
    merged_timings,
    race,
    throughput,
)

ORDERER_NAME = "王芳"
EXCEPTION_LINE = re.compile(r"^(?:[\w.]+\.)?\w*(?:Error|Exception|Refused)\b.*$", re.M)
NOTIFY_WAIT = 30.0  # seconds a buyer reloads the order page for the worker's notify


def setup_django() -> None:
    import django

    django.setup()


# ---------------------------------------------------------------- the shop


def make_product(merchant, category, name: str, price: str, hs_code: str, weight: int):
    from catalog import services as catalog

    return catalog.product_create(
        merchant=merchant,
        category=category,
        name=name,
        price=Decimal(price),
        currency="CNY",
        origin_country="JP",
        hs_code=hs_code,
        weight_grams=weight,
        status="listed",
    )


def orderer_id(year: int, n: int) -> str:
    """A valid 18-character resident ID number (the check character found by the validator)."""
    from django.core.exceptions import ValidationError

    from core.validators import normalize_cn_resident_id

    base = f"110101{year}0307{n:03d}"
    for check in "0123456789X":
        try:
            return normalize_cn_resident_id(base + check)
        except ValidationError:
            continue
    raise AssertionError(base)


def make_buyers(prefix: str, n: int, year: int) -> list[dict]:
    """Buyers with a default CN address and a signed-in session (cookie) each."""
    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.cached_db import SessionStore

    from accounts import services as accounts

    users = get_user_model().objects
    out = []
    for i in range(n):
        user = users.create_user(email=f"{prefix}-{i}@buyer.example", password=None)
        accounts.address_create(
            user=user,
            fields={
                "recipient": ORDERER_NAME,
                "phone": "+8613800138000",
                "country": "CN",
                "province": "Shanghai",
                "city": "Shanghai",
                "district": "Pudong",
                "line1": f"{i + 1} Century Avenue",
                "postal_code": "200120",
            },
            make_default=True,
        )
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        out.append(
            {
                "user_id": user.pk,
                "cookies": {settings.SESSION_COOKIE_NAME: session.session_key},
                "orderer_id": orderer_id(year, i),
            }
        )
    return out


def shoppers(product, buyers: list[dict]) -> list[Shopper]:
    return [
        Shopper(
            b["cookies"],
            Purchase(product.pk, f"/products/{product.slug}/", ORDERER_NAME, b["orderer_id"]),
        )
        for b in buyers
    ]


# ---------------------------------------------------------------- checks against the database


def ledger() -> dict:
    """`manage.py verify_ledger` against the bench database, as an operator would run it."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "manage.py", "verify_ledger"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "ok": result.returncode == 0,
        "seconds": round(time.perf_counter() - started, 2),
        "output": (result.stdout + result.stderr).strip().splitlines()[-6:],
    }


def product_orders(product) -> dict:
    from orders.models import Order, Payment, PaymentCallback
    from warehouse.models import ProductStock

    orders = Order.objects.filter(lines__product=product)
    numbers = list(orders.values_list("number", flat=True))
    stock = ProductStock.objects.values("available", "reserved").get(pk=product.pk)
    return {
        "orders_by_status": dict(Counter(orders.values_list("status", flat=True))),
        "payments_paid": Payment.objects.filter(order__in=orders, status="paid").count(),
        "callbacks": dict(
            Counter(
                PaymentCallback.objects.filter(
                    out_trade_no__in=[f"{n}P1" for n in numbers]
                ).values_list("outcome", flat=True)
            )
        ),
        "stock": stock,
    }


# ---------------------------------------------------------------- HTTP load


class _Site:
    """What SandboxGateway.start needs of a request: the site's own address."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    def build_absolute_uri(self, path: str) -> str:
        return self.base_url + path


def place_settled(user, buyer: dict, items: list[tuple[int, int]], base_url: str) -> tuple:
    """An order of `items` ((product id, quantity)) placed through the services, its sandbox
    trade settled as paid, no notify sent yet: (order, payment, gateway, trade)."""
    from accounts.selectors import addresses_for_user
    from orders import services
    from orders.payments import get_gateway

    cart = services.cart_get_or_create(user=user)
    for product_id, quantity in items:
        services.cart_set_quantity(cart=cart, product_id=product_id, quantity=quantity)
    order = services.order_place(
        buyer=user,
        cart=cart,
        address_id=addresses_for_user(user=user)[0].pk,
        shipping_method="cn-bonded",
        orderer=services.Orderer(ORDERER_NAME, buyer["orderer_id"]),
        risk_notice_accepted=True,
    )
    payment = services.payment_open(order=order)
    gateway = get_gateway("sandbox")
    gateway.start(
        payment=payment, subject=order.number, payer_name=ORDERER_NAME, request=_Site(base_url)
    )
    trade = gateway.settle(out_trade_no=payment.out_trade_no, paid=True, payer_name=ORDERER_NAME)
    return order, payment, gateway, trade


def replay(base_url: str, product, buyer: dict, *, copies: int, connections: int) -> dict:
    """One pending order, its sandbox trade settled as paid; its notify POSTed `copies` times."""
    from django.contrib.auth import get_user_model

    from orders.models import OrderEvent, Payment, PaymentCallback

    user = get_user_model().objects.get(pk=buyer["user_id"])
    order, payment, gateway, trade = place_settled(user, buyer, [(product.pk, 1)], base_url)
    body = gateway.notify_body(trade)

    barrier = threading.Barrier(connections)
    share, extra = divmod(copies, connections)
    per_connection = [share + (i < extra) for i in range(connections)]
    browsers = [Browser(base_url) for _ in range(connections)]
    answers: Counter = Counter()
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait(timeout=120)
        for _copy in range(per_connection[i]):
            try:
                response = browsers[i].request(
                    "POST", "/webhooks/payments/sandbox/", body, label="notify"
                )
                answer = f"{response.status} {response.text.strip()[:40]}"
            except Exception as exc:
                answer = repr(exc)[:100]
            with lock:
                answers[answer] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=connections) as pool:
        list(pool.map(run, range(connections)))
    wall = time.perf_counter() - started
    latency, _statuses = merged_timings(browsers)
    return {
        "copies": copies,
        "connections": connections,
        "wall_s": round(wall, 2),
        "callbacks_per_s": round(copies / wall, 1),
        "answers": dict(answers),
        "latency": latency["notify"],
        "paid_events": OrderEvent.objects.filter(order=order, to_status="paid").count(),
        "payments_paid": Payment.objects.filter(order=order, status="paid").count(),
        "callback_rows": PaymentCallback.objects.filter(out_trade_no=payment.out_trade_no).count(),
        "callback_outcomes": dict(
            Counter(
                PaymentCallback.objects.filter(out_trade_no=payment.out_trade_no).values_list(
                    "outcome", flat=True
                )
            )
        ),
        "order_status": type(order).objects.get(pk=order.pk).status,
    }


# ---------------------------------------------------------------- servers


def servers(options: dict, var_dir: Path) -> tuple[Gunicorn, list]:
    """The shop under gunicorn (gthread), and what delivers the sandbox's notify callbacks.

    eager: a second, small gunicorn receives the callbacks, which the shop's pay request posts
    inline (CELERY_TASK_ALWAYS_EAGER) after its commit; being another server, a pay request
    waiting for its callback never waits for a thread of its own pool.
    worker: a Celery worker (Redis broker) posts them, as in production.
    """
    # Connections live through the whole run, so the CPU meter sees every database backend.
    env = {**os.environ, "DB_CONN_MAX_AGE": "3600"}
    extra = []
    if options["notify"] == "eager":
        notify = Gunicorn(
            env=env, log_path=var_dir / "gunicorn-notify.log", workers=1, threads=4
        ).start()
        extra.append(notify)
        env["CELERY_TASK_ALWAYS_EAGER"] = "true"
        env["PROVENA_SANDBOX_NOTIFY_BASE_URL"] = notify.base_url
    else:
        with open(var_dir / "celery.log", "a") as logfile:
            worker = spawn(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "--loglevel=WARNING",
                    "--pool=threads",
                    f"--concurrency={options['celery_threads']}",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=REPO,
                env=env,
                stdout=logfile,
                stderr=logfile,
            )
        extra.append(worker)
    shop = Gunicorn(
        env=env,
        log_path=var_dir / "gunicorn.log",
        workers=options["gunicorn_workers"],
        threads=options["gunicorn_threads"],
    ).start()
    return shop, extra


def _tree_seconds(pids: list[int]) -> float:
    return sum(process_cpu_seconds(p) or 0.0 for pid in pids for p in process_tree(pid))


def with_cpu(meter: CpuMeter, helper_pids: list[int], action) -> dict:
    """Run `action`; add the CPU ms per paid order of the servers and of the database.

    app: the shop's gunicorn plus what sends the notify (second gunicorn or Celery worker);
    db: the bench database's backends; others_pct: the machine's CPU used by other programs.
    """
    before, helpers_before = meter.snapshot(), _tree_seconds(helper_pids)
    result = action()
    after, helpers = meter.snapshot(), _tree_seconds(helper_pids) - helpers_before
    delta = CpuMeter.delta(before, after)
    paid = result["outcomes"].get("paid") or 1
    capacity = (after["at"] - before["at"]) * (os.cpu_count() or 1)
    others = delta["others_pct"]
    if others is not None:  # the notify sender is ours, not another program's
        others = round(max(0.0, others - 100 * helpers / capacity), 1)
    result["cpu_ms_per_order"] = {
        "app": round(1000 * (delta["app_s"] + helpers) / paid, 1),
        "db": None if delta["db_s"] is None else round(1000 * delta["db_s"] / paid, 1),
        "others_pct": others,
    }
    return result


def log_findings(path: Path) -> dict:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return {}
    # What each traceback ended with (e.g. the merchant's out-of-stock email finding no SMTP
    # server when Celery runs tasks inline), counted.
    raised = Counter(m.strip() for m in EXCEPTION_LINE.findall(text))
    return {
        "internal_server_errors": text.count("Internal Server Error"),
        "tracebacks": text.count("Traceback"),
        "exceptions": [f"{n} x {line[:200]}" for line, n in raised.most_common(8)],
    }


# ---------------------------------------------------------------- entry point


def main() -> None:
    options = json.loads(sys.argv[1])
    install_signal_handlers()
    setup_django()
    from bench.warehouse_probe import stock_up, world

    var_dir = Path(os.environ["PROVENA_VAR_DIR"])
    out: dict = {"notify": options["notify"]}
    wait_paid = NOTIFY_WAIT if options["notify"] == "worker" else 0.0

    started = time.perf_counter()
    merchant, category, clerk, appraiser = world()
    last = make_product(merchant, category, "Last ten serum", "268.00", "330499", 120)
    plenty = make_product(merchant, category, "Plenty cotton socks", "39.00", "611595", 200)
    units = options["throughput_orders"] * options["repeat"] + 10
    stock_up(merchant, clerk, appraiser, {last: options["race_stock"], plenty: units})
    racers = make_buyers("racer", options["race_buyers"], 1990)
    loopers = make_buyers("looper", options["throughput_buyers"], 1991)
    [replayer] = make_buyers("replayer", 1, 1992)
    out["setup_s"] = round(time.perf_counter() - started, 1)
    log(f"orders: shop built in {out['setup_s']} s ({units + options['race_stock']} units)")

    try:
        shop, extra = servers(options, var_dir)
        log(f"orders: gunicorn up on {shop.base_url} (notify: {options['notify']})")
        out["race"] = race(shop.base_url, shoppers(last, racers), wait_paid=wait_paid)
        out["race"]["database"] = product_orders(last)
        out["race"]["ledger"] = ledger()
        log(f"orders: race {out['race']['outcomes']} in {out['race']['wall_s']} s")
        out["throughput"] = []
        meter = CpuMeter(shop.proc.pid, os.environ["DATABASE_URL"])
        for round_ in range(options["repeat"]):
            result = with_cpu(
                meter,
                [getattr(e, "proc", e).pid for e in extra],
                lambda: throughput(
                    shop.base_url,
                    shoppers(plenty, loopers),
                    orders=options["throughput_orders"],
                    wait_paid=wait_paid,
                ),
            )
            out["throughput"].append(result)
            log(
                f"orders: throughput round {round_ + 1}: {result['orders_per_s']} orders/s "
                f"{result['outcomes']}, CPU ms/order {result['cpu_ms_per_order']}"
            )
        meter.close()
        out["throughput_database"] = product_orders(plenty)
        out["replay"] = replay(
            shop.base_url,
            plenty,
            replayer,
            copies=options["replay_copies"],
            connections=options["replay_connections"],
        )
        log(f"orders: replay {out['replay']['answers']} in {out['replay']['wall_s']} s")
        out["ledger_end"] = ledger()
    finally:
        stop_all_children()
    out["gunicorn_log"] = log_findings(var_dir / "gunicorn.log")
    out["notify_log"] = log_findings(
        var_dir / ("gunicorn-notify.log" if options["notify"] == "eager" else "celery.log")
    )
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all_children()
