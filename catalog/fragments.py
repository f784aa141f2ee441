"""Rendered catalog HTML shared by every worker, and the version that keeps it from going stale.

Every catalog write (catalog.services) changes the catalog version; a fragment is served only
while the version it was rendered under is still the current one, so a changed price, name,
image, category, rating or listing shows on the very next request. Stock is never inside a
fragment: a product card holds a slot (an HTML comment, which escaped text cannot forge) that
is filled on every request from the warehouse's counters.
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe

VERSION_KEY = "catalog:version"
FRAGMENT_PREFIX = "catalog:fragment:"
# Fragments are correct for as long as their version is current; the expiry only lets the
# cache drop those of rarely asked pages (and of query strings nobody will ask for again).
FRAGMENT_TTL = 600
STOCK_SLOT = re.compile(r"<!--stock:(\d+)-->")
STOCK_BADGE_TEMPLATE = "catalog/_stock_badge.html"


def _version_create() -> str:
    # Evicted or never set. A random token, never a counter restarting at 1: fragments stored
    # under an earlier version must not become current again. Every worker adopts the first.
    token = uuid.uuid4().hex
    cache.add(VERSION_KEY, token, timeout=None)
    return cache.get(VERSION_KEY) or token


def catalog_version() -> str:
    """The current catalog version (one cache read)."""
    return cache.get(VERSION_KEY) or _version_create()


def catalog_version_bump() -> None:
    """Make every cached fragment (and every worker's category tree) stale."""
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)


@functools.cache
def _renderer_fingerprint() -> str:
    """A digest of what turns catalog rows into a fragment: templates, tags, translations, code.

    Part of every fragment's key, so a deploy that changes any of them never serves fragments
    rendered by the previous code, even though the catalog (and its version) did not change.
    """
    base = Path(settings.BASE_DIR)
    files = [
        *base.glob("templates/catalog/*.html"),
        *base.glob("core/templatetags/*.py"),
        base / "core" / "money.py",
        *Path(__file__).parent.glob("*.py"),
        *(Path(p) for p in settings.LOCALE_PATHS for p in Path(p).glob("*/LC_MESSAGES/*.mo")),
    ]
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(f for f in files if f.is_file()):
        digest.update(str(path.relative_to(base) if path.is_relative_to(base) else path).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _fragment_key(name: str) -> str:
    return f"{FRAGMENT_PREFIX}{_renderer_fingerprint()}:{name}"


def fragment_get(name: str) -> tuple[str, Any | None]:
    """The current version, and what is stored under `name` if it was rendered under it.

    One cache round trip for both: the cache read is a good part of a cached page's cost.
    """
    key = _fragment_key(name)
    found = cache.get_many([VERSION_KEY, key])
    version = found.get(VERSION_KEY) or _version_create()
    entry = found.get(key)
    if entry is None or entry[0] != version:
        return version, None
    return version, entry[1]


def fragment_set(name: str, value: Any, *, version: str) -> None:
    """Store what was rendered from the catalog as it was under `version`."""
    cache.set(_fragment_key(name), (version, value), FRAGMENT_TTL)


@functools.lru_cache(maxsize=2048)
def _stock_badge(language: str | None, sellable: int) -> str:
    # The badge depends on nothing but the language and the number: rendered once per worker.
    with translation.override(language):
        return render_to_string(STOCK_BADGE_TEMPLATE, {"sellable": sellable})


def stock_badge(sellable: int) -> str:
    return _stock_badge(translation.get_language(), sellable)


@dataclass(frozen=True)
class Slotted:
    """HTML cut at its stock slots: parts[0], badge of ids[0], parts[1], ..., parts[-1]."""

    parts: tuple[str, ...]
    ids: tuple[int, ...]

    @classmethod
    def from_html(cls, html: str) -> Slotted:
        pieces = STOCK_SLOT.split(html)  # text, id, text, id, ..., text
        return cls(parts=tuple(pieces[0::2]), ids=tuple(int(i) for i in pieces[1::2]))

    def fill(self, sellable: Mapping[int, int]) -> SafeString:
        """The HTML with each slot replaced by the live stock badge of its product."""
        out = [self.parts[0]]
        for product_id, part in zip(self.ids, self.parts[1:], strict=True):
            out.append(stock_badge(sellable.get(product_id, 0)))
            out.append(part)
        return mark_safe("".join(out))  # noqa: S308 - rendered by templates that escape
