from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.http import Http404
from django.utils import timezone

from catalog import selectors
from catalog.models import ListingStatus, Product
from catalog.selectors import ProductFilters, category_tree, product_page
from tests.factories import CategoryFactory, ProductFactory, product_rate

pytestmark = pytest.mark.django_db


def _names(page_or_list) -> list[str]:
    products = getattr(page_or_list, "products", page_or_list)
    return [p.name for p in products]


def _listed_in_order(merchant, names, category=None, **kwargs):
    """Products listed one minute apart, the first name oldest."""
    base = timezone.now() - timedelta(days=1)
    out = []
    for i, name in enumerate(names):
        extra = {"category": category} if category else {}
        product = ProductFactory(merchant=merchant, name=name, **extra, **kwargs)
        Product.objects.filter(pk=product.pk).update(listed_at=base + timedelta(minutes=i))
        out.append(product)
    return out


def _page(**filters):
    return product_page(ProductFilters(**filters), page=1, page_size=24)


@pytest.fixture
def shop(merchant, rates):
    """A small catalogue in three currencies, two category levels, some drafts and pauses."""
    beauty = CategoryFactory(name="Beauty")
    skincare = CategoryFactory(name="Skincare", parent=beauty)
    serums = CategoryFactory(name="Serums", parent=skincare)
    health = CategoryFactory(name="Health")
    p = {}
    p["wallet"] = ProductFactory(
        merchant=merchant,
        category=health,
        name="Brown Leather Wallet",
        description="Full-grain cowhide, hand stitched.",
        price=Decimal("30.00"),
        currency="USD",  # 213.00 CNY
    )
    p["serum"] = ProductFactory(
        merchant=merchant,
        category=serums,
        name="Vitamin C Serum",
        description="Brightening serum with leather-free packaging.",
        price=Decimal("299.00"),
    )
    p["cream"] = ProductFactory(
        merchant=merchant,
        category=skincare,
        name="Night Cream 夜间修护霜",
        description="深层滋润",
        price=Decimal("12800"),
        currency="JPY",  # 601.60 CNY
    )
    p["lipstick"] = ProductFactory(
        merchant=merchant, category=beauty, name="Matte Lipstick", price=Decimal("150.00")
    )
    p["vitamins"] = ProductFactory(
        merchant=merchant, category=health, name="Vitamin D3", price=Decimal("88.00")
    )
    p["draft"] = ProductFactory(
        merchant=merchant,
        category=beauty,
        name="Leather Draft Serum",
        status=ListingStatus.DRAFT,
        price=Decimal("10.00"),
    )
    p["paused"] = ProductFactory(
        merchant=merchant,
        category=beauty,
        name="Leather Paused Serum",
        status=ListingStatus.PAUSED,
        price=Decimal("10.00"),
    )
    base = timezone.now() - timedelta(days=1)
    for minutes, key in enumerate(["wallet", "serum", "cream", "lipstick", "vitamins"]):
        Product.objects.filter(pk=p[key].pk).update(listed_at=base + timedelta(minutes=minutes))
    product_rate(p["wallet"], avg="4.80", count=12)
    product_rate(p["serum"], avg="4.20", count=30)
    product_rate(p["cream"], avg="3.50", count=4)
    product_rate(p["lipstick"], avg="4.20", count=8)
    return {"beauty": beauty, "skincare": skincare, "serums": serums, "health": health, **p}


# --- listing, sorting ------------------------------------------------------------------------


def test_only_listed_products_newest_first(shop):
    page = _page()

    assert _names(page) == [
        "Vitamin D3",
        "Matte Lipstick",
        "Night Cream 夜间修护霜",
        "Vitamin C Serum",
        "Brown Leather Wallet",
    ]
    assert (page.count, page.count_capped, page.number, page.num_pages) == (5, False, 1, 1)


def test_sort_by_price_compares_in_cny(shop):
    assert _names(_page(sort="price_asc")) == [
        "Vitamin D3",  # 88.00
        "Matte Lipstick",  # 150.00
        "Brown Leather Wallet",  # 30 USD = 213.00
        "Vitamin C Serum",  # 299.00
        "Night Cream 夜间修护霜",  # 12800 JPY = 601.60
    ]
    assert _names(_page(sort="price_desc")) == [
        "Night Cream 夜间修护霜",
        "Vitamin C Serum",
        "Brown Leather Wallet",
        "Matte Lipstick",
        "Vitamin D3",
    ]


