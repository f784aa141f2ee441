"""Measurements of the surveys section, run in a child process with the bench environment.

Builds the delivered volume in bulk SQL (buyers with profiles, units with their whole ledger,
one-unit orders shipped and delivered with parcels and shipments, as the fulfilment stations and
the carrier's delivery leave them), starts the fake message provider, real Celery workers and
beat on the Redis broker, then times the survey flow as production runs it: the sweep task
creates the invitations, the send task enqueues their messages through push, push's sender tasks
send them to the provider. One worker is killed (SIGKILL, its whole process group) when about a
third of the messages are accepted, and replaced. Prints one JSON object on its last line.
Invoked by bench/surveys.py; not meant to be run alone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.harness import (  # noqa: E402 - the repository must be importable first
    BenchError,
    install_signal_handlers,
    log,
    spawn,
    stop_all_children,
    stop_process,
)

# Real zones tried for the buyers, Shanghai first: those whose local time is inside push's send
# window (outside quiet hours) for the whole run are used, so no message is held.
ZONES = (
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Europe/Berlin",
    "Europe/London",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Los_Angeles",
    "Pacific/Honolulu",
)
CHANNELS = ("sms", "sms", "sms", "sms", "sms", "sms", "wechat", "wechat", "qq", "qq")


def setup_django() -> None:
    import django

    django.setup()


def send_window_zones(minutes: int) -> list[str]:
    """Zones whose local time stays outside quiet hours from now for `minutes` (up to 3)."""
    from django.conf import settings
    from django.utils import timezone

    from push.states import parse_quiet_hours, quiet_until

    window = parse_quiet_hours(settings.PUSH_QUIET_HOURS)
    now = timezone.now()
    moments = [now + timedelta(minutes=m) for m in range(0, minutes + 1, 5)]
    zones = [z for z in ZONES if all(quiet_until(t, z, window) is None for t in moments)]
    if not zones:
        raise BenchError("no candidate time zone is outside quiet hours for the whole run")
    return zones[:3]


# ---------------------------------------------------------------- volume (bulk SQL)

BULK_BUYERS = """
INSERT INTO accounts_user (password, last_login, is_superuser, username, first_name, last_name,
    is_staff, is_active, date_joined, email, merchant_id)
SELECT '!', NULL, false, 'survey-buyer-' || g || '@buyer.example', '', '', false, true,
       now() - interval '90 days', 'survey-buyer-' || g || '@buyer.example', NULL
FROM generate_series(1, %(buyers)s) g ORDER BY g;
INSERT INTO accounts_buyerprofile (user_id, full_name, phone, qq, wechat_id, preferred_channel,
    timezone, marketing_consent, marketing_consent_at, survey_consent, survey_consent_at,
    created_at, updated_at)
SELECT u.id, '买家 ' || g, '+86139' || lpad(g::text, 7, '0') || '1', (10000000 + g)::text,
       'wxid_bench' || g, (%(channels)s::text[])[1 + g %% cardinality(%(channels)s::text[])],
       (%(zones)s::text[])[1 + g %% cardinality(%(zones)s::text[])], false, NULL,
       g %% %(opt_out_every)s <> 0,
       CASE WHEN g %% %(opt_out_every)s = 0 THEN now() - interval '10 days' END,
       now() - interval '90 days', now() - interval '10 days'
FROM (
    SELECT id, replace(replace(email, 'survey-buyer-', ''), '@buyer.example', '')::int AS g
    FROM accounts_user WHERE email LIKE 'survey-buyer-%%'
) u ORDER BY g;
"""

# The carrier delivered every bulk parcel (what orders.parcel_delivered and
# warehouse.parcel_deliver write): the units delivered with one movement each, the parcel and
# its shipment delivered, one tracking event, the order delivered with its event. Delivered a
# little over SURVEY_DELAY_AFTER_DELIVERY_HOURS ago, so every invitation is due at once.
BULK_DELIVER = """
UPDATE warehouse_parcel SET status = 'delivered', shipped_at = now() - interval '3 days',
    delivered_at = now() - %(delay)s * interval '1 hour' - interval '5 minutes'
