"""Orders figures, over real HTTP against gunicorn on a PostgreSQL database of its own:

- no oversell end-to-end: 100 signed-in buyers (each with a CN address) walk product page, add to
  cart, cart, checkout form, then all place their order for the last 10 units at the same instant;
  the winners pay on the sandbox gateway's page, whose signed notify callback marks them paid.
  Exactly 10 must be paid, the other 90 must read "Sold out", none a 5xx; then
  `manage.py verify_ledger` must agree with the counters;
- checkout throughput: 8 buyers loop the same walk (plenty of stock) until N orders are paid;
  orders/s and p50/p99 of GET /cart/, GET /checkout/ and the place POST, R rounds (medians);
- one settled payment's signed notify POSTed 1,000 times concurrently: 1,000 x `success`, one
  `paid` event, one paid payment, 1,000 callback rows.

Environment: BENCH_ORDERS_DATABASE_URL (default below; dropped and recreated) and
BENCH_ORDERS_NOTIFY: `eager` (default: the pay request posts the notify inline after its commit,
CELERY_TASK_ALWAYS_EAGER, to a second small gunicorn) or `worker` (a Celery worker posts it, as
in production; buyers reload the order page until it says paid).
"""

from __future__ import annotations

import os
import shutil
import time

from bench.harness import (
    BenchError,
    DatabaseTarget,
    bench_env,
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

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/provena_bench_orders"
RACE_BUYERS, RACE_STOCK = 100, 10
LATENCY_LABELS = (("cart", "GET /cart/"), ("checkout", "GET /checkout/"), ("place", "POST place"))


def _options(args) -> dict:
    quick = getattr(args, "quick", False)
    notify = os.environ.get("BENCH_ORDERS_NOTIFY", "eager")
    if notify not in {"eager", "worker"}:
        raise BenchError(f"BENCH_ORDERS_NOTIFY must be eager or worker, not {notify!r}.")
    return {
        "notify": notify,
        "race_buyers": RACE_BUYERS,
        "race_stock": RACE_STOCK,
        "throughput_buyers": 8,
        "throughput_orders": 40 if quick else 200,
        "repeat": args.repeat,
        "replay_copies": 1000,
        "replay_connections": 100,
        # gthread: 16 requests in flight, so the race reaches PostgreSQL as a race (2 sync
        # workers would serialise the 100 buyers at the HTTP layer).
        "gunicorn_workers": 2,
        "gunicorn_threads": 8,
        "celery_threads": 4,
    }


def _targets(data: dict) -> list[tuple[str, str, bool]]:
    race, replay = data["race"], data["replay"]
    kinds, db = race["outcomes"], race["database"]
    five_xx = sum(n for status, n in race["http_statuses"].items() if status.startswith("5"))
    paid_db = db["orders_by_status"].get("paid", 0)
    throughput_errors = [
        f"round {i + 1}: {r['outcomes']}"
        for i, r in enumerate(data["throughput"])
        if set(r["outcomes"]) != {"paid"}
    ]
    return [
        (
            f"no oversell: {RACE_STOCK} of {RACE_BUYERS} paid, the rest read 'Sold out', no 5xx",
            f"paid {kinds.get('paid', 0)} (db {paid_db}, payments {db['payments_paid']}), "
            f"sold out {kinds.get('sold_out', 0)}, other "
            f"{RACE_BUYERS - kinds.get('paid', 0) - kinds.get('sold_out', 0)}, 5xx {five_xx}",
            kinds.get("paid") == RACE_STOCK
            and kinds.get("sold_out") == RACE_BUYERS - RACE_STOCK
            and paid_db == RACE_STOCK
            and db["payments_paid"] == RACE_STOCK
            and five_xx == 0,
        ),
        (
            "after the race: counters = ledger (manage.py verify_ledger), reserved = stock",
            f"verify_ledger {'ok' if race['ledger']['ok'] else 'FAILED'}; stock {db['stock']}",
            race["ledger"]["ok"]
            and db["stock"] == {"available": RACE_STOCK, "reserved": RACE_STOCK},
        ),
        (
            "throughput rounds: every order paid, no errors",
            "; ".join(throughput_errors) or f"{len(data['throughput'])} rounds, all paid",
            not throughput_errors,
        ),
        (
            f"callback x{replay['copies']:,}: all 'success', one paid event/payment, "
            f"{replay['copies']:,} rows",
            f"answers {replay['answers']}, paid events {replay['paid_events']}, paid payments "
            f"{replay['payments_paid']}, rows {replay['callback_rows']:,}",
            replay["answers"] == {"200 success": replay["copies"]}
            and replay["paid_events"] == 1
            and replay["payments_paid"] == 1
            and replay["callback_rows"] == replay["copies"],
        ),
        (
            "no 500 logged by gunicorn; ledger agrees at the end",
            f"{data['gunicorn_log'].get('internal_server_errors', 0)} internal server errors; "
            f"verify_ledger {'ok' if data['ledger_end']['ok'] else 'FAILED'}",
            not data["gunicorn_log"].get("internal_server_errors") and data["ledger_end"]["ok"],
        ),
    ]


def _median_of(rows: list[dict], key: str) -> float | str:
    values = [r[key] for r in rows if r.get(key) is not None]
    return round(median(values), 1) if values else "-"


def _report(data: dict, options: dict) -> None:
    race, replay, rounds = data["race"], data["replay"], data["throughput"]
    other = {k: v for k, v in race["outcomes"].items() if k not in {"paid", "sold_out"}}
    rows = [
        [
            f"race: {RACE_BUYERS} buyers, last {RACE_STOCK} units",
            f"paid {race['outcomes'].get('paid', 0)}, sold out "
            f"{race['outcomes'].get('sold_out', 0)}, other {other or 0}",
        ],
        [
            "race: wall time (all buyers; place -> last answer)",
            f"{race['wall_s']} s; {race['from_place_to_last_answer_s']} s",
        ],
        [
            "race: POST place p50 / p99",
            f"{race['latency']['place']['p50_ms']} / {race['latency']['place']['p99_ms']} ms",
        ],
        [
            f"checkout throughput, {options['throughput_buyers']} buyers (median of {len(rounds)})",
            f"{median([r['orders_per_s'] for r in rounds])} orders/s "
            f"(rounds {[r['orders_per_s'] for r in rounds]})",
        ],
    ]
    cpu = [r["cpu_ms_per_order"] for r in rounds]
    rows.append(
        [
            "throughput: CPU ms per order, app / db (median); others' CPU",
            f"{_median_of(cpu, 'app')} / {_median_of(cpu, 'db')} ms; "
            f"{_median_of(cpu, 'others_pct')}% of the machine",
        ]
    )
    for label, name in LATENCY_LABELS:
        p50 = median([r["latency"][label]["p50_ms"] for r in rounds])
        p99 = median([r["latency"][label]["p99_ms"] for r in rounds])
        rows.append([f"throughput: {name} p50 / p99 (median of rounds)", f"{p50} / {p99} ms"])
    rows += [
        [
            f"callback replayed x{replay['copies']:,} ({replay['connections']} connections)",
            f"{replay['wall_s']} s, {replay['callbacks_per_s']}/s, p50 "
            f"{replay['latency']['p50_ms']} ms, p99 {replay['latency']['p99_ms']} ms",
        ],
        ["callback outcomes stored", f"{replay['callback_outcomes']}"],
    ]
    print()
    print(
        f"Orders benchmark: gunicorn -w {options['gunicorn_workers']} -k gthread --threads "
        f"{options['gunicorn_threads']}, notify {options['notify']}"
    )
    print(table(["figure", "value"], rows))
    print()
    print(
        table(
            ["target", "measured", "result"],
            [[t, m, "PASS" if ok else "FAIL"] for t, m, ok in data["targets_raw"]],
        )
    )
    for name in ("gunicorn_log", "notify_log"):
        for line in data[name].get("exceptions", []):
            print(f"logged ({name}): {line}")


def run(args) -> int:
    url = os.environ.get("BENCH_ORDERS_DATABASE_URL", DEFAULT_URL)
    db = DatabaseTarget.from_url(url)
    options = _options(args)
    log(f"orders: fresh database {db.name}")
    recreate_database(db)
    var_dir = make_var_dir()
    env = bench_env(database_url=url, redis_url=args.redis_url, var_dir=var_dir)
    env["CACHE_KEY_PREFIX"] = "provena-bench-orders"  # never another section's cached pages
    try:
        log(f"orders: migrate ({manage(env, 'migrate', '--noinput', '-v0')} s)")
        log(f"orders: collectstatic ({manage(env, 'collectstatic', '--noinput', '-v0')} s)")
        started = time.perf_counter()
        data = run_probe("orders_probe.py", env, options, name="orders")
        data["probe_seconds"] = round(time.perf_counter() - started, 1)
    finally:
        if not getattr(args, "keep_db", False):
            db.drop()
        shutil.rmtree(var_dir, ignore_errors=True)
    data["targets_raw"] = _targets(data)
    _report(data, options)
    data["targets"] = [{"target": t, "measured": m, "pass": ok} for t, m, ok in data["targets_raw"]]
    del data["targets_raw"]
    data.update({"options": options, "git": git_state(), "cpus": os.cpu_count()})
    path = write_json("orders", data)
    log(f"orders: wrote {path}")
    return 0
