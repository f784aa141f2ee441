"""The admin refuses too many product images with a message on the form, never a 500."""

import pytest
from django.conf import settings

from catalog.models import Product, ProductImage
from tests.factories import CategoryFactory, PlatformAdminFactory
from tests.factories.accounts import MerchantFactory
from tests.factories.images import image_upload


def _post_data(category, merchant, uploads: int) -> dict:
    data = {
        "merchant": merchant.pk,
        "name": "Hinoki bath salt",
        "slug": "",
        "category": category.pk,
        "description": "",
        "price": "88.00",
        "currency": "CNY",
        "origin_country": "JP",
        "hs_code": "330730",
        "weight_grams": "300",
        "status": "draft",
        "listed_quantity_cap": "",
        "images-TOTAL_FORMS": str(uploads),
        "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000",
    }
    for i in range(uploads):
        data[f"images-{i}-image"] = image_upload(name=f"p{i}.png", width=80, height=80)
        data[f"images-{i}-alt"] = f"view {i}"
        data[f"images-{i}-position"] = str(i)
    return data


@pytest.mark.django_db
def test_one_image_over_the_limit_is_refused_and_nothing_is_saved(client):
    # given a platform admin on the add-product page
    client.force_login(PlatformAdminFactory())
    category, merchant = CategoryFactory(), MerchantFactory()
    limit = settings.PRODUCT_IMAGE_MAX_COUNT
    # when they upload one image more than allowed
    response = client.post("/admin/catalog/product/add/", _post_data(category, merchant, limit + 1))
    # then the form comes back with the reason, and no product or image exists
    assert response.status_code == 200
    assert f"A product can have at most {limit} images; remove 1." in response.content.decode()
    assert Product.objects.count() == 0
    assert ProductImage.objects.count() == 0


@pytest.mark.django_db
def test_images_up_to_the_limit_are_saved_with_a_cover(client):
    client.force_login(PlatformAdminFactory())
    category, merchant = CategoryFactory(), MerchantFactory()
    response = client.post("/admin/catalog/product/add/", _post_data(category, merchant, 2))
    assert response.status_code == 302
    product = Product.objects.get()
    assert list(product.images.values_list("alt", flat=True)) == ["view 0", "view 1"]
    assert product.cover.alt == "view 0"
