from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from catalog import services
from catalog.fragments import catalog_version
from catalog.models import Category, ExchangeRate, ListingStatus, Product
from catalog.selectors import category_tree
from core.errors import DomainError
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


# --- categories ------------------------------------------------------------------------------


def test_category_create_derives_the_slug():
    category = CategoryFactory(name="Mother & Baby")

    assert category.slug == "mother-baby"
    assert Category.objects.get(slug="mother-baby").name == "Mother & Baby"


def test_category_save_refuses_a_duplicate_slug():
    CategoryFactory(name="Beauty", slug="beauty")

    with pytest.raises(ValidationError) as exc:
        CategoryFactory(name="Beauty again", slug="beauty")

    assert set(exc.value.message_dict) == {"slug"}
    assert Category.objects.count() == 1


def test_category_cannot_be_its_own_parent():
    category = CategoryFactory(name="Beauty")
    category.parent = category

    with pytest.raises(DomainError) as exc:
        services.category_save(category=category)

    assert exc.value.code == "category_cycle"
    assert exc.value.field == "parent"
    category.refresh_from_db()
    assert category.parent_id is None


def test_category_cannot_move_under_its_own_descendant():
    root = CategoryFactory(name="Beauty")
    child = CategoryFactory(name="Skincare", parent=root)
    leaf = CategoryFactory(name="Serums", parent=child)
    root.parent = leaf

    with pytest.raises(DomainError) as exc:
        services.category_save(category=root)

    assert exc.value.code == "category_cycle"
    root.refresh_from_db()
    assert root.parent_id is None


def test_category_can_move_to_another_branch():
    beauty = CategoryFactory(name="Beauty")
    health = CategoryFactory(name="Health")
    serums = CategoryFactory(name="Serums", parent=beauty)
    serums.parent = health

    services.category_save(category=serums)

    serums.refresh_from_db()
    assert serums.parent == health


def test_category_delete_removes_an_unused_category(django_capture_on_commit_callbacks):
    category = CategoryFactory(name="Beauty")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.category_delete(category=category)

    assert not Category.objects.filter(name="Beauty").exists()
    assert len(callbacks) == 1


def test_category_delete_refuses_a_category_with_children():
    parent = CategoryFactory(name="Beauty")
    CategoryFactory(name="Skincare", parent=parent)

    with pytest.raises(DomainError) as exc:
        services.category_delete(category=parent)

    assert exc.value.code == "category_in_use"
    assert Category.objects.count() == 2


def test_category_delete_refuses_a_category_with_products():
    product = ProductFactory()

    with pytest.raises(DomainError) as exc:
        services.category_delete(category=product.category)

    assert exc.value.code == "category_in_use"
    assert Category.objects.filter(pk=product.category_id).exists()


def test_category_save_makes_the_cached_tree_stale_now_and_on_commit(
    django_capture_on_commit_callbacks,
):
    CategoryFactory(name="Beauty")
    assert [n.name for n in category_tree().roots] == ["Beauty"]
    before = catalog_version()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        CategoryFactory(name="Health")
        during = catalog_version()
    for callback in callbacks:
        callback()

    assert len({before, during, catalog_version()}) == 3
    assert [n.name for n in category_tree().roots] == ["Beauty", "Health"]


# --- products --------------------------------------------------------------------------------


def test_product_create_derives_unique_slugs(merchant):
    first = ProductFactory(merchant=merchant, name="Silk Scarf")
    second = ProductFactory(merchant=merchant, name="Silk Scarf")
    third = ProductFactory(merchant=merchant, name="Silk  scarf!")

    assert [first.slug, second.slug, third.slug] == ["silk-scarf", "silk-scarf-2", "silk-scarf-3"]


def test_product_slug_falls_back_for_names_without_latin_letters(merchant):
    first = ProductFactory(merchant=merchant, name="真丝围巾")
    second = ProductFactory(merchant=merchant, name="羊绒围巾")

    assert [first.slug, second.slug] == ["product", "product-2"]


def test_product_save_keeps_its_slug_when_renamed(merchant):
    product = ProductFactory(merchant=merchant, name="Silk Scarf")
    product.name = "Silk Scarf, Blue"

    services.product_save(product=product)

    product.refresh_from_db()
    assert product.slug == "silk-scarf"


def test_product_price_cny_for_cny_prices(merchant):
    product = ProductFactory(merchant=merchant, price=Decimal("199.99"), currency="CNY")

    assert product.price_cny == Decimal("199.99")


def test_product_price_cny_from_the_exchange_rate_rounded_half_up(merchant, rates):
    # 12.35 USD x 7.10 = 87.685 -> 87.69 (half up, not banker's 87.68)
    product = ProductFactory(merchant=merchant, price=Decimal("12.35"), currency="USD")

    product.refresh_from_db()
    assert product.price_cny == Decimal("87.69")


def test_product_price_cny_of_yen(merchant, rates):
    product = ProductFactory(merchant=merchant, price=Decimal("12800"), currency="JPY")

    product.refresh_from_db()
    assert product.price_cny == Decimal("601.60")


def test_product_save_without_an_exchange_rate_is_refused(merchant):
    with pytest.raises(DomainError) as exc:
        ProductFactory(merchant=merchant, price=Decimal("10"), currency="EUR")

    assert exc.value.code == "no_exchange_rate"
    assert exc.value.field == "currency"
    assert Product.objects.count() == 0


