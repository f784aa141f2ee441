from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def unit_code_key_is_own(app_configs, **kwargs):
    """Label codes must survive a SECRET_KEY rotation: they need a key of their own."""
    if getattr(settings, "UNIT_CODE_KEY_FROM_SECRET", False):
        return [
            Warning(
                "PROVENA_UNIT_CODE_KEY is not set: unit verification codes are derived from "
                "SECRET_KEY, so rotating it would invalidate every printed label.",
                hint="Set PROVENA_UNIT_CODE_KEY once per installation and keep it.",
                id="provena.W001",
            )
        ]
    return []
