"""The Simplified Chinese catalog is complete, current, well-formed, and used by the pages."""

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from core import pofile

BASE_DIR = Path(settings.BASE_DIR)
PO_PATH = BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
LOCALE = "zh_Hans"

# What the documented command skips (`makemessages --ignore=...`), plus makemessages' own
# defaults (hidden folders) and the catalogs themselves.
IGNORED_DIRS = {".venv", "var", "bench", "tests", "locale", "node_modules", "__pycache__"}
EXTENSIONS = {".py", ".html", ".txt"}  # makemessages' defaults for the "django" domain

PLACEHOLDER = re.compile(r"%\(\w+\)[sdifr]|%[sdifr]|\{\{.*?\}\}")
HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
HAN = re.compile(r"[\u4e00-\u9fff]")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: apt-get install gettext (make messages needs it too).")
    return path


@pytest.fixture(scope="module")
def shipped() -> list[pofile.Entry]:
    assert PO_PATH.exists(), f"{PO_PATH.relative_to(BASE_DIR)} is missing"
    return pofile.read(PO_PATH)


# (1) Complete and well-formed ------------------------------------------------------------


def test_header_declares_simplified_chinese_with_one_plural_form(shipped):
    head = pofile.header(shipped)
    assert head.get("Language") == LOCALE
    assert head.get("Plural-Forms", "").replace(" ", "") == "nplurals=1;plural=0;"
    assert head.get("Content-Type") == "text/plain; charset=UTF-8"


def test_every_entry_is_translated_and_none_is_fuzzy(shipped):
    entries = pofile.messages(shipped)
    assert entries, "the catalog has no messages"
    fuzzy = [e.msgid for e in shipped if "fuzzy" in e.flags]
    untranslated = [e.msgid for e in entries if not e.translated]
    assert not fuzzy, f"fuzzy entries: {fuzzy}"
    assert not untranslated, f"untranslated entries: {untranslated}"


def test_plural_entries_have_exactly_the_one_chinese_form(shipped):
    wrong = [e.msgid for e in pofile.messages(shipped) if e.msgid_plural and set(e.msgstr) != {0}]
    assert not wrong, f"plural entries need msgstr[0] only (nplurals=1): {wrong}"


def test_placeholders_and_markup_survive_translation(shipped):
    problems = []
    for entry in pofile.messages(shipped):
        if entry.msgid_plural:  # one Chinese form stands for both: each name once is enough
            wanted = Counter(set(PLACEHOLDER.findall(entry.msgid + entry.msgid_plural)))
        else:
            wanted = Counter(PLACEHOLDER.findall(entry.msgid))
        for text in entry.msgstr.values():
            found = PLACEHOLDER.findall(text)
            got = Counter(set(found)) if entry.msgid_plural else Counter(found)
            if got != wanted:
                problems.append(f"{entry.msgid!r}: placeholders {dict(got)} != {dict(wanted)}")
            if Counter(HTML_TAG.findall(text)) != Counter(HTML_TAG.findall(entry.msgid)):
                problems.append(f"{entry.msgid!r}: HTML tags differ in {text!r}")
    assert not problems, "\n".join(problems)


def test_gettext_accepts_the_catalog_with_format_checks(tmp_path):
    result = subprocess.run(  # noqa: S603
        [_tool("msgfmt"), "--check", "--statistics", "-o", str(tmp_path / "django.mo"), PO_PATH],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )
    assert result.returncode == 0, result.stderr
    assert "fuzzy" not in result.stderr, result.stderr
    assert "untranslated" not in result.stderr, result.stderr


# (2) Current: a fresh extraction finds nothing the catalog lacks -------------------------


def _copy_sources(destination: Path) -> None:
    """Copy what makemessages would scan, so the extraction never writes into the work tree."""
    for dirpath, dirnames, filenames in os.walk(BASE_DIR):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS and not d.startswith("."))
        relative = Path(dirpath).relative_to(BASE_DIR)
        for name in filenames:
            if Path(name).suffix in EXTENSIONS and not name.endswith("~"):
                target = destination / relative / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(dirpath) / name, target)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> list[pofile.Entry]:
    """Run `makemessages` on a copy of the sources into an empty locale folder."""
    _tool("xgettext")
    _tool("msguniq")
    root = tmp_path_factory.mktemp("makemessages")
    _copy_sources(root)
    (root / "locale").mkdir()
    # Without settings, makemessages writes only to ./locale, i.e. into the copy.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "django", "makemessages", "-l", LOCALE, "--no-obsolete"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr or result.stdout
    fresh = root / "locale" / LOCALE / "LC_MESSAGES" / "django.po"
    assert fresh.exists(), result.stdout + result.stderr
    return pofile.read(fresh)


def test_fresh_extraction_finds_the_strings_the_catalog_translates(extracted):
    # Guard against a silently broken extraction that would make the next test vacuous.
    msgids = {e.msgid for e in pofile.messages(extracted)}
    assert {"Authentic goods from around the world", "Merchant", "HS code"} <= msgids


def test_catalog_is_up_to_date_with_the_sources(shipped, extracted):
    have = {e.key: e for e in pofile.messages(shipped)}
    stale = []
    for entry in pofile.messages(extracted):
        match = have.get(entry.key)
        if match is None or not match.translated:
            stale.append(entry.msgid if match is None else f"{entry.msgid} (untranslated)")
    assert not stale, (
        "The catalog lacks strings found in the sources; run\n"
        "  .venv/bin/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var "
        "--ignore=bench --ignore=tests --no-obsolete\nand translate:\n  " + "\n  ".join(stale)
    )


# (3) Used: pages render in Chinese -------------------------------------------------------


@pytest.fixture
def compiled_catalog(tmp_path, settings):
    """Serve translations from the shipped .po compiled now, not from a possibly stale .mo."""
    out = tmp_path / "locale" / LOCALE / "LC_MESSAGES"
    out.mkdir(parents=True)
    subprocess.run(  # noqa: S603
        [_tool("msgfmt"), "-o", str(out / "django.mo"), str(PO_PATH)], check=True
    )
    settings.LOCALE_PATHS = [tmp_path / "locale"]  # resets Django's translation caches
    yield
    translation.deactivate()


HOME_HEADING_EN = "Authentic goods from around the world"
HOME_HEADING_ZH = "来自全球各地的正品好物"


def test_catalog_translates_the_home_heading(compiled_catalog):
    with translation.override("zh-hans"):
        assert translation.gettext(HOME_HEADING_EN) == HOME_HEADING_ZH


@pytest.mark.django_db
def test_home_page_in_chinese_from_accept_language(client, compiled_catalog):
    response = client.get("/", headers={"accept-language": "zh-hans,zh;q=0.9,en;q=0.5"})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert f"<h1>{HOME_HEADING_ZH}</h1>" in html
    assert HOME_HEADING_EN not in html


@pytest.mark.django_db
def test_product_list_in_chinese_from_language_cookie(client, compiled_catalog):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    response = client.get("/products/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>全部商品</h1>" in html
    assert "All products" not in html
    assert "排序方式" in html  # a form label, translated through gettext_lazy


@pytest.mark.django_db
def test_english_stays_english(client, compiled_catalog):
    response = client.get("/", headers={"accept-language": "en"})
    html = response.content.decode()
    assert f"<h1>{HOME_HEADING_EN}</h1>" in html
    assert not HAN.search(html.replace("简体中文", "")), "Chinese text on the English page"
