"""Measurements of the fulfilment section, run in a child process with the bench environment.

Builds the background volume in bulk SQL (units with their ledger, open paid orders with their
reservations, shipped orders with parcels and shipments), places the orders it scans through the
services, serves the shop with gunicorn, drives the pick, pack and ship stations over HTTP as one
sequential scanner each, then pushes the simulated carrier's signed tracking batches to the
webhook from several clients and checks the database. Prints one JSON object on its last line.
Invoked by bench/fulfilment.py; not meant to be run alone.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.harness import (  # noqa: E402 - the repository must be importable first
    CpuMeter,
    Gunicorn,
    install_signal_handlers,
    log,
    stop_all_children,
)
from bench.shop_client import Browser, in_threads, percentiles  # noqa: E402

PARCEL_CODE = re.compile(r"\bPK[0-9A-Z]{10}\b")
BAD = "flash--bad"  # the scan box's refusal (the red cue)
BULK_ITEM_FIRST = "Z"  # bulk item numbers are PV + Z + 8 symbols + check: never a clash in practice
HS_CODES = ("611595", "330499")


def setup_django() -> None:
    import django

    django.setup()


# ---------------------------------------------------------------- the world (services)


def make_products(merchant, category, n: int) -> list:
    from catalog import services as catalog

    return [
        catalog.product_create(
            merchant=merchant,
            category=category,
            name=f"Fulfil item {i}",
            slug=f"fulfil-item-{i}",
            price=Decimal(39 + 10 * (i % 8)),
            currency="CNY",
            origin_country="JP",
            hs_code=HS_CODES[i % 2],
            weight_grams=150,
            status="listed",
        )
        for i in range(n)
    ]


def station_session(user) -> dict[str, str]:
    """A signed-in session cookie for a warehouse user (what logging in would give)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.cached_db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return {settings.SESSION_COOKIE_NAME: session.session_key}


# ---------------------------------------------------------------- background volume (bulk SQL)


def bulk_item_number(i: int) -> str:
    from warehouse.codes import ALPHABET, PREFIX, _check_symbol

    symbols = []
    for _ in range(8):
        i, rest = divmod(i, 32)
        symbols.append(ALPHABET[rest])
    body = BULK_ITEM_FIRST + "".join(reversed(symbols))
    return f"{PREFIX}{body}{_check_symbol(body)}"


def _locations() -> dict[str, int]:
    from warehouse.models import Location

    return dict(Location.objects.values_list("code", "id"))


class BulkLoad:
    """Load a table fast: its plain indexes dropped and rebuilt afterwards, foreign-key triggers
    off for this session (every row is consistent by construction; verify_ledger proves it)."""

    def __init__(self, cursor, *tables: str):
        self.cursor, self.tables, self.indexes = cursor, tables, []

    def __enter__(self):
        cursor = self.cursor
        for table in self.tables:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname "
                "NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
                [table, table],
            )
            self.indexes += cursor.fetchall()
        for name, _definition in self.indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        cursor.execute("SET synchronous_commit = off")
        return self

    def __exit__(self, *exc):
        cursor = self.cursor
        cursor.execute("SET session_replication_role = DEFAULT")
        for _name, definition in self.indexes:
            cursor.execute(definition)
        cursor.execute("RESET maintenance_work_mem")
        cursor.execute("RESET synchronous_commit")


def bulk_units(products: list, merchant_id: int, total: int) -> dict:
    """`total` available units spread evenly over the products (each product kept in one bin),
    COPYed in, then their ledger (received, appraised genuine) in two INSERT ... SELECTs."""
    from django.db import connection
    from django.utils import timezone

    locations = _locations()
    bins = [locations[f"STK-A{n:02d}"] for n in range(1, 9)]
    per, extra = divmod(total, len(products))
    stamp = (timezone.now() - timedelta(days=30)).isoformat()
    timings = {}
    started = time.perf_counter()
    copy_sql = (
        "COPY warehouse_stockunit (item_number, product_id, merchant_id, status, "
        "location_id, received_at, updated_at) FROM STDIN"
    )
    with (
        connection.cursor() as cursor,
        BulkLoad(cursor, "warehouse_stockunit", "warehouse_unitmovement"),
    ):
        with cursor.cursor.copy(copy_sql) as copy:
            n = 0
            for k, product in enumerate(products):
                where = bins[k % len(bins)]
                tail = f"\t{product.pk}\t{merchant_id}\tavailable\t{where}\t{stamp}\t{stamp}\n"
                count = per + (k < extra)
                copy.write("".join(bulk_item_number(i) + tail for i in range(n, n + count)))
                n += count
        timings["copy_s"] = round(time.perf_counter() - started, 1)
        params = {"rcv": locations["RCV-01"]}
        cursor.execute(
            """
            INSERT INTO warehouse_unitmovement (unit_id, from_status, to_status, from_location_id,
                to_location_id, reason, document, note, created_at)
            SELECT id, '', 'awaiting_appraisal', NULL, %(rcv)s, 'receive', 'BULK', '', received_at
            FROM warehouse_stockunit ORDER BY id
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO warehouse_unitmovement (unit_id, from_status, to_status, from_location_id,
                to_location_id, reason, document, note, created_at)
            SELECT id, 'awaiting_appraisal', 'available', %(rcv)s, location_id, 'appraise_genuine',
                   'BULK', '', received_at
            FROM warehouse_stockunit ORDER BY id
            """,
            params,
        )
        timings["movements_s"] = round(time.perf_counter() - started - timings["copy_s"], 1)
    timings["s"] = round(time.perf_counter() - started, 1)
    timings["indexes_s"] = round(timings["s"] - timings["copy_s"] - timings["movements_s"], 1)
    return {"units": n, **timings}


