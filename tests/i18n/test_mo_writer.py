"""The pure-Python .mo writer (used when GNU gettext is absent) compiles what msgfmt compiles."""

import gettext
import shutil
import subprocess
from pathlib import Path

import pytest

from core import pofile

PO = Path(__file__).resolve().parents[2] / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext is not installed")
def test_python_writer_matches_msgfmt(tmp_path):
    ours, gnu = tmp_path / "ours.mo", tmp_path / "gnu.mo"
    written = pofile.write_mo(pofile.read(PO), ours)
    subprocess.run(["msgfmt", "-o", str(gnu), str(PO)], check=True)  # noqa: S603, S607
    with ours.open("rb") as a, gnu.open("rb") as b:
        mine, theirs = gettext.GNUTranslations(a)._catalog, gettext.GNUTranslations(b)._catalog
    # msgfmt drops POT-Creation-Date from the header; every message must be identical.
    mine.pop(""), theirs.pop("")
    assert mine == theirs
    assert written == len(mine) + 1  # + the header


def test_fuzzy_and_untranslated_entries_are_left_out(tmp_path):
    po = tmp_path / "x.po"
    po.write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n'
        '"Plural-Forms: nplurals=1; plural=0;\\n"\n\n'
        'msgid "Kept"\nmsgstr "保留"\n\n'
        '#, fuzzy\nmsgid "Guessed"\nmsgstr "猜的"\n\n'
        'msgid "Empty"\nmsgstr ""\n\n'
        'msgid "One"\nmsgid_plural "Many"\nmsgstr[0] "一些"\n',
        encoding="utf-8",
    )
    mo = tmp_path / "x.mo"
    pofile.write_mo(pofile.read(po), mo)
    with mo.open("rb") as handle:
        translations = gettext.GNUTranslations(handle)
    assert translations.gettext("Kept") == "保留"
    assert translations.gettext("Guessed") == "Guessed"
    assert translations.gettext("Empty") == "Empty"
    assert translations.ngettext("One", "Many", 5) == "一些"
