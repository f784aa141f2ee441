from decimal import Decimal

from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from core.countries import COUNTRIES


class Currency(models.TextChoices):
    CNY = "CNY", _("Chinese yuan")
    USD = "USD", _("US dollar")
    EUR = "EUR", _("Euro")
    JPY = "JPY", _("Japanese yen")
    KRW = "KRW", _("Korean won")
    GBP = "GBP", _("Pound sterling")
    AUD = "AUD", _("Australian dollar")
    HKD = "HKD", _("Hong Kong dollar")


class ExchangeRate(models.Model):
    """How many CNY one unit of a currency buys; prices are compared and filtered in CNY."""

    currency = models.CharField(
        _("currency"), max_length=3, choices=Currency.choices, primary_key=True
    )
    cny_per_unit = models.DecimalField(_("CNY per unit"), max_digits=14, decimal_places=6)
    source = models.CharField(_("source"), max_length=100, default="platform")
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        constraints = [
            models.CheckConstraint(condition=Q(cny_per_unit__gt=0), name="exchange_rate_positive")
        ]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.cny_per_unit} CNY"


class Category(models.Model):
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    name = models.CharField(_("name"), max_length=100)
    name_zh = models.CharField(_("name (Simplified Chinese)"), max_length=100, blank=True)
    slug = models.SlugField(
        _("slug"),
        max_length=100,
        unique=True,
        blank=True,
        help_text=_("The category's web address; leave empty to make one from the name."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(condition=~Q(parent=F("pk")), name="category_not_own_parent")
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.name_zh and (get_language() or "").startswith("zh"):
            return self.name_zh
        return self.name


class ListingStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    LISTED = "listed", _("Listed")
    PAUSED = "paused", _("Paused")


hs_code_validator = RegexValidator(
    r"^\d{6,10}$", _("An HS code has 6 to 10 digits, for example 330499 or 3304990099.")
)


class Product(models.Model):
    merchant = models.ForeignKey(
        "accounts.Merchant",
        verbose_name=_("merchant"),
        on_delete=models.PROTECT,
        related_name="products",
    )
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="products"
    )
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(
        _("slug"),
        max_length=220,
        unique=True,
        blank=True,
        help_text=_("The product's web address; leave empty to make one from the name."),
    )
    description = models.TextField(_("description"), blank=True)
    price = models.DecimalField(
        _("price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    currency = models.CharField(
        _("currency"), max_length=3, choices=Currency.choices, default=Currency.CNY
    )
    # Maintained by catalog.services from ExchangeRate: the price filters and sorts compare in CNY.
    price_cny = models.DecimalField(
        _("price in CNY"), max_digits=14, decimal_places=2, editable=False
    )
    origin_country = models.CharField(_("country of origin"), max_length=2, choices=COUNTRIES)
    hs_code = models.CharField(_("HS code"), max_length=10, validators=[hs_code_validator])
    weight_grams = models.PositiveIntegerField(_("weight (g)"))
    status = models.CharField(
        _("listing status"),
        max_length=10,
        choices=ListingStatus.choices,
        default=ListingStatus.DRAFT,
    )
    listed_quantity_cap = models.PositiveIntegerField(
        _("listed quantity cap"),
        null=True,
        blank=True,
        help_text=_("The most units offered for sale at once; empty means all sellable stock."),
    )
    cover = models.ForeignKey(
        "catalog.ProductImage",
        verbose_name=_("cover image"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Rating summary, written by the survey module (aftersales) when answers arrive.
    rating_avg = models.DecimalField(
        max_digits=3, decimal_places=2, null=True, blank=True, editable=False
    )
    rating_count = models.PositiveIntegerField(default=0, editable=False)
    search_vector = SearchVectorField(null=True, editable=False)
    listed_at = models.DateTimeField(_("listed at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-listed_at", "-id"], name="product_listed_newest"),
            models.Index(fields=["status", "price_cny", "id"], name="product_listed_price"),
            models.Index(fields=["status", "-rating_avg", "-id"], name="product_listed_rating"),
            models.Index(
                fields=["category", "status", "-listed_at", "-id"], name="product_cat_newest"
            ),
            models.Index(fields=["merchant", "-created_at"], name="product_merchant"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="product_price_positive"),
            models.CheckConstraint(condition=Q(price_cny__gt=0), name="product_price_cny_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "listed", "paused"]), name="product_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(listed_at__isnull=False),
                name="product_listed_has_date",
            ),
        ]

    def __str__(self) -> str:
        return self.name


def product_image_upload_to(instance: "ProductImage", filename: str) -> str:
    return f"products/{instance.product_id}/{filename}"


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField(
        _("image"), upload_to=product_image_upload_to, width_field="width", height_field="height"
    )
    thumbnail = models.ImageField(_("thumbnail"), upload_to=product_image_upload_to, editable=False)
    width = models.PositiveIntegerField(editable=False, default=0)
    height = models.PositiveIntegerField(editable=False, default=0)
    alt = models.CharField(_("description for screen readers"), max_length=200, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("product image")
        verbose_name_plural = _("product images")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.alt or f"{self.product_id}#{self.position}"
