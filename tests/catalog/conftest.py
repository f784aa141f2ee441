import pytest

from catalog import services
from tests.factories import MerchantFactory


@pytest.fixture
def rates(db):
    """The platform's bootstrap exchange rates (USD 7.10, EUR 7.70, JPY 0.047, ...)."""
    services.exchange_rates_ensure_defaults()


@pytest.fixture
def merchant(db):
    return MerchantFactory()
