"""The real HTTP backends against the fake provider: a real HTTP server on 127.0.0.1."""

import pytest

from accounts import services as accounts_services
from push import services
from push.states import MessageCategory
from tests.factories.accounts import UserFactory
from tests.factories.push import start_fake_provider


@pytest.fixture
def provider(settings):
    fake = start_fake_provider(settings)
    settings.PUSH_QUIET_HOURS = ""
    settings.PUSH_HTTP_TIMEOUT = 1
    yield fake
    fake.stop()


def make_buyer(**profile):
    user = UserFactory()
    data = {"phone": "+8613800138000", "preferred_channel": "sms"}
    data.update(profile)
    accounts_services.buyer_profile_update(user=user, data=data)
    return user


def enqueue(user, key="k1", **kw):
    args = {
        "user": user,
        "category": MessageCategory.TRANSACTIONAL,
        "purpose": "survey_invitation",
        "body": "Your parcel arrived. How was it?",
        "link": "https://provena.example/survey/abc/",
        "idempotency_key": key,
    }
    args.update(kw)
    return services.message_enqueue(**args)