WHERE order_ref LIKE %(prefix)s || '%%' AND status = 'shipped';
INSERT INTO warehouse_unitmovement (unit_id, from_status, to_status, from_location_id,
    to_location_id, reason, document, note, created_at)
SELECT u.id, 'shipped', 'delivered', u.location_id, u.location_id, 'deliver', p.waybill, '',
       p.delivered_at
FROM warehouse_stockunit u JOIN warehouse_parcel p ON p.id = u.parcel_id
WHERE p.order_ref LIKE %(prefix)s || '%%' AND u.status = 'shipped' ORDER BY u.id;
UPDATE warehouse_stockunit u SET status = 'delivered', updated_at = p.delivered_at
FROM warehouse_parcel p
WHERE p.id = u.parcel_id AND p.order_ref LIKE %(prefix)s || '%%' AND u.status = 'shipped';
UPDATE logistics_shipment s SET status = 'delivered', delivered_at = p.delivered_at,
    handed_over_at = p.shipped_at, updated_at = p.delivered_at
FROM warehouse_parcel p WHERE p.code = s.parcel_code AND s.order_ref LIKE %(prefix)s || '%%';
INSERT INTO logistics_trackingevent (shipment_id, event_id, status, description, location,
    occurred_at, received_at)
SELECT id, waybill || '-delivered', 'delivered', 'Delivered', 'Shanghai', delivered_at,
       delivered_at
FROM logistics_shipment WHERE order_ref LIKE %(prefix)s || '%%' ORDER BY id;
INSERT INTO orders_orderevent (order_id, kind, from_status, to_status, note, created_at)
SELECT o.id, 'status', 'shipped', 'delivered', 'Delivered by the carrier.', p.delivered_at
FROM orders_order o JOIN warehouse_parcel p ON p.order_ref = o.number
WHERE o.number LIKE %(prefix)s || '%%' ORDER BY o.id;
UPDATE orders_order SET status = 'delivered', updated_at = now() - interval '1 day'
WHERE number LIKE %(prefix)s || '%%';
"""


def run_sql(sql: str, params: dict) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for statement in sql.split(";\n"):
            if statement.strip():
                cursor.execute(statement, params)


def bulk_buyers(n: int, zones: list[str], opt_out_every: int) -> list[int]:
    from django.contrib.auth import get_user_model

    run_sql(
        BULK_BUYERS,
        {"buyers": n, "channels": list(CHANNELS), "zones": zones, "opt_out_every": opt_out_every},
    )
    users = get_user_model().objects.filter(email__startswith="survey-buyer-")
    return list(users.order_by("pk").values_list("pk", flat=True))


def survey_questions(merchant, category, products: list) -> int:
    """The merchant's default questions for the category, and own questions for a few products."""
    from aftersales.models import SurveyQuestion

    rows = [
        SurveyQuestion(
            merchant=merchant,
            category=category,
            kind="stars",
            prompt="How well did it match its description?",
            position=1,
        ),
        SurveyQuestion(
            merchant=merchant,
            category=category,
            kind="choice",
            prompt="How was the packaging?",
            choices="Intact\nDented\nOpened",
            position=2,
        ),
    ]
    rows += [
        SurveyQuestion(
            merchant=merchant, product=p, kind="text", prompt="What would you tell a friend?"
        )
        for p in products[::20]
    ]
    return len(SurveyQuestion.objects.bulk_create(rows))


