"""Sensitive personal data at rest: authenticated encryption plus a keyed blind index.

The ciphertext (Fernet: AES-128-CBC + HMAC-SHA256, random IV) is what the database stores; the
blind index (HMAC-SHA256 of the normalised value) lets the platform find every row with the same
value (the annual cross-border quota is kept per orderer ID number) without decrypting anything.
Both keys derive from settings.PII_KEY, which must never change once data exists.
"""

import base64
import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _derive(purpose: str) -> bytes:
    key = settings.PII_KEY
    if not key:
        raise ImproperlyConfigured(
            "Set PROVENA_PII_KEY (or DJANGO_SECRET_KEY) to store personal data."
        )
    return hmac.new(key.encode(), purpose.encode(), hashlib.sha256).digest()


@cache
def _fernet(key: str) -> Fernet:  # keyed on the setting so tests overriding it get a new one
    return Fernet(base64.urlsafe_b64encode(_derive("encrypt")))


def encrypt(value: str) -> str:
    return _fernet(settings.PII_KEY).encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """The plaintext, or '' when the token was made with another key or is damaged."""
    if not token:
        return ""
    try:
        return _fernet(settings.PII_KEY).decrypt(token.encode()).decode()
    except InvalidToken:
        return ""


def blind_index(value: str) -> str:
    normalised = "".join(value.split()).upper()
    return hmac.new(_derive("index"), normalised.encode(), hashlib.sha256).hexdigest()
