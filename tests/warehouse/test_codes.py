"""Item numbers (PV + 9 Crockford symbols + a Luhn mod 32 check symbol) and label codes."""

import hashlib
import hmac
import inspect
import random
import re

import pytest

from warehouse import codes
from warehouse.codes import (
    ALPHABET,
    code_matches,
    is_well_formed,
    new_item_number,
    normalize_item_number,
    verification_code,
)

SHAPE = re.compile(r"PV[0-9A-HJKMNP-TV-Z]{10}")
# A fixed sample, so the measured rates below are the same on every run.
SAMPLE = [
    f"PV{body}{codes._check_symbol(body)}"
    for body in ("".join(random.Random(seed).choices(ALPHABET, k=9)) for seed in range(400))
]


def test_alphabet_is_crockford_base32():
    assert ALPHABET == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    assert len(set(ALPHABET)) == 32
    assert not set("ILOU") & set(ALPHABET)


def test_new_item_numbers_are_well_formed_and_distinct():
    numbers = [new_item_number() for _ in range(2000)]

    assert all(SHAPE.fullmatch(n) for n in numbers)
    assert all(is_well_formed(n) for n in numbers)
    assert len(set(numbers)) == 2000


def test_known_check_symbols():
    # Worked by hand: Luhn mod 32 over the body, doubling from the rightmost body symbol.
    assert codes._check_symbol("000000000") == "0"
    assert codes._check_symbol("000000001") == "Y"  # 2*1 = 2 -> 32 - 2 = 30
    assert codes._check_symbol("000000010") == "Z"  # 1 -> 31
    assert codes._check_symbol("00000000Z") == "1"  # 2*31 = 62 -> 1 + 30 = 31 -> 1
    assert is_well_formed("PV000000001Y")
    assert not is_well_formed("PV000000001Z")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "PV",
        "PV000000000",  # no check symbol
        "PV0000000000A",  # one symbol too many
        "XV0000000000",
        "pv0000000000",  # well_formed takes normalised input only
        "PV00000000U0",  # U is not Crockford
        "PV0000000I00",
        "PV000000000 ",
    ],
)
def test_malformed_numbers(text):
    assert is_well_formed(text) is False


def test_every_single_symbol_substitution_is_caught():
    symbols = sorted(set(ALPHABET) | set("ILOU"))  # and the letters Crockford leaves out
    missed = []
    tried = 0
    for number in SAMPLE:
        for i in range(len(number)):
            for symbol in symbols:
                if symbol == number[i]:
                    continue
                typo = number[:i] + symbol + number[i + 1 :]
                tried += 1
                if is_well_formed(typo):
                    missed.append(typo)
    assert tried == 400 * 12 * 35
    assert missed == []


def test_adjacent_swaps_inside_the_body_exhaustively():
    # Every ordered pair of distinct symbols at every adjacent pair of body positions.
    rng = random.Random(7)
    caught = missed = 0
    missed_pairs = set()
    for i in range(8):
        for a in ALPHABET:
            for b in ALPHABET:
                if a == b:
                    continue
                body = list(rng.choices(ALPHABET, k=9))
                body[i], body[i + 1] = a, b
                number = "PV" + "".join(body) + codes._check_symbol("".join(body))
                swapped = number[: 2 + i] + b + a + number[2 + i + 2 :]
                if is_well_formed(swapped):
                    missed += 1
                    missed_pairs.add(a + b)
                else:
                    caught += 1

    # Luhn mod 32 misses exactly one pair of neighbours: 0 and Z (doubling moves 0 by 0 and
    # Z by 31 + 1 = 32 = 0 mod 32, so the sum cannot tell them apart).
    assert missed_pairs == {"0Z", "Z0"}
    assert (caught, missed) == (8 * 990, 8 * 2)
    assert caught / (caught + missed) == pytest.approx(0.997984, abs=1e-6)