BULK_LINES = """
CREATE TEMP TABLE bench_products AS
SELECT row_number() OVER (ORDER BY id) - 1 AS k, id, merchant_id, name, slug, hs_code, price
FROM catalog_product WHERE id = ANY(%(products)s);
CREATE TEMP TABLE bench_lines AS
SELECT s.g, s.n, p.id AS product_id, p.merchant_id, p.name, p.slug, p.hs_code, p.price,
       s.quantity
FROM (
    SELECT g, 0 AS n, g %% %(np)s AS k, 1 + (g %% 7 = 0 AND %(two_lines)s)::int AS quantity
    FROM generate_series(1, %(orders)s) g
    UNION ALL
    SELECT g, 1, (g * 7 + 1) %% %(np)s, 1 FROM generate_series(1, %(orders)s) g
    WHERE g %% 3 = 0 AND %(two_lines)s
) s JOIN bench_products p ON p.k = s.k;
"""

BULK_ORDERS = """
INSERT INTO orders_order (number, status, regime_code, currency, goods_total, shipping_total,
    tax_total, duty_total, total, refunded_total, dutiable_value, full_tax, display_currency,
    fx_snapshot,
    shipping_method_code, shipping_method_name, promised_days_min, promised_days_max,
    weight_grams, recipient, phone, country, province, city, district, line1, postal_code,
    orderer_name, orderer_id_encrypted, orderer_id_index, orderer_id_masked, quota_year,
    risk_notice_accepted_at, risk_notice_version, expires_at, paid_at, created_at, updated_at,
    buyer_id)
SELECT %(prefix)s || lpad(l.g::text, 8, '0'), %(status)s, 'cn_cbec', 'CNY', l.goods, 12.00, l.tax,
       0, l.goods + 12.00 + l.tax, 0, l.goods + 12.00, false, 'CNY', '{}'::jsonb,
       'cn-bonded', 'Bonded express', 2, 4, l.weight, '王芳', '+8613800138000', 'CN',
       'Shanghai', 'Shanghai', 'Pudong', l.g || ' Century Avenue', '200120', '王芳', '', '', '',
       NULL, now() - interval '3 days', '2026-01', now() + interval '1 day',
       now() - (%(orders)s - l.g + %(age)s) * interval '1 minute',
       now() - interval '3 days', now() - interval '1 day',
       (%(buyers)s::bigint[])[1 + l.g %% cardinality(%(buyers)s::bigint[])]
FROM (
    SELECT g, sum(round(price * quantity, 2)) AS goods,
           sum(round(price * quantity * 0.091, 2)) AS tax, sum(150 * quantity) AS weight
    FROM bench_lines GROUP BY g
) l;
INSERT INTO orders_orderline (order_id, product_id, merchant_id, product_name, product_slug,
    merchant_name, hs_code, list_price, list_currency, unit_price, quantity, goods_total,
    freight_share, tax, vat_rate, consumption_tax_rate, status, refunded, reservation_id)
SELECT o.id, l.product_id, l.merchant_id, l.name, l.slug, 'Bench Trading', l.hs_code, l.price,
       'CNY', l.price, l.quantity, round(l.price * l.quantity, 2),
       CASE WHEN l.n = 0 THEN 12.00 ELSE 0 END, round(l.price * l.quantity * 0.091, 2),
       0.13, 0, 'accepted', 0, NULL
FROM bench_lines l JOIN orders_order o ON o.number = %(prefix)s || lpad(l.g::text, 8, '0')
ORDER BY l.g, l.n;
INSERT INTO warehouse_reservation (product_id, quantity, picked, status, order_line_ref,
    created_at, updated_at)
SELECT l.product_id, l.quantity, %(picked)s * l.quantity, %(reservation_status)s, 'OL' || l.id,
       o.created_at, o.created_at
FROM orders_orderline l JOIN orders_order o ON o.id = l.order_id
WHERE o.number LIKE %(prefix)s || '%%' ORDER BY l.id;
UPDATE orders_orderline l SET reservation_id = r.id
FROM warehouse_reservation r, orders_order o
WHERE o.id = l.order_id AND o.number LIKE %(prefix)s || '%%' AND r.order_line_ref = 'OL' || l.id;
INSERT INTO orders_payment (order_id, gateway, out_trade_no, amount, currency, status,
    gateway_trade_no, payer_name, created_at, paid_at)
SELECT id, 'sandbox', number || 'P1', total, 'CNY', 'paid', 'SBXBULK' || id, '王芳', created_at,
       paid_at
FROM orders_order WHERE number LIKE %(prefix)s || '%%';
INSERT INTO orders_orderevent (order_id, kind, from_status, to_status, note, created_at)
SELECT id, 'status', 'pending_payment', 'paid', number || 'P1', paid_at
FROM orders_order WHERE number LIKE %(prefix)s || '%%';
DROP TABLE bench_lines;
DROP TABLE bench_products;
"""

