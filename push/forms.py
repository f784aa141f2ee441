from django import forms
from django.utils.translation import gettext_lazy as _


class UnsubscribeForm(forms.Form):
    marketing = forms.BooleanField(
        label=_("Promotions and product recommendations"), required=False, initial=True
    )
    surveys = forms.BooleanField(
        label=_("Invitations to rate what you bought"), required=False, initial=True
    )

    def clean(self):
        data = super().clean()
        if not data.get("marketing") and not data.get("surveys"):
            raise forms.ValidationError(_("Choose at least one kind of message to stop."))
        return data
