import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.exception("healthz: database check failed")
        return False


def _broker_ok() -> bool:
    from config.celery_app import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
            if conn.transport_cls == "filesystem":
                # The filesystem transport "connects" to anything; check the folder is writable.
                folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
                from pathlib import Path

                probe = Path(folder) / ".healthz"
                probe.parent.mkdir(parents=True, exist_ok=True)
                probe.write_text("ok")
        return True
    except Exception:
        logger.exception("healthz: broker check failed")
        return False


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker answer, 503 otherwise (for load balancers)."""
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    ok = all(checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", **checks}, status=200 if ok else 503
    )


@require_safe
def ceiling(request: HttpRequest):
    """A bare template page under the same settings: `make bench` uses it as the ceiling."""
    return render(request, "core/ceiling.html")


def page_not_found(request: HttpRequest, exception: Exception | None = None):
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest):
    return render(request, "500.html", status=500)


def permission_denied(request: HttpRequest, exception: Exception | None = None):
    return render(request, "403.html", status=403)


def bad_request(request: HttpRequest, exception: Exception | None = None):
    return render(request, "400.html", status=400)