# Shipped orders: one unit each, taken from the end of its product's bulk units; the unit's ledger
# goes on (picked, packed, shipped), its parcel is shipped and the carrier holds the shipment.
BULK_SHIP = """
CREATE TEMP TABLE bench_ship AS
SELECT o.id AS order_id, o.number, l.id AS line_id, l.product_id, l.reservation_id,
       row_number() OVER (PARTITION BY l.product_id ORDER BY o.id) AS rn
FROM orders_order o JOIN orders_orderline l ON l.order_id = o.id
WHERE o.number LIKE %(prefix)s || '%%';
CREATE TEMP TABLE bench_ship_units AS
SELECT s.*, u.id AS unit_id, u.location_id AS bin_id,
       'PKB' || lpad(s.order_id::text, 9, '0') AS parcel_code,
       'SIMB' || lpad(s.order_id::text, 11, '0') AS waybill
FROM bench_ship s JOIN (
    SELECT id, product_id, location_id,
           row_number() OVER (PARTITION BY product_id ORDER BY id DESC) AS rn
    FROM warehouse_stockunit WHERE status = 'available'
) u ON u.product_id = s.product_id AND u.rn = s.rn;
INSERT INTO warehouse_parcel (code, order_ref, status, weight_grams, carrier_code, waybill,
    opened_by_id, opened_at, packed_at, shipped_by_id, shipped_at)
SELECT parcel_code, number, 'shipped', 400, 'simulated', waybill, %(clerk)s,
       now() - interval '2 days', now() - interval '2 days', %(clerk)s, now() - interval '1 day'
FROM bench_ship_units;
INSERT INTO logistics_shipment (carrier_code, waybill, parcel_code, order_ref, status,
    exception_note, handed_over_at, created_at, updated_at)
SELECT 'simulated', waybill, parcel_code, number, 'info_received', '',
       now() - interval '1 day', now() - interval '2 days', now() - interval '1 day'
FROM bench_ship_units;
UPDATE warehouse_stockunit u
SET status = 'shipped', location_id = %(out)s, reservation_id = s.reservation_id,
    parcel_id = p.id, updated_at = now() - interval '1 day'
FROM bench_ship_units s JOIN warehouse_parcel p ON p.code = s.parcel_code
WHERE u.id = s.unit_id;
INSERT INTO warehouse_unitmovement (unit_id, from_status, to_status, from_location_id,
    to_location_id, reason, document, note, created_at)
SELECT s.unit_id, m.from_status, m.to_status,
       CASE m.seq WHEN 1 THEN s.bin_id ELSE %(pck)s END,
       CASE m.seq WHEN 3 THEN %(out)s ELSE %(pck)s END,
       m.reason, CASE m.seq WHEN 3 THEN s.waybill ELSE s.parcel_code END, '',
       now() - interval '2 days'
FROM bench_ship_units s CROSS JOIN (VALUES
    (1, 'available', 'picked', 'pick'),
    (2, 'picked', 'packed', 'pack'),
    (3, 'packed', 'shipped', 'ship')
) AS m(seq, from_status, to_status, reason)
ORDER BY s.unit_id, m.seq;
INSERT INTO orders_orderevent (order_id, kind, from_status, to_status, note, created_at)
SELECT order_id, 'status', 'paid', 'shipped', waybill, now() - interval '1 day'
FROM bench_ship_units;
UPDATE orders_order SET status = 'shipped' WHERE number LIKE %(prefix)s || '%%';
DROP TABLE bench_ship_units;
DROP TABLE bench_ship;
"""

# Counters from the truth: available units, active reservations' remainder, picked or packed.
COUNTERS = """
INSERT INTO warehouse_productstock (product_id, merchant_id, available, reserved, allocated,
    in_appraisal, in_quarantine, rejected, reorder_point, updated_at)
SELECT p.id, p.merchant_id, coalesce(u.available, 0), coalesce(r.reserved, 0),
       coalesce(u.allocated, 0), 0, 0, 0, 0, now()
FROM catalog_product p
LEFT JOIN (
    SELECT product_id, count(*) FILTER (WHERE status = 'available') AS available,
           count(*) FILTER (WHERE status IN ('picked', 'packed')) AS allocated
    FROM warehouse_stockunit GROUP BY product_id
) u ON u.product_id = p.id
LEFT JOIN (
    SELECT product_id, sum(quantity - picked) AS reserved
    FROM warehouse_reservation WHERE status = 'active' GROUP BY product_id
) r ON r.product_id = p.id
ON CONFLICT (product_id) DO UPDATE SET available = EXCLUDED.available,
    reserved = EXCLUDED.reserved, allocated = EXCLUDED.allocated;
"""


def bulk_orders(
    *, prefix: str, products: list, buyers: list[int], orders: int, shipped: bool, clerk_id: int
) -> dict:
    from django.db import connection

    locations = _locations()
    started = time.perf_counter()
    params = {
        "products": [p.pk for p in products],
        "np": len(products),
        "orders": orders,
        "two_lines": not shipped,
        "prefix": prefix,
        "status": "paid",
        "age": 60 * 24 * 2 if shipped else 60,
        "buyers": buyers,
        "picked": 1 if shipped else 0,
        "reservation_status": "fulfilled" if shipped else "active",
    }
    ship = {"prefix": prefix, "clerk": clerk_id, "out": locations["OUT-01"]}
    ship["pck"] = locations["PCK-01"]
    with connection.cursor() as cursor:
        for sql, values in [(BULK_LINES, params), (BULK_ORDERS, params)] + (
            [(BULK_SHIP, ship)] if shipped else []
        ):
            for statement in sql.split(";\n"):
                if statement.strip():
                    cursor.execute(statement, values)
    return {"orders": orders, "s": round(time.perf_counter() - started, 1)}


