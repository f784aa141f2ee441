"""Catalog section: list, best-rated, category, search and product pages against a ceiling.

For each N (default 10,000 then 100,000, grown in place) it builds the catalog, counts SQL
queries per page in-process (django.test.Client + CaptureQueriesContext, page sizes 24 and 96),
then serves the same database with gunicorn (2 sync workers) and drives each page with wrk,
R times round-robin, reporting medians and ratios to the ceiling measured in the same rounds.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from bench import catalog_data
from bench.harness import (
    BenchError,
    CpuMeter,
    DatabaseTarget,
    Gunicorn,
    bench_env,
    check_services,
    fetch,
    flush_redis,
    git_state,
    log,
    make_var_dir,
    manage,
    median,
    run_wrk,
    table,
    timed,
    write_json,
)

SEARCH_WORD = "matcha"  # a material word: in roughly 4% of products
CATEGORY_SLUG = "health-supplements"  # a mid-level category (3 leaves below it)
PAGE_SIZES = (24, 96)
DETAIL_SLUGS = 2000
MIN_LIST_PRODUCTS = 24
MAX_LIST_QUERIES = 6
RPS_TARGETS = {"list": 0.10, "rating": 0.10, "category": 0.10, "search": 0.10, "detail": 0.15}
P99_GROWTH_LIMIT = 1.5
NOISY_SPREAD_PCT = 25
NOISY_OTHERS_PCT = 10


@dataclass(frozen=True)
class Page:
    key: str
    label: str
    path: str  # for "detail", a template filled with many slugs
    paged: bool = False  # takes per_page
    extra: bool = False  # informational, no target


PAGES = [
    Page("ceiling", "ceiling (/_ceiling/)", "/_ceiling/"),
    Page("list", "product list", "/products/", paged=True),
    # Best rated first (rated products lead: unrated sort last), the survey module's ratings.
    Page("rating", "sorted by rating", "/products/?sort=rating", paged=True),
    Page("category", "category", f"/products/?category={CATEGORY_SLUG}", paged=True),
    Page("search", "search", f"/products/?q={SEARCH_WORD}", paged=True),
    Page("detail", "product detail", "/products/{slug}/"),
    Page("list_page50", "list, page 50", "/products/?page=50", paged=True, extra=True),
]


def _with_page_size(path: str, size: int) -> str:
    return path if size == PAGE_SIZES[0] else f"{path}{'&' if '?' in path else '?'}per_page={size}"


# ---------------------------------------------------------------- database lifecycle


def _kept_product_count(db: DatabaseTarget) -> int | None:
    import psycopg

    try:
        with psycopg.connect(db.url, connect_timeout=5) as conn:
            row = conn.execute("SELECT to_regclass('catalog_product') IS NOT NULL").fetchone()
            if not row[0]:
                return 0
            return conn.execute("SELECT count(*) FROM catalog_product").fetchone()[0]
    except psycopg.Error:
        return None


def _prepare_database(db: DatabaseTarget, *, keep_db: bool, smallest: int) -> str:
    """Fresh database unless --keep-db finds one it can grow; returns what it did."""
    if db.exists():
        if keep_db:
            count = _kept_product_count(db)
            if count is not None and count <= smallest:
                return f"reused (kept, {count:,} products)"
            log(f"kept database has {count} products, more than N={smallest:,}: rebuilding")
        db.drop()
    db.create()
    return "created"


# ---------------------------------------------------------------- in-process checks

CARD = re.compile(r'<li class="card">')
CARD_IMG = re.compile(r'<div class="card__media"><img src="[^"]+"')
CARD_PRICE = re.compile(r'<p class="card__price">[^<]*\S')
CARD_RATING = re.compile(r'<span class="rating(?: rating--none)?"')
CARD_STOCK = re.compile(r'<span class="stock stock--(?:in|out)">')


def _card_stats(html: str) -> dict[str, int]:
    return {
        "cards": len(CARD.findall(html)),
        "with_image": len(CARD_IMG.findall(html)),
        "with_price": len(CARD_PRICE.findall(html)),
        "with_rating": len(CARD_RATING.findall(html)),
        "with_availability": len(CARD_STOCK.findall(html)),
    }


def _measure_queries(detail_paths: list[str]) -> dict:
    """SQL queries per page for an anonymous visitor, warm (category tree cached)."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")

    def capture(path: str) -> dict:
        client.get(path)  # warm: caches filled, connection open
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
        if response.status_code != 200:
            raise BenchError(f"GET {path} answered {response.status_code} in-process.")
        html = response.content.decode()
        return {
            "path": path,
            "queries": len(ctx.captured_queries),
            "sql": [q["sql"][:400] for q in ctx.captured_queries],
            "cards": _card_stats(html),
        }

    out: dict = {}
    for page in PAGES:
        if page.key == "ceiling":
            continue
        if not page.paged:  # the product page: a sample of products, each warm
            samples = [capture(p) for p in detail_paths[:: max(1, len(detail_paths) // 5)][:5]]
            worst = max(samples, key=lambda s: s["queries"])
            out["detail"] = {"any": {**worst, "per_sample": [s["queries"] for s in samples]}}
            continue
        out[page.key] = {
            str(size): capture(_with_page_size(page.path, size)) for size in PAGE_SIZES
        }
    # For the record: the first request after a cache flush also loads the category tree.
    cache.clear()
    with CaptureQueriesContext(connection) as ctx:
        client.get(PAGES[1].path)
    out["list_cold_cache_queries"] = len(ctx.captured_queries)
    return out


def _data_summary() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*), count(*) FILTER (WHERE status = 'listed'),
                   count(*) FILTER (WHERE rating_count > 0)
            FROM catalog_product
            """
        )
        total, listed, rated = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM catalog_productimage")
        (images,) = cursor.fetchone()
        cursor.execute(
            """
            SELECT count(*) FROM catalog_product
            WHERE status = 'listed' AND search_vector @@ to_tsquery('simple', %s)
            """,
            [f"{SEARCH_WORD}:*"],
        )
        (search_matches,) = cursor.fetchone()
        cursor.execute(
            """
            SELECT count(*) FROM catalog_product p JOIN catalog_category c ON c.id = p.category_id
            JOIN catalog_category m ON m.id = c.parent_id
            WHERE p.status = 'listed' AND m.slug = %s
            """,
            [CATEGORY_SLUG],
        )
        (category_matches,) = cursor.fetchone()
        in_stock = None
        cursor.execute("SELECT to_regclass('warehouse_productstock') IS NOT NULL")
        if cursor.fetchone()[0]:
            cursor.execute("SELECT count(*) FROM warehouse_productstock WHERE available > reserved")
            (in_stock,) = cursor.fetchone()
        cursor.execute("SELECT pg_total_relation_size('catalog_product')")
        (table_bytes,) = cursor.fetchone()
    return {
        "products": total,
        "listed": listed,
        "rated": rated,
        "images": images,
        "in_stock": in_stock,
        "search_word": SEARCH_WORD,
        "search_matches": search_matches,
        "category_slug": CATEGORY_SLUG,
        "category_matches": category_matches,
        "product_table_mb": round(table_bytes / 1_048_576, 1),
    }


def _detail_paths() -> list[str]:
    from catalog.models import ListingStatus, Product

    slugs = list(
        Product.objects.filter(status=ListingStatus.LISTED)
        .order_by("id")
        .values_list("slug", flat=True)
    )
    step = max(1, len(slugs) // DETAIL_SLUGS)
    return [f"/products/{slug}/" for slug in slugs[::step][:DETAIL_SLUGS]]


# ---------------------------------------------------------------- load


def _page_paths(page: Page, detail_paths: list[str]) -> list[str]:
    return detail_paths if page.key == "detail" else [page.path]


def _measure_load(env: dict, var_dir: Path, detail_paths: list[str], args, n: int) -> dict:
    log_path = var_dir / f"gunicorn-{n}.log"
    runs: dict[str, list[dict]] = {page.key: [] for page in PAGES}
    warnings: list[str] = []
    workdir = var_dir / "wrk"
    workdir.mkdir(exist_ok=True)
    with Gunicorn(env=env, log_path=log_path, workers=args.workers) as server:
        log(f"gunicorn -w {args.workers} up on {server.base_url}")
        for page in PAGES:
            for path in _page_paths(page, detail_paths)[:3]:
                status, _body = fetch(server.base_url + path)
                if status != 200:
                    raise BenchError(
                        f"GET {path} answered {status} from gunicorn. Log:\n{server.log_tail()}"
                    )
        meter = CpuMeter(server.proc.pid, env["DATABASE_URL"])
        wrk_opts = {"threads": args.threads, "connections": args.connections, "workdir": workdir}
        if args.warmup > 0:
            log(f"warm-up: {args.warmup:g}s per page")
            for page in PAGES:
                run_wrk(
                    server.base_url,
                    _page_paths(page, detail_paths),
                    duration=args.warmup,
                    **wrk_opts,
                )
        for rep in range(args.repeat):
            for page in PAGES:
                result = run_wrk(
                    server.base_url,
                    _page_paths(page, detail_paths),
                    duration=args.duration,
                    meter=meter,
                    **wrk_opts,
                )
                if result.error_count:
                    warnings.append(f"N={n} {page.key} round {rep + 1}: errors {result.errors}")
                runs[page.key].append(result.as_dict())
                log(
                    f"N={n:,} round {rep + 1}/{args.repeat} {page.key:<12} "
                    f"{result.rps:8.1f} req/s  p50 {result.latency_ms['p50']:7.2f} ms  "
                    f"p99 {result.latency_ms['p99']:7.2f} ms  "
                    f"cpu app {_num(result.cpu_ms_per_request('app_s'), 2)} "
                    f"db {_num(result.cpu_ms_per_request('db_s'), 2)} ms/req  "
                    f"others {_num(result.cpu.get('others_pct'), 0)}%"
                )
        meter.close()
        if "Traceback" in server.log_tail(200):
            warnings.append(f"N={n}: gunicorn logged a traceback:\n{server.log_tail(40)}")
    out = {}
    for page in PAGES:
        page_runs = runs[page.key]
        pairs = list(zip(page_runs, runs["ceiling"], strict=True))
        ratios = [r["rps"] / c["rps"] for r, c in pairs if c["rps"]]
        cpu_ratios = [
            _cpu(c) / _cpu(r) for r, c in pairs if _cpu(r) is not None and _cpu(c) is not None
        ]
        out[page.key] = {
            "path": page.path if page.key != "detail" else f"{len(detail_paths)} product pages",
            "runs": page_runs,
            "median": {
                "rps": round(median([r["rps"] for r in page_runs]), 1),
                "p50_ms": round(median([r["p50_ms"] for r in page_runs]), 2),
                "p99_ms": round(median([r["p99_ms"] for r in page_runs]), 2),
                "app_cpu_ms": _median_or_none([r["app_cpu_ms"] for r in page_runs]),
                "db_cpu_ms": _median_or_none([r["db_cpu_ms"] for r in page_runs]),
                "others_cpu_pct": _median_or_none([r["others_cpu_pct"] for r in page_runs]),
            },
            "rps_spread_pct": _spread([r["rps"] for r in page_runs]),
            "ratio_to_ceiling": round(median(ratios), 4) if ratios else None,
            # What the ratio would be if only CPU mattered: robust when the machine is shared.
            "cpu_ratio_to_ceiling": round(median(cpu_ratios), 4) if cpu_ratios else None,
            "errors": sum(sum(r["errors"].values()) for r in page_runs),
            # The round in which other programs used the least CPU (latency is most exposed).
            "quietest": min(page_runs, key=lambda r: r["others_cpu_pct"] or 0.0),
        }
    ceiling = out["ceiling"]
    others = max((p["median"]["others_cpu_pct"] or 0.0) for p in out.values())
    if (ceiling["rps_spread_pct"] or 0) > NOISY_SPREAD_PCT or others > NOISY_OTHERS_PCT:
        warnings.append(
            f"N={n}: the machine was shared (ceiling req/s varied {ceiling['rps_spread_pct']}% "
            f"between rounds; other programs used up to {others:.0f}% of the CPU): req/s "
            "ratios are unreliable, compare 'cpu x ceil' instead"
        )
    return {"pages": out, "warnings": warnings}


def _quiet_p99(small: dict, large: dict) -> str:
    """The same comparison between the quietest rounds, when the machine was shared."""
    a, b = small["pages"]["list"]["quietest"], large["pages"]["list"]["quietest"]
    if not a["p99_ms"] or (a["others_cpu_pct"] or 0) + (b["others_cpu_pct"] or 0) == 0:
        return ""
    return (
        f"; quietest rounds (others {a['others_cpu_pct']:.0f}% / {b['others_cpu_pct']:.0f}%): "
        f"{b['p99_ms']} ms vs {a['p99_ms']} ms = {b['p99_ms'] / a['p99_ms']:.3f}x"
    )


def _cpu(run: dict) -> float | None:
    """App + database CPU ms per request of one run (None when not measurable)."""
    if run["app_cpu_ms"] is None or run["db_cpu_ms"] is None:
        return None
    return run["app_cpu_ms"] + run["db_cpu_ms"]


def _median_or_none(values: list) -> float | None:
    present = [v for v in values if v is not None]
    return round(median(present), 3) if present else None


def _spread(values: list[float]) -> float | None:
    mid = median(values)
    return round(100 * (max(values) - min(values)) / mid, 1) if values and mid else None


# ---------------------------------------------------------------- targets


def _targets(results: dict, sizes: list[int]) -> list[dict]:
    small, large = str(min(sizes)), str(max(sizes))
    out: list[dict] = []

    def add(name: str, passed: bool, detail: str) -> None:
        out.append({"target": name, "passed": bool(passed), "detail": detail})

    for page in PAGES:
        if page.key == "ceiling":
            continue
        counts = {
            (n, size): results[n]["queries"][page.key][size]["queries"]
            for n in results
            for size in results[n]["queries"][page.key]
        }
        detail = ", ".join(f"N={n} size={s}: {q}" for (n, s), q in counts.items())
        what = "N" if page.key == "detail" else "N and page size"
        suffix = " (info)" if page.extra else ""
        add(
            f"queries constant in {what}: {page.key}{suffix}",
            len(set(counts.values())) == 1,
            detail,
        )
        if page.key in ("list", "rating"):
            worst = max(counts.values())
            add(
                f"{page.key} page at most {MAX_LIST_QUERIES} queries",
                worst <= MAX_LIST_QUERIES,
                f"max {worst}",
            )
        if page.key == "list":
            short = [
                f"N={n}: {stats}"
                for n in results
                for stats in [results[n]["queries"]["list"]["24"]["cards"]]
                if min(stats.values()) < MIN_LIST_PRODUCTS
            ]
            add(
                f"list page shows >= {MIN_LIST_PRODUCTS} products with image, price, rating, "
                "availability",
                not short,
                "; ".join(short)
                or "every N: " + str(results[large]["queries"]["list"]["24"]["cards"]),
            )
    load = results[large].get("load")
    if load:
        for key, goal in RPS_TARGETS.items():
            ratio = load["pages"][key]["ratio_to_ceiling"] or 0.0
            cpu_ratio = load["pages"][key]["cpu_ratio_to_ceiling"]
            add(
                f"N={int(large):,} {key} >= {goal:.0%} of ceiling req/s",
                ratio >= goal,
                f"{ratio:.1%} ({load['pages'][key]['median']['rps']} vs "
                f"{load['pages']['ceiling']['median']['rps']} req/s); by CPU per request "
                + ("n/a" if cpu_ratio is None else f"{cpu_ratio:.1%}"),
            )
        if small != large and results[small].get("load"):
            p99_small = results[small]["load"]["pages"]["list"]["median"]["p99_ms"]
            p99_large = load["pages"]["list"]["median"]["p99_ms"]
            growth = p99_large / p99_small if p99_small else float("inf")
            add(
                f"list p99 at N={int(large):,} within {P99_GROWTH_LIMIT}x of N={int(small):,}",
                growth <= P99_GROWTH_LIMIT,
                f"{p99_large} ms vs {p99_small} ms = {growth:.3f}x"
                + _quiet_p99(results[small]["load"], load),
            )
        errors = sum(p["errors"] for r in results.values() for p in r["load"]["pages"].values())
        add("no HTTP errors or timeouts under load", errors == 0, f"{errors} errors")
    return out


# ---------------------------------------------------------------- report


def _num(value: float | None, places: int) -> str:
    return "-" if value is None else f"{value:,.{places}f}"


def _report(results: dict, targets: list[dict], args) -> str:
    lines = [
        f"Catalog benchmark: gunicorn -w {args.workers} (sync), wrk -t{args.threads} "
        f"-c{args.connections} -d{args.duration:g}s, median of {args.repeat} round(s)",
        "",
    ]
    rows = []
    for n, res in results.items():
        load = res.get("load", {}).get("pages", {})
        for page in PAGES:
            stats = load.get(page.key, {})
            med = stats.get("median", {})
            queries = res["queries"].get(page.key)
            if queries is None:
                q = "-"
            elif page.key == "detail":
                q = str(queries["any"]["queries"])
            else:
                q = "/".join(str(queries[str(s)]["queries"]) for s in PAGE_SIZES)
            rows.append(
                [
                    f"{int(n):,}",
                    page.label,
                    _num(med.get("rps"), 1),
                    _num(med.get("p50_ms"), 2),
                    _num(med.get("p99_ms"), 2),
                    _num(stats.get("ratio_to_ceiling"), 3),
                    _num(stats.get("rps_spread_pct"), 0),
                    _num(med.get("app_cpu_ms"), 2),
                    _num(med.get("db_cpu_ms"), 2),
                    _num(stats.get("cpu_ratio_to_ceiling"), 3),
                    _num(med.get("others_cpu_pct"), 0),
                    q,
                ]
            )
    headers = ["N", "page", "req/s", "p50 ms", "p99 ms", "x ceiling", "spread%", "app ms",
               "db ms", "cpu x ceil", "others%", "SQL 24/96"]  # fmt: skip
    lines.append(table(headers, rows))
    lines += [
        "",
        "req/s, p50, p99: medians over rounds; x ceiling: median of per-round req/s ratios to",
        "/_ceiling/; spread%: (max-min)/median of req/s; app ms, db ms: CPU per request of the",
        "gunicorn workers and of the database backends; cpu x ceil: ceiling CPU/request over the",
        "page's (the ratio on an otherwise idle machine); others%: machine CPU used by other",
        "programs during the runs; SQL 24/96: queries per request at 24 and 96 products a page.",
    ]
    lines += ["", "Build (seconds) and data (listed products; matches of the search and category):"]
    build_rows = []
    for n, res in results.items():
        b, d = res["build"], res["data"]
        build_rows.append(
            [
                f"{int(n):,}",
                f"{b.get('added', 0):,}",
                b.get("products_s", 0),
                b.get("images_s", 0),
                b.get("stock_s", 0),
                b.get("search_vectors_s", 0),
                b.get("vacuum_analyze_s", 0),
                b.get("total_s", 0),
                f"{d['listed']:,}",
                "-" if d["in_stock"] is None else f"{d['in_stock']:,}",
                f"{d['search_matches']:,}",
                f"{d['category_matches']:,}",
            ]
        )
    build_headers = ["N", "added", "products", "images", "stock", "vectors", "analyze", "total",
                     "listed", "in stock", f"q={SEARCH_WORD}", CATEGORY_SLUG]  # fmt: skip
    lines.append(
        table(
            build_headers,
            build_rows,
        )
    )
    lines += ["", "Targets:"]
    for t in targets:
        lines.append(f"  {'PASS' if t['passed'] else 'FAIL'}  {t['target']}: {t['detail']}")
    return "\n".join(lines)


# ---------------------------------------------------------------- entry point


def run(args) -> int:
    """Run the catalog section; returns 0 (targets are reported, not enforced)."""
    sizes = sorted(set(args.sizes))
    db = DatabaseTarget.from_url(args.database_url)
    services = check_services(db, args.redis_url)
    log(f"PostgreSQL {services['postgres']}, Redis {args.redis_url}, sizes {sizes}")
    var_dir = make_var_dir()
    env = bench_env(database_url=db.url, redis_url=args.redis_url, var_dir=var_dir)
    os.environ.update(env)
    setup: dict = {}
    results: dict = {}
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    try:
        setup["database"] = _prepare_database(db, keep_db=args.keep_db, smallest=sizes[0])
        log(f"database {db.name}: {setup['database']}")
        setup["migrate_s"] = manage(env, "migrate", "--noinput", "-v0")
        setup["collectstatic_s"] = manage(env, "collectstatic", "--noinput", "-v0")
        flush_redis(args.redis_url)

        import django

        django.setup()
        from django.conf import settings
        from django.core.cache import cache

        with timed(setup, "base_data_s"):
            base = catalog_data.ensure_base_data()
            images = catalog_data.write_image_files(Path(settings.MEDIA_ROOT))
        for n in sizes:
            build: dict = {}
            t0 = time.perf_counter()
            have = catalog_data.product_count()
            if have > n:
                raise BenchError(f"the database already has {have:,} products, more than N={n:,}")
            build["added"] = n - have
            if n > have:
                log(f"building N={n:,}: adding {n - have:,} products")
                build.update(catalog_data.grow_catalog(base, start=have, stop=n, images=images))
                build.update(catalog_data.finish_build())
            build["total_s"] = round(time.perf_counter() - t0, 2)
            cache.clear()
            data = _data_summary()
            log(
                f"N={n:,}: {data['listed']:,} listed, '{SEARCH_WORD}' matches "
                f"{data['search_matches']:,}, {CATEGORY_SLUG} {data['category_matches']:,}"
            )
            detail_paths = _detail_paths()
            queries = _measure_queries(detail_paths)
            results[str(n)] = {"build": build, "data": data, "queries": queries}
            if not args.no_load:
                results[str(n)]["load"] = _measure_load(env, var_dir, detail_paths, args, n)
        targets = _targets(results, sizes)
        report = _report(results, targets, args)
        payload = {
            "section": "catalog",
            "started_at": started,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "git": git_state(),
            "host": {"cpus": os.cpu_count(), **services},
            "config": {
                "sizes": sizes,
                "repeat": args.repeat,
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "threads": args.threads,
                "connections": args.connections,
                "workers": args.workers,
                "settings": env["DJANGO_SETTINGS_MODULE"],
                "database": db.name,
                "page_sizes": list(PAGE_SIZES),
            },
            "setup": setup,
            "results": results,
            "targets": targets,
            "warnings": [
                w for r in results.values() for w in r.get("load", {}).get("warnings", [])
            ],
        }
        path = write_json("catalog", payload)
        print(report)
        for warning in payload["warnings"]:
            print(f"WARNING: {warning}")
        shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
        print(f"\nJSON: {shown}")
        return 0
    finally:
        _teardown(db, var_dir, keep_db=args.keep_db)


def _teardown(db: DatabaseTarget, var_dir: Path, *, keep_db: bool) -> None:
    from django.conf import settings

    if settings.configured:  # Django was set up: its connections would block DROP DATABASE
        from django.db import connections

        connections.close_all()
    if not keep_db:
        try:
            db.drop()
            log(f"dropped database {db.name}")
        except Exception as exc:
            log(f"could not drop {db.name}: {exc}")
    shutil.rmtree(var_dir, ignore_errors=True)
