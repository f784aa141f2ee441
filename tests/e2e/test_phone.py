"""On a phone-sized screen the storefront fits the width and search works."""

import pytest
from playwright.sync_api import Page, expect

from .helpers import PHONE, assert_no_horizontal_scroll, screenshot

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    # An iPhone-sized screen: 390 CSS pixels wide, touch, at twice the pixel density.
    pytest.mark.browser_context_args(
        viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    ),
]


def test_phone_visitor_browses_and_searches_without_sideways_scrolling(
    page: Page, live_server, catalog
):
    page.goto("/")
    expect(
        page.get_by_role("heading", name="Authentic goods from around the world")
    ).to_be_visible()
    expect(
        page.get_by_role("region", name="Newest arrivals").get_by_role("listitem")
    ).to_have_count(5)
    assert_no_horizontal_scroll(page)
    screenshot(page, "phone-home")

    page.get_by_role("link", name="Browse all products").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("All products")
    results = page.locator("#results")
    expect(results.get_by_role("heading", level=3)).to_have_count(5)
    assert_no_horizontal_scroll(page)
    screenshot(page, "phone-product-list")

    # the header search box is reachable and works on a phone
    search = page.get_by_role("search").get_by_role("searchbox", name="Search products")
    search.tap()
    search.fill("leather tote")
    page.get_by_role("search").get_by_role("button", name="Search").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("Results for “leather tote”")
    expect(results.get_by_role("heading", level=3)).to_have_text(["Italian Leather Tote Bag"])
    assert_no_horizontal_scroll(page)

    results.get_by_role("link", name="Italian Leather Tote Bag").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("Italian Leather Tote Bag")
    expect(page.locator(".product__price")).to_have_text("€320.00 ≈ ¥2,464.00")
    expect(page.get_by_text("Sold by Milano Pelle S.r.l.")).to_be_visible()
    # No description was written, so there is no empty "Description" section either.
    expect(page.get_by_role("heading", name="Description")).to_have_count(0)
    assert_no_horizontal_scroll(page)
    screenshot(page, "phone-product-detail")

    # the product with the longest name still fits
    page.goto(f"/products/{catalog.long_name.slug}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ultra-Moisturising")
    assert_no_horizontal_scroll(page)
