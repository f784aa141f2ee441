"""message_enqueue: the contract other apps code against."""

from datetime import UTC, datetime
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone as dj_tz

from accounts import services as accounts_services
from core.errors import DomainError
from push import selectors, services
from push.models import Message, MessageEvent
from push.states import MessageCategory, MessageStatus

from .conftest import enqueue
from .conftest import make_buyer as buyer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _daytime(settings):
    settings.PUSH_QUIET_HOURS = ""


def test_enqueue_queues_on_preferred_channel_with_opt_out(django_capture_on_commit_callbacks):
    user = buyer()
    with django_capture_on_commit_callbacks() as callbacks:
        message = enqueue(user)
    assert message.status == MessageStatus.QUEUED
    assert message.channel == "sms"
    assert message.recipient == "+8613800138000"
    assert message.text.startswith(
        "Your parcel arrived. How was it?\nhttps://provena.example/survey/abc/\n"
    )
    assert "Reply R/TD to unsubscribe" in message.text
    assert f"/unsubscribe/{services.unsubscribe_token(user.pk)}/" in message.text
    assert len(callbacks) == 1
    assert list(MessageEvent.objects.values_list("from_status", "to_status")) == [("", "queued")]


def test_enqueue_is_idempotent_and_kicks_once_per_transaction(django_capture_on_commit_callbacks):
    user = buyer()
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        first = enqueue(user)
        again = enqueue(user, body="different text")
        other = enqueue(user, key="k2")
    assert again.pk == first.pk
    assert other.pk != first.pk
    assert Message.objects.count() == 2
    assert MessageEvent.objects.count() == 2
    assert len(callbacks) == 1
    assert selectors.message_statuses(idempotency_keys=["k1", "k2", "nope"]) == {
        "k1": "queued",
        "k2": "queued",
    }


def test_idempotency_key_of_another_user_is_refused():
    enqueue(buyer())
    with pytest.raises(DomainError) as err:
        enqueue(buyer(phone="+8613900139000"))
    assert err.value.code == "idempotency_key_conflict"


def test_marketing_refused_without_consent(django_capture_on_commit_callbacks):
    user = buyer()
    with django_capture_on_commit_callbacks() as callbacks:
        message = enqueue(user, category=MessageCategory.MARKETING, purpose="category_push")
    assert (message.status, message.reason) == ("suppressed", "no_consent")
    assert message.text == ""
    assert callbacks == []


def test_marketing_after_consent_withdrawn_is_unsubscribed():
    user = buyer(marketing_consent=True)
    accounts_services.buyer_profile_update(user=user, data={"marketing_consent": False})
    message = enqueue(user, category=MessageCategory.MARKETING, purpose="category_push")
    assert (message.status, message.reason) == ("suppressed", "unsubscribed")


def test_marketing_with_consent_is_queued():
    message = enqueue(
        buyer(marketing_consent=True), category=MessageCategory.MARKETING, purpose="category_push"
    )
    assert message.status == "queued"


def test_survey_opt_out_suppresses_survey_messages():
    message = enqueue(buyer(survey_consent=False))
    assert (message.status, message.reason) == ("suppressed", "unsubscribed")


def test_fallback_channel_when_preferred_has_no_address():
    user = buyer(phone="", preferred_channel="sms", wechat_id="wx_openid_123")
    message = enqueue(user)
    assert (message.channel, message.recipient) == ("wechat", "wx_openid_123")
    assert "Unsubscribe: " in message.text


def test_no_reachable_channel_is_suppressed():
    message = enqueue(buyer(phone=""))
    assert (message.status, message.reason, message.channel) == ("suppressed", "no_channel", "")


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("category", "spam", "bad_category"),
        ("purpose", "Survey Invitation!", "bad_purpose"),
        ("body", "  ", "empty_body"),
        ("idempotency_key", "", "bad_idempotency_key"),
        ("channel", "email", "bad_channel"),
        ("link", "/survey/abc/", "bad_link"),
    ],
)
def test_bad_input_is_refused_with_a_code(field, value, code):
    with pytest.raises(DomainError) as err:
        enqueue(buyer(), **{field: value})
    assert err.value.code == code
    assert Message.objects.count() == 0


