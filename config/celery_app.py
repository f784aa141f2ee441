"""Celery application: configured from Django settings (CELERY_* names), tasks found in apps."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("provena")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