def build(options: dict) -> dict:
    from django.conf import settings
    from django.db import connection

    from bench.fulfilment_probe import bulk_orders, bulk_units, counters_and_analyze, make_products
    from bench.warehouse_probe import world

    out: dict = {}
    started = time.perf_counter()
    merchant, category, clerk, _appraiser = world()
    products = make_products(merchant, category, options["products"])
    out["questions"] = survey_questions(merchant, category, products)
    zones = send_window_zones(options["window_minutes"])
    buyers = bulk_buyers(options["buyers"], zones, options["opt_out_every"])
    out["zones"] = zones
    out["world_s"] = round(time.perf_counter() - started, 1)
    log(
        f"surveys: {len(products)} products, {len(buyers):,} buyers in {zones} ({out['world_s']} s)"
    )
    out["units"] = bulk_units(products, merchant.pk, options["units"])
    log(f"surveys: {out['units']['units']:,} units + 2 movements each ({out['units']['s']} s)")
    out["orders"] = bulk_orders(
        prefix="SV",
        products=products,
        buyers=buyers,
        orders=options["units"],
        shipped=True,
        clerk_id=clerk.pk,
    )
    log(f"surveys: {options['units']:,} one-unit orders shipped ({out['orders']['s']} s)")
    started = time.perf_counter()
    run_sql(BULK_DELIVER, {"prefix": "SV", "delay": settings.SURVEY_DELAY_AFTER_DELIVERY_HOURS})
    out["deliver_s"] = round(time.perf_counter() - started, 1)
    out["counters_analyze_s"] = counters_and_analyze()
    log(f"surveys: delivered ({out['deliver_s']} s), counters + analyze")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT (SELECT count(*) FROM warehouse_stockunit WHERE status = 'delivered'),
                   (SELECT count(*) FROM warehouse_unitmovement),
                   (SELECT count(*) FROM orders_order WHERE status = 'delivered'),
                   (SELECT count(*) FROM warehouse_stockunit u
                    JOIN warehouse_reservation r ON r.id = u.reservation_id
                    JOIN orders_orderline l ON 'OL' || l.id = r.order_line_ref
                    JOIN orders_order o ON o.id = l.order_id
                    JOIN accounts_buyerprofile b ON b.user_id = o.buyer_id
                    WHERE u.status = 'delivered' AND NOT b.survey_consent),
                   pg_size_pretty(pg_database_size(current_database()))
            """
        )
        delivered, movements, orders, opted_out_units, size = cursor.fetchone()
    out["database"] = {
        "delivered_units": delivered,
        "movements": movements,
        "delivered_orders": orders,
        "buyers": len(buyers),
        "opted_out_units": opted_out_units,
        "size": size,
    }
    return out


# ---------------------------------------------------------------- the processes


def provider_stats(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/_stats", timeout=10) as resp:  # noqa: S310 (127.0.0.1)
        return json.loads(resp.read())


def start_provider(var_dir: Path) -> subprocess.Popen:
    url = os.environ["PROVENA_PUSH_PROVIDER_URL"]
    port = url.rsplit(":", 1)[1]
    with open(var_dir / "provider.log", "a") as logfile:
        proc = spawn(
            [sys.executable, "manage.py", "fake_push_provider", "--port", port,
             "--receipts-url", ""],
            cwd=REPO,
            env=os.environ,
            stdout=logfile,
            stderr=logfile,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            provider_stats(url)
            return proc
        except OSError:
            time.sleep(0.2)
    raise BenchError(f"the fake provider did not start: {(var_dir / 'provider.log').read_text()}")


def start_worker(name: str, options: dict, var_dir: Path) -> subprocess.Popen:
    with open(var_dir / f"worker-{name}.log", "a") as logfile:
        return spawn(
            [
                sys.executable, "-m", "celery", "-A", "config", "worker",
                "-n", f"bench-{name}@%h", "-c", str(options["concurrency"]),
                "--prefetch-multiplier", str(options["prefetch"]), "-O", "fair",
                "-l", "warning", "--without-gossip", "--without-mingle",
            ],
            cwd=REPO,
            env=os.environ,
            stdout=logfile,
            stderr=logfile,
        )  # fmt: skip


def start_beat(var_dir: Path) -> subprocess.Popen:
    with open(var_dir / "beat.log", "a") as logfile:
        return spawn(
            [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "warning",
             "-s", str(var_dir / "celerybeat-schedule")],
            cwd=REPO,
            env=os.environ,
            stdout=logfile,
            stderr=logfile,
        )  # fmt: skip


def wait_workers(names: list[str], timeout: float = 60.0) -> None:
    from config.celery_app import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        seen = {host.split("@")[0] for reply in replies for host in reply}
        if all(f"bench-{n}" in seen for n in names):
            return
    raise BenchError(f"Celery workers {names} did not answer a ping in {timeout} s")


def kill_worker(proc: subprocess.Popen) -> None:
    """The machine under a worker dies: SIGKILL to the worker and its pool, no goodbye."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


# ---------------------------------------------------------------- the run


