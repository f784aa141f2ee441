"""Fulfilment figures, over real HTTP against gunicorn on a PostgreSQL database of its own:

- station scans with 10,000 open (paid) orders and 1,000,000 units in the database: one scanner
  per station (pick, pack, ship) scans as fast as it can, each scan a POST and the page it
  redirects to; p50/p99 per scan kind and scans/s per station, R rounds (medians). Target: pack
  and ship scans p99 < 100 ms;
- carrier webhook: the simulated carrier's routes of ~1,500 shipped parcels (~10,000 events)
  pushed as signed batches by several clients, ~10% duplicates and some batches late (after later
  steps of the same parcels). Target: 10,000 events in under 30 s, none lost, no status moved
  backwards, delivered parcels' orders delivered; R rounds on disjoint parcels (medians).

The background volume is bulk SQL (COPY and INSERT ... SELECT), consistent with the ledger: each
unit has its movements (received, appraised genuine; shipped ones picked, packed, shipped too),
each open order its lines and active reservations, the counters are computed from the units, so
`verify_ledger` must pass at the end. The orders scanned are placed and paid through the services.

Environment: BENCH_FULFIL_DATABASE_URL (default below; dropped and recreated),
BENCH_FULFIL_REDIS_URL (default Redis db 5, flushed), BENCH_FULFIL_UNITS, BENCH_FULFIL_OPEN_ORDERS,
BENCH_FULFIL_ORDERS (orders scanned per round).
"""

from __future__ import annotations

import os
import shutil
import time

from bench.harness import (
    BenchError,
    DatabaseTarget,
    bench_env,
    flush_redis,
    git_state,
    log,
    make_var_dir,
    manage,
    median,
    recreate_database,
    run_probe,
    table,
    write_json,
)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/provena_bench_fulfil"
DEFAULT_REDIS = "redis://127.0.0.1:6379/5"  # 0 dev, 1 CI, 3 and 9 other bench runs
SCAN_KINDS = (
    ("pick", "pick_order", "pick: order number scan"),
    ("pick", "pick", "pick: item scan"),
    ("pack", "pack_order", "pack: order number scan"),
    ("pack", "pack", "pack: item scan into the parcel"),
    ("pack", "pack_refused", "pack: same item again (refused)"),
    ("pack", "close", "pack: weight, close, book carrier, declare"),
    ("ship", "ship", "ship: parcel scan at handover"),
)
TARGET_KINDS = {"pack", "close", "ship"}


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError as exc:
        raise BenchError(f"{name} must be a whole number.") from exc


def _options(args) -> dict:
    quick = getattr(args, "quick", False)
    return {
        "units": _env_int("BENCH_FULFIL_UNITS", 50_000 if quick else 1_000_000),
        "open_orders": _env_int("BENCH_FULFIL_OPEN_ORDERS", 1_000 if quick else 10_000),
        "products": 50 if quick else 500,
        "buyers": 30,
        "rounds": args.repeat,
        "orders_per_round": _env_int("BENCH_FULFIL_ORDERS", 10 if quick else 60),
        "page_samples": 5 if quick else 20,
        "webhook_shipments": 300 if quick else 1500,
        "webhook_rounds": args.repeat,
        "webhook_clients": 8,
        "webhook_batch": 40,
        "webhook_late": 0.05,
        "webhook_duplicates": 0.10,
        "gunicorn_workers": 2,
        "gunicorn_threads": 4,
    }


def _med(values: list) -> float | str:
    values = [v for v in values if v is not None]
    return round(median(values), 1) if values else "-"


def _scan_rows(stations: list[dict]) -> tuple[list[list], dict]:
    rows, p99s = [], {}
    for station, kind, label in SCAN_KINDS:
        per_round = [r[station]["latency"].get(kind) for r in stations]
        per_round = [x for x in per_round if x]
        if not per_round:
            continue
        p99 = _med([x["p99_ms"] for x in per_round])
        p99s[kind] = p99
        rows.append(
            [
                label,
                sum(x["n"] for x in per_round),
                _med([x["p50_ms"] for x in per_round]),
                p99,
                max(x["max_ms"] for x in per_round),
                _med([x["post_p50_ms"] for x in per_round]),
                _med([x["post_p99_ms"] for x in per_round]),
            ]
        )
    return rows, p99s


