"""Admin forms: images are checked by content before any save; prices need a known currency."""

from django import forms
from django.conf import settings
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.images import process_upload

from .models import Currency, ExchangeRate, Product, ProductImage


class ProductAdminForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = [
            "merchant",
            "name",
            "slug",
            "category",
            "description",
            "price",
            "currency",
            "origin_country",
            "hs_code",
            "weight_grams",
            "status",
            "listed_quantity_cap",
        ]

    def clean_currency(self):
        currency = self.cleaned_data["currency"]
        if currency != Currency.CNY and not ExchangeRate.objects.filter(currency=currency).exists():
            raise forms.ValidationError(
                _("No exchange rate is set for %(currency)s; ask the platform to add one."),
                params={"currency": currency},
            )
        return currency


class ProductImageInlineForm(forms.ModelForm):
    class Meta:
        model = ProductImage
        fields = ["image", "alt", "position"]

    def clean_image(self):
        upload = self.cleaned_data.get("image")
        if upload and not getattr(self.instance, "pk", None) and hasattr(upload, "read"):
            try:
                process_upload(upload, name=upload.name)
            except DomainError as err:
                raise forms.ValidationError(str(err.message)) from err
            upload.seek(0)
        return upload


class ProductImageInlineFormSet(BaseInlineFormSet):
    """Refuses, with a message on the form, more images than a product may have."""

    def clean(self):
        super().clean()
        kept = [
            f
            for f in self.forms
            if f.cleaned_data
            and not f.cleaned_data.get("DELETE")
            and (f.instance.pk or f.cleaned_data.get("image"))
        ]
        limit = settings.PRODUCT_IMAGE_MAX_COUNT
        if len(kept) > limit:
            raise forms.ValidationError(
                _("A product can have at most %(n)s images; remove %(extra)s."),
                params={"n": limit, "extra": len(kept) - limit},
            )
