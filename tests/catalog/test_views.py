import re
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse

from catalog.models import ListingStatus
from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = "/products/"
DASH = "\N{EN DASH}"  # the results count reads "1-24 of 30 products" with an en dash


def _text(response) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    html = response.content.decode()
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def _cards(response) -> list[str]:
    return [p.name for p in response.context["page"].products]


def _errors(response) -> list[str]:
    """The filter problems listed at the top of the form."""
    html = response.content.decode()
    block = re.search(r'<div class="form-errors" role="alert">(.*?)</div>', html, re.S)
    if not block:
        return []
    return [unescape(li).strip() for li in re.findall(r"<li>(.*?)</li>", block.group(1), re.S)]


@pytest.fixture
def catalogue(merchant):
    beauty = CategoryFactory(name="Beauty")
    serums = CategoryFactory(name="Serums", parent=beauty)
    health = CategoryFactory(name="Health")
    listed = [
        ProductFactory(merchant=merchant, category=serums, name="Vitamin C Serum", price=299),
        ProductFactory(merchant=merchant, category=beauty, name="Matte Lipstick", price=150),
        ProductFactory(merchant=merchant, category=health, name="Fish Oil", price=88),
    ]
    draft = ProductFactory(
        merchant=merchant, category=beauty, name="Secret Draft", status=ListingStatus.DRAFT
    )
    paused = ProductFactory(
        merchant=merchant, category=beauty, name="Paused Palette", status=ListingStatus.PAUSED
    )
    return {"listed": listed, "draft": draft, "paused": paused, "beauty": beauty}


# --- home ------------------------------------------------------------------------------------


def test_home_lists_categories_and_newest_listed_products(client, catalogue):
    response = client.get("/")

    assert response.status_code == 200
    assert [p.name for p in response.context["newest"]] == [
        "Fish Oil",
        "Matte Lipstick",
        "Vitamin C Serum",
    ]
    assert response.context["best_rated"] == []
    text = _text(response)
    assert "Beauty Serums" in text
    assert "Secret Draft" not in text
    assert "Paused Palette" not in text
    assert "Out of stock" in text


def test_home_with_an_empty_shop(client, db):
    response = client.get("/")

    assert response.status_code == 200
    assert "No products are listed yet." in _text(response)


def test_home_is_public_and_read_only(client, db):
    assert client.post("/").status_code == 405
    client.force_login(UserFactory())
    assert client.get("/").status_code == 200


# --- product list ----------------------------------------------------------------------------


def test_product_list_shows_listed_products_newest_first(client, catalogue):
    response = client.get(LIST)

    assert response.status_code == 200
    assert _cards(response) == ["Fish Oil", "Matte Lipstick", "Vitamin C Serum"]
    assert f"1{DASH}3 of 3 products" in _text(response)
    assert _errors(response) == []


def test_product_list_filters_by_query_category_and_price(client, catalogue):
    assert _cards(client.get(LIST, {"q": "serum"})) == ["Vitamin C Serum"]
    assert _cards(client.get(LIST, {"category": "beauty", "sort": "price_asc"})) == [
        "Matte Lipstick",
        "Vitamin C Serum",
    ]
    assert _cards(client.get(LIST, {"price_min": "100", "price_max": "200"})) == ["Matte Lipstick"]
    assert _cards(client.get(LIST, {"sort": "price_desc", "per_page": "48"})) == [
        "Vitamin C Serum",
        "Matte Lipstick",
        "Fish Oil",
    ]


def test_product_list_category_shows_breadcrumbs_and_title(client, catalogue):
    response = client.get(LIST, {"category": "serums"})

    assert [n.name for n in response.context["breadcrumbs"]] == ["Beauty", "Serums"]
    assert "<h1>Serums</h1>" in response.content.decode()


def test_product_list_search_title_escapes_the_query(client, catalogue):
    response = client.get(LIST, {"q": "<b>serum</b>"})

    html = response.content.decode()
    assert "<b>serum</b>" not in html
    assert "Results for “&lt;b&gt;serum&lt;/b&gt;”" in html