def counters_and_analyze() -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(COUNTERS)
        cursor.execute("VACUUM ANALYZE")
    return round(time.perf_counter() - started, 1)


# ---------------------------------------------------------------- the orders we scan (services)


def place_paid_orders(buyers: list[dict], products: list, n: int, *, offset: int) -> list[str]:
    """n orders of two lines (the second of 1 or 2 units), placed and paid like a buyer would
    (the payment confirmed by the gateway's status query)."""
    from django.contrib.auth import get_user_model

    from bench.orders_probe import place_settled
    from orders import services

    users = get_user_model().objects.in_bulk([b["user_id"] for b in buyers])
    numbers = []
    for i in range(offset, offset + n):
        buyer = buyers[i % len(buyers)]
        first, second = products[(2 * i) % len(products)], products[(2 * i + 1) % len(products)]
        items = [(first.pk, 1), (second.pk, 1 + i % 2)]
        order, *_ = place_settled(users[buyer["user_id"]], buyer, items, "http://127.0.0.1")
        outcome = services.payment_sync(order=order)
        if outcome != "paid":
            raise RuntimeError(f"order {order.number} not paid: {outcome}")
        numbers.append(order.number)
    return numbers


def units_to_pick(numbers: list[str]) -> dict[str, list[str]]:
    """The item numbers a picker would take from the bins for each order (distinct units)."""
    from orders.models import OrderLine
    from warehouse.models import StockUnit

    taken: set[int] = set()
    out: dict[str, list[str]] = {}
    lines = OrderLine.objects.filter(order__number__in=numbers).order_by("order_id", "id")
    for line in lines.select_related("order"):
        units = (
            StockUnit.objects.filter(product_id=line.product_id, status="available")
            .exclude(pk__in=taken)
            .order_by("id")
            .values_list("id", "item_number")[: line.quantity]
        )
        for unit_id, item in units:
            taken.add(unit_id)
            out.setdefault(line.order.number, []).append(item)
    return out


# ---------------------------------------------------------------- the stations (HTTP)


class Station:
    """One scanner: every scan is a POST, then the page it redirects to (what the operator sees
    before scanning again). Latency is timed for the POST alone and for POST + page."""

    def __init__(self, base_url: str, cookies: dict[str, str]):
        self.browser = Browser(base_url, cookies=cookies)
        self.samples: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self.pages: dict[str, list[float]] = defaultdict(list)
        self.problems: list[str] = []
        self.statuses: Counter = Counter()
        self.scans = 0

    def page(self, path: str, kind: str) -> str:
        response = self.browser.get(path, label=kind)
        self.statuses[response.status] += 1
        self.pages[kind].append(response.ms)
        if response.status != 200:
            self.problems.append(f"GET {path}: HTTP {response.status}")
        return response.text

    def scan(self, path: str, data: dict, kind: str, *, refused: bool = False) -> str:
        """POST one scan; follow the redirect. A refusal is expected only when `refused`."""
        if not self.browser.csrf:
            self.page(path, "csrf")
        started = time.perf_counter()
        response = self.browser.post(path, data, label=kind)
        post_ms = (time.perf_counter() - started) * 1000
        self.statuses[response.status] += 1
        self.scans += 1
        text = response.text
        if response.status == 302:
            target = self.browser.get(response.location, label=f"{kind}_page")
            self.statuses[target.status] += 1
            text = target.text
            if target.status != 200:
                self.problems.append(f"{kind}: page after the scan is HTTP {target.status}")
            if refused:
                self.problems.append(f"{kind}: {data} was accepted, a refusal was expected")
        elif response.status == 200 and BAD in text:
            if not refused:
                detail = re.search(r'flash--bad">(.*?)<', text)
                self.problems.append(
                    f"{kind}: {data} refused: {detail.group(1) if detail else '?'}"
                )
        else:
            self.problems.append(f"{kind}: {data} answered HTTP {response.status}")
        total_ms = (time.perf_counter() - started) * 1000
        self.samples[kind].append((post_ms, total_ms))
        return text


def run_pick_station(base_url: str, cookies, plan: dict[str, list[str]]) -> Station:
    station = Station(base_url, cookies)
    station.page("/warehouse/pick/", "pick_list")
    for number, items in plan.items():
        station.scan("/warehouse/pick/", {"order": number}, "pick_order")
        for item in items:
            station.scan(f"/warehouse/pick/{number}/", {"item_number": item}, "pick")
    return station