def test_sort_by_rating_puts_unrated_last_and_breaks_ties_by_count(shop):
    assert _names(_page(sort="rating")) == [
        "Brown Leather Wallet",  # 4.80
        "Vitamin C Serum",  # 4.20 from 30
        "Matte Lipstick",  # 4.20 from 8
        "Night Cream 夜间修护霜",  # 3.50
        "Vitamin D3",  # no rating
    ]


def test_relevance_without_a_query_falls_back_to_newest(shop):
    assert _names(_page(sort="relevance")) == _names(_page(sort="newest"))


# --- filters ---------------------------------------------------------------------------------


def test_category_includes_its_sub_categories(shop):
    tree = category_tree()

    beauty = _page(category=tree.by_slug["beauty"], sort="price_asc")
    skincare = _page(category=tree.by_slug["skincare"], sort="price_asc")
    serums = _page(category=tree.by_slug["serums"])

    assert _names(beauty) == ["Matte Lipstick", "Vitamin C Serum", "Night Cream 夜间修护霜"]
    assert _names(skincare) == ["Vitamin C Serum", "Night Cream 夜间修护霜"]
    assert _names(serums) == ["Vitamin C Serum"]


def test_price_range_is_in_cny_and_inclusive(shop):
    page = _page(price_min=Decimal("150.00"), price_max=Decimal("299.00"), sort="price_asc")

    # The wallet costs 30 USD, i.e. 213.00 CNY: inside the CNY range although 30 is not.
    assert _names(page) == ["Matte Lipstick", "Brown Leather Wallet", "Vitamin C Serum"]


def test_price_min_only_and_max_only(shop):
    assert _names(_page(price_min=Decimal("600"), sort="price_asc")) == ["Night Cream 夜间修护霜"]
    assert _names(_page(price_max=Decimal("88.00"))) == ["Vitamin D3"]


def test_rating_filter(shop):
    assert _names(_page(rating_min=Decimal("4"), sort="rating")) == [
        "Brown Leather Wallet",
        "Vitamin C Serum",
        "Matte Lipstick",
    ]
    assert _names(_page(rating_min=Decimal("3"), sort="rating")) == [
        "Brown Leather Wallet",
        "Vitamin C Serum",
        "Matte Lipstick",
        "Night Cream 夜间修护霜",
    ]


def test_filters_combine(shop):
    tree = category_tree()

    page = _page(q="serum", category=tree.by_slug["beauty"], price_max=Decimal("300"), rating_min=4)

    assert _names(page) == ["Vitamin C Serum"]


# --- search ----------------------------------------------------------------------------------


def test_search_matches_name_and_description_and_never_drafts(shop):
    # "leather" is in the wallet's name and the serum's description; draft/paused are hidden.
    assert sorted(_names(_page(q="Leather"))) == ["Brown Leather Wallet", "Vitamin C Serum"]


def test_search_needs_every_word(shop):
    assert _names(_page(q="leather wallet")) == ["Brown Leather Wallet"]
    assert _names(_page(q="leather lipstick")) == []


def test_search_ignores_punctuation_and_case(shop):
    assert _names(_page(q="  VITAMIN!!! (serum) ")) == ["Vitamin C Serum"]


def test_search_for_nothing_but_punctuation_shows_everything(shop):
    assert _page(q="!!! --- ???").count == 5


def test_cjk_search_matches_substrings(shop):
    assert _names(_page(q="修护")) == ["Night Cream 夜间修护霜"]
    assert _names(_page(q="滋润")) == ["Night Cream 夜间修护霜"]
    assert _names(_page(q="修护 口红")) == []


def test_sqlite_search_matches_any_substring(shop):
    if settings.IS_POSTGRES:
        pytest.skip("SQLite searches with LIKE; PostgreSQL uses full text (tested below)")

    assert _names(_page(q="eathe")) == ["Vitamin C Serum", "Brown Leather Wallet"]


@pytest.mark.postgres
def test_postgres_search_matches_word_prefixes_only(shop):
    assert sorted(_names(_page(q="leath"))) == ["Brown Leather Wallet", "Vitamin C Serum"]
    assert _names(_page(q="brown leath")) == ["Brown Leather Wallet"]
    # Only the last word is a prefix, and no word matches in the middle.
    assert _names(_page(q="leath wallet")) == []
    assert _names(_page(q="eather")) == []