def test_product_list_nothing_matches(client, catalogue):
    response = client.get(LIST, {"q": "unobtainium"})

    assert response.status_code == 200
    assert _cards(response) == []
    assert "Nothing matches" in _text(response)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"price_min": "abc"}, "Min price (CNY): Enter a number."),
        (
            {"price_max": "1e400"},
            "Max price (CNY): Ensure that there are no more than 12 digits in total.",
        ),
        ({"price_min": "NaN"}, "Min price (CNY): Enter a number."),
        ({"price_min": "-5"}, "Min price (CNY): Ensure this value is greater than or equal to 0."),
        ({"page": "-1"}, "Page: Ensure this value is greater than or equal to 1."),
        ({"page": "abc"}, "Page: Enter a whole number."),
        ({"page": "99999999999"}, "Page: Ensure this value is less than or equal to 1000000."),
        (
            {"sort": "evil"},
            "Sort by: Select a valid choice. evil is not one of the available choices.",
        ),
        ({"category": "nope"}, "Category: There is no category “nope”."),
        (
            {"category": "no pe!"},
            "Category: Enter a valid “slug” consisting of letters, numbers, underscores or "
            "hyphens.",
        ),
        (
            {"per_page": "7"},
            "Per page: Select a valid choice. 7 is not one of the available choices.",
        ),
        (
            {"rating": "5"},
            "Rating: Select a valid choice. 5 is not one of the available choices.",
        ),
        (
            {"price_min": "100", "price_max": "50"},
            "Max price (CNY): The maximum price is below the minimum price.",
        ),
    ],
)
def test_product_list_bad_input_is_explained_and_ignored(client, catalogue, params, message):
    response = client.get(LIST, params)

    assert response.status_code == 200
    assert _errors(response) == [message]
    assert "Some filters were not understood and are ignored:" in _text(response)
    # The bad filter is dropped; the rest of the page still works.
    assert len(_cards(response)) >= 1


def test_product_list_keeps_the_valid_filters_when_one_is_bad(client, catalogue):
    response = client.get(LIST, {"category": "beauty", "price_min": "abc", "sort": "price_asc"})

    assert _cards(response) == ["Matte Lipstick", "Vitamin C Serum"]
    assert _errors(response) == ["Min price (CNY): Enter a number."]


def test_product_list_repeated_params_use_the_last(client, catalogue):
    response = client.get(f"{LIST}?sort=price_asc&sort=price_desc")

    assert response.status_code == 200
    assert _cards(response) == ["Vitamin C Serum", "Matte Lipstick", "Fish Oil"]


def test_product_list_pages(client, merchant):
    for n in range(30):
        ProductFactory(merchant=merchant, name=f"Item {n:02d}", price=Decimal(100 + n))

    first = client.get(LIST, {"sort": "price_asc"})
    second = client.get(LIST, {"sort": "price_asc", "page": "2"})
    beyond = client.get(LIST, {"sort": "price_asc", "page": "50"})

    assert len(_cards(first)) == 24
    assert _cards(second) == [f"Item {n:02d}" for n in range(24, 30)]
    assert f"25{DASH}30 of 30 products" in _text(second)
    assert 'href="?sort=price_asc&amp;page=1" rel="prev"' in second.content.decode()
    # A page past the end is the last page, not an error.
    assert beyond.status_code == 200
    assert _cards(beyond) == _cards(second)
    assert _errors(beyond) == []


def test_product_list_capped_count_reads_more_than(client, merchant, settings):
    settings.CATALOG_COUNT_CAP = 3
    for n in range(5):
        ProductFactory(merchant=merchant, name=f"Item {n}")

    response = client.get(LIST)

    assert f"1{DASH}5 of more than 3 products" in _text(response)


def test_product_list_htmx_gets_only_the_results_fragment(client, catalogue):
    response = client.get(LIST, {"q": "serum"}, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="results" id="results"')
    assert "<html" not in html
    assert "Vitamin C Serum" in html


def test_product_list_is_read_only(client, db):
    assert client.post(LIST).status_code == 405


# --- product detail --------------------------------------------------------------------------


def test_product_detail_of_a_listed_product(client, catalogue):
    serum = catalogue["listed"][0]
    image = ProductImageFactory(product=serum, alt="The bottle")

    response = client.get(f"/products/{serum.slug}/")

    assert response.status_code == 200
    assert response.context["product"] == serum
    assert response.context["images"] == [image]
    assert response.context["sellable"] == 0
    assert [n.name for n in response.context["breadcrumbs"]] == ["Beauty", "Serums"]
    text = _text(response)
    assert "Vitamin C Serum" in text
    assert "¥299.00" in text
    assert "Out of stock: no authenticated unit is available right now." in text
    assert f'src="{image.image.url}" alt="The bottle"' in response.content.decode()


def test_product_detail_foreign_price_shows_cny(client, merchant, rates):
    product = ProductFactory(merchant=merchant, name="Wallet", price=Decimal("30"), currency="USD")

    response = client.get(reverse("catalog:product_detail", args=[product.slug]))

    assert "US$30.00 ≈ ¥213.00" in _text(response)


@pytest.mark.parametrize("key", ["draft", "paused"])
def test_product_detail_of_an_unlisted_product_is_404(client, catalogue, key):
    response = client.get(f"/products/{catalogue[key].slug}/")

    assert response.status_code == 404
    assert "Page not found" in _text(response)
    assert catalogue[key].name not in _text(response)


def test_product_detail_of_an_unknown_product_is_404(client, db):
    assert client.get("/products/no-such-thing/").status_code == 404


def test_product_detail_hides_unlisted_products_even_from_their_merchant(client, catalogue):
    client.force_login(catalogue["draft"].merchant.applicant)

    assert client.get(f"/products/{catalogue['draft'].slug}/").status_code == 404


def test_product_detail_is_read_only(client, catalogue):
    assert client.post(f"/products/{catalogue['listed'][0].slug}/").status_code == 405
