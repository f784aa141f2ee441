"""Forms of the warehouse stations: they parse what the scanner or the clerk typed, nothing more.

Rules (what may be received, moved or counted) live in warehouse.services; a form only turns the
text into the values a service takes, with a clear message when the text cannot be one.
"""

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .codes import is_well_formed, normalize_item_number

# What a barcode scanner types into: no autocorrect, no capitalisation games, Enter submits.
SCAN_ATTRS = {
    "autofocus": True,
    "autocomplete": "off",
    "autocapitalize": "characters",
    "spellcheck": "false",
    "enterkeyhint": "go",
    "class": "scan__input",
}
REFERENCE = re.compile(r"^IN-?(\d{1,10})$")


class ScanInput(forms.TextInput):
    """A box a scanner types into starts empty after every submit: the next code must not land
    behind the last one (the message says what was scanned)."""

    def format_value(self, value: Any) -> None:
        return None


class ItemNumberForm(forms.Form):
    item_number = forms.CharField(
        label=_("Item number"),
        max_length=40,
        widget=ScanInput(attrs={**SCAN_ATTRS, "placeholder": "PV…"}),
    )

    def __init__(self, *args: Any, autofocus: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not autofocus:  # another box on the page has the focus
            del self.fields["item_number"].widget.attrs["autofocus"]

    def clean_item_number(self) -> str:
        number = normalize_item_number(self.cleaned_data["item_number"])
        if not is_well_formed(number):
            raise forms.ValidationError(
                _("“%(number)s” is not a valid item number; check it and scan again."),
                params={"number": number},
                code="bad_item_number",
            )
        return number


class StockSearchForm(forms.Form):
    q = forms.CharField(label=_("Product name"), max_length=100, required=False)
    after = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)


class ReferenceForm(forms.Form):
    reference = forms.CharField(
        label=_("Inbound reference"),
        max_length=20,
        widget=ScanInput(attrs={**SCAN_ATTRS, "placeholder": "IN-0000123"}),
    )

    def clean_reference(self) -> str:
        return normalize_reference(self.cleaned_data["reference"])


def normalize_reference(raw: str) -> str:
    """IN-0000123 as printed; a scanner or a clerk may give in0000123, IN-123 or just 123."""
    text = (raw or "").strip().upper().replace(" ", "")
    if text.isdigit():
        text = f"IN-{text}"
    match = REFERENCE.match(text)
    if match is None:
        raise forms.ValidationError(
            _("“%(reference)s” is not an inbound reference (like IN-0000123)."),
            params={"reference": raw.strip()},
            code="bad_reference",
        )
    return f"IN-{int(match.group(1)):07d}"


class RelocateForm(forms.Form):
    location = forms.CharField(
        label=_("Move to location"),
        max_length=20,
        # Scanning a bin's label right after opening a unit moves the unit there.
        widget=ScanInput(
            attrs={
                "autofocus": True,
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "list": "location-codes",
                "placeholder": "STK-A01",
            }
        ),
    )
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


COUNT_ATTRS = {"inputmode": "numeric", "class": "count-input"}
COUNT_ERRORS = {
    "invalid": _("Type a whole number."),
    "min_value": _("Counts cannot be negative."),
}


