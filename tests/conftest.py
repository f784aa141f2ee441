"""Suite-wide fixtures. In CI a test that needs PostgreSQL or a browser fails, never skips."""

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"CI must run this test, but {what}.")
    pytest.skip(f"{what} (CI runs it).")


@pytest.fixture(autouse=True)
def _requirements(request):
    if request.node.get_closest_marker("postgres") and not settings.IS_POSTGRES:
        _missing("DATABASE_URL does not point at PostgreSQL")
    if request.node.get_closest_marker("e2e") and not Path(CHROMIUM).exists():
        _missing(f"no browser at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(autouse=True)
def _media_root(tmp_path_factory, settings):
    """Uploads of each test go to a folder of their own."""
    media = tmp_path_factory.mktemp("media")
    settings.MEDIA_ROOT = media
    yield
    shutil.rmtree(media, ignore_errors=True)


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def race():
    """Run callables in threads released together; returns each one's result or exception.

    For concurrency tests on PostgreSQL (mark them `postgres` and
    `django_db(transaction=True, serialized_rollback=True)` so the threads see committed data
    and the roles made by migrations survive the flush).
    """
    import threading

    from django.db import connection

    def run_all(*calls):
        barrier = threading.Barrier(len(calls))
        results = [None] * len(calls)

        def run(i, call):
            try:
                barrier.wait(timeout=10)
                results[i] = call()
            except Exception as err:  # the test inspects it
                results[i] = err
            finally:
                connection.close()

        threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        return results

    return run_all
