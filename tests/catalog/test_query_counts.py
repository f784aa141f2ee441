"""Query counts of the public pages are pinned: they must not grow with the catalogue."""

import re
from decimal import Decimal

import pytest
from django.core.cache import cache

from tests.factories import (
    CategoryFactory,
    ProductFactory,
    ProductImageFactory,
    image_upload,
    product_rate,
)

pytestmark = pytest.mark.django_db

# Anonymous, cold caches: the capped count, the page of products (merchant and cover joined
# in), the category tree, and the sellable stock of the page (one counter read).
LIST_QUERIES = 4
# The same page again, its content cached (catalog.fragments): only the live stock is read.
LIST_QUERIES_CACHED = 1
# The product with its category and merchant's name joined, its images, the tree, its stock.
DETAIL_QUERIES = 4
# Cached (the product with its page): only the live stock is read.
DETAIL_QUERIES_CACHED = 1
# Newest, best rated, the category tree, and one stock read for both rows (none when empty).
HOME_QUERIES = 4
HOME_QUERIES_CACHED = 1

CARD = re.compile(r'<li class="card">')


def _shown(response) -> int:
    return len(CARD.findall(response.content.decode()))


def _add_products(merchant, categories, start, stop):
    for n in range(start, stop):
        product = ProductFactory(
            merchant=merchant,
            category=categories[n % len(categories)],
            name=f"Item {n:03d}",
            price=Decimal(10 + n),
            currency=("CNY", "USD", "JPY")[n % 3],
        )
        # Every card shows a cover thumbnail and a rating: both must come from the one query.
        ProductImageFactory(product=product, upload=image_upload(width=64, height=64))
        product_rate(product, avg="4.50", count=n + 1)


@pytest.fixture
def categories(db):
    root = CategoryFactory(name="Beauty")
    return [root, CategoryFactory(name="Skincare", parent=root), CategoryFactory(name="Health")]


LIST_PARAMS = [
    {},
    {"sort": "price_asc"},
    {"category": "beauty", "sort": "rating"},
    {"q": "item", "price_min": "20", "rating": "4", "sort": "price_desc"},
    {"page": "2"},
]


def _list_queries(client, django_assert_num_queries) -> dict[tuple[int, int], int]:
    """Cards shown per (page size, LIST_PARAMS index): LIST_QUERIES each with cold caches,
    LIST_QUERIES_CACHED when asked again (the same cards)."""
    shown = {}
    for per_page in (24, 96):
        for i, params in enumerate(LIST_PARAMS):
            cache.clear()
            query = {**params, "per_page": str(per_page)}
            with django_assert_num_queries(LIST_QUERIES):
                response = client.get("/products/", query)
            assert response.status_code == 200
            shown[per_page, i] = _shown(response)
            with django_assert_num_queries(LIST_QUERIES_CACHED):
                again = client.get("/products/", query)
            assert _shown(again) == shown[per_page, i]
    return shown


def test_product_list_queries_do_not_grow_with_the_catalogue(
    client, merchant, rates, categories, django_assert_num_queries
):
    # Every filter/sort/page combination, at 24 and 96 a page, costs LIST_QUERIES both with
    # 30 products and with 200 in the database.
    _add_products(merchant, categories, 0, 30)
    small = _list_queries(client, django_assert_num_queries)

    _add_products(merchant, categories, 30, 200)
    large = _list_queries(client, django_assert_num_queries)

    assert small[24, 0] == 24
    assert small[96, 0] == 30
    # Full pages with 200 products (category "beauty" holds 2 of the 3 categories), so every
    # card was rendered under the pinned count.
    for per_page in (24, 96):
        assert [large[per_page, i] for i in (0, 1, 2, 4)] == [per_page] * 4


def test_product_list_with_a_warm_tree_cache(
    client, merchant, rates, categories, django_assert_num_queries
):
    _add_products(merchant, categories, 0, 30)
    client.get("/products/")

    with django_assert_num_queries(LIST_QUERIES - 1):
        client.get("/products/", {"category": "skincare"})


@pytest.mark.postgres
@pytest.mark.parametrize("per_page", ["24", "96"])
def test_a_search_by_relevance_counts_while_it_ranks(
    client, merchant, rates, categories, django_assert_num_queries, per_page
):
    _add_products(merchant, categories, 0, 120)

    with django_assert_num_queries(LIST_QUERIES) as captured:
        response = client.get("/products/", {"q": "item", "per_page": per_page})

    # Ranking reads every match anyway: it counts them too (no count query of its own), on the
    # product table alone; the page's products are read with their merchant and cover after.
    sql = [q["sql"] for q in captured.captured_queries]
    [ranking] = [q for q in sql if "COUNT(*) OVER ()" in q]
    assert "ts_rank" in ranking
    assert "accounts_merchant" not in ranking
    assert not [q for q in sql if q.startswith("SELECT COUNT(")]
    assert _shown(response) == int(per_page)
    assert "of 120 products" in response.content.decode()


def test_product_list_stays_within_budget():
    assert LIST_QUERIES <= 6
    assert LIST_QUERIES_CACHED <= LIST_QUERIES


@pytest.mark.parametrize("images", [1, 5])
def test_product_detail_queries_do_not_grow_with_images(
    client, merchant, categories, django_assert_num_queries, images
):
    product = ProductFactory(merchant=merchant, category=categories[1], name="Serum")
    for _ in range(images):
        ProductImageFactory(product=product, upload=image_upload(width=64, height=64))

    cache.clear()
    with django_assert_num_queries(DETAIL_QUERIES):
        response = client.get(f"/products/{product.slug}/")
    with django_assert_num_queries(DETAIL_QUERIES_CACHED):
        again = client.get(f"/products/{product.slug}/")

    for page in (response, again):
        html = page.content.decode()
        assert html.count('<img class="gallery__main"') == 1
        # Several images are also listed as thumbnails, each linking to its full size.
        assert html.count('width="96" height="96"') == (images if images > 1 else 0)


@pytest.mark.parametrize("products", [0, 3, 20])
def test_home_queries_do_not_grow_with_the_catalogue(
    client, merchant, rates, categories, django_assert_num_queries, products
):
    _add_products(merchant, categories, 0, products)

    cache.clear()
    # An empty shop has no products whose stock to read.
    with django_assert_num_queries(HOME_QUERIES if products else HOME_QUERIES - 1):
        response = client.get("/")
    with django_assert_num_queries(HOME_QUERIES_CACHED if products else 0):
        again = client.get("/")

    # Newest (up to 12) and best rated (up to 6): every product here is rated.
    assert _shown(response) == _shown(again) == min(products, 12) + min(products, 6)
