"""Measurements of the warehouse section, run in a child process with the bench environment.

Prints one JSON object on its last line. Invoked by bench/warehouse.py; not meant to be run alone.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def setup_django() -> None:
    import django

    django.setup()


def world():
    """A merchant, a category, staff: built through the services, like production."""
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile

    from accounts import roles
    from accounts import services as accounts
    from catalog import services as catalog

    users = get_user_model().objects
    admin = users.create_superuser(email="bench-admin@provena.example", password=None)
    clerk = users.create_user(email="bench-clerk@provena.example", password=None)
    appraiser = users.create_user(email="bench-appraiser@provena.example", password=None)
    accounts.user_grant_role(user=clerk, role=roles.WAREHOUSE)
    accounts.user_grant_role(user=appraiser, role=roles.APPRAISER)
    owner = users.create_user(email="bench-merchant@provena.example", password=None)
    merchant = accounts.merchant_apply(
        applicant=owner,
        name="Bench Trading",
        country="JP",
        licence_number="BENCH-0001",
        licence_document=ContentFile(b"%PDF-1.4 bench", name="l.pdf"),
        contact_name="Bench",
        contact_email="bench@merchant.example",
        contact_phone="+81312345678",
    )
    merchant = accounts.merchant_approve(merchant=merchant, actor=admin)
    catalog.exchange_rates_ensure_defaults()
    category = catalog.category_create(name="Bench goods")
    return merchant, category, clerk, appraiser


def make_products(merchant, category, n: int, prefix: str):
    from catalog import services as catalog

    return [
        catalog.product_create(
            merchant=merchant,
            category=category,
            name=f"{prefix} {i}",
            price=Decimal("99.00"),
            origin_country="JP",
            hs_code="330499",
            weight_grams=200,
            status="listed",
        )
        for i in range(n)
    ]


def stock_up(merchant, clerk, appraiser, counts: dict, *, batch: int = 4000) -> float:
    """Announce, receive and appraise genuine: the only way units become available."""
    from authenticity.services import appraisal_record
    from warehouse import services as warehouse
    from warehouse.models import StockUnit

    started = time.perf_counter()
    products = {p.pk: p for p in counts}
    items = list(counts.items())
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        shipment = warehouse.inbound_announce(
            merchant=merchant,
            actor=merchant.applicant,
            carrier="SF",
            waybill=f"SF{start}",
            lines=[(products[p.pk], n) for p, n in chunk],
        )
        received = warehouse.inbound_receive(
            shipment=shipment, counts={p.pk: n for p, n in chunk}, actor=clerk
        )
        numbers = StockUnit.objects.filter(pk__in=received.unit_ids).values_list(
            "item_number", flat=True
        )
        for number in numbers:
            appraisal_record(item_number=number, appraiser=appraiser, verdict="genuine")
    return time.perf_counter() - started


def concurrency(product, *, workers: int, rounds: int) -> dict:
    """`workers` threads, each with its own connection, reserve 1 unit at the same instant."""
    from django.db import connections

    from warehouse import services as warehouse
    from warehouse.ledger import verify_ledger
    from warehouse.models import ProductStock

    results: list[list] = []
    per_round = []
    for _round in range(rounds):
        barrier = threading.Barrier(workers)
        outcome: list = [None] * workers

        def worker(i: int, barrier=barrier, outcome=outcome) -> None:
            try:
                barrier.wait()
                outcome[i] = warehouse.stock_reserve(items=[(product.pk, 1)])[0].pk
            except warehouse.InsufficientStockError:
                outcome[i] = False
            except Exception as exc:  # anything else is a finding, not a crash of the bench
                outcome[i] = repr(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        won = [r for r in outcome if type(r) is int]  # reservation ids (bools are refusals)
        errors = [r for r in outcome if isinstance(r, str)]
        stock = ProductStock.objects.get(pk=product.pk)
        report = verify_ledger()
        per_round.append(
            {
                "succeeded": len(won),
                "refused": outcome.count(False),
                "errors": errors[:3],
                "reserved_counter": stock.reserved,
                "ledger_ok": report.ok,
            }
        )
        for reservation_id in won:
            warehouse.reservation_release(reservation_id=reservation_id)
        results.append(won)
    return {"workers": workers, "rounds": per_round}


def _throughput_worker(product_ids, seconds, queue) -> None:
    from django.db import connections

    connections.close_all()
    from warehouse import services as warehouse

    rng = random.Random(os.getpid())
    done = refused = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        product_id = rng.choice(product_ids)
        try:
            reservation = warehouse.stock_reserve(items=[(product_id, 1)])[0]
        except warehouse.InsufficientStockError:
            refused += 1
            continue
        done += 1
        warehouse.reservation_release(reservation_id=reservation.pk)
    connections.close_all()
    queue.put((done, refused))


def throughput(product_ids: list[int], *, workers: int, seconds: float) -> dict:
    """Reserve-then-release loops in `workers` processes; reservations per second."""
    from django.db import connections

    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_throughput_worker, args=(product_ids, seconds, queue))
        for _ in range(workers)
    ]
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    outcomes = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - started
    done = sum(d for d, _r in outcomes)
    return {
        "workers": workers,
        "products": len(product_ids),
        "seconds": round(elapsed, 2),
        "reservations": done,
        "refused": sum(r for _d, r in outcomes),
        "reservations_per_s": round(done / elapsed, 1),
    }


def receive_thousand(merchant, category, clerk) -> dict:
    from warehouse import services as warehouse

    product = make_products(merchant, category, 1, "Receiving")[0]
    shipment = warehouse.inbound_announce(
        merchant=merchant,
        actor=merchant.applicant,
        carrier="SF",
        waybill="SF-RECV",
        lines=[(product, 1000)],
    )
    started = time.perf_counter()
    received = warehouse.inbound_receive(shipment=shipment, counts={product.pk: 1000}, actor=clerk)
    receive_s = time.perf_counter() - started
    from warehouse.labels import render_labels
    from warehouse.selectors import labels_for_receipt

    started = time.perf_counter()
    pdf = render_labels(labels_for_receipt(receipt_id=received.receipt.pk))
    labels_s = time.perf_counter() - started
    pdf_bytes = len(pdf)
    total = receive_s + (labels_s or 0)
    return {
        "units": len(received.unit_ids),
        "receive_s": round(receive_s, 2),
        "labels_s": None if labels_s is None else round(labels_s, 2),
        "labels_pdf_bytes": pdf_bytes,
        "total_s": round(total, 2),
    }


SYNTHETIC = """
WITH p AS (SELECT %(product)s::bigint AS product_id, %(merchant)s::bigint AS merchant_id)
INSERT INTO warehouse_stockunit (item_number, product_id, merchant_id, status, location_id,
                                 received_at, updated_at)
