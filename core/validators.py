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


# Resident identity card number of the PRC (GB 11643-1999): 17 digits + ISO 7064 MOD 11-2 check.
CN_RESIDENT_ID = re.compile(r"^\d{17}[\dX]$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def normalize_cn_resident_id(raw: str) -> str:
    """Return the 18-character ID number, upper-case X, or raise a ValidationError saying why."""
    value = re.sub(r"\s", "", raw or "").upper()
    if not CN_RESIDENT_ID.match(value):
        raise ValidationError(
            _("An ID card number has 18 characters: 17 digits, then a digit or X."),
            code="invalid_id_format",
        )
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != value[17]:
        raise ValidationError(
            _("This ID card number is not valid (its check character does not match)."),
            code="invalid_id_checksum",
        )
    return value


def mask_id_number(value: str) -> str:
    """110101199003074514 -> 1101**********4514."""
    if len(value) < 8:
        return "****"
    return value[:4] + "*" * (len(value) - 8) + value[-4:]
