"""A merchant's staff add a product with a photo in the console, list it, and see only their own."""

import re

import pytest
from playwright.sync_api import Page, expect

from .helpers import PASSWORD, png_upload

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_merchant_staff_adds_a_product_with_an_image_and_lists_it(
    page: Page, live_server, catalog, tmp_path
):
    photo = tmp_path / "matcha.png"
    photo.write_bytes(png_upload("matcha.png", (96, 140, 70)).getvalue())

    # given the staff of an approved merchant in the console
    page.goto("/admin/")
    page.get_by_label("Username").fill(catalog.merchant_staff_email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Merchant and platform console")).to_be_visible()

    # only their own products are in the list
    page.get_by_role("link", name="Products", exact=True).click()
    expect(page.get_by_role("heading", name="Select product to change")).to_be_visible()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(3)
    expect(page.get_by_role("link", name="Rose Hydrating Face Serum")).to_be_visible()
    for foreign in (
        "Italian Leather Tote Bag",
        "Swiss Automatic Field Watch",
        "Milano Draft Wallet",
    ):
        expect(page.get_by_role("link", name=foreign)).to_have_count(0)

    # when they add a product with a photo
    page.get_by_role("link", name="Add product").click()
    expect(page.get_by_role("heading", name="Add product")).to_be_visible()
    page.get_by_label("Name:").fill("Uji Ceremonial Matcha 30g")
    page.get_by_label("Slug:").fill("uji-ceremonial-matcha-30g")
    # Category is an autocomplete (select2): open it, type, pick the suggestion.
    page.locator(".field-category").get_by_role("combobox").click()
    suggestions = page.locator(".select2-dropdown")
    suggestions.get_by_role("searchbox").fill("Skin")
    suggestions.get_by_role("option", name="Skincare").click()
    page.get_by_label("Description:").fill("Stone-ground first-flush tencha from Uji, Kyoto.")
    page.get_by_label("Price:").fill("3800")
    page.get_by_label("Currency:").select_option("JPY")
    page.get_by_label("Country of origin:").select_option("JP")
    page.get_by_label("HS code:").fill("090210")
    page.get_by_label("Weight (g):").fill("30")
    expect(page.get_by_label("Listing status:")).to_have_value("draft")
    images = page.get_by_role("group", name=re.compile("Product images"))
    # The inline table has column headers, not labels: the row's file input is the way in.
    images.locator("input[type=file]").first.set_input_files(photo)
    images.get_by_role("textbox").first.fill("Tin of matcha")
    page.get_by_role("button", name="Save", exact=True).click()

    # then it is saved as a draft with its image, and not on the shop yet
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    expect(rows).to_have_count(4)
    new_row = rows.filter(has=page.get_by_role("link", name="Uji Ceremonial Matcha 30g"))
    expect(new_row).to_contain_text("Draft")
    expect(page.get_by_role("link", name="Italian Leather Tote Bag")).to_have_count(0)
    page.goto("/products/?q=matcha")
    expect(page.get_by_role("heading", name="Nothing matches")).to_be_visible()

    # when they list it with the admin action
    page.goto("/admin/catalog/product/")
    new_row.get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option(label="List selected products")
    page.get_by_role("button", name="Run").click()
    expect(page.locator(".messagelist")).to_contain_text("1 product listed.")
    expect(new_row).to_contain_text("Listed")

    # then buyers find it on /products/ with its photo
    page.goto("/products/")
    card = page.locator("#results").get_by_role("listitem").filter(has_text="Uji Ceremonial")
    expect(card).to_contain_text("Kyoto Atelier Co.")
    expect(card).to_contain_text("JP¥3,800")
    thumb = card.get_by_role("img", name="Tin of matcha")
    expect(thumb).to_be_visible()
    assert thumb.evaluate("img => img.complete && img.naturalWidth") > 0, "thumbnail not served"
    card.get_by_role("link", name="Uji Ceremonial Matcha 30g").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Uji Ceremonial Matcha 30g")
    expect(page.get_by_role("img", name="Tin of matcha")).to_be_visible()
