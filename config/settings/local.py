"""`make run`: one machine, no servers to install: SQLite (WAL) and a filesystem broker."""

from .base import *  # noqa: F403
from .base import env_str

DEBUG = True
SECRET_KEY = SECRET_KEY or "local-only-insecure-key-change-me"  # noqa: F405
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

# A fresh clone has no var/ yet: SQLite, the broker folders and uploads live there.
VAR_DIR.mkdir(parents=True, exist_ok=True)  # noqa: F405

UNIT_CODE_KEY = UNIT_CODE_KEY or "unit-codes:" + SECRET_KEY  # noqa: F405
PII_KEY = PII_KEY or "pii:" + SECRET_KEY  # noqa: F405
if CARRIERS["simulated"]["KEY"] == "carrier:":  # noqa: F405
    CARRIERS["simulated"]["KEY"] += SECRET_KEY  # noqa: F405
if PAYMENT_GATEWAYS["sandbox"]["KEY"] == "sandbox:":  # noqa: F405
    PAYMENT_GATEWAYS["sandbox"]["KEY"] += SECRET_KEY  # noqa: F405
# The filesystem broker's folders: tasks queued by seed_demo before the worker ever started.
if CELERY_BROKER_URL.startswith("filesystem://"):  # noqa: F405
    for _folder in ("queue", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)  # noqa: F405
