"""Browser journeys: Debian's chromium against pytest-django's live server.

Every test here runs on `transactional_db`: the live server thread must see committed rows. The
flush between those tests also empties what migrations wrote (the role groups), so fixtures that
need roles put them back with the same function the migration runs.

Serialized rollback is no help here: once Playwright's sync API has started, Django's connection
objects (context-local, asgiref) are new ones without `_test_serialized_contents`, so when an
ordinary test created the test database first, nothing would be restored.
"""

import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import CHROMIUM, _missing

from .helpers import DESKTOP, approved_merchant, png_upload, user_create

# Playwright's sync API runs an event loop in the test thread; Django would otherwise refuse
# every ORM call made from a test while a page is open.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

expect.set_options(timeout=10_000)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        _missing(f"no browser at {CHROMIUM} (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args, live_server):
    return {
        **browser_context_args,
        "base_url": live_server.url,
        "viewport": DESKTOP,
        "locale": "en-US",
        "timezone_id": "Asia/Shanghai",
    }


@pytest.fixture
def page(context) -> Page:
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


@dataclass
class Catalog:
    merchant: object
    other_merchant: object
    merchant_staff_email: str
    serum: object
    long_name: object
    tote: object
    other_product: object


@pytest.fixture
def platform_admin():
    from django.apps import apps

    from accounts import roles
    from accounts.services import user_grant_role

    roles.sync_role_permissions(apps)
    return user_grant_role(user=user_create("ops@provena.example"), role=roles.PLATFORM_ADMIN)


@pytest.fixture
def catalog(platform_admin) -> Catalog:
    from catalog.models import ListingStatus
    from catalog.services import (
        category_create,
        exchange_rates_ensure_defaults,
        product_create,
        product_image_add,
    )

    exchange_rates_ensure_defaults()
    beauty = category_create(name="Beauty", name_zh="美妆", position=1)
    skincare = category_create(name="Skincare", name_zh="护肤", parent=beauty)
    bags = category_create(name="Bags", name_zh="箱包", position=2)
    watches = category_create(name="Watches", name_zh="腕表", position=3)

    merchant = approved_merchant(
        name="Kyoto Atelier Co.",
        licence="JP-0101-7788",
        staff_email="staff@kyoto-atelier.example",
        actor=platform_admin,
    )
    other = approved_merchant(
        name="Milano Pelle S.r.l.",
        licence="IT-5521-0042",
        staff_email="staff@milano-pelle.example",
        actor=platform_admin,
    )

    def listed(**kwargs):
        return product_create(status=ListingStatus.LISTED, **kwargs)

    serum = listed(
        merchant=merchant,
        category=skincare,
        name="Rose Hydrating Face Serum",
        description="A light serum with rose water and hyaluronic acid.\nMade in Kyoto.",
        price=Decimal("49.00"),
        currency="USD",
        origin_country="JP",
        hs_code="330499",
        weight_grams=120,
    )
    product_image_add(product=serum, upload=png_upload("serum.png", (214, 120, 140)), alt="Serum")
    listed(
        merchant=merchant,
        category=skincare,
        name="Camellia Cleansing Oil",
        price=Decimal("3200"),
        currency="JPY",
        origin_country="JP",
        hs_code="330499",
        weight_grams=200,
    )
    long_name = listed(
        merchant=merchant,
        category=skincare,
        # Long names are normal on cross-border listings; the layout has to cope.
        name=(
            "Ultra-Moisturising Overnight Sleeping Mask with Hyaluronic Acid, Ceramides and "
            "Centella Asiatica Extract, 100ml Family Size"
        ),
        price=Decimal("268.00"),
        origin_country="KR",
        hs_code="330499",
        weight_grams=150,
    )
    tote = listed(
        merchant=other,
        category=bags,
        name="Italian Leather Tote Bag",
        price=Decimal("320.00"),
        currency="EUR",
        origin_country="IT",
        hs_code="420221",
        weight_grams=900,
    )
    product_image_add(product=tote, upload=png_upload("tote.png", (133, 88, 52)), alt="Tote")
    listed(
        merchant=other,
        category=watches,
        name="Swiss Automatic Field Watch",
        price=Decimal("4999.00"),
        origin_country="CH",
        hs_code="910211",
        weight_grams=80,
    )
    other_product = product_create(
        merchant=other,
        category=bags,
        name="Milano Draft Wallet",
        price=Decimal("89.00"),
        currency="EUR",
        origin_country="IT",
        hs_code="420231",
        weight_grams=100,
    )
    return Catalog(
        merchant=merchant,
        other_merchant=other,
        merchant_staff_email="staff@kyoto-atelier.example",
        serum=serum,
        long_name=long_name,
        tote=tote,
        other_product=other_product,
    )