def run_pack_station(base_url: str, cookies, plan: dict[str, list[str]]) -> tuple[Station, dict]:
    station = Station(base_url, cookies)
    station.page("/warehouse/pack/", "pack_list")
    parcels = {}
    for i, (number, items) in enumerate(plan.items()):
        station.scan("/warehouse/pack/", {"order": number}, "pack_order")
        path = f"/warehouse/pack/{number}/"
        for item in items:
            station.scan(path, {"item_number": item}, "pack")
        if i % 10 == 0:  # the same unit scanned twice: refused with the reason, no 500
            station.scan(path, {"item_number": items[0]}, "pack_refused", refused=True)
        page = station.scan(path, {"weight_grams": 300 + 150 * len(items)}, "close")
        codes = PARCEL_CODE.findall(page)
        if codes:
            parcels[number] = codes[0]
        else:
            station.problems.append(f"close {number}: no parcel code on the pack page")
    return station, parcels


def run_ship_station(base_url: str, cookies, parcels: dict[str, str]) -> Station:
    station = Station(base_url, cookies)
    station.page("/warehouse/ship/", "ship_list")
    for code in parcels.values():
        station.scan("/warehouse/ship/", {"parcel": code}, "ship")
    return station


def lists_and_documents(base_url: str, cookies, parcels: dict[str, str], n: int) -> Station:
    """The stations' list pages (10,000 open orders behind them) and the parcel PDFs."""
    station = Station(base_url, cookies)
    for _ in range(n):
        station.page("/warehouse/pick/", "pick_list")
        station.page("/warehouse/pack/", "pack_list")
        station.page("/warehouse/ship/", "ship_list")
    for code in list(parcels.values())[:n]:
        station.page(f"/warehouse/parcels/{code}/label.pdf", "label_pdf")
        station.page(f"/warehouse/parcels/{code}/slip.pdf", "slip_pdf")
    return station


def customs_release(numbers: list[str]) -> dict:
    """The simulated customs authority decides each declaration (what its worker task does)."""
    from logistics.tasks import customs_simulated_decide

    started = time.perf_counter()
    outcomes = Counter(customs_simulated_decide(number) for number in numbers)
    return {"outcomes": dict(outcomes), "s": round(time.perf_counter() - started, 2)}


def _latency(samples: list[tuple[float, float]]) -> dict:
    post = percentiles([p for p, _t in samples])
    total = percentiles([t for _p, t in samples])
    return {
        "n": total["n"],
        "p50_ms": total["p50_ms"],
        "p99_ms": total["p99_ms"],
        "max_ms": total["max_ms"],
        "post_p50_ms": post["p50_ms"],
        "post_p99_ms": post["p99_ms"],
    }


def station_report(station: Station, wall: float, cpu: dict) -> dict:
    return {
        "scans": station.scans,
        "wall_s": round(wall, 2),
        "scans_per_s": round(station.scans / wall, 1) if wall else None,
        "cpu_ms_per_scan": {
            "app": round(1000 * cpu["app_s"] / station.scans, 1) if station.scans else None,
            "db": (
                round(1000 * cpu["db_s"] / station.scans, 1)
                if station.scans and cpu.get("db_s") is not None
                else None
            ),
            "others_pct": cpu.get("others_pct"),
        },
        "latency": {kind: _latency(s) for kind, s in sorted(station.samples.items())},
        "pages": {kind: percentiles(v) for kind, v in sorted(station.pages.items())},
        "http_statuses": {str(k): v for k, v in sorted(station.statuses.items())},
        "problems": station.problems[:10],
        "problem_count": len(station.problems),
    }


def timed_station(meter: CpuMeter, action) -> tuple:
    before = meter.snapshot()
    started = time.perf_counter()
    result = action()
    wall = time.perf_counter() - started
    cpu = CpuMeter.delta(before, meter.snapshot())
    return result, wall, cpu


def orders_by_status(numbers: list[str]) -> dict:
    from orders.models import Order

    return dict(Counter(Order.objects.filter(number__in=numbers).values_list("status", flat=True)))


def station_round(base_url: str, cookies, meter: CpuMeter, numbers: list[str]) -> dict:
    plan = units_to_pick(numbers)
    out: dict = {"orders": len(numbers), "units": sum(len(v) for v in plan.values())}
    picker, wall, cpu = timed_station(meter, lambda: run_pick_station(base_url, cookies, plan))
    out["pick"] = station_report(picker, wall, cpu)
    (packer, parcels), wall, cpu = timed_station(
        meter, lambda: run_pack_station(base_url, cookies, plan)
    )
    out["pack"] = station_report(packer, wall, cpu)
    out["customs"] = customs_release(numbers)
    shipper, wall, cpu = timed_station(meter, lambda: run_ship_station(base_url, cookies, parcels))
    out["ship"] = station_report(shipper, wall, cpu)
    out["orders_by_status"] = orders_by_status(numbers)
    out["parcels"] = parcels
    return out


# ---------------------------------------------------------------- query plans of one scan each


