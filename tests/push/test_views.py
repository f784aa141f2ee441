"""Receipts webhook, the opt-out page and the admin: views and permissions."""

import json
import logging

import pytest
from django.urls import reverse

from accounts.models import BuyerProfile
from push import services
from push.backends import sign
from push.models import Message
from tests.factories.accounts import PlatformAdminFactory, UserFactory

from .conftest import enqueue, make_buyer

pytestmark = pytest.mark.django_db


def post_receipts(client, settings, receipts, channel="sms", key=None, replies=None):
    payload = {"receipts": receipts}
    if replies is not None:
        payload["replies"] = replies
    body = json.dumps(payload).encode()
    secret = settings.PUSH_BACKENDS[channel]["WEBHOOK_KEY"] if key is None else key
    return client.post(
        f"/webhooks/messages/{channel}/",
        data=body,
        content_type="application/json",
        headers={"X-Push-Signature": sign(secret, body)},
    )


@pytest.fixture
def sent(provider):
    enqueue(make_buyer())
    services.messages_send_batch()
    return Message.objects.get()


def test_delivery_receipt_marks_delivered_and_replay_is_ignored(
    client, settings, sent, django_assert_num_queries
):
    # savepoint, lock the messages, bulk update, events, release
    with django_assert_num_queries(5):
        response = post_receipts(client, settings, [{"id": "k1", "status": "delivered"}])
    assert response.status_code == 200
    assert response.json()["applied"] == 1
    sent.refresh_from_db()
    assert sent.status == "delivered"
    assert sent.delivered_at is not None
    replay = post_receipts(client, settings, [{"id": "k1", "status": "failed"}])
    assert (replay.status_code, replay.json()["ignored"], replay.json()["applied"]) == (200, 1, 0)
    sent.refresh_from_db()
    assert sent.status == "delivered"
    assert list(sent.events.values_list("to_status", flat=True)) == [
        "queued",
        "sending",
        "sent",
        "delivered",
    ]


def test_failed_receipt_records_the_providers_answer(client, settings, sent):
    response = post_receipts(
        client, settings, [{"id": "k1", "status": "failed", "answer": "MBBLACK: blacklisted"}]
    )
    assert response.status_code == 200
    sent.refresh_from_db()
    assert (sent.status, sent.provider_answer) == ("failed", "MBBLACK: blacklisted")


def test_bad_signature_is_401_and_changes_nothing(client, settings, sent):
    response = post_receipts(
        client, settings, [{"id": "k1", "status": "delivered"}], key="wrong-key"
    )
    assert response.status_code == 401
    sent.refresh_from_db()
    assert sent.status == "sent"


def test_unknown_message_is_404(client, settings, sent):
    response = post_receipts(client, settings, [{"id": "nope", "status": "delivered"}])
    assert response.status_code == 404
    assert response.json()["unknown"] == ["nope"]


def test_unknown_channel_is_404_and_malformed_is_400(client, settings, sent):
    assert client.post("/webhooks/messages/email/", data=b"{}", content_type="x").status_code == 404
    bad = post_receipts(client, settings, [{"id": "k1", "status": "opened"}])
    assert bad.status_code == 400
    assert client.get("/webhooks/messages/sms/").status_code == 405


def test_sms_reply_td_unsubscribes_the_sender(client, settings, provider):
    user = make_buyer(marketing_consent=True)
    response = post_receipts(
        client, settings, [], replies=[{"from": "+8613800138000", "text": "td"}]
    )
    assert (response.status_code, response.json()["unsubscribed"]) == (200, 1)
    profile = BuyerProfile.objects.get(user=user)
    assert (profile.marketing_consent, profile.survey_consent) == (False, False)


def test_unsubscribe_page_get_shows_the_choice_and_changes_nothing(client):
    user = make_buyer(marketing_consent=True)
    url = reverse("push:unsubscribe", args=[services.unsubscribe_token(user.pk)])
    response = client.get(url)
    assert response.status_code == 200
    assert b"Stop messages from Provena" in response.content
    profile = BuyerProfile.objects.get(user=user)
    assert (profile.marketing_consent, profile.survey_consent) == (True, True)


def test_unsubscribe_page_post_withdraws_the_chosen_consents(client):
    user = make_buyer(marketing_consent=True)
    url = reverse("push:unsubscribe", args=[services.unsubscribe_token(user.pk)])
    response = client.post(url, {"marketing": "on"})
    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    profile = BuyerProfile.objects.get(user=user)
    assert (profile.marketing_consent, profile.survey_consent) == (False, True)
    assert profile.marketing_consent_at is not None


def test_unsubscribe_page_needs_a_choice(client):
    user = make_buyer()
    url = reverse("push:unsubscribe", args=[services.unsubscribe_token(user.pk)])
    response = client.post(url, {})
    assert response.status_code == 400
    assert b"Choose at least one kind of message to stop." in response.content


def test_unsubscribe_token_cannot_be_forged_for_another_buyer(client):
    victim = make_buyer(marketing_consent=True)
    attacker = make_buyer(phone="+8613900139000")
    token = services.unsubscribe_token(attacker.pk)
    forged = f"{victim.pk}:{token.split(':', 1)[1]}"
    assert client.post(f"/unsubscribe/{forged}/", {"marketing": "on"}).status_code == 404
    assert client.get("/unsubscribe/garbage/").status_code == 404
    assert BuyerProfile.objects.get(user=victim).marketing_consent is True


def test_admin_lists_messages_with_masked_phones_for_platform_staff(client, sent):
    admin_user = PlatformAdminFactory(is_staff=True)
    client.force_login(admin_user)
    listing = client.get("/admin/push/message/")
    assert listing.status_code == 200
    assert b"+86 138****8000" in listing.content
    assert b"+8613800138000" not in listing.content
    detail = client.get(f"/admin/push/message/{sent.pk}/change/")
    assert detail.status_code == 200
    assert b"+86 138****8000" in detail.content
    assert b"+8613800138000" not in detail.content
    assert client.post(f"/admin/push/message/{sent.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Message.objects.count() == 1


def test_admin_refuses_staff_who_are_not_platform_staff(client, sent):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert client.get("/admin/push/message/").status_code == 403
    assert client.get(f"/admin/push/message/{sent.pk}/change/").status_code == 403


def test_console_backend_logs_masked_phone(settings, caplog):
    settings.PUSH_QUIET_HOURS = ""
    settings.PUSH_BACKENDS = {
        **settings.PUSH_BACKENDS,
        "sms": {"BACKEND": "push.backends.console.ConsoleBackend"},
    }
    enqueue(make_buyer())
    with caplog.at_level(logging.INFO, logger="push.console"):
        services.messages_send_batch()
    assert "+86 138****8000" in caplog.text
    assert "+8613800138000" not in caplog.text
    assert str(Message.objects.get()) == "survey_invitation → +86 138****8000 (sent)"
