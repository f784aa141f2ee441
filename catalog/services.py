"""Every write to the catalog. Views, admin, seeds and other apps call these."""

from decimal import ROUND_HALF_UP, Decimal
from typing import IO, Any

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.images import process_upload

from .fragments import catalog_version_bump
from .models import Category, Currency, ExchangeRate, ListingStatus, Product, ProductImage

CENT = Decimal("0.01")

# Demo / bootstrap rates; platform staff replace them in admin (ExchangeRate).
DEFAULT_RATES = {
    Currency.CNY: Decimal("1"),
    Currency.USD: Decimal("7.10"),
    Currency.EUR: Decimal("7.70"),
    Currency.JPY: Decimal("0.047"),
    Currency.KRW: Decimal("0.0052"),
    Currency.GBP: Decimal("9.00"),
    Currency.AUD: Decimal("4.65"),
    Currency.HKD: Decimal("0.91"),
}


def _catalog_changed() -> None:
    """Cached catalog pages and category trees go stale: now, and again when this commits.

    Now, so that this transaction reads its own writes; again on commit, because a page
    rendered in between from the rows before the commit was stored under the first new version.
    """
    catalog_version_bump()
    transaction.on_commit(catalog_version_bump)


def _rate_for(currency: str) -> Decimal:
    if currency == Currency.CNY:
        return Decimal("1")
    rate = (
        ExchangeRate.objects.filter(currency=currency)
        .values_list("cny_per_unit", flat=True)
        .first()
    )
    if rate is None:
        raise DomainError(
            _("No exchange rate is set for %(currency)s; ask the platform to add one.")
            % {"currency": currency},
            code="no_exchange_rate",
            field="currency",
        )
    return rate


def exchange_rate_set(
    *, currency: str, cny_per_unit: Decimal, source: str = "platform"
) -> ExchangeRate:
    """Set a rate and reprice every product in that currency, in one transaction."""
    if cny_per_unit <= 0:
        raise DomainError(_("An exchange rate must be positive."), code="rate_not_positive")
    with transaction.atomic():
        rate, _created = ExchangeRate.objects.update_or_create(
            currency=currency, defaults={"cny_per_unit": cny_per_unit, "source": source}
        )
        products = Product.objects.filter(currency=currency)
        _catalog_changed()
        if settings.IS_POSTGRES:
            from django.db.models.functions import Round

            products.update(price_cny=Round(F("price") * cny_per_unit, 2))
        else:
            for product in products.only("pk", "price"):
                Product.objects.filter(pk=product.pk).update(
                    price_cny=(product.price * cny_per_unit).quantize(CENT, ROUND_HALF_UP)
                )
    return rate


def exchange_rates_ensure_defaults() -> None:
    """Create the bootstrap rates that are missing (never overwrites one staff have set)."""
    for currency, rate in DEFAULT_RATES.items():
        ExchangeRate.objects.get_or_create(
            currency=currency, defaults={"cny_per_unit": rate, "source": "bootstrap"}
        )


def _check_parent(category: Category, parent: Category | None) -> None:
    node = parent
    while node is not None:
        if category.pk and node.pk == category.pk:
            raise DomainError(
                _("A category cannot sit inside itself or one of its sub-categories."),
                code="category_cycle",
                field="parent",
            )
        node = node.parent


def category_save(*, category: Category) -> Category:
    """Validate (no cycles, unique slug) and save a category; cached pages and trees go stale."""
    if not category.slug:
        # A name with no Latin letters (e.g. only Chinese) still needs a web address.
        base = slugify(category.name)[:90] or "category"
        slug, n = base, 1
        while Category.objects.filter(slug=slug).exclude(pk=category.pk).exists():
            n += 1
            slug = f"{base}-{n}"
        category.slug = slug
    _check_parent(category, category.parent)
    category.full_clean()
    with transaction.atomic():
        category.save()
        _catalog_changed()
    return category


def category_create(
    *,
    name: str,
    slug: str = "",
    parent: Category | None = None,
    position: int = 0,
    name_zh: str = "",
) -> Category:
    return category_save(
        category=Category(name=name, slug=slug, parent=parent, position=position, name_zh=name_zh)
    )


def category_delete(*, category: Category) -> None:
    if category.children.exists() or category.products.exists():
        raise DomainError(
            _("Move its sub-categories and products elsewhere before deleting this category."),
            code="category_in_use",
        )
    with transaction.atomic():
        category.delete()
        _catalog_changed()


def _unique_slug(name: str, exclude_pk: int | None = None) -> str:
    base = slugify(name)[:200] or "product"
    slug, n = base, 1
    while Product.objects.filter(slug=slug).exclude(pk=exclude_pk).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def product_search_vector_refresh(*, product_ids: list[int] | None = None) -> int:
    """Recompute full-text vectors (PostgreSQL only; SQLite searches with LIKE instead)."""
    if not settings.IS_POSTGRES:
        return 0
    qs = (
        Product.objects.all() if product_ids is None else Product.objects.filter(pk__in=product_ids)
    )
    return qs.update(
        search_vector=SearchVector("name", weight="A", config="simple")
        + SearchVector("description", weight="B", config="simple")
    )