def test_product_save_validates_the_hs_code(merchant):
    with pytest.raises(ValidationError) as exc:
        ProductFactory(merchant=merchant, hs_code="33A4")

    assert exc.value.message_dict == {
        "hs_code": ["An HS code has 6 to 10 digits, for example 330499 or 3304990099."]
    }
    assert Product.objects.count() == 0


def test_product_save_refuses_a_zero_price(merchant):
    with pytest.raises(ValidationError) as exc:
        ProductFactory(merchant=merchant, price=Decimal("0"))

    assert exc.value.message_dict["price"] == [
        "Ensure this value is greater than or equal to 0.01."
    ]
    assert Product.objects.count() == 0


def test_draft_product_has_no_listing_date(merchant):
    product = ProductFactory(merchant=merchant, status=ListingStatus.DRAFT)

    assert product.listed_at is None


def test_listed_product_gets_a_listing_date(merchant):
    product = ProductFactory(merchant=merchant, status=ListingStatus.LISTED)

    product.refresh_from_db()
    assert product.listed_at is not None


def test_product_set_status_lists_a_draft(merchant):
    product = ProductFactory(merchant=merchant, status=ListingStatus.DRAFT)

    listed = services.product_set_status(product=product, status=ListingStatus.LISTED)

    product.refresh_from_db()
    assert product.status == ListingStatus.LISTED
    assert product.listed_at == listed.listed_at
    assert product.listed_at is not None


def test_product_set_status_keeps_the_first_listing_date(merchant):
    product = ProductFactory(merchant=merchant, status=ListingStatus.LISTED)
    product.refresh_from_db()
    first_listed = product.listed_at

    services.product_set_status(product=product, status=ListingStatus.PAUSED)
    services.product_set_status(product=product, status=ListingStatus.LISTED)

    product.refresh_from_db()
    assert product.status == ListingStatus.LISTED
    assert product.listed_at == first_listed


def test_product_set_status_is_a_no_op_when_already_there(merchant):
    product = ProductFactory(merchant=merchant, status=ListingStatus.PAUSED)
    product.refresh_from_db()
    updated_at = product.updated_at

    services.product_set_status(product=product, status=ListingStatus.PAUSED)

    product.refresh_from_db()
    assert product.updated_at == updated_at


def test_product_set_status_refuses_an_unknown_status(merchant):
    product = ProductFactory(merchant=merchant, status=ListingStatus.DRAFT)

    with pytest.raises(DomainError) as exc:
        services.product_set_status(product=product, status="deleted")

    assert exc.value.code == "bad_status"
    product.refresh_from_db()
    assert product.status == ListingStatus.DRAFT


# --- exchange rates --------------------------------------------------------------------------


def test_exchange_rate_set_reprices_products_in_that_currency_only(merchant, rates):
    usd = ProductFactory(merchant=merchant, price=Decimal("10.00"), currency="USD")
    usd_2 = ProductFactory(merchant=merchant, price=Decimal("0.07"), currency="USD")
    eur = ProductFactory(merchant=merchant, price=Decimal("10.00"), currency="EUR")
    cny = ProductFactory(merchant=merchant, price=Decimal("10.00"), currency="CNY")

    rate = services.exchange_rate_set(
        currency="USD", cny_per_unit=Decimal("7.254321"), source="PBoC"
    )

    assert (rate.currency, rate.cny_per_unit, rate.source) == ("USD", Decimal("7.254321"), "PBoC")
    prices = dict(Product.objects.values_list("pk", "price_cny"))
    assert prices == {
        usd.pk: Decimal("72.54"),
        usd_2.pk: Decimal("0.51"),  # 0.50780247 rounds half up to 0.51
        eur.pk: Decimal("77.00"),
        cny.pk: Decimal("10.00"),
    }


def test_exchange_rate_set_creates_a_missing_rate(merchant):
    services.exchange_rate_set(currency="GBP", cny_per_unit=Decimal("9.10"))

    product = ProductFactory(merchant=merchant, price=Decimal("20.00"), currency="GBP")

    assert ExchangeRate.objects.get(currency="GBP").cny_per_unit == Decimal("9.10")
    assert product.price_cny == Decimal("182.00")


@pytest.mark.parametrize("bad", [Decimal("0"), Decimal("-7.1")])
def test_exchange_rate_must_be_positive(merchant, rates, bad):
    product = ProductFactory(merchant=merchant, price=Decimal("10.00"), currency="USD")

    with pytest.raises(DomainError) as exc:
        services.exchange_rate_set(currency="USD", cny_per_unit=bad)

    assert exc.value.code == "rate_not_positive"
    assert ExchangeRate.objects.get(currency="USD").cny_per_unit == Decimal("7.10")
    product.refresh_from_db()
    assert product.price_cny == Decimal("71.00")


def test_exchange_rates_ensure_defaults_never_overwrites(rates):
    services.exchange_rate_set(currency="USD", cny_per_unit=Decimal("7.25"))

    services.exchange_rates_ensure_defaults()

    assert ExchangeRate.objects.count() == 8
    assert ExchangeRate.objects.get(currency="USD").cny_per_unit == Decimal("7.25")


@pytest.mark.parametrize(
    ("avg", "count"), [("5.50", 3), ("0.50", 3), ("4.00", 0), (None, 2), ("4.00", -1)]
)
def test_product_rating_set_refuses_an_impossible_summary(avg, count):
    product = ProductFactory()

    with pytest.raises(ValueError, match="bad rating summary"):
        services.product_rating_set(
            product=product, avg=None if avg is None else Decimal(avg), count=count
        )

    product.refresh_from_db()
    assert (product.rating_avg, product.rating_count) == (None, 0)