def db_state() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT status, count(*) FROM push_message GROUP BY status")
        messages = dict(cursor.fetchall())
        cursor.execute("SELECT status, count(*) FROM aftersales_surveyinvitation GROUP BY status")
        invitations = dict(cursor.fetchall())
    return {"messages": messages, "invitations": invitations}


def surveys_run(options: dict, expected: dict, var_dir: Path) -> dict:
    from config.celery_app import app

    url = os.environ["PROVENA_PUSH_PROVIDER_URL"]
    units, to_send = expected["units"], expected["messages"]
    provider = start_provider(var_dir)
    workers = {name: start_worker(name, options, var_dir) for name in ("a", "b")}
    wait_workers(list(workers))
    beat = start_beat(var_dir)
    log(f"surveys: provider on {url}, workers a and b (-c {options['concurrency']}), beat up")
    timeline: list[dict] = []
    marks: dict = {}
    kill_at = to_send // 3
    started = time.monotonic()

    def at() -> float:
        return round(time.monotonic() - started, 2)

    marks["loadavg_start"] = [round(x, 2) for x in os.getloadavg()]
    app.send_task("aftersales.tasks.survey_sweep")
    deadline = started + options["timeout_s"]
    send_queued = False
    while time.monotonic() < deadline:
        state = db_state()
        stats = provider_stats(url)
        invited = sum(state["invitations"].values())
        now = at()
        timeline.append(
            {"t": now, "accepted": stats["accepted"], "invited": invited, **state}
        )  # fmt: skip
        if not send_queued and invited >= units:
            # The beat's next survey-send tick, without waiting for it.
            marks["invitations_created_s"] = now
            app.send_task("aftersales.tasks.survey_send_due")
            send_queued = True
            log(f"surveys: {invited:,} invitations created at {now} s; send task queued")
        pending = state["invitations"].get("pending", 0)
        if send_queued and "enqueued_s" not in marks and pending == 0:
            marks["enqueued_s"] = now
        if "kill_s" not in marks and stats["accepted"] >= kill_at:
            kill_worker(workers["a"])
            marks["kill_s"] = at()
            marks["kill_state"] = {"accepted": stats["accepted"], **state}
            workers["c"] = start_worker("c", options, var_dir)
            log(
                f"surveys: worker a killed at {marks['kill_s']} s ({stats['accepted']:,} "
                f"accepted, messages {state['messages']}); replacement c started"
            )
        if "accepted_s" not in marks and stats["accepted"] >= to_send:
            marks["accepted_s"] = now
            log(f"surveys: all {to_send:,} messages accepted by the provider at {now} s")
        waiting = sum(state["messages"].get(s, 0) for s in ("queued", "sending", "held"))
        if "accepted_s" in marks and pending == 0 and waiting == 0:
            marks["settled_s"] = now
            break
        time.sleep(options["poll_s"])
    marks["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    stats = provider_stats(url)
    for proc in (beat, *workers.values(), provider):
        stop_process(proc, grace=10)
    return {"marks": marks, "provider": stats, "timeline": timeline, "kill_at": kill_at}


CHECKS = """
SELECT
  (SELECT count(*) FROM warehouse_stockunit u WHERE u.status = 'delivered'
     AND NOT EXISTS (SELECT 1 FROM aftersales_surveyinvitation i WHERE i.unit_id = u.id)),
  (SELECT count(*) FROM (SELECT unit_id FROM aftersales_surveyinvitation
     GROUP BY unit_id HAVING count(*) > 1) d),
  (SELECT count(*) FROM aftersales_surveyinvitation i WHERE i.status <> 'skipped'
     AND NOT EXISTS (SELECT 1 FROM push_message m
                     WHERE m.idempotency_key = 'survey:' || i.id || ':invitation')),
  (SELECT count(*) FROM aftersales_surveyinvitation i WHERE i.status = 'skipped'
     AND EXISTS (SELECT 1 FROM push_message m
                 WHERE m.idempotency_key = 'survey:' || i.id || ':invitation')),
  (SELECT count(*) FROM push_message m WHERE m.purpose = 'survey_invitation'
     AND NOT EXISTS (SELECT 1 FROM aftersales_surveyinvitation i
                     WHERE m.idempotency_key = 'survey:' || i.id || ':invitation')),
  (SELECT count(*) FROM push_message WHERE needs_check OR attempts > 1),
  (SELECT count(*) FROM push_messageevent WHERE note = 'lease expired'),
  (SELECT count(*) FROM push_messageevent WHERE note LIKE 'found at provider%%')
"""


def check() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(CHECKS)
        (
            units_without,
            units_twice,
            invitations_without_message,
            skipped_with_message,
            orphan_messages,
            retried,
            lease_expired,
            found_at_provider,
        ) = cursor.fetchone()
        cursor.execute("SELECT status, reason, count(*) FROM push_message GROUP BY status, reason")
        messages = {f"{s}{f' ({r})' if r else ''}": n for s, r, n in cursor.fetchall()}
        cursor.execute(
            "SELECT status, skip_reason, count(*) FROM aftersales_surveyinvitation "
            "GROUP BY status, skip_reason"
        )
        invitations = {f"{s}{f' ({r})' if r else ''}": n for s, r, n in cursor.fetchall()}
        cursor.execute("SELECT channel, count(*) FROM push_message GROUP BY channel")
        channels = dict(cursor.fetchall())
    return {
        "units_without_invitation": units_without,
        "units_invited_twice": units_twice,
        "invitations_without_message": invitations_without_message,
        "skipped_with_message": skipped_with_message,
        "messages_without_invitation": orphan_messages,
        "messages_retried_or_checked": retried,
        "lease_expired_events": lease_expired,
        "found_at_provider_events": found_at_provider,
        "messages": messages,
        "invitations": invitations,
        "channels": channels,
    }


def summarize(run: dict, checked: dict, expected: dict) -> dict:
    marks, provider = run["marks"], run["provider"]
    sent = sum(
        n for k, n in checked["messages"].items() if k.split(" ")[0] in {"sent", "delivered"}
    )
    suppressed = sum(n for k, n in checked["messages"].items() if k.startswith("suppressed"))
    not_done = sum(
        n
        for k, n in checked["messages"].items()
        if k.split(" ")[0] in {"queued", "sending", "held", "failed"}
    )
    skipped = sum(n for k, n in checked["invitations"].items() if k.startswith("skipped"))
    lost = (
        checked["units_without_invitation"]
        + checked["invitations_without_message"]
        + not_done
        + max(0, expected["messages"] - provider["accepted"] - suppressed)
    )
    total = marks.get("accepted_s")
    created = marks.get("invitations_created_s")
    return {
        "total_s": total,
        "create_s": created,
        "enqueue_s": round(marks["enqueued_s"] - created, 2) if "enqueued_s" in marks else None,
        "send_s": round(total - created, 2) if total and created else None,
        "settled_s": marks.get("settled_s"),
        "kill_s": marks.get("kill_s"),
        "messages_per_s": round(provider["accepted"] / total, 1) if total else None,
        "sent": sent,
        "suppressed": suppressed,
        "skipped_invitations": skipped,
        "accepted": provider["accepted"],
        "duplicates": provider["duplicates"],
        "lost": lost,
    }


def main() -> None:
    options = json.loads(sys.argv[1])
    install_signal_handlers()
    setup_django()
    var_dir = Path(os.environ["PROVENA_VAR_DIR"])
    out: dict = {"build": build(options)}
    db = out["build"]["database"]
    expected = {
        "units": db["delivered_units"],
        "messages": db["delivered_units"] - db["opted_out_units"],
    }
    out["expected"] = expected
    from django.db import connection

    connection.close()  # the workers must not wait on this session's locks
    try:
        run = surveys_run(options, expected, var_dir)
    finally:
        stop_all_children()
    out["check"] = check()
    out["summary"] = summarize(run, out["check"], expected)
    out["marks"], out["provider"] = run["marks"], run["provider"]
    out["timeline"] = run["timeline"][:: max(1, len(run["timeline"]) // 120)]
    logs = {}
    for path in sorted(var_dir.glob("*.log")):
        lines = path.read_text(errors="replace").splitlines()
        logs[path.name] = [ln[:300] for ln in lines if "Error" in ln or "Traceback" in ln][:10]
    out["logs"] = logs
    log(f"surveys: {out['summary']}")
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all_children()
