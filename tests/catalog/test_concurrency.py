"""Catalog services racing each other on real PostgreSQL."""

import threading

import pytest

from catalog import services
from catalog.models import Product, ProductImage
from core.errors import DomainError
from tests.factories import ProductFactory, image_upload

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_concurrent_uploads_never_exceed_the_image_limit(race, merchant, settings):
    settings.PRODUCT_IMAGE_MAX_COUNT = 3
    product = ProductFactory(merchant=merchant)

    results = race(
        *[
            (lambda: services.product_image_add(product=product, upload=image_upload()))
            for _ in range(6)
        ]
    )

    assert sorted(type(r).__name__ for r in results) == ["DomainError"] * 3 + ["ProductImage"] * 3
    assert {r.code for r in results if isinstance(r, DomainError)} == {"too_many_images"}
    assert ProductImage.objects.filter(product=product).count() == 3
    assert sorted(ProductImage.objects.values_list("position", flat=True)) == [0, 1, 2]
    product.refresh_from_db()
    assert product.cover_id == ProductImage.objects.order_by("position").first().pk


def test_concurrent_status_changes_keep_one_listing_date(race, merchant):
    product = ProductFactory(merchant=merchant, status="draft")

    race(*[(lambda: services.product_set_status(product=product, status="listed"))] * 4)

    product.refresh_from_db()
    assert product.status == "listed"
    assert product.listed_at is not None


def test_concurrent_products_of_the_same_name_get_distinct_slugs(race, merchant, monkeypatch):
    # Both derive "silk-scarf" before either inserts; the loser must pick the next slug, not
    # fail on the unique constraint.
    category = ProductFactory(merchant=merchant, name="Other").category
    checked = threading.Barrier(2)
    first_calls = threading.local()
    derive = services._unique_slug

    def slug_after_both_derived(name, exclude_pk=None):
        slug = derive(name, exclude_pk)
        if not getattr(first_calls, "done", False):
            first_calls.done = True
            checked.wait(timeout=10)
        return slug

    monkeypatch.setattr(services, "_unique_slug", slug_after_both_derived)

    def create():
        return ProductFactory(merchant=merchant, category=category, name="Silk Scarf")

    results = race(create, create)

    assert [type(r) for r in results] == [Product, Product]
    assert sorted(Product.objects.filter(name="Silk Scarf").values_list("slug", flat=True)) == [
        "silk-scarf",
        "silk-scarf-2",
    ]
