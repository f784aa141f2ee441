from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .selectors import CategoryTree, ProductFilters, category_tree

SORT_CHOICES = [
    ("newest", _("Newest")),
    ("price_asc", _("Price: low to high")),
    ("price_desc", _("Price: high to low")),
    ("rating", _("Best rated")),
    ("relevance", _("Relevance")),
]


class ProductFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100, strip=True)
    category = forms.SlugField(label=_("Category"), required=False, max_length=100)
    price_min = forms.DecimalField(
        label=_("Min price (CNY)"), required=False, min_value=0, max_digits=12, decimal_places=2
    )
    price_max = forms.DecimalField(
        label=_("Max price (CNY)"), required=False, min_value=0, max_digits=12, decimal_places=2
    )
    rating = forms.TypedChoiceField(
        label=_("Rating"),
        required=False,
        coerce=Decimal,
        empty_value=None,
        choices=[("", _("Any rating")), ("4", _("4 stars and up")), ("3", _("3 stars and up"))],
    )
    sort = forms.ChoiceField(label=_("Sort by"), required=False, choices=SORT_CHOICES)
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)
    per_page = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("24", "24"), ("48", "48"), ("96", "96")],
    )

    def __init__(self, *args, tree: CategoryTree | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tree = tree

    def clean_category(self):
        slug = self.cleaned_data.get("category")
        if not slug:
            return None
        node = (self.tree or category_tree()).by_slug.get(slug)
        if node is None:
            raise forms.ValidationError(
                _("There is no category “%(slug)s”."), params={"slug": slug}
            )
        return node

    def clean(self):
        data = super().clean()
        low, high = data.get("price_min"), data.get("price_max")
        if low is not None and high is not None and low > high:
            self.add_error("price_max", _("The maximum price is below the minimum price."))
        return data

    def filters(self) -> ProductFilters:
        """The valid filters; a field with an error is dropped (and its message shown)."""
        valid = {k: v for k, v in self.cleaned_data.items() if k not in self.errors}
        return ProductFilters(
            q=valid.get("q") or "",
            category=valid.get("category"),
            price_min=valid.get("price_min"),
            price_max=valid.get("price_max"),
            rating_min=valid.get("rating"),
            sort=valid.get("sort") or ("relevance" if valid.get("q") else "newest"),
        )

    def page_number(self) -> int:
        return (self.cleaned_data.get("page") if "page" not in self.errors else None) or 1

    def page_size(self) -> int:
        size = self.cleaned_data.get("per_page") if "per_page" not in self.errors else None
        return min(size or settings.CATALOG_PAGE_SIZE, settings.CATALOG_MAX_PAGE_SIZE)
