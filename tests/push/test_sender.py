"""The batched sender against the fake provider: retries, timeouts, rate limits, worker death."""

import threading
import time
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from accounts import services as accounts_services
from push import services
from push.models import Message, MessageEvent

from .conftest import enqueue, make_buyer

pytestmark = pytest.mark.django_db


def statuses():
    return dict(Message.objects.values_list("idempotency_key", "status"))


def test_batch_sends_each_message_once_through_the_provider(provider):
    user = make_buyer()
    for i in range(3):
        enqueue(user, key=f"k{i}")
    report = services.messages_send_batch()
    assert (report.claimed, report.sent) == (3, 3)
    assert statuses() == {"k0": "sent", "k1": "sent", "k2": "sent"}
    stats = provider.stats()
    assert (stats["accepted"], stats["duplicates"], stats["send_requests"]) == (3, 0, 1)
    assert provider.accepted["k0"]["to"] == "+8613800138000"
    assert "Reply R/TD to unsubscribe" in provider.accepted["k0"]["text"]
    assert list(
        MessageEvent.objects.filter(message__idempotency_key="k0").values_list(
            "from_status", "to_status"
        )
    ) == [("", "queued"), ("queued", "sending"), ("sending", "sent")]
    assert services.messages_send_batch().claimed == 0


def test_batch_query_count_does_not_grow_with_the_batch(provider, django_assert_num_queries):
    user = make_buyer()
    for i in range(3):
        enqueue(user, key=f"a{i}")
    # claim: savepoint, select for update, contacts, bulk update, events, release; finalize:
    # savepoint, select for update, update sent, events, release.
    with django_assert_num_queries(11):
        services.messages_send_batch()
    for i in range(40):
        enqueue(user, key=f"b{i}")
    with django_assert_num_queries(11):
        assert services.messages_send_batch().sent == 40


def test_wechat_and_qq_go_through_their_template_backends(provider):
    enqueue(make_buyer(preferred_channel="wechat", wechat_id="oWx_123456"), key="w")
    enqueue(make_buyer(preferred_channel="qq", qq="123456789"), key="q")
    services.messages_send_batch()
    assert statuses() == {"w": "sent", "q": "sent"}
    assert provider.accepted["w"]["channel"] == "wechat"
    assert provider.accepted["q"]["channel"] == "qq"
    assert provider.accepted["q"]["to"] == "123456789"


def test_server_error_is_retried_with_backoff_after_asking_the_provider(provider):
    enqueue(make_buyer())
    provider.fail("error")
    now = timezone.now()
    report = services.messages_send_batch(now=now)
    message = Message.objects.get()
    assert (report.retried, message.status, message.attempts) == (1, "queued", 1)
    assert message.provider_answer.startswith("HTTP 500: ")
    assert message.needs_check is True
    assert message.next_attempt_at >= now + timedelta(seconds=30)
    # not due yet
    assert services.messages_send_batch(now=now + timedelta(seconds=10)).claimed == 0
    services.messages_send_batch(now=now + timedelta(seconds=40))
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 2)
    stats = provider.stats()
    assert (stats["accepted"], stats["duplicates"], stats["query_requests"]) == (1, 0, 1)


def test_rate_limit_waits_for_retry_after(provider):
    enqueue(make_buyer())
    provider.fail("rate_limit")
    now = timezone.now()
    services.messages_send_batch(now=now)
    message = Message.objects.get()
    assert message.status == "queued"
    assert message.needs_check is False
    assert message.provider_answer.startswith("HTTP 429: ")
    assert (
        now + timedelta(seconds=7)
        <= message.next_attempt_at
        <= timezone.now() + timedelta(seconds=7)
    )


def test_timeout_after_the_provider_accepted_does_not_send_twice(provider):
    enqueue(make_buyer())
    provider.fail("accept_then_stall")  # answers after 5 s; we wait 1 s
    now = timezone.now()
    services.messages_send_batch(now=now)
    message = Message.objects.get()
    assert (message.status, message.needs_check) == ("queued", True)
    assert message.provider_answer == "timed out waiting for the provider"
    report = services.messages_send_batch(now=now + timedelta(minutes=5))
    message.refresh_from_db()
    assert message.status == "sent"
    assert report.sent == 1
    stats = provider.stats()
    assert (stats["accepted"], stats["duplicates"], stats["send_requests"]) == (1, 0, 1)


