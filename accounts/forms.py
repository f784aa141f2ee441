from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.countries import COUNTRIES
from core.validators import normalize_phone

from .models import Address, BuyerProfile

LICENCE_TYPES = {"application/pdf", "image/jpeg", "image/png"}
LICENCE_MAGIC = {b"%PDF-": "pdf", b"\xff\xd8\xff": "jpg", b"\x89PNG\r\n\x1a\n": "png"}


class PhoneField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        return normalize_phone(value) if value else value


class ProfileForm(forms.ModelForm):
    phone = PhoneField(label=_("Mobile phone"), required=False, max_length=24)

    class Meta:
        model = BuyerProfile
        fields = [
            "full_name",
            "phone",
            "qq",
            "wechat_id",
            "preferred_channel",
            "marketing_consent",
            "survey_consent",
        ]
        help_texts = {
            "marketing_consent": _(
                "Same-category offers sent to your phone. You can stop them at any time."
            ),
            "survey_consent": _("One short survey about each item you receive."),
        }

    def clean_qq(self):
        qq = self.cleaned_data["qq"].strip()
        if qq and not (qq.isdigit() and 5 <= len(qq) <= 11):
            raise forms.ValidationError(_("A QQ number has 5 to 11 digits."))
        return qq

    def clean(self):
        data = super().clean()
        channel = data.get("preferred_channel")
        needed = {"sms": "phone", "qq": "qq", "wechat": "wechat_id"}.get(channel or "")
        if needed and not data.get(needed) and needed not in self.errors:
            self.add_error(needed, _("Fill this in to receive messages on the channel you chose."))
        return data


class AddressForm(forms.ModelForm):
    phone = PhoneField(label=_("Phone"), max_length=24)
    make_default = forms.BooleanField(label=_("Use as my default address"), required=False)

    class Meta:
        model = Address
        fields = [
            "recipient",
            "phone",
            "country",
            "province",
            "city",
            "district",
            "line1",
            "postal_code",
        ]

    def clean_postal_code(self):
        code = self.cleaned_data["postal_code"].strip()
        if (
            self.cleaned_data.get("country") == "CN"
            and code
            and not (code.isdigit() and len(code) == 6)
        ):
            raise forms.ValidationError(_("A mainland China postal code has 6 digits."))
        return code


class MerchantApplicationForm(forms.Form):
    name = forms.CharField(label=_("Company name"), max_length=200)
    country = forms.ChoiceField(
        label=_("Country of registration"), choices=[("", "---------"), *COUNTRIES]
    )
    licence_number = forms.CharField(
        label=_("Business licence number"),
        max_length=64,
        min_length=5,
        help_text=_(
            "As printed on the licence, for example the 18-character unified social credit code."
        ),
    )
    licence_document = forms.FileField(
        label=_("Licence document"), help_text=_("PDF, JPEG or PNG, up to 10 MB.")
    )
    contact_name = forms.CharField(label=_("Contact person"), max_length=100)
    contact_email = forms.EmailField(label=_("Contact email"))
    contact_phone = PhoneField(label=_("Contact phone"), max_length=24)

    def clean_licence_number(self):
        number = self.cleaned_data["licence_number"].strip().upper()
        if not number.replace("-", "").isalnum():
            raise forms.ValidationError(_("Use only letters, digits and dashes."))
        return number

    def clean_licence_document(self):
        upload = self.cleaned_data["licence_document"]
        if upload.size > settings.MERCHANT_LICENCE_MAX_BYTES:
            raise forms.ValidationError(_("The document is larger than 10 MB."))
        head = upload.read(8)
        upload.seek(0)
        extension = next(
            (ext for magic, ext in LICENCE_MAGIC.items() if head.startswith(magic)), None
        )
        if extension is None:
            raise forms.ValidationError(_("Upload the licence as a PDF, JPEG or PNG file."))
        # The stored name comes from the content, never from the uploader (no .html "PDFs").
        upload.name = f"licence.{extension}"
        return upload
