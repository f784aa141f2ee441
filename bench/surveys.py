"""Surveys figures: invitations for 100,000 delivered units (quick: 5,000) created, enqueued and
sent through the fake message provider by real Celery workers on Redis, on a PostgreSQL database
of its own.

The volume is bulk SQL (see bench/surveys_probe.py): ~20 units per buyer, buyers with valid E.164
phones, QQ and WeChat ids and a mix of preferred channels (SMS 60%, WeChat 20%, QQ 20%), every
50th buyer opted out of surveys (their invitations are skipped, not lost); units, orders, parcels
and shipments delivered as fulfilment and the carrier leave them, so `verify_ledger` agrees.
The buyers' time zones are chosen among real zones whose local time is outside push's quiet
hours for the whole run (Shanghai when it can), so no message is held.

Processes: the fake provider (`manage.py fake_push_provider`, a free port, receipts off), two
Celery workers (prefork, concurrency 2, prefetch 1, -O fair) and beat. The clock starts when the
sweep task is queued; the send task is queued as soon as every invitation exists (the beat's
next tick, without waiting for it); worker a is SIGKILLed (with its pool) when a third of the
messages are accepted and a replacement starts; the clock stops when the provider has accepted
every message. Targets: total < 120 s, 0 duplicates, 0 lost.

Environment: BENCH_SURVEYS_DATABASE_URL (default below; dropped and recreated),
BENCH_SURVEYS_REDIS_URL (default Redis db 8, flushed: broker and cache), BENCH_SURVEYS_UNITS.
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
    free_port,
    git_state,
    log,
    make_var_dir,
    manage,
    recreate_database,
    run_probe,
    table,
    write_json,
)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/provena_bench_surveys"
DEFAULT_REDIS = "redis://127.0.0.1:6379/8"  # 0 dev, 1 CI, 3, 5 and 9 other bench runs
TARGET_S = 120


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError as exc:
        raise BenchError(f"{name} must be a whole number.") from exc


def _options(args) -> dict:
    quick = getattr(args, "quick", False)
    units = _env_int("BENCH_SURVEYS_UNITS", 5_000 if quick else 100_000)
    return {
        "units": units,
        "buyers": max(10, units // 20),
        "products": 50 if quick else 200,
        "opt_out_every": 50,
        # Two workers so that one survives the kill; 2 processes each on 2 cores: one may run
        # the (serial) send task while three drain the outbox; more would only queue on the CPU
        # behind PostgreSQL and the provider. Prefetch 1: a killed worker holds at most one
        # waiting task besides the running ones (acks late).
        "concurrency": 2,
        "prefetch": 1,
        "poll_s": 0.5,
        "timeout_s": 600 if quick else 1800,
        "window_minutes": 30,
    }


def _fmt(value) -> str:
    return "-" if value is None else str(value)


def _targets(data: dict) -> list[tuple[str, str, bool]]:
    s, c = data["summary"], data["check"]
    n = data["expected"]["units"]
    total = s["total_s"]
    return [
        (
            f"{n:,} delivered units invited and sent < {TARGET_S} s, worker killed once",
            f"{_fmt(total)} s (create {_fmt(s['create_s'])} s, send {_fmt(s['send_s'])} s; "
            f"kill at {_fmt(s['kill_s'])} s)",
            total is not None and total < TARGET_S,
        ),
        (
            "duplicates 0 (the provider's count of keys accepted twice)",
            f"{s['duplicates']} of {s['accepted']:,} accepted",
            s["duplicates"] == 0,
        ),
        (
            "lost 0: every unit one invitation, every invitation one message, all sent",
            f"{s['lost']} lost ({c['units_without_invitation']} units without invitation, "
            f"{c['invitations_without_message']} invitations without message); "
            f"{s['skipped_invitations']:,} skipped (opted out), {s['suppressed']} suppressed",
            s["lost"] == 0 and c["units_invited_twice"] == 0,
        ),
        (
            "verify_ledger agrees after the bulk build",
            f"verify_ledger {'ok' if data['ledger']['ok'] else 'FAILED'} "
            f"({data['ledger']['seconds']} s)",
            data["ledger"]["ok"],
        ),
    ]


def _report(data: dict, options: dict) -> list[tuple[str, str, bool]]:
    build, db, s = data["build"], data["build"]["database"], data["summary"]
    print()
    print(
        f"Surveys benchmark: {db['delivered_units']:,} delivered units, {db['buyers']:,} buyers "
        f"({db['opted_out_units']:,} units of opted-out buyers), {db['movements']:,} movements, "
        f"database {db['size']}; buyers' zones {build['zones']}; 2 Celery workers -c "
        f"{options['concurrency']} --prefetch-multiplier {options['prefetch']} + beat; "
        f"build: units {build['units']['s']} s, orders {build['orders']['s']} s, delivery "
        f"{build['deliver_s']} s; load average {data['marks']['loadavg_start']} at the start, "
        f"{data['marks']['loadavg_end']} at the end"
    )
    print()
    print(
        table(
            ["phase", "at s", "seconds", "note"],
            [
                ["sweep: invitations created", s["create_s"], s["create_s"], "survey_sweep task"],
                [
                    "send task: messages enqueued",
                    data["marks"].get("enqueued_s"),
                    s["enqueue_s"],
                    "survey_send_due (one task, batches of SURVEY_BATCH_SIZE)",
                ],
                [
                    "worker a SIGKILLed",
                    s["kill_s"],
                    "-",
                    f"at {data['marks'].get('kill_state', {}).get('accepted', 0):,} accepted",
                ],
                [
                    "provider accepted every message",
                    s["total_s"],
                    s["send_s"],
                    f"{s['messages_per_s']} messages/s overall",
                ],
                ["outbox settled (none queued/sending)", s["settled_s"], "-", ""],
            ],
        )
    )
    print()
    c = data["check"]
    print(
        table(
            ["outcome", "count"],
            [
                ["provider: accepted", s["accepted"]],
                ["provider: duplicates", s["duplicates"]],
                [
                    "provider: send / query requests",
                    f"{data['provider']['send_requests']} / {data['provider']['query_requests']}",
                ],
                *[[f"message {k}", v] for k, v in sorted(c["messages"].items())],
                *[[f"invitation {k}", v] for k, v in sorted(c["invitations"].items())],
                *[[f"channel {k or '(none)'}", v] for k, v in sorted(c["channels"].items())],
                ["messages retried or checked with the provider", c["messages_retried_or_checked"]],
                ["leases expired (the killed worker's rows)", c["lease_expired_events"]],
                ["found at provider (not resent)", c["found_at_provider_events"]],
            ],
        )
    )
    targets = _targets(data)
    print()
    print(
        table(
            ["target", "measured", "result"],
            [[t, m, "PASS" if ok else "FAIL"] for t, m, ok in targets],
        )
    )
    for name, lines in data["logs"].items():
        for line in lines:
            print(f"logged ({name}): {line}")
    return targets


def run(args) -> int:
    url = os.environ.get("BENCH_SURVEYS_DATABASE_URL", DEFAULT_URL)
    redis_url = os.environ.get("BENCH_SURVEYS_REDIS_URL", DEFAULT_REDIS)
    db = DatabaseTarget.from_url(url)
    options = _options(args)
    log(f"surveys: fresh database {db.name}, Redis {redis_url}")
    recreate_database(db)
    flush_redis(redis_url)
    var_dir = make_var_dir()
    env = bench_env(database_url=url, redis_url=redis_url, var_dir=var_dir)
    env["CACHE_KEY_PREFIX"] = "provena-bench-surveys"
    env["PROVENA_PUSH_PROVIDER_URL"] = f"http://127.0.0.1:{free_port()}"
    try:
        log(f"surveys: migrate ({manage(env, 'migrate', '--noinput', '-v0')} s)")
        started = time.perf_counter()
        data = run_probe("surveys_probe.py", env, options, name="surveys")
        data["probe_seconds"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        manage(env, "verify_ledger")
        data["ledger"] = {"ok": True, "seconds": round(time.perf_counter() - started, 1)}
    except BenchError as exc:
        if "verify_ledger" not in str(exc):
            raise
        data["ledger"] = {"ok": False, "seconds": None, "error": str(exc)[-2000:]}
    finally:
        if not getattr(args, "keep_db", False):
            db.drop()
        flush_redis(redis_url)
        shutil.rmtree(var_dir, ignore_errors=True)
    targets = _report(data, options)
    data["targets"] = [{"target": t, "measured": m, "pass": ok} for t, m, ok in targets]
    data.update({"options": options, "git": git_state(), "cpus": os.cpu_count()})
    path = write_json("surveys", data)
    log(f"surveys: wrote {path}")
    return 0
