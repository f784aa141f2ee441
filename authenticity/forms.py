"""Forms of the appraiser stations and the public verify page. They parse; services decide."""

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from warehouse.codes import is_well_formed, normalize_item_number

from .models import ChecklistTemplate, Stage, Verdict

ANSWER_CHOICES = [("pass", _("Pass")), ("fail", _("Fail")), ("na", _("N/A"))]
# What a label can carry: letters and digits only (also keeps the redirect URL clean).
LABEL_TEXT = re.compile(r"[0-9A-Z]{1,32}")
TEXT_INPUT = {
    "autocomplete": "off",
    "autocapitalize": "characters",
    "spellcheck": "false",
    "autocorrect": "off",
}


class ScanForm(forms.Form):
    """The scan box: a barcode scanner types the item number and presses Enter."""

    item = forms.CharField(
        label=_("Item number"),
        max_length=40,
        widget=forms.TextInput(
            attrs={**TEXT_INPUT, "autofocus": True, "placeholder": "PV…", "enterkeyhint": "go"}
        ),
    )

    def clean_item(self) -> str:
        number = normalize_item_number(self.cleaned_data["item"])
        if not is_well_formed(number):
            raise forms.ValidationError(
                _("“%(number)s” is not a valid item number; check it and scan again."),
                params={"number": number},
                code="bad_item_number",
            )
        return number


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Zero or more uploaded files; the service checks each one is a real, bounded image."""

    def clean(self, data: Any, initial: Any = None) -> list:
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return [super(PhotosField, self).clean(f, initial) for f in files if f]


class AppraisalForm(forms.Form):
    """One verdict on one unit: the category's checklist, the verdict, notes and photos."""

    verdict = forms.ChoiceField(
        label=_("Verdict"), choices=Verdict.choices, widget=forms.RadioSelect
    )
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What you saw. Required for every verdict other than genuine."),
    )
    photos = PhotosField(
        label=_("Photos"),
        required=False,
        widget=MultipleFileInput(attrs={"accept": "image/*", "multiple": True}),
        help_text=_("Evidence: required for counterfeit and defective. Up to 8 images."),
    )
    camera = PhotosField(
        label=_("Take a photo now"),
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/*", "capture": "environment"}),
    )
    stage = forms.TypedChoiceField(
        choices=Stage.choices, coerce=int, widget=forms.HiddenInput, required=True
    )

    def __init__(self, *args: Any, template: ChecklistTemplate | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.items = list(template.items.all()) if template else []
        self.checklist_errors: list[str] = []
        for item in self.items:
            self.fields[f"check_{item.pk}"] = forms.ChoiceField(
                label=item.display_text,
                choices=ANSWER_CHOICES,
                required=item.required,
                widget=forms.RadioSelect,
                error_messages={"required": _("Answer this check.")},
            )

    def checklist_rows(self) -> list[tuple[Any, forms.BoundField]]:
        return [(item, self[f"check_{item.pk}"]) for item in self.items]

    def answers(self) -> dict[int, str]:
        return {
            item.pk: self.cleaned_data[f"check_{item.pk}"]
            for item in self.items
            if self.cleaned_data.get(f"check_{item.pk}")
        }

    def photo_files(self) -> list:
        return [*self.cleaned_data.get("photos", []), *self.cleaned_data.get("camera", [])]

    def add_domain_error(self, err: DomainError) -> None:
        """Show a service's refusal next to the field it names."""
        field = {"image": "photos", "item_number": None}.get(err.field, err.field)
        if field == "checklist":
            self.checklist_errors.append(str(err.message))
        elif field in self.fields:
            self.add_error(field, str(err.message))
        else:
            self.add_error(None, str(err.message))


class DispositionForm(forms.Form):
    """Shared by both dispositions: which unit, and a note for the record."""

    item_number = forms.CharField(widget=forms.HiddenInput, max_length=40)
    note = forms.CharField(
        label=_("Note"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def add_domain_error(self, err: DomainError) -> None:
        field = err.field if err.field in self.fields and err.field != "item_number" else None
        self.add_error(field, str(err.message))


class DestroyForm(DispositionForm):
    action = "destroy"

    witness = forms.TypedChoiceField(label=_("Witness"), coerce=int)
    method = forms.CharField(
        label=_("Method"),
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. shredded, crushed")}),
    )
    field_order = ["item_number", "witness", "method", "note"]

    def __init__(self, *args: Any, witnesses: list, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.witnesses = {user.pk: user for user in witnesses}
        self.fields["witness"].choices = [
            ("", _("Choose a witness")),
            *((user.pk, user.get_full_name() or user.email) for user in witnesses),
        ]

    def witness_user(self) -> Any:
        return self.witnesses.get(self.cleaned_data["witness"])


class ReturnForm(DispositionForm):
    action = "return"

    carrier = forms.CharField(label=_("Carrier"), max_length=60)
    waybill = forms.CharField(
        label=_("Waybill number"), max_length=60, widget=forms.TextInput(attrs=TEXT_INPUT)
    )
    field_order = ["item_number", "carrier", "waybill", "note"]


class VerifyForm(forms.Form):
    """The public form: item number and code exactly as printed on the label."""

    item = forms.CharField(
        label=_("Item number"),
        max_length=40,
        widget=forms.TextInput(attrs={**TEXT_INPUT, "placeholder": "PV…"}),
    )
    code = forms.CharField(
        label=_("Code"),
        max_length=40,
        widget=forms.TextInput(attrs={**TEXT_INPUT, "enterkeyhint": "go"}),
        help_text=_("The 8 characters printed under the QR code."),
    )

    @staticmethod
    def _label_text(value: str, message: str) -> str:
        text = normalize_item_number(value)
        if not LABEL_TEXT.fullmatch(text):
            raise forms.ValidationError(message, code="bad_characters")
        return text

    def clean_item(self) -> str:
        return self._label_text(
            self.cleaned_data["item"],
            _("Item numbers have only letters and digits, as printed on the label."),
        )

    def clean_code(self) -> str:
        return self._label_text(
            self.cleaned_data["code"],
            _("Codes have only letters and digits, as printed on the label."),
        )
