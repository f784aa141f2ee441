#!/usr/bin/env bash
# Prints the path of a Python 3.13 or 3.12 interpreter (Django 6 needs 3.12+), or explains what to install.
set -u
candidates=()
for name in python3.13 python3.12; do
  path=$(command -v "$name" 2>/dev/null) && candidates+=("$path")
done
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root 2>/dev/null)
  for dir in "$root"/versions/3.13* "$root"/versions/3.12*; do
    [ -x "$dir/bin/python" ] && candidates+=("$dir/bin/python")
  done
fi
for dir in "${HOME:-/root}"/.pyenv/versions/3.13* "${HOME:-/root}"/.pyenv/versions/3.12* /usr/local/bin /usr/bin; do
  for exe in "$dir/bin/python" "$dir/python3.13" "$dir/python3.12"; do
    [ -x "$exe" ] && candidates+=("$exe")
  done
done
for exe in "${candidates[@]}"; do
  # pyenv shims can exist yet fail; only a binary that really runs 3.12+ counts.
  if "$exe" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then
    echo "$exe"
    exit 0
  fi
done
cat >&2 <<'MSG'
Provena needs Python 3.12 or 3.13 (Django 6 does not run on older versions), and none was found.
Install one, then run the command again:
  Debian/Ubuntu:  sudo apt-get install python3.13 python3.13-venv   (or python3.12 python3.12-venv)
  macOS:          brew install python@3.13
  pyenv:          pyenv install 3.13
MSG
exit 1
