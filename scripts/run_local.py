"""`make run`: the web server, a Celery worker and Celery beat together; Ctrl-C stops all three.

Without DATABASE_URL / REDIS_URL this is SQLite (WAL) and kombu's filesystem broker under var/,
so nothing needs installing; with them set, the same processes use PostgreSQL and Redis.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
HOST = os.environ.get("PROVENA_HOST", "127.0.0.1")
PORT = os.environ.get("PROVENA_PORT", "8000")


def main() -> int:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local"),
    }
    var = Path(env.get("PROVENA_VAR_DIR", ROOT / "var"))
    (var / "broker" / "queue").mkdir(parents=True, exist_ok=True)
    (var / "broker" / "processed").mkdir(parents=True, exist_ok=True)
    commands = {
        "web": [PY, "manage.py", "runserver", f"{HOST}:{PORT}", "--noreload"],
        "worker": [
            PY,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel=INFO",
            "--concurrency=2",
            "--pool=threads",
        ],
        "beat": [
            PY,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel=INFO",
            f"--schedule={var / 'celerybeat-schedule'}",
        ],
    }
    procs: dict[str, subprocess.Popen] = {}
    for name, cmd in commands.items():
        # Own process group each, so Ctrl-C reaches them only through us, in order.
        procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    print(f"\nProvena is running at http://{HOST}:{PORT}/  (admin: http://{HOST}:{PORT}/admin/)")
    print("Web, worker and scheduler are up. Press Ctrl-C to stop them all.\n", flush=True)

    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(
                    f"\n{name} exited with code {proc.returncode}; stopping the others.",
                    file=sys.stderr,
                )
                exit_code = proc.returncode or 1
                stopping = True
                break
        time.sleep(0.3)

    print("\nStopping web, worker and scheduler...", flush=True)
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    print("Stopped.")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
