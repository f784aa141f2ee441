"""The fake message provider for tests: a real HTTP server on 127.0.0.1 (push.fake_provider)."""

from push.fake_provider import FakeProvider, from_settings

HTTP_BACKENDS = {
    "sms": "push.backends.http.SmsHttpBackend",
    "wechat": "push.backends.http.WeChatTemplateBackend",
    "qq": "push.backends.http.QQTemplateBackend",
}


def start_fake_provider(settings, *, stall_seconds: float = 5) -> FakeProvider:
    """Start the fake provider and point every channel's real HTTP backend at it.
    The caller stops it (`fake.stop()`)."""
    fake = from_settings(stall_seconds=stall_seconds).start()
    settings.PUSH_BACKENDS = {
        channel: {**options, "BACKEND": HTTP_BACKENDS[channel], "BASE_URL": fake.url}
        for channel, options in settings.PUSH_BACKENDS.items()
    }
    return fake