def test_timeout_before_accepting_is_sent_again_after_asking(provider):
    enqueue(make_buyer())
    provider.fail("timeout")
    now = timezone.now()
    services.messages_send_batch(now=now)
    services.messages_send_batch(now=now + timedelta(minutes=5))
    assert statuses() == {"k1": "sent"}
    stats = provider.stats()
    assert (stats["accepted"], stats["duplicates"], stats["send_requests"]) == (1, 0, 2)


def test_rejected_number_fails_with_the_providers_answer(provider):
    enqueue(make_buyer(phone="+8613800000000"))
    report = services.messages_send_batch()
    message = Message.objects.get()
    assert (report.failed, message.status, message.reason) == (1, "failed", "provider_failed")
    assert message.provider_answer == (
        "invalid_recipient the recipient 0000 cannot receive messages"
    )
    assert message.failed_at is not None
    assert services.messages_send_batch(now=timezone.now() + timedelta(days=1)).claimed == 0


def test_retries_are_bounded_then_the_message_fails(provider, settings):
    settings.PUSH_MAX_ATTEMPTS = 2
    enqueue(make_buyer())
    provider.fail("error", "error", "error")
    now = timezone.now()
    services.messages_send_batch(now=now)
    services.messages_send_batch(now=now + timedelta(minutes=5))
    message = Message.objects.get()
    assert (message.status, message.attempts) == ("failed", 2)
    assert message.provider_answer.startswith("gave up after 2 attempts: HTTP 500: ")
    assert services.messages_send_batch(now=now + timedelta(days=1)).claimed == 0
    assert provider.stats()["accepted"] == 0


def test_consent_withdrawn_after_enqueue_suppresses_at_send(provider):
    user = make_buyer()
    enqueue(user)
    accounts_services.buyer_profile_update(user=user, data={"survey_consent": False})
    report = services.messages_send_batch()
    message = Message.objects.get()
    assert (report.suppressed, message.status, message.reason) == (1, "suppressed", "unsubscribed")
    assert provider.stats()["send_requests"] == 0


def test_quiet_hours_hold_then_release_when_the_window_opens(provider, settings):
    user = make_buyer(timezone="Asia/Shanghai")
    enqueue(user)
    settings.PUSH_QUIET_HOURS = "21:00-08:00"
    tomorrow = (timezone.now() + timedelta(days=1)).astimezone(UTC)
    night = tomorrow.replace(hour=15, minute=30, second=0, microsecond=0)  # 23:30 in Shanghai
    report = services.messages_send_batch(now=night)
    message = Message.objects.get()
    assert (report.held, message.status) == (1, "held")
    opens = (night + timedelta(days=1)).replace(hour=0, minute=0)  # 08:00 in Shanghai
    assert message.next_attempt_at == opens
    assert services.messages_send_batch(now=opens - timedelta(minutes=1)).claimed == 0
    assert services.messages_send_batch(now=opens).sent == 1
    assert provider.stats()["accepted"] == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_worker_dying_mid_send_never_duplicates(provider, settings):
    """A sender stalls inside the provider's answer (as if killed); the lease runs out; the next
    sender asks the provider by key, finds the message, records it sent, and sends nothing."""
    settings.PUSH_HTTP_TIMEOUT = 30
    settings.PUSH_KICK_AFTER_COMMIT = False  # only our two senders below
    enqueue(make_buyer())
    provider.fail("accept_then_stall")
    now = timezone.now()
    stuck: dict = {}
    worker = threading.Thread(
        target=lambda: stuck.setdefault("report", services.messages_send_batch(now=now))
    )
    worker.start()
    deadline = time.monotonic() + 5
    while provider.stats()["accepted"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert Message.objects.get().status == "sending"
    later = now + timedelta(seconds=settings.PUSH_LEASE_SECONDS + 1)
    report = services.messages_send_batch(now=later)
    assert (report.claimed, report.sent) == (1, 1)
    provider.release.set()
    worker.join(10)
    assert stuck["report"].stale == 1
    message = Message.objects.get()
    assert (message.status, message.attempts) == ("sent", 2)
    stats = provider.stats()
    assert (stats["accepted"], stats["duplicates"], stats["send_requests"]) == (1, 0, 1)
    assert list(message.events.values_list("to_status", "note")) == [
        ("queued", ""),
        ("sending", ""),
        ("sending", "lease expired"),
        ("sent", "found at provider: sms-1"),
    ]


def test_enqueue_then_commit_sends_through_the_celery_task(
    provider, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue(make_buyer())
    assert statuses() == {"k1": "sent"}
    assert provider.stats()["accepted"] == 1
