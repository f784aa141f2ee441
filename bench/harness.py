"""Pieces every bench section shares: services, the bench database, gunicorn, wrk, tables."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "bench"
RESULTS_DIR = BENCH_DIR / "results"
WRK_SCRIPT = BENCH_DIR / "wrk_paths.lua"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/provena_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/3"
SETTINGS_MODULE = "config.settings.production"


class BenchError(Exception):
    """A problem that stops the benchmark; its message says what to do."""


_STARTED = time.monotonic()


def log(message: str) -> None:
    elapsed = time.monotonic() - _STARTED
    print(
        f"[bench {elapsed // 60:3.0f}:{elapsed % 60:04.1f}] {message}", file=sys.stderr, flush=True
    )


@contextlib.contextmanager
def timed(into: dict, key: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        into[key] = round(time.perf_counter() - start, 2)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------- processes and signals

_children: list[subprocess.Popen] = []


def _interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def install_signal_handlers() -> None:
    """Ctrl-C, SIGTERM and SIGHUP all unwind, so every `finally` stops gunicorn and wrk.

    SIGINT is (re)installed too: a shell starting us in the background may have ignored it.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)


def stop_process(proc: subprocess.Popen, *, grace: float = 10.0) -> None:
    """Stop a child started in its own session (and its own children), politely then not."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    if proc in _children:
        _children.remove(proc)


def stop_all_children() -> None:
    while _children:
        stop_process(_children[-1], grace=5)


def spawn(cmd: list[str], **kwargs) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
    _children.append(proc)
    return proc


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- services and database


@dataclass(frozen=True)
class DatabaseTarget:
    url: str
    name: str
    maintenance_conninfo: str

    @classmethod
    def from_url(cls, url: str) -> DatabaseTarget:
        parts = urlsplit(url)
        if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
            raise BenchError(f"BENCH_DATABASE_URL must be a PostgreSQL URL, not {url!r}.")
        name = parts.path.lstrip("/")
        if not name:
            raise BenchError(f"BENCH_DATABASE_URL names no database: {url!r}.")
        if "bench" not in name:
            # The bench drops and recreates this database: refuse anything that looks real.
            raise BenchError(
                f"Refusing to use database {name!r}: the benchmark drops and recreates its "
                "database, so its name must contain 'bench'."
            )
        maintenance = urlunsplit(
            ("postgresql", parts.netloc, "/postgres", parts.query, parts.fragment)
        )
        return cls(url=url, name=name, maintenance_conninfo=maintenance)

    def _admin(self):
        import psycopg

        return psycopg.connect(self.maintenance_conninfo, autocommit=True, connect_timeout=5)

    def exists(self) -> bool:
        with self._admin() as conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.name])
            return row.fetchone() is not None

    def create(self) -> None:
        from psycopg import sql

        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))

    def drop(self) -> None:
        from psycopg import sql

        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )

    def server_version(self) -> str:
        with self._admin() as conn:
            return conn.execute("SHOW server_version").fetchone()[0]


def recreate_database(db: DatabaseTarget) -> None:
    """Drop the section's database (if any) and create it empty."""
    try:
        db.drop()
        db.create()
    except Exception as exc:
        raise BenchError(f"cannot (re)create {db.name}: {exc}") from exc


def check_services(db: DatabaseTarget, redis_url: str) -> dict:
    """Fail early, with the fix, when PostgreSQL, Redis or wrk are missing."""
    try:
        import psycopg
    except ImportError as exc:
        raise BenchError("psycopg is not installed in this venv: run `make install`.") from exc
    parts = urlsplit(db.url)  # shown without credentials
    safe = parts._replace(netloc=f"{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}")
    try:
        version = db.server_version()
    except psycopg.OperationalError as exc:
        raise BenchError(
            f"PostgreSQL is not reachable at {urlunsplit(safe)} ({str(exc).strip()}).\n"
            "Start it (e.g. `pg_ctlcluster 15 main start`) or point BENCH_DATABASE_URL elsewhere."
        ) from exc
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise BenchError(
            f"Redis is not reachable at {redis_url} ({exc}).\n"
            "Start it (e.g. `redis-server --daemonize yes`) or set BENCH_REDIS_URL."
        ) from exc
    wrk = shutil.which("wrk")
    if not wrk:
        raise BenchError("wrk is not installed: `apt-get install -y wrk` (Debian package).")
    return {"postgres": version, "redis": redis_url, "wrk": wrk}