@pytest.mark.postgres
def test_postgres_relevance_ranks_name_above_description(shop):
    page = _page(q="leather", sort="relevance")

    assert _names(page) == ["Brown Leather Wallet", "Vitamin C Serum"]


@pytest.mark.postgres
def test_postgres_search_vector_follows_renames(shop):
    from catalog import services

    wallet = shop["wallet"]
    wallet.name = "Brown Suede Wallet"
    services.product_save(product=wallet)

    assert _names(_page(q="suede")) == ["Brown Suede Wallet"]
    assert _names(_page(q="leather")) == ["Vitamin C Serum"]


@pytest.mark.postgres
@pytest.mark.parametrize(
    "q", ["a:*", "wallet & | !", "'; DROP TABLE catalog_product; --", "_", "a_b", "ß", "ǅ"]
)
def test_postgres_search_never_breaks_on_tsquery_syntax(shop, q):
    page = _page(q=q)

    assert page.count >= 0


# --- paging ----------------------------------------------------------------------------------


def test_page_clamps_to_the_last_page(merchant):
    _listed_in_order(merchant, [f"Item {n:02d}" for n in range(5)])

    page = product_page(ProductFilters(), page=10**12, page_size=2)

    assert (page.number, page.num_pages) == (3, 3)
    assert _names(page) == ["Item 00"]
    assert (page.start_index, page.end_index) == (5, 5)
    assert (page.has_previous, page.has_next) == (True, False)


def test_page_below_one_is_the_first_page(merchant):
    _listed_in_order(merchant, [f"Item {n:02d}" for n in range(3)])

    page = product_page(ProductFilters(), page=-5, page_size=2)

    assert page.number == 1
    assert _names(page) == ["Item 02", "Item 01"]


def test_empty_result_is_page_one_of_one_with_no_query_for_rows(db, django_assert_num_queries):
    with django_assert_num_queries(1):
        page = product_page(ProductFilters(q="nothing"), page=9, page_size=24)

    assert (page.number, page.num_pages, page.count, page.products) == (1, 1, 0, [])
    assert (page.start_index, page.end_index) == (0, 0)


@pytest.mark.postgres
def test_a_search_by_relevance_pages_counts_and_caps_like_any_list(merchant, settings):
    settings.CATALOG_COUNT_CAP = 5
    # Equal ranks: newest id first, as in any ranked list.
    _listed_in_order(merchant, [f"Leather item {n}" for n in range(7)])
    ranked = ProductFilters(q="leather", sort="relevance")

    first = product_page(ranked, page=1, page_size=3)
    beyond_the_cap = product_page(ranked, page=99, page_size=3)

    assert _names(first) == ["Leather item 6", "Leather item 5", "Leather item 4"]
    assert (first.count, first.count_capped, first.num_pages) == (5, True, 2)
    assert beyond_the_cap.number == 2
    assert _names(beyond_the_cap) == ["Leather item 3", "Leather item 2", "Leather item 1"]


@pytest.mark.postgres
def test_a_search_by_relevance_past_its_last_match_is_its_last_page(merchant):
    _listed_in_order(merchant, [f"Leather item {n}" for n in range(4)])

    page = product_page(ProductFilters(q="leather", sort="relevance"), page=99, page_size=3)

    assert (page.number, page.count, page.count_capped) == (2, 4, False)
    assert _names(page) == ["Leather item 0"]


def test_count_is_capped(merchant, settings):
    settings.CATALOG_COUNT_CAP = 5
    _listed_in_order(merchant, [f"Item {n:02d}" for n in range(7)])

    page = product_page(ProductFilters(), page=99, page_size=2)

    assert (page.count, page.count_capped) == (5, True)
    # Pages beyond the cap are not served: page 99 is clamped to page 3, the one holding
    # the 5th newest (it is filled up, which "more than 5" allows).
    assert (page.number, page.num_pages) == (3, 3)
    assert _names(page) == ["Item 02", "Item 01"]
    assert (page.start_index, page.end_index) == (5, 6)


def test_count_at_the_cap_is_not_capped(merchant, settings):
    settings.CATALOG_COUNT_CAP = 5
    _listed_in_order(merchant, [f"Item {n:02d}" for n in range(5)])

    page = product_page(ProductFilters(), page=1, page_size=24)

    assert (page.count, page.count_capped) == (5, False)


