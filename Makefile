# Provena: `make run` serves the shop with demo data; `make test` runs the whole suite.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DJANGO_SETTINGS_MODULE ?= config.settings.local

.PHONY: run test lint bench venv install messages migrate seed clean e2e

$(PY):
	@python=$$(scripts/find_python.sh) || exit 1; \
	echo "Creating $(VENV) with $$python"; \
	"$$python" -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

venv install: $(STAMP)

messages: $(STAMP)
	$(PY) scripts/compile_messages.py

migrate: $(STAMP) messages
	$(PY) manage.py migrate --noinput -v0

seed: migrate
	$(PY) manage.py seed_demo

run: seed
	$(PY) scripts/run_local.py

test: $(STAMP) messages
	$(PY) -m pytest --ds=config.settings.test $(PYTEST_ARGS)

e2e: $(STAMP) messages
	$(PY) -m pytest --ds=config.settings.test -m e2e $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

bench: $(STAMP) messages
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf var/ $(VENV)
