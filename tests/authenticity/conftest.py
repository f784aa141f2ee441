"""Units in the warehouse, built through the warehouse and authenticity services."""

import pytest

from accounts import roles
from accounts.services import user_grant_role
from authenticity import services as authenticity
from authenticity.models import Verdict
from tests.factories import CategoryFactory, ProductFactory, UserFactory, image_upload
from warehouse import services as warehouse
from warehouse.models import StockUnit


def staff(role: str, **kwargs):
    return user_grant_role(user=UserFactory(**kwargs), role=role)


def receive(product, n: int, clerk) -> list[StockUnit]:
    """n units of a product announced by its merchant and received by the clerk, by pk."""
    shipment = warehouse.inbound_announce(
        merchant=product.merchant,
        actor=product.merchant.applicant,
        carrier="SF Express",
        waybill="SF100200300",
        lines=[(product, n)],
    )
    received = warehouse.inbound_receive(shipment=shipment, counts={product.pk: n}, actor=clerk)
    return list(StockUnit.objects.filter(pk__in=received.unit_ids).order_by("pk"))


def photo():
    return image_upload(width=120, height=120)


def reject(unit, *, verdict: str, first, second=None):
    """A final failing verdict: counterfeit/inconclusive need the second appraiser."""
    authenticity.appraisal_record(
        item_number=unit.item_number,
        appraiser=first,
        verdict=verdict,
        notes="Found a problem",
        photos=[photo()],
    )
    if verdict in (Verdict.COUNTERFEIT, Verdict.INCONCLUSIVE):
        authenticity.appraisal_record(
            item_number=unit.item_number,
            appraiser=second,
            verdict=verdict,
            notes="Confirmed",
            photos=[photo()],
        )
    unit.refresh_from_db()
    return unit


@pytest.fixture
def clerk(db):
    return staff(roles.WAREHOUSE, email="clerk@provena.example")


@pytest.fixture
def appraiser(db):
    return staff(roles.APPRAISER, email="first@provena.example")


@pytest.fixture
def appraiser2(db):
    return staff(roles.APPRAISER, email="second@provena.example")


@pytest.fixture
def category(db):
    return CategoryFactory(name="Handbags")


@pytest.fixture
def product(category):
    return ProductFactory(category=category, name="Quilted Flap Bag")


@pytest.fixture
def units(product, clerk):
    return receive(product, 3, clerk)
