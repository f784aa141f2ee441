"""`make bench` (BENCH_ARGS="..."): storefront load benchmarks, as a table and as JSON.

    .venv/bin/python bench/run.py                       # every section, full size
    .venv/bin/python bench/run.py --quick               # smoke run: small N, short runs
    .venv/bin/python bench/run.py --only catalog --sizes 10000,100000 --repeat 3 --duration 12

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/provena_bench;
the database is dropped and recreated) and Redis (BENCH_REDIS_URL, default db 3), and wrk.
The warehouse, orders, fulfilment and surveys sections use databases of their own (see
bench/warehouse.py, bench/orders.py, bench/fulfilment.py and bench/surveys.py for
BENCH_WAREHOUSE_DATABASE_URL, BENCH_ORDERS_DATABASE_URL, BENCH_ORDERS_NOTIFY,
BENCH_FULFIL_DATABASE_URL, BENCH_FULFIL_REDIS_URL, BENCH_SURVEYS_DATABASE_URL,
BENCH_SURVEYS_REDIS_URL).
Exit status: 0 when the run completed (targets are reported PASS/FAIL, not enforced),
2 on an error that stopped it, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.harness import (  # noqa: E402 - the repository must be importable first
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    BenchError,
    install_signal_handlers,
    stop_all_children,
)

# Section name -> module with `run(args) -> int`.
SECTIONS = {
    "catalog": "bench.catalog",
    "warehouse": "bench.warehouse",
    "orders": "bench.orders",
    "fulfilment": "bench.fulfilment",
    "surveys": "bench.surveys",
}


def _sizes(text: str) -> list[int]:
    out = []
    for item in text.split(","):
        item = item.strip().lower().replace("_", "")
        if not item:
            continue
        factor = 1000 if item.endswith("k") else 1
        try:
            value = int(float(item.removesuffix("k")) * factor)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"not a size: {item!r}") from exc
        if value < 100:
            raise argparse.ArgumentTypeError(f"size {value} is too small (at least 100)")
        out.append(value)
    if not out:
        raise argparse.ArgumentTypeError("give at least one size")
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default all: {', '.join(SECTIONS)})",
    )
    parser.add_argument(
        "--sizes", type=_sizes, default=None, help="catalog sizes N (default 10000,100000)"
    )
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds per measurement (default 12)"
    )
    parser.add_argument(
        "--warmup", type=float, default=None, help="warm-up seconds per page (default 3)"
    )
    parser.add_argument(
        "--repeat", type=int, default=None, help="rounds per page; medians reported (default 3)"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (2)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: sizes 2000,20000, 3 s per page, 1 round (explicit options win)",
    )
    parser.add_argument(
        "--keep-db",
        action="store_true",
        help="keep the bench database afterwards, and grow a kept one instead of rebuilding",
    )
    parser.add_argument(
        "--no-load", action="store_true", help="build and count queries only; no gunicorn/wrk"
    )
    args = parser.parse_args(argv)
    quick = {"sizes": [2000, 20000], "duration": 3.0, "warmup": 1.0, "repeat": 1}
    full = {"sizes": [10000, 100000], "duration": 12.0, "warmup": 3.0, "repeat": 3}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.repeat < 1 or args.duration < 1 or args.threads < 1 or args.workers < 1:
        parser.error("--repeat, --duration, --threads and --workers must be at least 1")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    unknown = [s for s in args.only.split(",") if s and s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; known: {', '.join(SECTIONS)}")
    args.sections = [s for s in args.only.split(",") if s]
    args.database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    args.redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_signal_handlers()
    os.chdir(REPO)
    status = 0
    try:
        for name in args.sections:
            module = importlib.import_module(SECTIONS[name])
            status = max(status, module.run(args))
    except BenchError as exc:
        print(f"\nbench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nbench: interrupted", file=sys.stderr)
        return 130
    except Exception:
        traceback.print_exc()
        print("\nbench: failed with an unexpected error (above)", file=sys.stderr)
        return 2
    finally:
        stop_all_children()
    return status


if __name__ == "__main__":
    sys.exit(main())
