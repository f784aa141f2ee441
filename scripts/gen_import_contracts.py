"""Regenerates the import-linter contracts in pyproject.toml from the apps' modules on disk.

Run after adding a views/admin/tasks/forms module to an app: other apps may import only its
services, selectors and states.
"""

import re
from pathlib import Path

APPS = [
    "accounts",
    "catalog",
    "orders",
    "warehouse",
    "authenticity",
    "aftersales",
    "logistics",
    "push",
]
PRIVATE = ["models", "views", "admin", "tasks", "forms", "forms_admin", "images"]
root = Path(__file__).resolve().parent.parent
pyproject = root / "pyproject.toml"
text = pyproject.read_text()
head = text[: text.index("[[tool.importlinter.contracts]]")]
blocks = []
for app in APPS:
    others = [a for a in APPS if a != app] + ["core"]
    private = [
        f"{app}.{m}"
        for m in PRIVATE
        if (root / app / f"{m}.py").exists() or (root / app / m).is_dir()
    ]
    blocks.append(
        "[[tool.importlinter.contracts]]\n"
        f'name = "Other apps reach {app} only through its services, selectors and states"\n'
        'type = "forbidden"\n'
        f"source_modules = {others!r}\n".replace("'", '"')
        + f"forbidden_modules = {private!r}\n".replace("'", '"')
        + "allow_indirect_imports = true\n"
    )
pyproject.write_text(re.sub(r"\n+$", "\n", head) + "\n" + "\n".join(blocks))
