"""From a delivered parcel to a rating on the product page (seed 000 S3, S4)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from aftersales import selectors, services
from aftersales.models import InvitationEvent, RatingSummary, SurveyInvitation, SurveyResponse
from catalog.models import Product
from tests.factories import orders as f

pytestmark = pytest.mark.django_db


def test_a_delivered_unit_gets_an_invitation_sent_and_answered_into_the_product_rating(
    ship, deliver, sent_messages, client, settings
):
    settings.SURVEY_DELAY_AFTER_DELIVERY_HOURS = 0
    product = f.stocked_product(1)
    order, parcel = ship((product, 1))
    assert SurveyInvitation.objects.count() == 0  # shipped only: no invitation yet
    deliver(order, parcel)
    invitation = SurveyInvitation.objects.get()
    assert (invitation.product_id, invitation.buyer_id, invitation.order_number) == (
        product.pk,
        order.buyer_id,
        order.number,
    )
    assert (invitation.status, invitation.trigger) == ("pending", "delivered")

    assert services.invitations_send_due() == 1
    invitation.refresh_from_db()
    assert invitation.status == "sent"
    assert invitation.expires_at == invitation.sent_at + timedelta(days=30)
    [message] = sent_messages
    assert message["user"] == order.buyer
    assert message["link"].endswith(f"/survey/{services.invitation_token(invitation.pk)}/")
    assert "5 star" not in message["body"]
    assert "好评" not in message["body"]
    assert "star" not in message["body"].lower()

    url = reverse("aftersales:survey", args=[services.invitation_token(invitation.pk)])
    page = client.get(url)
    assert page.status_code == 200
    assert page["Referrer-Policy"] == "same-origin"
    response = client.post(url, {"overall": "4", "comment": "Fits well."})
    assert response.status_code == 302
    rating = SurveyResponse.objects.get()
    assert (rating.overall, rating.unit_id, rating.order_line_id) == (
        4,
        invitation.unit_id,
        invitation.order_line_id,
    )
    assert list(InvitationEvent.objects.values_list("kind", flat=True).order_by("id")) == [
        "created",
        "sent",
        "opened",
        "answered",
    ]
    product = Product.objects.get(pk=product.pk)
    assert (product.rating_avg, product.rating_count) == (Decimal("4.00"), 1)
    detail = client.get(reverse("catalog:product_detail", args=[product.slug]))
    html = detail.content.decode()
    assert "Fits well." in html
    assert "Verified purchase" in html
    assert client.get(url).status_code == 200  # thanks
    assert client.post(url, {"overall": "5"}).status_code == 410  # single use


def test_a_buyer_who_opted_out_gets_a_recorded_skip_and_no_message(
    ship, deliver, sent_messages, settings
):
    from accounts.models import BuyerProfile

    settings.SURVEY_DELAY_AFTER_DELIVERY_HOURS = 0
    buyer = f.buyer()
    BuyerProfile.objects.filter(user=buyer).update(survey_consent=False)
    product = f.stocked_product(1)
    order, parcel = ship((product, 1), buyer=buyer)
    deliver(order, parcel)
    invitation = SurveyInvitation.objects.get()
    assert invitation.status == "skipped"
    assert invitation.skip_reason == "The buyer turned order surveys off."
    assert services.invitations_send_due() == 0
    assert sent_messages == []


def test_shipped_without_delivery_is_invited_after_the_fallback_days(ship, sent_messages, settings):
    settings.SURVEY_FALLBACK_DAYS_AFTER_SHIPPING = 14
    product = f.stocked_product(2)
    ship((product, 2))
    assert services.invitations_create().created == 0
    later = timezone.now() + timedelta(days=14, minutes=1)
    result = services.invitations_create(now=later, batch_size=1)
    assert (result.created, result.batches) == (2, 2)
    assert set(SurveyInvitation.objects.values_list("trigger", flat=True)) == {"shipped"}
    assert services.invitations_create(now=later).created == 0  # once per unit


def test_the_sweep_batch_takes_a_fixed_number_of_queries(ship, settings, django_assert_num_queries):
    product = f.stocked_product(6)
    ship((product, 3))
    ship((product, 3))
    later = timezone.now() + timedelta(days=15)
    # Per batch: units, buyers, consents, savepoint/insert invitations, insert events (+ the
    # transaction's savepoints) and the closing empty read, whatever the batch's size.
    with django_assert_num_queries(7):
        result = services.invitations_create(now=later, batch_size=10)
    assert result.created == 6


def test_one_reminder_only_if_unanswered(ship, deliver, sent_messages, settings):
    settings.SURVEY_DELAY_AFTER_DELIVERY_HOURS = 0
    settings.SURVEY_REMINDER_AFTER_DAYS = 5
    product = f.stocked_product(1)
    order, parcel = ship((product, 1))
    deliver(order, parcel)
    services.invitations_send_due()
    assert services.invitations_remind_due() == 0
    later = timezone.now() + timedelta(days=5, minutes=1)
    assert services.invitations_remind_due(now=later) == 1
    assert services.invitations_remind_due(now=later) == 0
    assert [m["key"].rsplit(":", 1)[1] for m in sent_messages] == ["invitation", "reminder"]


def _sent_invitation(ship, deliver, settings, product=None):
    settings.SURVEY_DELAY_AFTER_DELIVERY_HOURS = 0
    product = product or f.stocked_product(1)
    order, parcel = ship((product, 1))
    deliver(order, parcel)
    services.invitations_send_due()
    return SurveyInvitation.objects.get(order_number=order.number)


def test_summary_average_count_distribution_and_hidden_text_still_counts(
    ship, deliver, sent_messages, settings
):
    from tests.factories.accounts import PlatformAdminFactory

    product = f.stocked_product(3)
    stars = [5, 4, 4]
    responses = []
    for n in stars:
        invitation = _sent_invitation(ship, deliver, settings, product=product)
        responses.append(
            services.survey_submit(invitation_id=invitation.pk, overall=n, comment="rude words")
        )
    services.response_hide(
        response_id=responses[0].pk, actor=PlatformAdminFactory(), reason="Abusive language"
    )
    ratings = selectors.product_ratings(product=Product.objects.get(pk=product.pk))
    assert (ratings.average, ratings.count) == (Decimal("4.3"), 3)
    assert [(b.stars, b.count, b.percent) for b in ratings.bars] == [
        (5, 1, 33),
        (4, 2, 67),
        (3, 0, 0),
        (2, 0, 0),
        (1, 0, 0),
    ]
    assert [r.hidden for r in ratings.recent] == [False, False, True]
    summary = RatingSummary.objects.get(pk=product.pk)
    rebuilt = services.rating_summary_rebuild(product=Product.objects.get(pk=product.pk))
    assert (rebuilt.count, rebuilt.total, rebuilt.stars_4) == (
        summary.count,
        summary.total,
        summary.stars_4,
    )
    assert Product.objects.get(pk=product.pk).rating_avg == Decimal("4.33")