class ReceiveForm(forms.Form):
    """One count per announced product, and one row for a product that was not announced.

    `lines` are the shipment's InboundLines (product prefetched); `products` the merchant's
    products, to find the "other product" by id or slug.
    """

    other_product = forms.CharField(
        label=_("Other product (id or slug)"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"list": "merchant-products", "autocomplete": "off"}),
    )
    other_count = forms.IntegerField(
        label=_("Items counted"),
        min_value=0,
        required=False,
        error_messages=COUNT_ERRORS,
        widget=forms.NumberInput(attrs=COUNT_ATTRS),
    )
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args: Any, lines: list, products: list, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lines = lines
        self.products = products
        for i, line in enumerate(lines):
            attrs = {**COUNT_ATTRS, "autofocus": True} if i == 0 else COUNT_ATTRS
            self.fields[f"count_{line.product_id}"] = forms.IntegerField(
                label=line.product.name,
                min_value=0,
                required=False,
                error_messages=COUNT_ERRORS,
                widget=forms.NumberInput(attrs=attrs),
            )
        self.order_fields([*(f"count_{line.product_id}" for line in lines)])

    def count_fields(self) -> list:
        return [(line, self[f"count_{line.product_id}"]) for line in self.lines]

    def clean_other_product(self) -> Any:
        ref = self.cleaned_data["other_product"].strip()
        if not ref:
            return None
        # The datalist offers "slug — name"; a clerk may type the id or the slug alone.
        key = ref.split(" ", 1)[0]
        for product in self.products:
            if key == str(product.pk) or key == product.slug:
                return product
        raise forms.ValidationError(
            _("This merchant has no product “%(ref)s”. Give its id or slug."),
            params={"ref": ref},
            code="unknown_product",
        )

    def clean(self) -> dict:
        data = super().clean()
        other, count = data.get("other_product"), data.get("other_count")
        if other is not None and not count and "other_count" not in self.errors:
            self.add_error("other_count", _("How many of this product arrived?"))
        if other is None and count and "other_product" not in self.errors:
            self.add_error("other_product", _("Which product are these?"))
        return data

    def counts(self) -> dict[int, int]:
        """product id -> items counted now (zeros included: the service says what is wrong)."""
        counts = {
            line.product_id: self.cleaned_data.get(f"count_{line.product_id}") or 0
            for line in self.lines
        }
        other = self.cleaned_data.get("other_product")
        if other is not None:
            counts[other.pk] = counts.get(other.pk, 0) + (self.cleaned_data["other_count"] or 0)
        return counts


class DamageForm(forms.Form):
    prefix = "damage"  # shares the receive page with ReceiveForm
    product = forms.TypedChoiceField(label=_("Product"), coerce=int)
    quantity = forms.IntegerField(
        label=_("Damaged items"),
        min_value=1,
        error_messages={"min_value": _("Give how many items are damaged.")},
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 1}),
    )
    note = forms.CharField(label=_("What is damaged"), max_length=500, required=False)

    def __init__(self, *args: Any, lines: list, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.products = {line.product_id: line.product for line in lines}
        self.fields["product"].choices = [(pid, p.name) for pid, p in self.products.items()]


class CountStartForm(forms.Form):
    location = forms.TypedChoiceField(
        label=_("Location to count"), coerce=int, widget=forms.Select(attrs={"autofocus": True})
    )

    def __init__(self, *args: Any, locations: list, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.locations = {location.pk: location for location in locations}
        self.fields["location"].choices = [(location.pk, str(location)) for location in locations]


class OrderNumberForm(forms.Form):
    order = forms.CharField(
        label=_("Order number"),
        max_length=20,
        widget=ScanInput(attrs={**SCAN_ATTRS, "placeholder": "PV…"}),
    )

    def clean_order(self) -> str:
        return self.cleaned_data["order"].strip().upper()


class ParcelCodeForm(forms.Form):
    parcel = forms.CharField(
        label=_("Parcel code"),
        max_length=16,
        widget=ScanInput(attrs={**SCAN_ATTRS, "placeholder": "PK…"}),
    )

    def clean_parcel(self) -> str:
        return self.cleaned_data["parcel"].strip().upper()


class WeightForm(forms.Form):
    weight_grams = forms.IntegerField(
        label=_("Weight (g)"),
        min_value=1,
        max_value=70_000,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "count-input"}),
        error_messages={
            "required": _("Enter the parcel's weight in grams."),
            "invalid": _("Enter the weight as a whole number of grams."),
            "min_value": _("Enter the parcel's weight in grams (1 to 70,000)."),
            "max_value": _("Enter the parcel's weight in grams (1 to 70,000)."),
        },
    )