def flush_redis(redis_url: str) -> None:
    """The bench cache database starts empty: nothing cached from an earlier database leaks in."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def bench_env(*, database_url: str, redis_url: str, var_dir: Path) -> dict[str, str]:
    """The environment gunicorn, manage.py and this process run Django with."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "DJANGO_SECRET_KEY": "bench",
            "PROVENA_UNIT_CODE_KEY": "bench-unit-code-key",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_SECURE_COOKIES": "false",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "PROVENA_VAR_DIR": str(var_dir),
            "MEDIA_ROOT": str(var_dir / "media"),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def make_var_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="provena-bench-"))


def manage(env: dict[str, str], *args: str) -> float:
    """Run `manage.py <args>` with the bench environment; returns seconds taken."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise BenchError(f"manage.py {' '.join(args)} failed ({result.returncode}):\n{tail}")
    return round(time.perf_counter() - start, 2)


def git_state() -> dict:
    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
            ).stdout.strip()
        except OSError:
            return ""

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def run_probe(script: str, env: dict[str, str], options: dict, *, name: str) -> dict:
    """Run a section's probe (`bench/<script>`, given its options as JSON) in the bench
    environment; its stderr is ours (progress), its last line of stdout is its JSON result."""
    proc = spawn(
        [sys.executable, f"bench/{script}", json.dumps(options)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        out, _err = proc.communicate()
    finally:
        stop_process(proc, grace=10)
    lines = out.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise BenchError(f"{name} probe failed ({proc.returncode}):\n" + "\n".join(lines[-30:]))
    return json.loads(lines[-1])


# ---------------------------------------------------------------- gunicorn


@dataclass
class Gunicorn:
    env: dict[str, str]
    log_path: Path
    workers: int = 2
    threads: int = 0  # > 0: the gthread worker with this many threads per worker
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, attempts: int = 3) -> Gunicorn:
        for _attempt in range(attempts):
            self.port = free_port()
            cmd = [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "-w",
                str(self.workers),
                *(
                    ["-k", "gthread", "--threads", str(self.threads)]
                    if self.threads
                    else ["-k", "sync"]
                ),
                "-b",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "120",
                "--log-level",
                "warning",
                "--error-logfile",
                str(self.log_path),
            ]
            with open(self.log_path, "a") as logfile:
                self.proc = spawn(cmd, cwd=REPO, env=self.env, stdout=logfile, stderr=logfile)
            if self._wait_healthy():
                return self
            stop_process(self.proc)
            if "Address already in use" not in self.log_tail():
                break
        raise BenchError(f"gunicorn did not become healthy. Its log:\n{self.log_tail()}")

    def _wait_healthy(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                return False
            try:
                url = f"{self.base_url}/healthz"  # always http://127.0.0.1
                with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310
                    if resp.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        return False

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def fetch(url: str, timeout: float = 30.0) -> tuple[int, bytes]:
    try:
        if not url.startswith("http://127.0.0.1:"):
            raise BenchError(f"the bench only fetches from its own server, not {url}")
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# ---------------------------------------------------------------- CPU accounting

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (index 0 is the state)."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return data[data.rindex(")") + 2 :].split()


def process_cpu_seconds(pid: int) -> float | None:
    """User+system CPU of a process, plus that of its children it has already reaped."""
    fields = _proc_stat(pid)
    if fields is None:
        return None
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime + cutime + cstime) / CLK_TCK


def process_tree(root: int) -> list[int]:
    """The root and every live descendant (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _proc_stat(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(children.get(pid, []))
    return out


class CpuMeter:
    """CPU seconds spent by the gunicorn process tree and by the bench database's backends.

    Unlike requests/s this hardly moves when other programs share the machine, so it shows
    what a page costs even on a busy box. Database CPU counts the client backends connected
    to the bench database (gunicorn keeps its connections open); parallel query workers are
    short-lived and not counted, so a plan that goes parallel looks cheaper than it is.
    """

    def __init__(self, gunicorn_pid: int, database_url: str):
        import psycopg

        self.gunicorn_pid = gunicorn_pid
        self.conn = psycopg.connect(database_url, autocommit=True, connect_timeout=5)

    def close(self) -> None:
        self.conn.close()

    def snapshot(self) -> dict:
        app = sum(process_cpu_seconds(pid) or 0.0 for pid in process_tree(self.gunicorn_pid))
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        ).fetchall()
        db: dict[int, float] | None = {}
        for (pid,) in rows:
            seconds = process_cpu_seconds(pid)
            if seconds is None:  # PostgreSQL on another host or in another PID namespace
                db = None
                break
            db[pid] = seconds
        times = os.times()
        return {
            "app": app,
            "db": db,
            "busy": machine_busy_seconds(),
            "children": times.children_user + times.children_system,
            "self": times.user + times.system,
            "at": time.monotonic(),
        }

    @staticmethod
    def delta(before: dict, after: dict) -> dict[str, float | None]:
        """CPU seconds of the app and database, and the share of the machine others used."""
        db = None
        if before["db"] is not None and after["db"] is not None:
            db = sum(v - before["db"].get(pid, 0.0) for pid, v in after["db"].items())
        app = after["app"] - before["app"]
        ours = app + (db or 0.0)
        ours += after["children"] - before["children"] + after["self"] - before["self"]  # wrk
        others_pct = None
        if before["busy"] is not None and after["busy"] is not None:
            capacity = (after["at"] - before["at"]) * (os.cpu_count() or 1)
            others = max(0.0, after["busy"] - before["busy"] - ours)
            others_pct = round(100 * others / capacity, 1) if capacity else None
        return {"app_s": app, "db_s": db, "others_pct": others_pct}


def machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine spent busy (not idle or waiting on I/O) since boot."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in first[1:9])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


# ---------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    errors: dict[str, int]
    latency_ms: dict[str, float]
    cpu: dict[str, float | None] = field(default_factory=dict)
    rps: float = field(init=False)

    def __post_init__(self) -> None:
        self.rps = self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def cpu_ms_per_request(self, key: str) -> float | None:
        seconds = self.cpu.get(key)
        if seconds is None or not self.requests:
            return None
        return round(1000 * seconds / self.requests, 3)

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "app_cpu_ms": self.cpu_ms_per_request("app_s"),
            "db_cpu_ms": self.cpu_ms_per_request("db_s"),
            "others_cpu_pct": self.cpu.get("others_pct"),
            "duration_s": round(self.duration_s, 3),
            "rps": round(self.rps, 1),
            "p50_ms": self.latency_ms["p50"],
            "p90_ms": self.latency_ms["p90"],
            "p99_ms": self.latency_ms["p99"],
            "max_ms": self.latency_ms["max"],
            "errors": self.errors,
        }