def test_adjacent_swaps_across_the_whole_number():
    # The prefix, the body and the check symbol: measured on a fixed sample of numbers.
    caught = missed = 0
    missed_pairs = set()
    for number in SAMPLE:
        for i in range(len(number) - 1):
            a, b = number[i], number[i + 1]
            if a == b:
                continue
            swapped = number[:i] + b + a + number[i + 2 :]
            if is_well_formed(swapped):
                missed += 1
                missed_pairs.add(frozenset((a, b)))
            else:
                caught += 1

    assert missed_pairs == {frozenset("0Z")}
    assert missed == sum(
        {number[i], number[i + 1]} == {"0", "Z"}
        for number in SAMPLE
        for i in range(2, len(number) - 1)
    )
    assert (caught, missed) == (4265, 10)  # 99.77 % caught
    assert round(caught / (caught + missed), 4) == 0.9977


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("pv7k3m9q2txa", "PV7K3M9Q2TXA"),
        ("PV-7K3M-9Q2T-XA", "PV7K3M9Q2TXA"),
        ("  PV7K3M9Q2TXA\n", "PV7K3M9Q2TXA"),
        ("PV 7K3M 9Q2T XA", "PV7K3M9Q2TXA"),
        ("PVO0OIIL", "PV000111"),
        ("pvoil", "PV011"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalization(typed, number):
    assert normalize_item_number(typed) == number


def test_a_misread_label_still_finds_the_number():
    number = "PV000000001Y"
    assert is_well_formed(normalize_item_number("pv-oooo-oooo-1y"))
    assert normalize_item_number("pv-oooo-oooo-1y") == number
    # l and I are read as 1
    assert normalize_item_number("PVOOOOOOOOlY") == number
    assert normalize_item_number("PVOOOOOOOOIY") == number


def test_verification_code_is_stable_for_a_key_and_shaped_like_a_label_code():
    number = "PV7K3M9Q2TXA"
    code = verification_code(number)

    assert code == verification_code(number)
    assert len(code) == 8
    assert set(code) <= set(ALPHABET)
    assert code_matches(number, code)


def test_verification_code_known_values_under_the_test_key(settings):
    # Pinned: a label printed today must verify tomorrow (HMAC-SHA256, first 40 bits).
    settings.UNIT_CODE_KEY = "test-only-unit-code-key"
    assert verification_code("PV000000001Y") == "ATCZ5YA7"
    assert verification_code("PV7K3M9Q2TXA") == "VSDF25QV"
    digest = hmac.new(b"test-only-unit-code-key", b"PV000000001Y", hashlib.sha256).digest()
    assert int.from_bytes(digest[:5], "big") == sum(
        ALPHABET.index(c) << (5 * (7 - i)) for i, c in enumerate("ATCZ5YA7")
    )


def test_verification_codes_differ_under_another_key(settings):
    numbers = SAMPLE[:200]
    settings.UNIT_CODE_KEY = "key-one"
    first = {n: verification_code(n) for n in numbers}
    settings.UNIT_CODE_KEY = "key-two"
    second = {n: verification_code(n) for n in numbers}

    assert sum(first[n] == second[n] for n in numbers) == 0
    assert not any(code_matches(n, first[n]) for n in numbers)
    settings.UNIT_CODE_KEY = "key-one"
    assert all(code_matches(n, first[n]) for n in numbers)


def test_codes_differ_between_numbers():
    codes_ = {verification_code(n) for n in SAMPLE}
    assert len(codes_) == len(SAMPLE)


@pytest.mark.parametrize(
    "transform",
    [
        str.lower,
        lambda c: f"{c[:4]}-{c[4:]}",
        lambda c: f" {c} ",
        lambda c: c.replace("0", "o").replace("1", "l"),
    ],
)
def test_code_matches_what_a_person_types(transform):
    number = SAMPLE[0]
    code = verification_code(number)
    assert code_matches(number, transform(code))


@pytest.mark.parametrize(
    "wrong",
    ["", "0", "WRONG123", "ZZZZZZZZZ", "密码密码密码密码", "ÄÖÜÄÖÜÄÖ", "\x00" * 8, "🙂" * 8],
)
def test_code_matches_refuses_wrong_codes_without_raising(wrong):
    assert code_matches(SAMPLE[0], wrong) is False


def test_code_matches_refuses_a_code_one_symbol_off():
    number = SAMPLE[0]
    code = verification_code(number)
    for i in range(len(code)):
        for symbol in ALPHABET:
            if symbol != code[i]:
                assert not code_matches(number, code[:i] + symbol + code[i + 1 :])


def test_code_matches_compares_in_constant_time():
    # The comparison is hmac.compare_digest (no early exit on the first differing symbol).
    source = inspect.getsource(code_matches)
    assert "compare_digest" in source
    assert "==" not in source
