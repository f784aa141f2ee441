import json

import pytest
from django.db import DatabaseError

from config.celery_app import app as celery_app

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(monkeypatch):
    """Point the Celery app at another broker for one test."""

    def use(url: str, **transport_options):
        monkeypatch.setitem(celery_app.conf, "broker_url", url)
        monkeypatch.setitem(celery_app.conf, "broker_write_url", None)
        monkeypatch.setitem(celery_app.conf, "broker_transport_options", transport_options)

    return use


def _body(response) -> dict:
    return json.loads(response.content)


def test_healthz_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert _body(response) == {"status": "ok", "database": True, "broker": True}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_needs_no_login_and_is_read_only(client):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_healthz_503_when_the_broker_is_unreachable(client, broker):
    broker("redis://127.0.0.1:1/0")

    response = client.get("/healthz")

    assert response.status_code == 503
    assert _body(response) == {"status": "unavailable", "database": True, "broker": False}


def test_healthz_503_when_the_database_check_fails(client, monkeypatch):
    monkeypatch.setattr("core.views._database_ok", lambda: False)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert _body(response) == {"status": "unavailable", "database": False, "broker": True}


def test_healthz_503_when_the_database_raises(client, monkeypatch):
    class BrokenConnection:
        def cursor(self):
            raise DatabaseError("connection refused")

    monkeypatch.setattr("core.views.connection", BrokenConnection())

    response = client.get("/healthz")

    assert response.status_code == 503
    assert _body(response)["database"] is False


def test_healthz_filesystem_broker_checks_its_folder(client, broker, settings, tmp_path):
    queue = tmp_path / "queue"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(queue)}
    broker("filesystem://", data_folder_in=str(queue), data_folder_out=str(queue))

    response = client.get("/healthz")

    assert response.status_code == 200
    assert (queue / ".healthz").read_text() == "ok"


def test_healthz_503_when_the_filesystem_broker_folder_is_unwritable(
    client, broker, settings, tmp_path
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the queue folder should be")
    queue = blocker / "queue"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(queue)}
    broker("filesystem://", data_folder_in=str(queue), data_folder_out=str(queue))

    response = client.get("/healthz")

    assert response.status_code == 503
    assert _body(response) == {"status": "unavailable", "database": True, "broker": False}
