"""A small reader for the PO files that `makemessages` writes (no third-party dependency)."""

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])?\s+(".*")$')


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False
    lineno: int = 0

    @property
    def key(self) -> tuple[str | None, str, str | None]:
        return (self.msgctxt, self.msgid, self.msgid_plural)

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr.values())


def _unquote(text: str) -> str:
    # PO strings are double-quoted with C escapes, which Python literals share.
    return ast.literal_eval(text)


def parse(text: str) -> list[Entry]:
    """Every entry of a PO file, the header (msgid "") first when there is one."""
    entries: list[Entry] = []
    current: Entry | None = None
    target: tuple[str, int | None] | None = None

    def finish() -> None:
        nonlocal current, target
        if current is not None and target is not None:
            entries.append(current)
        current, target = None, None

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        elif line.startswith("#"):
            if target is not None:  # comments start a new entry
                finish()
            current = current or Entry(lineno=lineno)
            if line.startswith("#,"):
                current.flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
            continue
        if current is None:
            current = Entry(lineno=lineno)
        current.obsolete = current.obsolete or obsolete
        match = _KEYWORD.match(line)
        if match:
            keyword, index, value = match.groups()
            if keyword == "msgid" and target is not None and target[0] != "msgctxt":
                finish()
                current = Entry(lineno=lineno, obsolete=obsolete)
            target = (keyword, int(index) if index is not None else None)
            if keyword == "msgstr":
                current.msgstr[target[1] or 0] = _unquote(value)
            else:
                setattr(current, keyword, _unquote(value))
        elif line.startswith('"') and target is not None:
            keyword, index = target
            if keyword == "msgstr":
                current.msgstr[index or 0] += _unquote(line)
            else:
                setattr(current, keyword, getattr(current, keyword) + _unquote(line))
        else:
            raise ValueError(f"line {lineno}: cannot read {raw!r}")
    finish()
    return entries


def read(path: Path) -> list[Entry]:
    return parse(path.read_text(encoding="utf-8"))


def header(entries: list[Entry]) -> dict[str, str]:
    for entry in entries:
        if entry.msgid == "" and entry.msgctxt is None:
            pairs = (line.partition(":") for line in entry.msgstr.get(0, "").splitlines())
            return {key.strip(): value.strip() for key, _, value in pairs if key.strip()}
    return {}


def messages(entries: list[Entry]) -> list[Entry]:
    """The real messages: no header, no obsolete (#~) entries."""
    return [e for e in entries if not e.obsolete and not (e.msgid == "" and e.msgctxt is None)]


def write_mo(entries: list[Entry], path: Path) -> int:
    """Compile entries to a GNU .mo file (what msgfmt makes); fuzzy and untranslated are left out.

    Lets `make run` work on a machine without GNU gettext. Returns how many messages were written.
    """
    import struct

    catalog: dict[bytes, bytes] = {}
    for entry in entries:
        if entry.obsolete or ("fuzzy" in entry.flags and entry.msgid):
            continue
        if entry.msgid and not entry.translated:
            continue
        key = entry.msgid if entry.msgid_plural is None else f"{entry.msgid}\0{entry.msgid_plural}"
        if entry.msgctxt is not None:
            key = f"{entry.msgctxt}\x04{key}"
        value = "\0".join(entry.msgstr[i] for i in sorted(entry.msgstr))
        catalog[key.encode()] = value.encode()
    keys = sorted(catalog)
    ids = b"".join(k + b"\0" for k in keys)
    strs = b"".join(catalog[k] + b"\0" for k in keys)
    count = len(keys)
    start = 7 * 4 + 16 * count  # header, then the two offset tables, then the strings
    offsets, id_pos, str_pos = [], 0, 0
    for key in keys:
        offsets.append((len(key), start + id_pos, len(catalog[key]), start + len(ids) + str_pos))
        id_pos += len(key) + 1
        str_pos += len(catalog[key]) + 1
    out = struct.pack("Iiiiiii", 0x950412DE, 0, count, 7 * 4, 7 * 4 + 8 * count, 0, 0)
    out += b"".join(struct.pack("ii", n, o) for n, o, _sn, _so in offsets)
    out += b"".join(struct.pack("ii", sn, so) for _n, _o, sn, so in offsets)
    path.write_bytes(out + ids + strs)
    return count
