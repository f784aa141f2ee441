"""Validators shared by forms and models (phones, IDs)."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAINLAND_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalize_phone(raw: str) -> str:
    """Return the E.164 form of a phone number; an 11-digit mainland mobile gets +86."""
    cleaned = re.sub(r"[\s\-().]", "", raw or "")
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    if MAINLAND_MOBILE.match(cleaned):
        cleaned = "+86" + cleaned
    if not E164.match(cleaned):
        raise ValidationError(
            _("Enter a phone number in international form, for example +8613800138000."),
            code="invalid_phone",
        )
    return cleaned


def validate_e164(value: str) -> None:
    if value and not E164.match(value):
        raise ValidationError(
            _("Enter a phone number in international form, for example +8613800138000."),
            code="invalid_phone",
        )


def mask_phone(value: str) -> str:
    """+8613800138000 -> +86 138****8000: enough to recognise, not enough to dial."""
    if not value or len(value) < 8:
        return value and "****"
    if value.startswith("+86") and len(value) == 14:
        return f"+86 {value[3:6]}****{value[-4:]}"
    return f"{value[:4]}****{value[-3:]}"
