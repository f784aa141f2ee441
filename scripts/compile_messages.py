"""Compile locale/*/LC_MESSAGES/*.po to .mo: GNU msgfmt when installed, else a Python writer."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import pofile  # noqa: E402


def main() -> int:
    msgfmt = shutil.which("msgfmt")
    for po in sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        if msgfmt:
            subprocess.run([msgfmt, "--check-format", "-o", str(mo), str(po)], check=True)
        else:
            count = pofile.write_mo(pofile.read(po), mo)
            print(f"compiled {po.relative_to(ROOT)} ({count} messages, without GNU gettext)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
