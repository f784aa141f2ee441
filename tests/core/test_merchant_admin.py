"""Merchant staff work in /admin/ but only ever see, find or touch their own merchant's objects."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts import roles
from accounts import services as account_services
from accounts.models import MerchantStatus
from catalog.models import ListingStatus, Product, ProductImage
from tests.factories import (
    CategoryFactory,
    MerchantFactory,
    PlatformAdminFactory,
    ProductFactory,
    ProductImageFactory,
    UserFactory,
    image_upload,
    merchant_staff,
)

pytestmark = pytest.mark.django_db

PRODUCTS = "/admin/catalog/product/"
IMAGES = "/admin/catalog/productimage/"


@pytest.fixture
def world(db):
    category = CategoryFactory(name="Skincare")
    a = MerchantFactory(name="Alpha Goods")
    b = MerchantFactory(name="Beta Goods")
    a_products = [
        ProductFactory(merchant=a, category=category, name="Alpha Serum"),
        ProductFactory(
            merchant=a, category=category, name="Alpha Cream", status=ListingStatus.DRAFT
        ),
    ]
    b_products = [
        ProductFactory(merchant=b, category=category, name="Beta Serum"),
        ProductFactory(
            merchant=b, category=category, name="Beta Secret Draft", status=ListingStatus.DRAFT
        ),
    ]
    return {
        "category": category,
        "a": a,
        "b": b,
        "a_staff": a.applicant,
        "a_staff_2": merchant_staff(a),
        "b_staff": b.applicant,
        "a_products": a_products,
        "b_products": b_products,
        "a_image": ProductImageFactory(product=a_products[0], alt="alpha bottle"),
        "b_image": ProductImageFactory(product=b_products[0], alt="beta bottle"),
        "platform": PlatformAdminFactory(),
    }


def _changelist_ids(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


# --- the product list and its popups ----------------------------------------------------------


@pytest.mark.parametrize("who", ["a_staff", "a_staff_2"])
def test_merchant_staff_see_only_their_products(client, world, who):
    client.force_login(world[who])

    response = client.get(PRODUCTS)

    assert response.status_code == 200
    assert _changelist_ids(response) == {p.pk for p in world["a_products"]}
    assert response.context["cl"].result_count == 2
    html = response.content.decode()
    assert "Alpha Serum" in html
    assert "Beta" not in html


def test_merchant_staff_search_stays_in_scope(client, world):
    client.force_login(world["a_staff"])

    response = client.get(PRODUCTS, {"q": "Serum"})

    assert _changelist_ids(response) == {world["a_products"][0].pk}


def test_raw_id_popup_of_products_shows_only_own(client, world):
    client.force_login(world["a_staff"])

    response = client.get(PRODUCTS, {"_to_field": "id", "_popup": "1"})

    assert response.status_code == 200
    assert _changelist_ids(response) == {p.pk for p in world["a_products"]}
    assert "Beta" not in response.content.decode()


def test_raw_id_popup_of_images_shows_only_own(client, world):
    client.force_login(world["a_staff"])

    response = client.get(IMAGES, {"_to_field": "id", "_popup": "1"})

    assert response.status_code == 200
    assert _changelist_ids(response) == {world["a_image"].pk}
    assert "beta bottle" not in response.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"app_label": "catalog", "model_name": "productimage", "field_name": "product"},
        {
            "app_label": "catalog",
            "model_name": "productimage",
            "field_name": "product",
            "term": "Serum",
        },
    ],
)
def test_autocomplete_of_products_shows_only_own(client, world, params):
    client.force_login(world["a_staff"])

    response = client.get("/admin/autocomplete/", params)

    assert response.status_code == 200
    found = {int(r["id"]) for r in json.loads(response.content)["results"]}
    expected = {p.pk for p in world["a_products"]}
    if "term" in params:
        expected = {world["a_products"][0].pk}
    assert found == expected


def test_autocomplete_of_merchants_is_refused_to_merchant_staff(client, world):
    client.force_login(world["a_staff"])

    response = client.get(
        "/admin/autocomplete/",
        {"app_label": "catalog", "model_name": "product", "field_name": "merchant"},
    )

    assert response.status_code == 403
    assert b"Beta Goods" not in response.content


def test_autocomplete_of_categories_is_shared(client, world):
    client.force_login(world["a_staff"])

    response = client.get(
        "/admin/autocomplete/",
        {"app_label": "catalog", "model_name": "product", "field_name": "category"},
    )

    assert [r["text"] for r in json.loads(response.content)["results"]] == ["Skincare"]


# --- another merchant's objects by URL: 404 ----------------------------------------------------


@pytest.mark.parametrize("suffix", ["change/", "delete/", "history/"])
def test_another_merchants_product_by_url_is_404(client, world, suffix):
    client.force_login(world["a_staff"])
    theirs = world["b_products"][1]

    response = client.get(f"{PRODUCTS}{theirs.pk}/{suffix}")

    assert response.status_code == 404
    assert b"Beta Secret Draft" not in response.content


@pytest.mark.parametrize("suffix", ["change/", "delete/"])
def test_another_merchants_image_by_url_is_404(client, world, suffix):
    client.force_login(world["a_staff"])

    response = client.get(f"{IMAGES}{world['b_image'].pk}/{suffix}")

    assert response.status_code == 404
    assert b"beta bottle" not in response.content


def test_own_product_change_page(client, world):
    client.force_login(world["a_staff"])

    response = client.get(f"{PRODUCTS}{world['a_products'][0].pk}/change/")

    assert response.status_code == 200
    # The merchant field is not offered to merchant staff at all.
    assert "merchant" not in response.context["adminform"].form.fields


def test_posting_a_delete_of_another_merchants_product_deletes_nothing(client, world):
    client.force_login(world["a_staff"])
    theirs = world["b_products"][0]

    response = client.post(f"{PRODUCTS}{theirs.pk}/delete/", {"post": "yes"})

    assert response.status_code == 404
    assert Product.objects.filter(pk=theirs.pk).exists()
    assert ProductImage.objects.filter(pk=world["b_image"].pk).exists()


def test_posting_a_change_of_another_merchants_product_changes_nothing(client, world):
    client.force_login(world["a_staff"])
    theirs = world["b_products"][0]

    response = client.post(
        f"{PRODUCTS}{theirs.pk}/change/",
        {**_product_form(world), "name": "Hijacked", "price": "0.50"},
    )

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert (theirs.name, theirs.price, theirs.merchant_id) == (
        "Beta Serum",
        100,
        world["b"].pk,
    )


def test_bulk_action_ignores_another_merchants_ids(client, world):
    client.force_login(world["a_staff"])
    mine, theirs = world["a_products"][1], world["b_products"][1]

    response = client.post(
        PRODUCTS,
        {"action": "list_products", "_selected_action": [mine.pk, theirs.pk], "index": "0"},
    )

    assert response.status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == ListingStatus.LISTED
    assert theirs.status == ListingStatus.DRAFT
    assert theirs.listed_at is None


# --- creating -----------------------------------------------------------------------------------


def _product_form(world, **overrides):
    data = {
        "name": "Alpha Toner",
        "slug": "alpha-toner",
        "category": str(world["category"].pk),
        "description": "Hydrating toner.",
        "price": "128.00",
        "currency": "CNY",
        "origin_country": "JP",
        "hs_code": "330499",
        "weight_grams": "200",
        "status": "listed",
        "listed_quantity_cap": "",
        "images-TOTAL_FORMS": "0",
        "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def test_merchant_staff_create_products_for_their_own_merchant_only(client, world):
    client.force_login(world["a_staff"])

    response = client.post(f"{PRODUCTS}add/", _product_form(world, merchant=str(world["b"].pk)))

    assert response.status_code == 302
    created = Product.objects.get(name="Alpha Toner")
    assert created.merchant_id == world["a"].pk
    assert (created.slug, created.price_cny, created.status) == ("alpha-toner", 128, "listed")
    assert created.listed_at is not None
    assert Product.objects.filter(merchant=world["b"]).count() == 2


def test_product_created_in_admin_with_an_image_goes_through_the_service(client, world):
    client.force_login(world["a_staff"])
    data = _product_form(
        world,
        **{
            "images-TOTAL_FORMS": "1",
            "images-0-image": image_upload("toner.png", width=800, height=600),
            "images-0-alt": "Toner bottle",
            "images-0-position": "0",
        },
    )

    response = client.post(f"{PRODUCTS}add/", data)

    assert response.status_code == 302
    product = Product.objects.get(name="Alpha Toner")
    image = product.images.get()
    assert product.cover_id == image.pk
    assert (image.alt, image.width, image.height) == ("Toner bottle", 800, 600)
    assert image.image.name == f"products/{product.pk}/toner.webp"
    assert image.thumbnail.name == f"products/{product.pk}/toner-thumb.webp"


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (
            SimpleUploadedFile("evil.png", b"<?php system($_GET['c']); ?>"),
            "Upload a valid image. The file you uploaded was either not an image or a corrupted "
            "image.",
        ),
        (
            image_upload("tiny.png", width=32, height=32),
            "The image is too small (32 x 32); use at least 64 pixels on each side.",
        ),
    ],
    ids=["not-an-image", "too-small"],
)
def test_admin_refuses_a_bad_image_with_the_reason(client, world, upload, message):
    client.force_login(world["a_staff"])
    data = _product_form(
        world,
        **{
            "images-TOTAL_FORMS": "1",
            "images-0-image": upload,
            "images-0-alt": "",
            "images-0-position": "0",
        },
    )

    response = client.post(f"{PRODUCTS}add/", data)

    assert response.status_code == 200
    [inline] = response.context["inline_admin_formsets"]
    assert inline.formset.errors == [{"image": [message]}]
    assert not Product.objects.filter(name="Alpha Toner").exists()
    assert ProductImage.objects.count() == 2


def test_admin_empty_slug_is_derived_from_the_name(client, world):
    client.force_login(world["a_staff"])

    first = client.post(f"{PRODUCTS}add/", _product_form(world, slug=""))
    second = client.post(f"{PRODUCTS}add/", _product_form(world, slug=""))

    assert first.status_code == second.status_code == 302
    assert sorted(Product.objects.filter(name="Alpha Toner").values_list("slug", flat=True)) == [
        "alpha-toner",
        "alpha-toner-2",
    ]


def test_admin_duplicate_slug_is_a_form_error(client, world):
    client.force_login(world["a_staff"])

    response = client.post(f"{PRODUCTS}add/", _product_form(world, slug="beta-serum"))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "slug": ["Product with this Slug already exists."]
    }
    assert not Product.objects.filter(name="Alpha Toner").exists()


def test_merchant_staff_cannot_attach_an_image_to_another_merchants_product(client, world):
    client.force_login(world["a_staff"])
    theirs = world["b_products"][0]

    response = client.post(
        f"{IMAGES}add/",
        {"product": str(theirs.pk), "image": image_upload(), "alt": "sneaky", "position": "3"},
    )

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert ProductImage.objects.filter(product=theirs).count() == 1


def test_merchant_staff_can_attach_an_image_to_their_own_product(client, world):
    client.force_login(world["a_staff"])
    mine = world["a_products"][1]

    response = client.post(
        f"{IMAGES}add/",
        {"product": str(mine.pk), "image": image_upload(), "alt": "mine", "position": "0"},
    )

    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.cover.alt == "mine"


# --- what merchant staff may not open at all ---------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/admin/accounts/merchant/",
        "/admin/accounts/user/",
        "/admin/accounts/buyerprofile/",
        "/admin/catalog/exchangerate/",
        "/admin/accounts/merchant/{a}/change/",
        "/admin/accounts/user/{a_staff}/change/",
    ],
)
def test_merchant_staff_cannot_open_platform_admin_pages(client, world, url):
    client.force_login(world["a_staff"])

    response = client.get(url.format(a=world["a"].pk, a_staff=world["a_staff"].pk))

    assert response.status_code == 403


def test_merchant_staff_admin_index_shows_only_their_apps(client, world):
    client.force_login(world["a_staff"])

    response = client.get("/admin/")

    apps = {
        app["app_label"]: sorted(m["object_name"] for m in app["models"])
        for app in response.context["app_list"]
    }
    # Verdicts, evidence and dispositions of their own units, and their disposition policy.
    assert apps.pop("authenticity") == ["AppraisalCase", "DispositionPolicy", "UnitDisposition"]
    apps.pop("warehouse", None)  # what merchants see of the warehouse is pinned with its admin
    # Their own order lines and the buyers waiting for their products; never whole orders.
    assert apps.pop("orders") == ["OrderLine", "StockNotice"]
    # Their products' survey questions, the invitations sent and the answers (to reply to).
    assert apps.pop("aftersales") == ["SurveyInvitation", "SurveyQuestion", "SurveyResponse"]
    assert apps == {"catalog": ["Category", "Product"]}


def test_merchant_staff_may_view_but_not_change_categories(client, world):
    client.force_login(world["a_staff"])
    category = world["category"]

    view = client.get(f"/admin/catalog/category/{category.pk}/change/")
    post = client.post(
        f"/admin/catalog/category/{category.pk}/change/",
        {"name": "Renamed", "slug": "renamed", "position": "0"},
    )
    delete = client.get(f"/admin/catalog/category/{category.pk}/delete/")

    assert view.status_code == 200
    assert post.status_code == 403
    assert delete.status_code == 403
    category.refresh_from_db()
    assert category.name == "Skincare"


def test_buyers_cannot_enter_the_admin(client, world):
    client.force_login(UserFactory())

    response = client.get(PRODUCTS)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_user_without_a_merchant_sees_no_products(client, world):
    # A customer service agent is staff with product view permission but no merchant.
    agent = account_services.user_grant_role(user=UserFactory(), role=roles.CUSTOMER_SERVICE)
    client.force_login(agent)

    assert client.get(PRODUCTS).status_code == 403
    assert client.get(f"{PRODUCTS}{world['a_products'][0].pk}/change/").status_code == 404


# --- suspension --------------------------------------------------------------------------------


def test_suspended_merchants_staff_lose_access(client, world):
    client.force_login(world["a_staff_2"])
    assert client.get(PRODUCTS).status_code == 200

    account_services.merchant_suspend(
        merchant=world["a"], actor=world["platform"], note="Counterfeit goods."
    )

    for url in ("/admin/", PRODUCTS, f"{PRODUCTS}{world['a_products'][0].pk}/change/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/")
    response = client.post(f"{PRODUCTS}add/", _product_form(world))
    assert response.status_code == 302
    assert not Product.objects.filter(name="Alpha Toner").exists()


def test_reapproved_merchants_staff_regain_access(client, world):
    account_services.merchant_suspend(merchant=world["a"], actor=world["platform"], note="Audit.")
    account_services.merchant_approve(merchant=world["a"], actor=world["platform"])
    client.force_login(world["a_staff_2"])

    response = client.get(PRODUCTS)

    assert response.status_code == 200
    assert _changelist_ids(response) == {p.pk for p in world["a_products"]}


# --- platform staff ---------------------------------------------------------------------------


def test_platform_admin_sees_every_merchants_products(client, world):
    client.force_login(world["platform"])

    response = client.get(PRODUCTS)

    assert _changelist_ids(response) == {p.pk for p in world["a_products"] + world["b_products"]}
    assert client.get(f"{PRODUCTS}{world['b_products'][1].pk}/change/").status_code == 200
    assert _changelist_ids(client.get(IMAGES, {"_to_field": "id", "_popup": "1"})) == {
        world["a_image"].pk,
        world["b_image"].pk,
    }


@pytest.mark.parametrize(
    "url",
    [
        "/admin/accounts/merchant/",
        "/admin/accounts/user/",
        "/admin/accounts/buyerprofile/",
        "/admin/catalog/exchangerate/",
    ],
)
def test_platform_admin_opens_platform_pages(client, world, url):
    client.force_login(world["platform"])

    assert client.get(url).status_code == 200


def test_platform_admin_can_assign_a_product_to_any_merchant(client, world):
    client.force_login(world["platform"])

    response = client.post(f"{PRODUCTS}add/", _product_form(world, merchant=str(world["b"].pk)))

    assert response.status_code == 302
    assert Product.objects.get(name="Alpha Toner").merchant_id == world["b"].pk


def test_platform_admin_approves_from_the_merchant_list(client, world):
    pending = MerchantFactory(status=MerchantStatus.PENDING, name="Gamma Pending")
    client.force_login(world["platform"])

    response = client.post(
        "/admin/accounts/merchant/",
        {"action": "approve", "_selected_action": [pending.pk], "note": "Licence checked."},
    )

    assert response.status_code == 302
    pending.refresh_from_db()
    pending.applicant.refresh_from_db()
    assert pending.status == MerchantStatus.APPROVED
    assert pending.review_note == "Licence checked."
    assert pending.applicant.merchant_id == pending.pk
    assert pending.applicant.is_staff is True


def test_platform_admin_reject_without_a_note_is_refused_with_a_message(client, world):
    pending = MerchantFactory(status=MerchantStatus.PENDING, name="Gamma Pending")
    client.force_login(world["platform"])

    response = client.post(
        "/admin/accounts/merchant/",
        {"action": "reject", "_selected_action": [pending.pk], "note": ""},
        follow=True,
    )

    assert "Gamma Pending: Say why the application is rejected." in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == MerchantStatus.PENDING


def test_merchant_list_hides_the_contact_phone(client, world):
    client.force_login(world["platform"])

    response = client.get(reverse("admin:accounts_merchant_change", args=[world["a"].pk]))

    html = response.content.decode()
    assert "+81312345678" not in html
    assert "+813****678" in html


# --- query counts ------------------------------------------------------------------------------

# The user (the session is cached), the platform-admin check, user and group permissions, the
# categories of the list filter, the scoped count twice (filtered and total), and one page of
# products with merchant and category joined.
CHANGELIST_QUERIES = 8


def test_merchant_product_changelist_queries_do_not_grow(client, world, django_assert_num_queries):
    client.force_login(world["a_staff"])
    client.get(PRODUCTS)

    with django_assert_num_queries(CHANGELIST_QUERIES):
        small = client.get(PRODUCTS)
    for n in range(20):
        ProductFactory(merchant=world["a"], category=world["category"], name=f"Alpha {n}")
    with django_assert_num_queries(CHANGELIST_QUERIES):
        large = client.get(PRODUCTS)

    assert small.context["cl"].result_count == 2
    assert large.context["cl"].result_count == 22
