"""Serve the fake message provider (SMS, WeChat, QQ) for `make run` and the bench."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from push.fake_provider import from_settings


class Command(BaseCommand):
    help = "Run the fake SMS / WeChat / QQ provider on 127.0.0.1 (set PROVENA_PUSH_PROVIDER_URL)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8025)
        parser.add_argument(
            "--receipts-url",
            default=settings.PUBLIC_BASE_URL.rstrip("/") + "/webhooks/messages",
            help="where to post signed delivery receipts ('' for none)",
        )
        parser.add_argument("--stall-seconds", type=float, default=30.0)

    def handle(self, *args, **options):
        provider = from_settings(
            port=options["port"],
            receipts_url=options["receipts_url"],
            stall_seconds=options["stall_seconds"],
        ).start()
        self.stdout.write(f"fake push provider on {provider.url} (stats: {provider.url}/_stats)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            provider.stop()
