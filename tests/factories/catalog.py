"""Categories, products and images, built through catalog.services like the admin does."""

from decimal import Decimal

import factory

from catalog import services
from catalog.models import Category, ListingStatus, Product, ProductImage

from .accounts import MerchantFactory
from .images import image_upload


class CategoryFactory(factory.Factory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = ""
    parent = None
    position = 0
    name_zh = ""

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.category_create(**kwargs)


class ProductFactory(factory.Factory):
    class Meta:
        model = Product

    merchant = factory.SubFactory(MerchantFactory)
    category = factory.SubFactory(CategoryFactory)
    name = factory.Sequence(lambda n: f"Product {n}")
    description = ""
    price = Decimal("100.00")
    currency = "CNY"
    origin_country = "JP"
    hs_code = "330499"
    weight_grams = 250
    status = ListingStatus.LISTED
    slug = ""

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.product_create(**kwargs)


class ProductImageFactory(factory.Factory):
    class Meta:
        model = ProductImage

    product = factory.SubFactory(ProductFactory)
    upload = factory.LazyFunction(lambda: image_upload(width=96, height=96))
    alt = ""

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.product_image_add(**kwargs)


def product_rate(product: Product, *, avg: str, count: int) -> Product:
    """Set the rating summary as the survey module (aftersales) will, through the service."""
    services.product_rating_set(product=product, avg=Decimal(avg), count=count)
    product.refresh_from_db()
    return product
