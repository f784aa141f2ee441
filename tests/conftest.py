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
    """Uploads of each test go to folders of their own (public and private)."""
    media = tmp_path_factory.mktemp("media")
    private = tmp_path_factory.mktemp("private")
    settings.MEDIA_ROOT = media
    settings.PRIVATE_MEDIA_ROOT = private
    yield
    shutil.rmtree(media, ignore_errors=True)
    shutil.rmtree(private, ignore_errors=True)


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


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Rows that data migrations make (roles, locations, cross-border rules) are schema, not data.

    A transactional test (races, browser journeys) flushes every table when it ends, those rows
    included; put them back for the tests that follow. Two cheap queries when nothing is missing.
    """
    names = set(request.fixturenames)
    marker = request.node.get_closest_marker("django_db")
    if not (names & {"db", "transactional_db", "live_server"} or marker):
        return
    transactional = bool(
        names & {"transactional_db", "live_server"} or (marker and marker.kwargs.get("transaction"))
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    from django.apps import apps
    from django.contrib.auth.models import Group

    from accounts import roles

    if Group.objects.filter(name__in=roles.ALL_ROLES).count() != len(roles.ALL_ROLES):
        roles.sync_role_permissions(apps)
    from importlib import import_module

    from warehouse.models import Location

    if not Location.objects.exists():
        import_module("warehouse.migrations.0002_locations_and_ledger_guard").create_locations(
            apps, None
        )
    from logistics.models import CustomsRegime

    if not CustomsRegime.objects.exists():
        import_module("logistics.migrations.0002_cross_border_rules").seed(apps, None)
