"""Item numbers and their verification codes.

Item number: "PV" + 9 random Crockford base-32 symbols + 1 check symbol (Luhn mod 32), e.g.
PV7K3M9Q2TXA. The check symbol catches any single mistyped symbol and most swaps before any
lookup. The verification code printed on the label is an HMAC of the item number under a key only
the platform holds: it is never stored, so a database leak does not leak the codes, and a label can
be printed again at any time.
"""

import hashlib
import hmac
import secrets

from django.conf import settings

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
INDEX = {c: i for i, c in enumerate(ALPHABET)}
PREFIX = "PV"
BODY = 9
CODE_LENGTH = 8
# Symbols people confuse, read the way Crockford's base 32 intends.
NORMALIZE = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


def _check_symbol(body: str) -> str:
    total, factor = 0, 2
    for char in reversed(body):
        addend = factor * INDEX[char]
        factor = 1 if factor == 2 else 2
        total += addend // 32 + addend % 32
    return ALPHABET[(32 - total % 32) % 32]


def new_item_number() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY))
    return f"{PREFIX}{body}{_check_symbol(body)}"


def normalize_item_number(raw: str) -> str:
    return (raw or "").strip().upper().translate(NORMALIZE)


def is_well_formed(item_number: str) -> bool:
    """Shape and check symbol only; says nothing about whether the unit exists."""
    if len(item_number) != len(PREFIX) + BODY + 1 or not item_number.startswith(PREFIX):
        return False
    body, check = item_number[len(PREFIX) : -1], item_number[-1]
    if any(c not in INDEX for c in body + check):
        return False
    return _check_symbol(body) == check


def verification_code(item_number: str) -> str:
    key = settings.UNIT_CODE_KEY.encode()
    digest = hmac.new(key, item_number.encode(), hashlib.sha256).digest()
    value = int.from_bytes(digest[:5], "big")  # 40 bits -> 8 symbols
    return "".join(ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(CODE_LENGTH)))


def code_matches(item_number: str, code: str) -> bool:
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a TypeError
    # for anyone typing "ü" into the public verify form).
    return hmac.compare_digest(
        verification_code(item_number).encode(), normalize_item_number(code).encode()
    )
