from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.money import format_money

CURRENCY_LABELS = {
    "CNY": _("Chinese yuan (CNY)"),
    "USD": _("US dollar (USD)"),
    "EUR": _("Euro (EUR)"),
    "JPY": _("Japanese yen (JPY)"),
    "KRW": _("Korean won (KRW)"),
    "GBP": _("Pound sterling (GBP)"),
    "AUD": _("Australian dollar (AUD)"),
    "HKD": _("Hong Kong dollar (HKD)"),
}


class CartLineForm(forms.Form):
    product = forms.IntegerField(min_value=1)
    quantity = forms.IntegerField(
        label=_("Quantity"),
        min_value=0,
        max_value=999,
        error_messages={
            "invalid": _("Enter a whole number."),
            "min_value": _("Enter a quantity of at least 1."),
            "max_value": _("At most 999 of one product per order."),
        },
    )


class CheckoutForm(forms.Form):
    address = forms.TypedChoiceField(label=_("Deliver to"), coerce=int, widget=forms.RadioSelect)
    shipping_method = forms.ChoiceField(label=_("Shipping"), widget=forms.RadioSelect)
    display_currency = forms.ChoiceField(
        label=_("Show amounts also in"),
        choices=[(c, CURRENCY_LABELS.get(c, c)) for c in settings.DISPLAY_CURRENCIES],
        initial="CNY",
    )
    orderer_name = forms.CharField(
        label=_("Orderer's real name"),
        max_length=60,
        required=False,
        help_text=_("As on the ID card. China customs require it; the payer must be the orderer."),
    )
    orderer_id = forms.CharField(
        label=_("Orderer's ID card number"),
        max_length=24,
        required=False,
        help_text=_("18 characters. Stored encrypted and shown masked."),
    )
    risk_notice = forms.BooleanField(
        label=_("I have read the cross-border shopping notice and accept it."), required=False
    )
    expected_total = forms.DecimalField(
        max_digits=12, decimal_places=2, required=False, widget=forms.HiddenInput
    )

    def __init__(
        self,
        *args: Any,
        addresses: list[Any],
        shipping: list[tuple[Any, Decimal]],
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.fields["address"].choices = [
            (a.pk, f"{a.recipient}, {a.line1}, {a.city}, {a.province} ({a.country})")
            for a in addresses
        ]
        self.fields["shipping_method"].choices = [
            (
                m.code,
                _("%(name)s: %(price)s, %(min)s–%(max)s days")  # noqa: RUF001
                % {
                    "name": m.display_name,
                    "price": format_money(price, "CNY"),
                    "min": m.days_min,
                    "max": m.days_max,
                },
            )
            for m, price in shipping
        ]
        self.fields["address"].error_messages["required"] = _("Choose a delivery address.")
        self.fields["shipping_method"].error_messages["required"] = _("Choose a shipping method.")
        self.fields["address"].error_messages["invalid_choice"] = _("Choose one of your addresses.")
        self.fields["shipping_method"].error_messages["invalid_choice"] = _(
            "This shipping method does not deliver to the chosen address."
        )


class SandboxPayForm(forms.Form):
    from .payments.sandbox import NotifyMode

    OUTCOMES = [("pay", _("Pay")), ("fail", _("Decline the payment"))]
    MODES = [
        (NotifyMode.NORMAL, _("Notify the shop normally")),
        (NotifyMode.DUPLICATE, _("Send the notification three times")),
        (NotifyMode.DELAYED, _("Send the notification 30 seconds late")),
        (NotifyMode.WRONG_AMOUNT, _("Send a wrong amount first")),
        (NotifyMode.BAD_SIGNATURE, _("Send a bad signature first")),
        (NotifyMode.SILENT, _("Send no notification (the shop must ask)")),
    ]
    payer_name = forms.CharField(label=_("Payer's real name"), max_length=60, required=False)
    outcome = forms.ChoiceField(choices=OUTCOMES, widget=forms.HiddenInput)
    mode = forms.ChoiceField(
        label=_("Sandbox behaviour"), choices=MODES, initial=NotifyMode.NORMAL, required=False
    )
