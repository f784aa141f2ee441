"""Invitations go through push's outbox (the real one) on the buyer's preferred channel."""

import pytest

from aftersales import services
from aftersales.models import SurveyInvitation
from push import selectors as push_selectors
from tests.factories import orders as f

pytestmark = pytest.mark.django_db


def test_the_invitation_is_an_outbox_message_with_the_signed_link(ship, deliver, settings):
    from accounts.models import BuyerProfile

    settings.SURVEY_DELAY_AFTER_DELIVERY_HOURS = 0
    buyer = f.buyer()
    BuyerProfile.objects.update_or_create(
        user=buyer, defaults={"phone": "+8613800138000", "preferred_channel": "sms"}
    )
    order, parcel = ship((f.stocked_product(1), 1), buyer=buyer)
    deliver(order, parcel)
    assert services.invitations_send_due() == 1
    invitation = SurveyInvitation.objects.get()
    key = f"survey:{invitation.pk}:invitation"
    statuses = push_selectors.message_statuses(idempotency_keys=[key])
    assert set(statuses) == {key}
    assert invitation.message_status == statuses[key]
    assert (invitation.status, invitation.channel) == ("sent", "sms")
    assert statuses[key] in ("queued", "held", "sending", "sent", "delivered")