def test_page_range_has_gaps(merchant):
    _listed_in_order(merchant, [f"Item {n:02d}" for n in range(20)])

    assert product_page(ProductFilters(), page=10, page_size=1).page_range() == [
        1,
        None,
        8,
        9,
        10,
        11,
        12,
        None,
        20,
    ]
    assert product_page(ProductFilters(), page=1, page_size=1).page_range() == [
        1,
        2,
        3,
        None,
        20,
    ]


def test_product_page_uses_two_queries_whatever_the_size(merchant, django_assert_num_queries):
    _listed_in_order(merchant, [f"Item {n:02d}" for n in range(30)])

    with django_assert_num_queries(2):
        page = product_page(ProductFilters(), page=2, page_size=24)
        for product in page.products:
            _ = (product.merchant.name, product.cover, product.price_cny)

    assert len(page.products) == 6


# --- home page lists, product detail --------------------------------------------------------


def test_newest_and_best_rated(shop):
    assert _names(selectors.product_newest(limit=2)) == ["Vitamin D3", "Matte Lipstick"]
    assert _names(selectors.product_best_rated(limit=10)) == [
        "Brown Leather Wallet",
        "Vitamin C Serum",
        "Matte Lipstick",
        "Night Cream 夜间修护霜",
    ]


def test_product_get_for_buyer_only_listed(shop):
    assert selectors.product_get_for_buyer(slug=shop["serum"].slug) == shop["serum"]
    for key in ("draft", "paused"):
        with pytest.raises(Http404):
            selectors.product_get_for_buyer(slug=shop[key].slug)
    with pytest.raises(Http404):
        selectors.product_get_for_buyer(slug="no-such-product")


# --- category tree ---------------------------------------------------------------------------


def test_category_tree_shape(db):
    beauty = CategoryFactory(name="Beauty", position=2, name_zh="美妆")
    health = CategoryFactory(name="Health", position=1)
    skincare = CategoryFactory(name="Skincare", parent=beauty)
    serums = CategoryFactory(name="Serums", parent=skincare)

    tree = category_tree()

    assert [n.name for n in tree.roots] == ["Health", "Beauty"]
    assert [n.name for n in tree.by_slug["beauty"].children] == ["Skincare"]
    assert sorted(tree.descendant_ids(beauty.pk)) == sorted([beauty.pk, skincare.pk, serums.pk])
    assert tree.descendant_ids(health.pk) == [health.pk]
    assert [n.name for n in tree.ancestors(serums.pk)] == ["Beauty", "Skincare", "Serums"]
    assert tree.by_id[beauty.pk].name_zh == "美妆"


def test_category_tree_display_name_follows_the_language(db):
    from django.utils import translation

    CategoryFactory(name="Beauty", name_zh="美妆")
    node = category_tree().by_slug["beauty"]

    with translation.override("zh-hans"):
        assert node.display_name == "美妆"
    with translation.override("en"):
        assert node.display_name == "Beauty"


def test_category_tree_is_cached(db, django_assert_num_queries):
    CategoryFactory(name="Beauty")
    with django_assert_num_queries(1):
        category_tree()

    with django_assert_num_queries(0):
        tree = category_tree()

    assert [n.name for n in tree.roots] == ["Beauty"]


def test_category_tree_is_rebuilt_after_a_category_changes(
    db, django_capture_on_commit_callbacks, django_assert_num_queries
):
    from catalog import services

    beauty = CategoryFactory(name="Beauty")
    category_tree()

    with django_capture_on_commit_callbacks(execute=True):
        beauty.name = "Beauty & care"
        services.category_save(category=beauty)

    with django_assert_num_queries(1):
        tree = category_tree()
    assert [n.name for n in tree.roots] == ["Beauty & care"]


def test_category_tree_is_rebuilt_after_a_delete(db, django_capture_on_commit_callbacks):
    from catalog import services

    beauty = CategoryFactory(name="Beauty")
    CategoryFactory(name="Health")
    assert len(category_tree().roots) == 2

    with django_capture_on_commit_callbacks(execute=True):
        services.category_delete(category=beauty)

    assert [n.name for n in category_tree().roots] == ["Health"]
