"""Query counts of the public pages are pinned: they must not grow with the catalogue."""

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

# Anonymous, cold category-tree cache: the capped count, the page of products (merchant and
# cover joined in), the category tree, and the sellable stock of the page (one counter read).
LIST_QUERIES = 4
# The product with merchant, category and cover joined, its images, the tree, and its stock.
DETAIL_QUERIES = 4
# Newest, best rated, the category tree, and one stock read for both rows (none when empty).
HOME_QUERIES = 4


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
    """Cards shown per (page size, LIST_PARAMS index); each request costs LIST_QUERIES."""
    shown = {}
    for per_page in (24, 96):
        for i, params in enumerate(LIST_PARAMS):
            cache.clear()
            with django_assert_num_queries(LIST_QUERIES):
                response = client.get("/products/", {**params, "per_page": str(per_page)})
            assert response.status_code == 200
            shown[per_page, i] = len(response.context["page"].products)
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


def test_product_list_stays_within_budget():
    assert LIST_QUERIES <= 6


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

    assert len(response.context["images"]) == images


@pytest.mark.parametrize("products", [0, 3, 20])
def test_home_queries_do_not_grow_with_the_catalogue(
    client, merchant, rates, categories, django_assert_num_queries, products
):
    _add_products(merchant, categories, 0, products)

    cache.clear()
    # An empty shop has no products whose stock to read.
    with django_assert_num_queries(HOME_QUERIES if products else HOME_QUERIES - 1):
        response = client.get("/")

    assert len(response.context["newest"]) == min(products, 12)
    assert len(response.context["best_rated"]) == min(products, 6)