def _station_rows(stations: list[dict]) -> list[list]:
    rows = []
    for station in ("pick", "pack", "ship"):
        reports = [r[station] for r in stations]
        rows.append(
            [
                station,
                sum(r["scans"] for r in reports),
                _med([r["scans_per_s"] for r in reports]),
                str([r["scans_per_s"] for r in reports]),
                _med([r["cpu_ms_per_scan"]["app"] for r in reports]),
                _med([r["cpu_ms_per_scan"]["db"] for r in reports]),
                _med([r["cpu_ms_per_scan"]["others_pct"] for r in reports]),
            ]
        )
    return rows


def _targets(data: dict, p99s: dict) -> list[tuple[str, str, bool]]:
    stations, hooks = data["stations"], data["webhook"]
    db = data["database"]
    worst = max((p99s[k], k) for k in TARGET_KINDS if k in p99s)
    problems = sum(r[s]["problem_count"] for r in stations for s in ("pick", "pack", "ship"))
    shipped = all(set(r["orders_by_status"]) == {"shipped"} for r in stations)
    events = _med([h["unique"] for h in hooks])
    wall = _med([h["wall_s"] for h in hooks])
    lost = [
        f"round {i + 1}: stored {h['check']['events_stored']} of {h['unique']}"
        for i, h in enumerate(hooks)
        if h["check"]["events_stored"] != h["unique"] or h["stored"] != h["unique"]
    ]
    non_200 = sum(
        n for h in hooks for answer, n in h["answers"].items() if not answer.startswith("200")
    )
    backwards = sum(h["check"]["regressions"] + h["check"]["wrong_final_count"] for h in hooks)
    delivered = sum(h["check"]["delivered"] for h in hooks)
    orders_delivered = sum(h["check"]["delivered_orders"].get("delivered", 0) for h in hooks)
    return [
        (
            f"pack/ship scan p99 < 100 ms ({db['open_orders']:,} open orders, "
            f"{db['units']:,} units)",
            f"worst p99 {worst[0]} ms ({worst[1]}), median of {len(stations)} rounds; POST + page",
            worst[0] < 100,
        ),
        (
            "every scan did what it should (no refusal of a good scan, no 5xx), orders shipped",
            f"{problems} problems; orders {[r['orders_by_status'] for r in stations]}",
            problems == 0 and shipped,
        ),
        (
            "webhook: 10,000 events < 30 s, duplicates included, none lost",
            f"{events:,} events in {wall} s (median of {len(hooks)}); lost: {lost or 'none'}; "
            f"non-200 answers {non_200}",
            events >= 10_000 and wall < 30 and not lost and non_200 == 0,
        ),
        (
            "no status moved backwards; delivered parcels made their orders delivered",
            f"{backwards} backwards/wrong final; {orders_delivered} of {delivered} delivered "
            f"parcels' orders delivered",
            backwards == 0 and orders_delivered == delivered,
        ),
        (
            "verify_ledger agrees at the end; no 500 logged by gunicorn",
            f"verify_ledger {'ok' if data['ledger']['ok'] else 'FAILED'} "
            f"({data['ledger']['movements']:,} movements, {data['ledger']['seconds']} s); "
            f"{data['gunicorn_log'].get('internal_server_errors', 0)} internal server errors",
            data["ledger"]["ok"] and not data["gunicorn_log"].get("internal_server_errors"),
        ),
    ]