def product_save(*, product: Product, actor: Any | None = None) -> Product:
    """Validate and save a product: derive slug, CNY price, listing date, search vector."""
    derived_slug = not product.slug
    if derived_slug:
        product.slug = _unique_slug(product.name, product.pk)
    product.price_cny = (product.price * _rate_for(product.currency)).quantize(CENT, ROUND_HALF_UP)
    if product.status != ListingStatus.DRAFT and product.listed_at is None:
        product.listed_at = timezone.now()
    product.full_clean(exclude=["cover"])
    with transaction.atomic():
        try:
            with transaction.atomic():
                product.save()
        except IntegrityError:
            if not derived_slug:
                raise
            # A concurrent save took the derived slug after we checked it: derive the next one.
            product.slug = _unique_slug(product.name, product.pk)
            product.save()
        product_search_vector_refresh(product_ids=[product.pk])
        _catalog_changed()
    return product


def product_create(
    *,
    merchant: Any,
    category: Category,
    name: str,
    price: Decimal,
    currency: str = Currency.CNY,
    origin_country: str,
    hs_code: str,
    weight_grams: int,
    description: str = "",
    status: str = ListingStatus.DRAFT,
    listed_quantity_cap: int | None = None,
    slug: str = "",
) -> Product:
    return product_save(
        product=Product(
            merchant=merchant,
            category=category,
            name=name,
            slug=slug,
            description=description,
            price=price,
            currency=currency,
            origin_country=origin_country,
            hs_code=hs_code,
            weight_grams=weight_grams,
            status=status,
            listed_quantity_cap=listed_quantity_cap,
        )
    )


def product_set_status(*, product: Product, status: str) -> Product:
    """Move a product between draft, listed and paused (row-locked; a no-op if already there)."""
    if status not in ListingStatus.values:
        raise DomainError(_("Unknown listing status."), code="bad_status")
    with transaction.atomic():
        locked = Product.objects.select_for_update().get(pk=product.pk)
        if locked.status == status:
            return locked
        locked.status = status
        if status == ListingStatus.LISTED and locked.listed_at is None:
            locked.listed_at = timezone.now()
        locked.save(update_fields=["status", "listed_at", "updated_at"])
        _catalog_changed()
    return locked


def product_image_add(
    *,
    product: Product,
    upload: IO[bytes],
    name: str = "",
    alt: str = "",
    position: int | None = None,
) -> ProductImage:
    """Check an upload by content, store it with a thumbnail; first image is the cover."""
    processed = process_upload(upload, name=name or getattr(upload, "name", "image"))
    with transaction.atomic():
        locked = Product.objects.select_for_update().get(pk=product.pk)
        count = ProductImage.objects.filter(product=locked).count()
        if count >= settings.PRODUCT_IMAGE_MAX_COUNT:
            raise DomainError(
                _("A product can have at most %(n)s images; delete one first.")
                % {"n": settings.PRODUCT_IMAGE_MAX_COUNT},
                code="too_many_images",
                field="image",
            )
        if position is None:
            # `or -1` would treat an image at position 0 as no image at all.
            last = ProductImage.objects.filter(product=locked).aggregate(m=Max("position"))["m"]
            position = 0 if last is None else last + 1
        image = ProductImage(product=locked, alt=alt, position=position)
        image.image.save(processed.image.name, processed.image, save=False)
        image.thumbnail.save(processed.thumbnail.name, processed.thumbnail, save=False)
        image.save()
        if locked.cover_id is None:
            locked.cover = image
            locked.save(update_fields=["cover", "updated_at"])
        _catalog_changed()
    return image


def product_image_delete(*, image: ProductImage) -> None:
    """Delete an image; if it was the cover, the next image by position becomes the cover."""
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=image.product_id)
        files = [image.image.name, image.thumbnail.name]
        storage = image.image.storage
        image_id = image.pk  # delete() sets image.pk to None
        image.delete()
        if product.cover_id is None or product.cover_id == image_id:
            product.cover = product.images.order_by("position", "id").first()
            product.save(update_fields=["cover", "updated_at"])
        _catalog_changed()
        transaction.on_commit(lambda: [storage.delete(f) for f in files if f])


def product_image_update(*, image: ProductImage, alt: str, position: int) -> None:
    """Change an image's description and place in the gallery (the file stays)."""
    with transaction.atomic():
        ProductImage.objects.filter(pk=image.pk).update(alt=alt, position=position)
        _catalog_changed()
    image.alt, image.position = alt, position


def product_delete(*, product: Product) -> None:
    """Delete a product (the database refuses one that stock or orders still point at)."""
    with transaction.atomic():
        product.delete()
        _catalog_changed()


def product_rating_set(*, product: Product, avg: Decimal | None, count: int) -> Product:
    """Store a product's rating summary (the survey module's figures); pages show it at once."""
    if count < 0 or (avg is None) != (count == 0) or (avg is not None and not 1 <= avg <= 5):
        # The survey module computes these: a bad summary is a bug there, not a buyer's input.
        raise ValueError(f"bad rating summary: average {avg}, count {count}")
    with transaction.atomic():
        Product.objects.filter(pk=product.pk).update(rating_avg=avg, rating_count=count)
        _catalog_changed()
    product.rating_avg, product.rating_count = avg, count
    return product