def query_profile(numbers: list[str]) -> dict:
    """One order walked through the stations in-process, every query of each request captured;
    the slowest SELECTs of each kind are EXPLAIN ANALYZEd (the plans are in the JSON)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    clerk = get_user_model().objects.get(email="bench-clerk@provena.example")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(clerk)
    [number] = numbers
    plan = units_to_pick(numbers)[number]
    steps = [("pick_list", "get", "/warehouse/pick/", None)]
    steps += [("pick", "post", f"/warehouse/pick/{number}/", {"item_number": i}) for i in plan]
    steps += [("pack_list", "get", "/warehouse/pack/", None)]
    steps += [("pack", "post", f"/warehouse/pack/{number}/", {"item_number": i}) for i in plan]
    steps += [("close", "post", f"/warehouse/pack/{number}/", {"weight_grams": 900})]
    out: dict = {}

    def request(kind: str, method: str, path: str, data) -> None:
        with CaptureQueriesContext(connection) as queries:
            response = getattr(client, method)(path, data, follow=True)
        entry = out.setdefault(kind, {"requests": 0, "queries": 0, "sql_ms": 0.0, "slowest": []})
        entry["requests"] += 1
        entry["queries"] += len(queries.captured_queries)
        entry["sql_ms"] += sum(float(q["time"]) * 1000 for q in queries.captured_queries)
        entry["status"] = response.status_code
        entry["slowest"] = sorted(
            entry["slowest"]
            + [
                {"ms": round(float(q["time"]) * 1000, 2), "sql": q["sql"]}
                for q in queries.captured_queries
                if q["sql"].lstrip().upper().startswith("SELECT")
            ],
            key=lambda q: -q["ms"],
        )[:3]

    for kind, method, path, data in steps:
        request(kind, method, path, data)
    customs_release(numbers)
    from warehouse.models import Parcel

    code = Parcel.objects.filter(order_ref=number).values_list("code", flat=True).first()
    request("ship_list", "get", "/warehouse/ship/", None)
    request("ship", "post", "/warehouse/ship/", {"parcel": code})
    with connection.cursor() as cursor:
        for entry in out.values():
            entry["sql_ms"] = round(entry["sql_ms"], 1)
            for query in entry["slowest"]:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                query["plan"] = [row[0] for row in cursor.fetchall()]
                query["seq_scans"] = sorted(
                    {m.group(1) for line in query["plan"] for m in [SEQ.search(line)] if m}
                )
                query["sql"] = query["sql"][:400]
    return out


SEQ = re.compile(r"Seq Scan on (\w+)")


# ---------------------------------------------------------------- carrier webhook


RANK_TRIGGER = """
CREATE TABLE IF NOT EXISTS bench_shipment_regression (
    shipment_id bigint, from_status text, to_status text, at timestamptz DEFAULT now());
CREATE OR REPLACE FUNCTION bench_tracking_rank(s text) RETURNS int AS $$
    SELECT CASE s {cases} ELSE 0 END $$ LANGUAGE sql IMMUTABLE;
CREATE OR REPLACE FUNCTION bench_shipment_watch() RETURNS trigger AS $$
BEGIN
    IF bench_tracking_rank(NEW.status) < bench_tracking_rank(OLD.status)
       OR (OLD.status IN ('delivered', 'returned_to_sender') AND NEW.status <> OLD.status) THEN
        INSERT INTO bench_shipment_regression (shipment_id, from_status, to_status)
        VALUES (OLD.id, OLD.status, NEW.status);
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS bench_shipment_watch ON logistics_shipment;
CREATE TRIGGER bench_shipment_watch AFTER UPDATE OF status ON logistics_shipment
    FOR EACH ROW EXECUTE FUNCTION bench_shipment_watch();