def test_quiet_hours_hold_until_the_window_opens(settings):
    settings.PUSH_QUIET_HOURS = "21:00-08:00"
    user = buyer(timezone="Asia/Shanghai")
    late = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)
    # 23:30 in Shanghai: the clock is the outside world here
    with mock.patch.object(dj_tz, "now", return_value=late):
        message = enqueue(user)
    assert message.status == MessageStatus.HELD
    assert message.next_attempt_at == datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # 08:00 Shanghai


# --- message_enqueue_many: a batch in a fixed number of queries ---------------------------------


def _request(user, key, **kw):
    args = {
        "user_id": user.pk,
        "category": MessageCategory.TRANSACTIONAL,
        "purpose": "survey_invitation",
        "body": f"Survey {key}",
        "link": "https://provena.example/survey/abc/",
        "idempotency_key": key,
    }
    args.update(kw)
    return services.MessageRequest(**args)


def test_a_batch_takes_the_same_queries_for_3_or_30(django_assert_num_queries, settings):
    settings.PUSH_KICK_AFTER_COMMIT = False
    few = [buyer(phone=f"+861380013{i:04d}") for i in range(3)]
    many = [buyer(phone=f"+861390013{i:04d}") for i in range(30)]

    # existing keys, contacts, messages, events (+ the savepoint's two statements)
    with django_assert_num_queries(6):
        services.message_enqueue_many(requests=[_request(u, f"a{u.pk}") for u in few])
    with django_assert_num_queries(6):
        rows = services.message_enqueue_many(requests=[_request(u, f"b{u.pk}") for u in many])

    assert len(rows) == 30
    assert {m.recipient for m in rows.values()} == {f"+861390013{i:04d}" for i in range(30)}
    assert MessageEvent.objects.filter(to_status="queued").count() == 33


def test_a_batch_writes_a_repeated_key_once_and_returns_existing_rows():
    user = buyer()
    first = enqueue(user, key="k1")

    rows = services.message_enqueue_many(
        requests=[
            _request(user, "k1", body="other text"),
            _request(user, "k2", body="first k2"),
            _request(user, "k2", body="second k2"),
        ]
    )

    assert rows["k1"].pk == first.pk
    assert rows["k1"].body == "Your parcel arrived. How was it?"
    assert rows["k2"].body == "first k2"
    assert Message.objects.count() == 2
    assert MessageEvent.objects.count() == 2


def test_one_bad_request_refuses_the_whole_batch():
    user, other = buyer(), buyer(phone="+8613900139000")
    enqueue(other, key="taken")

    with pytest.raises(DomainError) as bad:
        services.message_enqueue_many(requests=[_request(user, "fine"), _request(user, "taken")])
    assert bad.value.code == "idempotency_key_conflict"
    with pytest.raises(DomainError) as empty:
        services.message_enqueue_many(
            requests=[_request(user, "fine2"), _request(user, "x", body=" ")]
        )
    assert empty.value.code == "empty_body"

    assert list(Message.objects.values_list("idempotency_key", flat=True)) == ["taken"]


def test_a_batch_holds_each_buyer_by_their_own_clock(settings):
    settings.PUSH_QUIET_HOURS = "21:00-08:00"
    now = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai, 09:00 in New York
    shanghai, new_york = buyer(), buyer(phone="+8613900139001", timezone="America/New_York")

    with mock.patch("push.services.timezone.now", return_value=now):
        rows = services.message_enqueue_many(
            requests=[_request(shanghai, "s"), _request(new_york, "n")]
        )

    assert rows["s"].status == MessageStatus.HELD
    assert rows["s"].next_attempt_at == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 08:00 there
    assert rows["n"].status == MessageStatus.QUEUED
