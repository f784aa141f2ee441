"""Cached catalog pages are never stale: every catalog write shows on the next request, and
stock (never cached) shows as it is now. Each write below commits as it would in production
(its on-commit callbacks run)."""

import re
from decimal import Decimal
from html import unescape

import pytest
from django.db import transaction

from catalog import services
from catalog.models import ListingStatus
from tests.factories import (
    CategoryFactory,
    ProductFactory,
    ProductImageFactory,
    UserFactory,
    image_upload,
    product_rate,
)
from tests.factories.warehouse import units_available
from warehouse.services import stock_reserve

pytestmark = pytest.mark.django_db

LIST = "/products/"


def _read(html: str) -> str:
    """HTML as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def _text(response) -> str:
    return _read(response.content.decode())


def _cards(response) -> list[str]:
    """Each card as a person reads it, in page order."""
    return [_read(c) for c in re.findall(r'<li class="card">(.*?)</li>', _html(response), re.S)]


def _html(response) -> str:
    return response.content.decode()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a write as its own committed transaction: its on-commit callbacks run."""

    def run(write, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return write(*args, **kwargs)

    return run


@pytest.fixture
def wallet(merchant, rates):
    category = CategoryFactory(name="Leather", name_zh="皮具")
    return ProductFactory(
        merchant=merchant, category=category, name="Card Wallet", price=Decimal("30")
    )


@pytest.fixture
def cached(client, django_assert_num_queries):
    """GET a page twice; the second answer must come from the cache (its pinned queries)."""

    def get(path, params=None, queries=1, **extra):
        client.get(path, params or {}, **extra)
        with django_assert_num_queries(queries):
            return client.get(path, params or {}, **extra)

    return get


# --- the product list -------------------------------------------------------------------------


def test_a_price_change_shows_on_the_list_at_once(client, cached, committed, wallet):
    seller = wallet.merchant.name
    assert _cards(cached(LIST)) == [f"Card Wallet {seller} ¥30.00 No ratings yet Out of stock"]

    wallet.price = Decimal("35.50")
    committed(services.product_save, product=wallet)

    assert _cards(client.get(LIST)) == [f"Card Wallet {seller} ¥35.50 No ratings yet Out of stock"]


def test_a_name_change_shows_on_the_list_and_in_search_at_once(client, cached, committed, wallet):
    assert "Card Wallet" in _cards(cached(LIST, {"q": "wallet"}))[0]

    wallet.name = "Travel Purse"
    committed(services.product_save, product=wallet)

    assert _cards(client.get(LIST, {"q": "wallet"})) == []
    assert _cards(client.get(LIST))[0].startswith("Travel Purse ")


def test_a_paused_product_leaves_the_list_and_its_page_at_once(client, cached, committed, wallet):
    cached(LIST)
    cached(f"/products/{wallet.slug}/")

    committed(services.product_set_status, product=wallet, status=ListingStatus.PAUSED)

    assert _cards(client.get(LIST)) == []
    assert client.get(f"/products/{wallet.slug}/").status_code == 404


def test_a_new_listing_shows_on_the_list_at_once(client, cached, committed, wallet):
    cached(LIST)

    committed(ProductFactory, merchant=wallet.merchant, category=wallet.category, name="Key Ring")

    cards = _cards(client.get(LIST))
    assert [c.split(f" {wallet.merchant.name}")[0] for c in cards] == ["Key Ring", "Card Wallet"]


def test_a_rating_and_a_cover_show_on_the_list_at_once(client, cached, committed, wallet):
    cached(LIST)

    committed(product_rate, wallet, avg="4.50", count=12)
    committed(ProductImageFactory, product=wallet, alt="The wallet, open")

    html = client.get(LIST).content.decode()
    assert "4.5 (12)" in html
    assert 'alt="The wallet, open"' in html


def test_an_exchange_rate_change_shows_in_cny_at_once(client, cached, committed, merchant, rates):
    ProductFactory(merchant=merchant, name="Pen", price=Decimal("10"), currency="USD")
    assert "US$10.00 ≈ ¥71.00" in _text(cached(LIST))

    committed(services.exchange_rate_set, currency="USD", cny_per_unit=Decimal("7.25"))

    assert "US$10.00 ≈ ¥72.50" in _text(client.get(LIST))


def test_a_renamed_category_shows_in_filters_and_breadcrumbs_at_once(
    client, cached, committed, wallet
):
    category = wallet.category
    assert "<h1>Leather</h1>" in cached(LIST, {"category": category.slug}).content.decode()

    category.name = "Leather goods"
    committed(services.category_save, category=category)

    html = client.get(LIST, {"category": category.slug}).content.decode()
    assert "<h1>Leather goods</h1>" in html
    assert ">Leather goods</option>" in html


def test_stock_is_live_on_a_cached_list(client, cached, wallet):
    assert _cards(cached(LIST))[0].endswith("Out of stock")

    units_available(product=wallet, n=3)
    # The page is still cached (one query: the stock), yet shows the stock as it is now.
    assert _cards(cached(LIST))[0].endswith("3 in stock")

    stock_reserve(items=[(wallet.pk, 2)])
    assert _cards(cached(LIST))[0].endswith("1 in stock")


def test_stock_is_live_in_an_htmx_fragment(client, cached, wallet):
    hx = {"headers": {"HX-Request": "true"}}
    assert "Out of stock" in cached(LIST, {"q": "wallet"}, **hx).content.decode()

    units_available(product=wallet, n=2)

    html = cached(LIST, {"q": "wallet"}, **hx).content.decode()
    assert html.lstrip().startswith('<section class="results" id="results"')
    assert '<span class="stock stock--in">2 in stock</span>' in html


def test_htmx_fragments_and_whole_pages_are_cached_apart(client, wallet):
    hx = client.get(LIST, headers={"HX-Request": "true"})
    page = client.get(LIST)

    assert "<html" not in hx.content.decode()
    assert "<html" in page.content.decode()
    assert _cards(hx) == _cards(page)


def test_each_language_has_its_own_cached_page(client, cached, wallet):
    english = cached(LIST, {"category": wallet.category.slug})
    chinese = cached(LIST, {"category": wallet.category.slug}, HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert "<h1>Leather</h1>" in english.content.decode()
    assert "<h1>皮具</h1>" in chinese.content.decode()
    assert _cards(chinese) == [f"Card Wallet {wallet.merchant.name} ¥30.00 暂无评分 缺货"]
    assert _cards(english)[0].endswith("No ratings yet Out of stock")


def test_a_cached_page_keeps_the_header_of_whoever_asks(client, wallet):
    shopper = UserFactory()
    client.force_login(shopper)
    logged_in = client.get(LIST)  # renders and caches the content
    client.logout()
    anonymous = client.get(LIST)  # served from the cache

    assert "Log out" in _text(logged_in)
    assert "Log out" not in _text(anonymous)
    assert "Log in" in _text(anonymous)
    assert _cards(logged_in) == _cards(anonymous)


def test_a_page_explaining_bad_filters_is_not_cached(client, django_assert_num_queries, wallet):
    client.get(LIST, {"price_min": "abc"})

    # Rendered again (count, page and stock), not served from the cache: it echoes the input.
    with django_assert_num_queries(3):
        response = client.get(LIST, {"price_min": "abc"})

    assert "Min price (CNY): Enter a number." in _text(response)


# --- the product page -------------------------------------------------------------------------


def test_a_price_and_name_change_show_on_the_product_page_at_once(
    client, cached, committed, wallet
):
    path, seller = f"/products/{wallet.slug}/", wallet.merchant.name
    assert f"Card Wallet Sold by {seller} ¥30.00" in _text(cached(path))

    wallet.price, wallet.name = Decimal("42"), "Slim Wallet"
    committed(services.product_save, product=wallet)

    text = _text(client.get(path))
    assert f"Slim Wallet Sold by {seller} ¥42.00" in text
    assert "Card Wallet" not in text


def test_stock_is_live_in_the_buy_box_of_a_cached_product_page(client, cached, wallet):
    path = f"/products/{wallet.slug}/"
    first = cached(path)
    assert "Out of stock: no authenticated unit is available right now." in _text(first)

    units_available(product=wallet, n=4)

    response = cached(path)
    assert "4 authenticated units in stock" in _text(response)
    assert response.context["sellable"] == 4
    assert response.context["product"] == wallet


def test_the_buy_box_is_rendered_live_for_each_visitor(client, wallet):
    path = f"/products/{wallet.slug}/"
    client.get(path)  # renders and caches the page around the buy box
    shopper = UserFactory()
    client.force_login(shopper)
    units_available(product=wallet, n=1)

    response = client.get(path)

    rendered = [t.name for t in response.templates]
    assert "catalog/_buy_box.html" in rendered
    assert not [name for name in rendered if name.startswith("catalog/_product_detail_body")]
    # The buy box had this request's context: the visitor, its CSRF token, stock as it is now.
    assert response.context["user"] == shopper
    assert response.context["csrf_token"]
    assert response.context["product"] == wallet
    assert response.context["sellable"] == 1


def test_the_product_page_in_chinese_is_cached_apart(client, cached, wallet):
    path = f"/products/{wallet.slug}/"
    english = _text(cached(path))
    chinese = _text(cached(path, HTTP_ACCEPT_LANGUAGE="zh-hans"))

    assert "Category Leather" in english
    assert "皮具" in chinese
    assert "Leather" not in chinese


def test_a_write_rolled_back_leaves_the_cache_correct(client, cached, wallet):
    cached(LIST)

    def save_then_fail() -> None:
        with transaction.atomic():
            wallet.price = Decimal("99")
            services.product_save(product=wallet)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        save_then_fail()

    assert "¥30.00" in _text(client.get(LIST))


def test_an_image_description_change_shows_at_once(client, cached, committed, wallet):
    image = ProductImageFactory(product=wallet, alt="Front", upload=image_upload(width=64))
    path = f"/products/{wallet.slug}/"
    assert 'alt="Front"' in cached(path).content.decode()

    committed(services.product_image_update, image=image, alt="Front, closed", position=0)

    assert 'alt="Front, closed"' in client.get(path).content.decode()


def test_a_deploy_with_other_templates_renders_pages_afresh(
    client, django_assert_num_queries, wallet, monkeypatch
):
    from catalog import fragments

    client.get(LIST)  # cached by the code before the deploy
    monkeypatch.setattr(fragments, "_renderer_fingerprint", lambda: "the-next-release")

    # Same catalog version, other renderer: rendered again (count, page and stock).
    with django_assert_num_queries(3):
        client.get(LIST)


def test_the_renderer_fingerprint_follows_the_templates(settings, tmp_path):
    from catalog import fragments

    card = tmp_path / "templates" / "catalog" / "_card.html"
    card.parent.mkdir(parents=True)
    card.write_text("one")
    settings.BASE_DIR = tmp_path
    fragments._renderer_fingerprint.cache_clear()
    try:
        first = fragments._renderer_fingerprint()
        card.write_text("two")
        fragments._renderer_fingerprint.cache_clear()
        assert fragments._renderer_fingerprint() != first
    finally:
        fragments._renderer_fingerprint.cache_clear()