def _report(data: dict, options: dict) -> list[tuple[str, str, bool]]:
    db, build = data["database"], data["build"]
    print()
    print(
        f"Fulfilment benchmark: {db['units']:,} units, {db['movements']:,} movements, "
        f"{db['open_orders']:,} open orders, database {db['size']}; gunicorn -w "
        f"{options['gunicorn_workers']} -k gthread --threads {options['gunicorn_threads']}; "
        f"build: units {build['units']['s']} s, open orders {build['open_orders']['s']} s, "
        f"shipped {build['shipped_orders']['s']} s, placed+paid via services "
        f"{build['scanned_orders_s']} s"
    )
    rows, p99s = _scan_rows(data["stations"])
    print()
    print(
        table(
            [
                "scan (POST + the page it redirects to)",
                "n",
                "p50 ms",
                "p99 ms",
                "max ms",
                "POST p50",
                "POST p99",
            ],
            rows,
        )
    )
    print()
    print(
        table(
            [
                "station (one scanner)",
                "scans",
                "scans/s",
                "rounds",
                "app CPU ms/scan",
                "db CPU ms/scan",
                "others %",
            ],
            _station_rows(data["stations"]),
        )
    )
    print()
    print(
        table(
            ["page", "n", "p50 ms", "p99 ms", "max ms"],
            [[k, v["n"], v["p50_ms"], v["p99_ms"], v["max_ms"]] for k, v in data["pages"].items()],
        )
    )
    print()
    print(
        table(
            ["one scan in-process", "queries", "SQL ms", "slowest SELECT ms", "seq scans"],
            [
                [
                    kind,
                    round(v["queries"] / v["requests"], 1),
                    round(v["sql_ms"] / v["requests"], 1),
                    v["slowest"][0]["ms"] if v["slowest"] else "-",
                    ",".join(sorted({t for q in v["slowest"] for t in q["seq_scans"]})) or "-",
                ]
                for kind, v in data["query_profile"].items()
            ],
        )
    )
    hooks = data["webhook"]
    print()
    print(
        table(
            [
                "webhook round",
                "events",
                "dupes",
                "batches",
                "late",
                "wall s",
                "events/s",
                "p50 ms",
                "p99 ms",
                "stored",
                "dup answered",
                "delivered",
                "answers",
            ],
            [
                [
                    i + 1,
                    h["unique"],
                    h["duplicates"],
                    h["batches"],
                    h["late_batches"],
                    h["wall_s"],
                    h["events_per_s"],
                    h["latency"]["p50_ms"],
                    h["latency"]["p99_ms"],
                    h["check"]["events_stored"],
                    h["duplicates_answered"],
                    f"{h['check']['delivered']} -> {h['check']['delivered_orders']}",
                    h["answers"],
                ]
                for i, h in enumerate(hooks)
            ],
        )
    )
    targets = _targets(data, p99s)
    print()
    print(
        table(
            ["target", "measured", "result"],
            [[t, m, "PASS" if ok else "FAIL"] for t, m, ok in targets],
        )
    )
    for r in data["stations"]:
        for station in ("pick", "pack", "ship"):
            for problem in r[station]["problems"]:
                print(f"problem ({station}): {problem}")
    for line in data["gunicorn_log"].get("exceptions", []):
        print(f"logged (gunicorn): {line}")
    return targets


def run(args) -> int:
    url = os.environ.get("BENCH_FULFIL_DATABASE_URL", DEFAULT_URL)
    redis_url = os.environ.get("BENCH_FULFIL_REDIS_URL", DEFAULT_REDIS)
    db = DatabaseTarget.from_url(url)
    options = _options(args)
    log(f"fulfilment: fresh database {db.name}, Redis {redis_url}")
    recreate_database(db)
    flush_redis(redis_url)
    var_dir = make_var_dir()
    env = bench_env(database_url=url, redis_url=redis_url, var_dir=var_dir)
    env["CACHE_KEY_PREFIX"] = "provena-bench-fulfil"
    try:
        log(f"fulfilment: migrate ({manage(env, 'migrate', '--noinput', '-v0')} s)")
        log(f"fulfilment: collectstatic ({manage(env, 'collectstatic', '--noinput', '-v0')} s)")
        started = time.perf_counter()
        data = run_probe("fulfilment_probe.py", env, options, name="fulfilment")
        data["probe_seconds"] = round(time.perf_counter() - started, 1)
    finally:
        if not getattr(args, "keep_db", False):
            db.drop()
        flush_redis(redis_url)  # the customs tasks the pack station queued: nobody consumes them
        shutil.rmtree(var_dir, ignore_errors=True)
    targets = _report(data, options)
    data["targets"] = [{"target": t, "measured": m, "pass": ok} for t, m, ok in targets]
    data.update({"options": options, "git": git_state(), "cpus": os.cpu_count()})
    path = write_json("fulfilment", data)
    log(f"fulfilment: wrote {path}")
    return 0
