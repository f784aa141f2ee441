"""A buyer signs up, browses, searches, reads a product page, switches language, edits a profile."""

import re

import pytest
from django.utils import translation
from playwright.sync_api import Page, expect

from .helpers import PASSWORD, login, screenshot, verified_buyer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CONFIRM_LINK = re.compile(r"https?://\S+/accounts/confirm-email/[^/\s]+/")


def zh(text: str) -> str:
    with translation.override("zh-hans"):
        return translation.gettext(text)


def test_buyer_signs_up_confirms_email_browses_and_switches_language(
    page: Page, live_server, mailoutbox, catalog
):
    # given a visitor on the sign-up page
    page.goto("/accounts/signup/")
    page.get_by_label("Email").fill("mei@buyer.example")
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    screenshot(page, "desktop-signup")

    # when they sign up
    page.get_by_role("button", name="Sign Up").click()

    # then they are asked to verify their email, and exactly one message is on its way
    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    assert [m.to for m in mailoutbox] == [["mei@buyer.example"]]
    link = CONFIRM_LINK.search(mailoutbox[0].body)
    assert link, mailoutbox[0].body
    assert link.group(0).startswith(live_server.url)

    # when they open the link and confirm
    page.goto(link.group(0))
    expect(page.get_by_role("heading", name="Confirm Email Address")).to_be_visible()
    page.get_by_role("button", name="Confirm").click()

    # then they are logged in on the home page
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("link", name="My account")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_role("link", name="Log in")).to_have_count(0)

    # the home page lists the root categories and the newest products
    categories = page.get_by_role("region", name="Categories")
    for name in ("Beauty", "Bags", "Watches"):
        expect(categories.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(categories.get_by_role("link", name="Skincare")).to_be_visible()
    newest = page.get_by_role("region", name="Newest arrivals")
    expect(newest.get_by_role("listitem")).to_have_count(5)
    screenshot(page, "desktop-home")

    # a root category shows the products of its sub-categories, and only those
    categories.get_by_role("link", name="Beauty", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Beauty")
    results = page.locator("#results")
    expect(results.get_by_role("heading", level=3)).to_have_count(3)
    expect(results.get_by_role("link", name="Rose Hydrating Face Serum")).to_be_visible()
    expect(results.get_by_role("link", name="Italian Leather Tote Bag")).to_have_count(0)
    expect(results.get_by_text("1\N{EN DASH}3 of 3 products")).to_be_visible()

    # searching from the header finds a product by a word of its name
    search = page.get_by_role("search").get_by_role("searchbox", name="Search products")
    search.fill("serum")
    search.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Results for “serum”")
    expect(results.get_by_role("heading", level=3)).to_have_text(["Rose Hydrating Face Serum"])
    screenshot(page, "desktop-product-list")

    # the product page shows name, price (with its CNY equivalent), merchant and stock
    results.get_by_role("link", name="Rose Hydrating Face Serum").click()
    expect(page).to_have_url(f"{live_server.url}/products/{catalog.serum.slug}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Rose Hydrating Face Serum")
    expect(page.locator(".product__price")).to_have_text("US$49.00 ≈ ¥347.90")
    expect(page.get_by_text("Sold by Kyoto Atelier Co.")).to_be_visible()
    # No unit has been received and authenticated yet, so nothing is sellable.
    expect(page.get_by_text("Out of stock")).to_be_visible()
    gallery = page.get_by_role("img", name="Serum")
    expect(gallery).to_be_visible()
    assert gallery.evaluate("img => img.complete && img.naturalWidth") > 0, "image not served"
    screenshot(page, "desktop-product-detail")

    # when they switch the language in the footer
    footer = page.get_by_role("contentinfo")
    footer.get_by_label("Language").select_option(label="简体中文")
    footer.get_by_role("button", name="Change").click()

    # then the same page comes back in Simplified Chinese
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page).to_have_url(f"{live_server.url}/products/{catalog.serum.slug}/")
    # Category names are data with a Chinese name: they do not depend on the message catalog.
    breadcrumbs = page.get_by_role("navigation", name=zh("Breadcrumb"))
    expect(breadcrumbs).to_contain_text("美妆")
    expect(breadcrumbs).to_contain_text("护肤")
    # Interface text comes from locale/zh_Hans when it is compiled; ask the same catalog the
    # server uses, so the check follows the translations instead of hard-coding them.
    all_products = zh("All products")
    if all_products != "All products":
        expect(page.get_by_role("banner").get_by_role("link", name=all_products)).to_be_visible()
        expect(page.get_by_role("heading", name=zh("Description"))).to_be_visible()
    screenshot(page, "desktop-product-detail-zh")


def test_buyer_fixes_a_bad_phone_and_adds_a_default_address(page: Page, live_server):
    verified_buyer("li.wei@buyer.example")
    login(page, email="li.wei@buyer.example")
    page.get_by_role("link", name="My account").click()
    expect(page.get_by_role("heading", name="My account", level=1)).to_be_visible()

    # a phone number that is not a phone number is refused next to the field
    profile = page.get_by_role("region", name="Profile and messages")
    phone = profile.get_by_label("Mobile phone")
    phone.fill("12345")
    profile.get_by_role("button", name="Save profile").click()
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_have_accessible_description(re.compile("in international form"))
    expect(page.get_by_role("status")).to_have_count(0)

    # a mainland mobile number is accepted and stored in international form
    phone.fill("138 0013 8000")
    profile.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_have_text("Your profile is saved.")
    expect(phone).to_have_value("+8613800138000")
    expect(phone).not_to_have_attribute("aria-invalid", "true")

    # the first address becomes the default
    addresses = page.get_by_role("region", name="Delivery addresses")
    expect(addresses.get_by_text("No address yet.")).to_be_visible()
    addresses.get_by_role("link", name="Add an address").click()
    expect(page.get_by_role("heading", name="New address")).to_be_visible()
    page.get_by_label("Recipient").fill("Li Wei")
    page.get_by_label("Phone").fill("13900139000")
    expect(page.get_by_label("Country")).to_have_value("CN")
    page.get_by_label("Province / state").fill("Zhejiang")
    page.get_by_label("City").fill("Hangzhou")
    page.get_by_label("District").fill("Xihu")
    page.get_by_label("Street address").fill("18 Wensan Road, Building 3, Room 402")
    page.get_by_label("Postal code").fill("310012")
    page.get_by_role("button", name="Save address").click()

    expect(page.get_by_role("status")).to_have_text("Address saved.")
    entries = addresses.get_by_role("listitem")
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text("Li Wei Default")
    expect(entries.first).to_contain_text("Zhejiang Hangzhou Xihu")
    expect(entries.first).to_contain_text("18 Wensan Road, Building 3, Room 402 310012")