def run_wrk(
    base_url: str,
    paths: Sequence[str],
    *,
    duration: float,
    threads: int,
    connections: int,
    workdir: Path,
    meter: CpuMeter | None = None,
) -> WrkResult:
    """Drive `paths` (rotating) for `duration` seconds; latency percentiles from wrk itself."""
    paths_file = workdir / f"paths-{abs(hash(tuple(paths)))}.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        str(WRK_SCRIPT),
        base_url,
        "--",
        str(paths_file),
    ]
    before = meter.snapshot() if meter else None
    proc = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=duration + 120)
    finally:
        stop_process(proc, grace=2)
    cpu = CpuMeter.delta(before, meter.snapshot()) if meter and before else {}
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({proc.returncode}): {err.strip() or out.strip()}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return WrkResult(
        requests=data["requests"],
        duration_s=data["duration_us"] / 1e6,
        errors=data["errors"],
        latency_ms={k: round(v / 1000, 2) for k, v in data["latency_us"].items()},
        cpu=cpu,
    )


# ---------------------------------------------------------------- output


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table; numbers right-aligned, text left-aligned."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    numeric = [
        all(_looks_numeric(row[i]) for row in cells[1:] if row[i] not in {"", "-"})
        for i in range(len(headers))
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def fmt(row: list[str]) -> str:
        return "  ".join(
            row[i].rjust(widths[i]) if numeric[i] else row[i].ljust(widths[i])
            for i in range(len(row))
        ).rstrip()

    lines = [fmt(cells[0]), "  ".join("-" * w for w in widths)]
    lines += [fmt(row) for row in cells[1:]]
    return "\n".join(lines)


def _looks_numeric(text: str) -> bool:
    stripped = text.replace(",", "").replace("x", "").replace("/", "").replace("%", "")
    try:
        float(stripped)
    except ValueError:
        return False
    return True


def write_json(name: str, payload: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    path.write_text(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")
    return path