"""


def install_regression_watch() -> None:
    """A bench-only trigger: any shipment status that moves backwards is written down."""
    from django.db import connection

    from logistics.models import TRACKING_RANK

    cases = " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in TRACKING_RANK.items())
    with connection.cursor() as cursor:
        cursor.execute(RANK_TRIGGER.replace("{cases}", cases))


def webhook_batches(shipments: list, options: dict, seed: int) -> dict:
    """The carrier's pushes: each step of every route in batches, some batches late (after
    later steps of the same parcels), and ~10% of the events sent again in re-sent batches."""
    from logistics.carriers import get_carrier

    carrier = get_carrier("simulated")
    rng = random.Random(seed)
    plans = {
        s.waybill: carrier.plan(waybill=s.waybill, handed_over_at=s.handed_over_at)
        for s in shipments
    }
    steps = max(len(p) for p in plans.values())
    size = options["webhook_batch"]
    batches: list[list] = []
    for step in range(steps):
        due = [plan[step] for plan in plans.values() if step < len(plan)]
        rng.shuffle(due)
        batches += [due[i : i + size] for i in range(0, len(due), size)]
    unique = sum(len(p) for p in plans.values())
    # Out of order: some batches arrive only after everything else was sent.
    late_n = max(1, int(len(batches) * options["webhook_late"]))
    late_idx = set(rng.sample(range(len(batches) - 1), late_n))
    queue = [b for i, b in enumerate(batches) if i not in late_idx]
    late = [b for i, b in enumerate(batches) if i in late_idx]
    rng.shuffle(late)
    queue += late
    # Duplicates: whole batches re-sent (a carrier retrying after a timeout) a while later.
    dup_target = int(unique * options["webhook_duplicates"])
    duplicates = 0
    while duplicates < dup_target:
        i = rng.randrange(len(queue))
        copy = list(queue[i])
        queue.insert(rng.randrange(i + 1, len(queue) + 1), copy)
        duplicates += len(copy)
    bodies = [carrier.push_body(batch) for batch in queue]
    final = {w: p[-1].status for w, p in plans.items()}
    return {
        "bodies": bodies,
        "unique": unique,
        "sent": sum(len(b) for b in queue),
        "duplicates": duplicates,
        "batches": len(queue),
        "late_batches": late_n,
        "final": final,
    }


def push_webhooks(base_url: str, bodies: list[tuple[bytes, str]], clients: int) -> dict:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    lock = threading.Lock()
    queue = iter(range(len(bodies)))
    answers: Counter = Counter()
    stored = duplicates = 0
    latencies: list[float] = []
    errors: list[str] = []

    def run(_i: int) -> None:
        nonlocal stored, duplicates
        while True:
            with lock:
                index = next(queue, None)
            if index is None:
                return
            body, signature = bodies[index]
            payload = b""
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
                conn.request(
                    "POST",
                    "/webhooks/carriers/simulated/",
                    body=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Carrier-Signature": signature,
                        "Connection": "close",
                    },
                )
                response = conn.getresponse()
                payload = response.read()
                conn.close()
                status = response.status
                data = json.loads(payload) if status == 200 else {}
            except Exception as exc:  # a finding, not a crash of the bench
                status, data = 0, {}
                with lock:
                    errors.append(repr(exc)[:200])
            ms = (time.perf_counter() - started) * 1000
            with lock:
                answers[f"{status} {data.get('outcome', '')}".strip()] += 1
                stored += data.get("stored", 0)
                duplicates += data.get("duplicates", 0)
                latencies.append(ms)
                if status != 200 and len(errors) < 10:
                    errors.append(f"HTTP {status}: {payload[:200]!r}")

    wall = in_threads(run, clients)
    return {
        "clients": clients,
        "wall_s": round(wall, 2),
        "answers": dict(answers),
        "stored": stored,
        "duplicates_answered": duplicates,
        "latency": percentiles(latencies),
        "errors": errors[:10],
    }


def webhook_check(shipments: list, final: dict) -> dict:
    from django.db import connection

    from logistics.models import Shipment, TrackingEvent
    from orders.models import Order
    from warehouse.models import Parcel, StockUnit

    ids = [s.pk for s in shipments]
    now = {s.waybill: s for s in Shipment.objects.filter(pk__in=ids)}
    wrong_final = [
        f"{w}: {now[w].status}, route ends {status}"
        for w, status in final.items()
        if now[w].status != status
    ]
    delivered = [s for s in now.values() if s.status == "delivered"]
    orders = Counter(
        Order.objects.filter(number__in=[s.order_ref for s in delivered]).values_list(
            "status", flat=True
        )
    )
    parcels = Counter(
        Parcel.objects.filter(code__in=[s.parcel_code for s in delivered]).values_list(
            "status", flat=True
        )
    )
    units = Counter(
        StockUnit.objects.filter(parcel__code__in=[s.parcel_code for s in delivered]).values_list(
            "status", flat=True
        )
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM bench_shipment_regression WHERE shipment_id = ANY(%s)", [ids]
        )
        regressions = cursor.fetchone()[0]
    return {
        "events_stored": TrackingEvent.objects.filter(shipment_id__in=ids).count(),
        "shipments": len(ids),
        "final_status": dict(Counter(s.status for s in now.values())),
        "wrong_final": wrong_final[:10],
        "wrong_final_count": len(wrong_final),
        "regressions": regressions,
        "delivered": len(delivered),
        "delivered_orders": dict(orders),
        "delivered_parcels": dict(parcels),
        "delivered_units": dict(units),
    }


def webhook_round(base_url: str, shipments: list, options: dict, seed: int, meter) -> dict:
    batches = webhook_batches(shipments, options, seed)
    before = meter.snapshot()
    pushed = push_webhooks(base_url, batches["bodies"], options["webhook_clients"])
    cpu = CpuMeter.delta(before, meter.snapshot())
    check = webhook_check(shipments, batches["final"])
    del batches["bodies"], batches["final"]
    return {
        **batches,
        **pushed,
        "events_per_s": round(batches["unique"] / pushed["wall_s"], 1),
        "sent_per_s": round(batches["sent"] / pushed["wall_s"], 1),
        "cpu_ms_per_event": {
            "app": round(1000 * cpu["app_s"] / batches["sent"], 2),
            "db": None
            if cpu.get("db_s") is None
            else round(1000 * cpu["db_s"] / batches["sent"], 2),
            "others_pct": cpu.get("others_pct"),
        },
        "check": check,
    }


# ---------------------------------------------------------------- entry point


def log_findings(path: Path) -> dict:
    from bench.orders_probe import log_findings as findings

    return findings(path)


def main() -> None:
    options = json.loads(sys.argv[1])
    install_signal_handlers()
    setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from bench.orders_probe import make_buyers
    from bench.warehouse_probe import world
    from logistics.models import Shipment
    from warehouse.ledger import verify_ledger

    var_dir = Path(os.environ["PROVENA_VAR_DIR"])
    out: dict = {"build": {}}
    build = out["build"]
    started = time.perf_counter()
    merchant, category, clerk, _appraiser = world()
    products = make_products(merchant, category, options["products"])
    build["products_s"] = round(time.perf_counter() - started, 1)
    buyers = make_buyers("fulfil", options["buyers"], 1985)
    bulk_buyers = list(get_user_model().objects.values_list("pk", flat=True))
    log(f"fulfilment: {len(products)} products, {len(buyers)} buyers ({build['products_s']} s)")

    build["units"] = bulk_units(products, merchant.pk, options["units"])
    log(f"fulfilment: {build['units']['units']:,} units + 2 movements each {build['units']}")
    rounds, per_round = options["rounds"], options["orders_per_round"]
    station_orders = rounds * per_round + 1  # + 1 walked in-process for the query plans
    ship_target = options["webhook_shipments"] * options["webhook_rounds"]
    build["open_orders"] = bulk_orders(
        prefix="BK",
        products=products,
        buyers=bulk_buyers,
        orders=options["open_orders"],
        shipped=False,
        clerk_id=clerk.pk,
    )
    build["shipped_orders"] = bulk_orders(
        prefix="BS",
        products=products,
        buyers=bulk_buyers,
        orders=max(0, ship_target - rounds * per_round),
        shipped=True,
        clerk_id=clerk.pk,
    )
    build["counters_analyze_s"] = counters_and_analyze()
    log(
        f"fulfilment: {options['open_orders']:,} open orders ({build['open_orders']['s']} s), "
        f"{build['shipped_orders']['orders']:,} shipped ({build['shipped_orders']['s']} s), "
        f"counters + analyze {build['counters_analyze_s']} s"
    )
    started = time.perf_counter()
    numbers = place_paid_orders(buyers, products, station_orders, offset=0)
    build["scanned_orders_s"] = round(time.perf_counter() - started, 1)
    log(
        f"fulfilment: {len(numbers)} orders placed and paid through the services "
        f"({build['scanned_orders_s']} s)"
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute(
            "SELECT (SELECT count(*) FROM warehouse_stockunit), "
            "(SELECT count(*) FROM warehouse_unitmovement), "
            "(SELECT count(*) FROM orders_order WHERE status IN "
            "('paid', 'allocated', 'partially_refunded')), "
            "pg_size_pretty(pg_database_size(current_database()))"
        )
        units, movements, open_orders, size = cursor.fetchone()
    out["database"] = {
        "units": units,
        "movements": movements,
        "open_orders": open_orders,
        "size": size,
    }
    install_regression_watch()
    cookies = station_session(clerk)

    env = {**os.environ, "DB_CONN_MAX_AGE": "3600"}
    try:
        shop = Gunicorn(
            env=env,
            log_path=var_dir / "gunicorn.log",
            workers=options["gunicorn_workers"],
            threads=options["gunicorn_threads"],
        ).start()
        log(f"fulfilment: gunicorn up on {shop.base_url}")
        meter = CpuMeter(shop.proc.pid, os.environ["DATABASE_URL"])
        # Warm-up: every worker thread opens its connection and loads its templates.
        Station(shop.base_url, cookies).page("/warehouse/pick/", "warm")
        out["stations"] = []
        for r in range(rounds):
            chunk = numbers[r * per_round : (r + 1) * per_round]
            result = station_round(shop.base_url, cookies, meter, chunk)
            out["stations"].append(result)
            log(
                f"fulfilment: station round {r + 1}: pick {result['pick']['scans_per_s']}/s, "
                f"pack {result['pack']['scans_per_s']}/s, ship {result['ship']['scans_per_s']}/s;"
                f" p99 pack {result['pack']['latency']['pack']['p99_ms']} ms, ship "
                f"{result['ship']['latency']['ship']['p99_ms']} ms; orders "
                f"{result['orders_by_status']}"
            )
        parcels = {k: v for r in out["stations"] for k, v in r.pop("parcels").items()}
        pages = lists_and_documents(shop.base_url, cookies, parcels, options["page_samples"])
        out["pages"] = {kind: percentiles(v) for kind, v in sorted(pages.pages.items())}
        out["pages_problems"] = pages.problems[:10]
        out["query_profile"] = query_profile(numbers[-1:])
        log("fulfilment: query profile of one order done")

        # The scanned orders' parcels first: round 1 carries them to delivered over HTTP.
        shipments = sorted(
            Shipment.objects.filter(handed_over_at__isnull=False).exclude(order_ref=numbers[-1]),
            key=lambda s: (s.order_ref.startswith("BS"), s.pk),
        )
        size = options["webhook_shipments"]
        out["webhook"] = []
        for r in range(options["webhook_rounds"]):
            chunk = shipments[r * size : (r + 1) * size]
            result = webhook_round(shop.base_url, chunk, options, seed=r, meter=meter)
            out["webhook"].append(result)
            log(
                f"fulfilment: webhook round {r + 1}: {result['unique']:,} events "
                f"(+{result['duplicates']:,} duplicates, {result['batches']} batches) in "
                f"{result['wall_s']} s = {result['events_per_s']}/s; answers {result['answers']};"
                f" stored {result['check']['events_stored']:,}, regressions "
                f"{result['check']['regressions']}, delivered {result['check']['delivered']} "
                f"-> orders {result['check']['delivered_orders']}"
            )
        meter.close()
    finally:
        stop_all_children()
    started = time.perf_counter()
    report = verify_ledger()
    out["ledger"] = {
        "ok": report.ok,
        "movements": report.movements,
        "units": report.units,
        "seconds": round(time.perf_counter() - started, 1),
        "problems": report.problems[:5],
    }
    verdict = "ok" if report.ok else "FAILED"
    log(f"fulfilment: verify_ledger {verdict} ({out['ledger']['seconds']} s)")
    out["gunicorn_log"] = log_findings(var_dir / "gunicorn.log")
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all_children()