SELECT 'SY' || lpad(g::text, 10, '0'), p.product_id, p.merchant_id, 'available', %(bin_a)s,
       now(), now()
FROM generate_series(1, %(units)s) AS g, p;
"""
SYNTHETIC_MOVES = """
INSERT INTO warehouse_unitmovement (unit_id, from_status, to_status, from_location_id,
                                    to_location_id, reason, document, note, created_at)
SELECT u.id, m.from_status, m.to_status, m.from_loc, m.to_loc, m.reason, 'BENCH', '', now()
FROM warehouse_stockunit u
CROSS JOIN (VALUES
    (1, '', 'awaiting_appraisal', NULL::bigint, %(rcv)s::bigint, 'receive'),
    (2, 'awaiting_appraisal', 'available', %(rcv)s::bigint, %(bin_a)s::bigint, 'appraise_genuine'),
    (3, 'available', 'available', %(bin_a)s::bigint, %(bin_b)s::bigint, 'relocate'),
    (4, 'available', 'available', %(bin_b)s::bigint, %(bin_a)s::bigint, 'relocate')
) AS m(seq, from_status, to_status, from_loc, to_loc, reason)
WHERE u.product_id = %(product)s
ORDER BY u.id, m.seq;
"""


def ledger_million(merchant, category, movements: int) -> dict:
    """Add units with 4 movements each (a legal history) in SQL, then time verify_ledger."""
    from django.db import connection

    from warehouse.ledger import verify_ledger
    from warehouse.models import Location, ProductStock, UnitMovement

    product = make_products(merchant, category, 1, "Ledger")[0]
    rcv = Location.objects.get(code="RCV-01").pk
    bin_a, bin_b = Location.objects.get(code="STK-A01").pk, Location.objects.get(code="STK-A02").pk
    existing = UnitMovement.objects.count()
    units = max(1, (movements - existing) // 4)
    params = {
        "product": product.pk,
        "merchant": merchant.pk,
        "units": units,
        "rcv": rcv,
        "bin_a": bin_a,
        "bin_b": bin_b,
    }
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(SYNTHETIC, params)
        cursor.execute(SYNTHETIC_MOVES, params)
        cursor.execute("ANALYZE warehouse_unitmovement; ANALYZE warehouse_stockunit")
    ProductStock.objects.create(product=product, merchant=merchant, available=units)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    report = verify_ledger()
    verify_s = time.perf_counter() - started
    return {
        "movements": report.movements,
        "units": report.units,
        "build_s": round(build_s, 1),
        "verify_s": round(verify_s, 2),
        "ok": report.ok,
        "problems": report.problems[:5],
    }


def main() -> None:
    options = json.loads(sys.argv[1])
    setup_django()
    out: dict = {}
    merchant, category, clerk, appraiser = world()

    hot = make_products(merchant, category, 1, "Hot")[0]
    out["stock_hot_s"] = round(stock_up(merchant, clerk, appraiser, {hot: 10}), 2)
    out["concurrency"] = concurrency(hot, workers=options["race_workers"], rounds=options["rounds"])

    many = make_products(merchant, category, options["products"], "Many")
    out["stock_many_s"] = round(stock_up(merchant, clerk, appraiser, dict.fromkeys(many, 2)), 2)
    out["throughput_hot"] = throughput(
        [hot.pk], workers=options["workers"], seconds=options["seconds"]
    )
    out["throughput_many"] = throughput(
        [p.pk for p in many], workers=options["workers"], seconds=options["seconds"]
    )
    out["receive_1000"] = receive_thousand(merchant, category, clerk)
    out["ledger"] = ledger_million(merchant, category, options["movements"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
