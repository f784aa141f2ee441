"""Warehouse figures (issue "Every unit traceable"), on a PostgreSQL database of its own:

- no oversell: W parallel workers reserve 1 unit each of a product with 10 available, R rounds;
  exactly 10 must succeed every round, and the counters must equal the ledger;
- reservations/s under 8 workers (processes) for one hot product and for 1,000 products;
- receiving 1,000 units of one shipment (units, movements, labels PDF) in under 10 s;
- verify_ledger over 1,000,000 movements in under 60 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from bench.harness import (
    REPO,
    BenchError,
    DatabaseTarget,
    bench_env,
    log,
    make_var_dir,
    manage,
    recreate_database,
    table,
    write_json,
)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/provena_bench_wh"


def run(args) -> int:
    url = os.environ.get("BENCH_WAREHOUSE_DATABASE_URL", DEFAULT_URL)
    db = DatabaseTarget.from_url(url)
    quick = getattr(args, "quick", False)
    options = {
        "race_workers": 50,
        "rounds": 5 if quick else 20,
        "workers": 8,
        "products": 200 if quick else 1000,
        "seconds": 3.0 if quick else 10.0,
        "movements": 100_000 if quick else 1_000_000,
    }
    log(f"warehouse: fresh database {db.name}")
    recreate_database(db)
    var_dir = make_var_dir()
    env = bench_env(database_url=url, redis_url=args.redis_url, var_dir=var_dir)
    log(f"warehouse: migrate ({manage(env, 'migrate', '--noinput')} s)")
    log(
        f"warehouse: probe ({options['rounds']} race rounds of {options['race_workers']}, "
        f"{options['products']} products, {options['movements']:,} movements)"
    )
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "bench/warehouse_probe.py", json.dumps(options)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:])
        raise BenchError(f"warehouse probe failed ({result.returncode}):\n{tail}")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    data["probe_seconds"] = round(time.perf_counter() - started, 1)
    data["options"] = options
    if not getattr(args, "keep_db", False):
        db.drop()

    rounds = data["concurrency"]["rounds"]
    exact = sum(
        1 for r in rounds if r["succeeded"] == 10 and r["reserved_counter"] == 10 and r["ledger_ok"]
    )
    receive = data["receive_1000"]
    ledger = data["ledger"]
    targets = [
        (
            "no oversell: exactly 10 of 50 every round, counters = ledger",
            f"{exact}/{len(rounds)} rounds",
            exact == len(rounds),
        ),
        (
            "receive 1,000 units (+ labels PDF) < 10 s",
            f"{receive['total_s']} s",
            receive["total_s"] < 10 and receive["labels_s"] is not None,
        ),
        (
            "verify_ledger over 1,000,000 movements < 60 s",
            f"{ledger['verify_s']} s for {ledger['movements']:,}",
            ledger["ok"]
            and ledger["verify_s"] < 60
            and ledger["movements"] >= options["movements"],
        ),
    ]
    print()
    print(
        table(
            ["figure", "value"],
            [
                ["race rounds (50 workers, 10 available)", f"{[r['succeeded'] for r in rounds]}"],
                [
                    "reservations/s, 1 hot product, 8 workers",
                    data["throughput_hot"]["reservations_per_s"],
                ],
                [
                    f"reservations/s, {options['products']} products, 8 workers",
                    data["throughput_many"]["reservations_per_s"],
                ],
                ["receive 1,000 units: units + movements", f"{receive['receive_s']} s"],
                [
                    "receive 1,000 units: labels PDF",
                    f"{receive['labels_s']} s ({receive['labels_pdf_bytes']} bytes)",
                ],
                [
                    "verify_ledger",
                    f"{ledger['verify_s']} s, {ledger['movements']:,} movements, "
                    f"{ledger['units']:,} units",
                ],
            ],
        )
    )
    print()
    print(
        table(
            ["target", "measured", "result"],
            [[t, m, "PASS" if ok else "FAIL"] for t, m, ok in targets],
        )
    )
    data["targets"] = [{"target": t, "measured": m, "pass": ok} for t, m, ok in targets]
    path = write_json("warehouse", data)
    log(f"warehouse: wrote {path}")
    return 0
