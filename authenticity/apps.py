from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuthenticityConfig(AppConfig):
    name = "authenticity"
    verbose_name = _("Authenticity")
