# Frontdesk: `make run` starts the daemon on SQLite, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# `make run` serves ./frontdesk.toml, made from the example on the first run.
CONFIG ?= frontdesk.toml
EXAMPLE := config/frontdesk.example.toml
SECRET  := var/secret_key

.PHONY: install install-test run test lint format bench clean

# What running needs; the test and lint tools only for `make test` and `make lint`.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# A local config and a random secret key, made once; neither is overwritten afterwards.
frontdesk.toml:
	sed 's|^secret_key = "env:FRONTDESK_SECRET_KEY"|secret_key = "file:$(SECRET)"   # made by make run; use env:NAME in production|' $(EXAMPLE) > $@

$(SECRET):
	mkdir -p var
	umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(32))' > $@

run: install $(CONFIG) $(SECRET)
	$(BIN)/frontdesk migrate --config $(CONFIG)
	$(BIN)/frontdesk kb import config/kb-example --config $(CONFIG)
	$(BIN)/frontdesk serve --config $(CONFIG)

# Two processes (the machines have two cores); tests that restart PostgreSQL or Redis
# run afterwards on their own.
# axe-core (the accessibility checks of the browser tests), from npm, pinned in tests/ui.
AXE := tests/ui/node_modules/axe-core/axe.min.js
$(AXE): tests/ui/package.json tests/ui/package-lock.json
	npm ci --silent --no-audit --no-fund --prefix tests/ui
	touch $@

test: install-test $(AXE)
# (Exit status 5 means "no test selected", e.g. PYTEST_ARGS=tests/routing has no serial test.)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 -m "not serial" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/python -m pytest -q -p no:cacheprovider -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

# ruff (lint and the formatter's check), mypy, and the import contracts of the layers.
lint: install-test
	$(BIN)/ruff check channels inbox routing widget tests bench
	$(BIN)/ruff format --check channels inbox routing widget tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install-test
	$(BIN)/ruff format channels inbox routing widget tests bench
	$(BIN)/ruff check --fix channels inbox routing widget tests bench

bench: install-test
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) var .pytest_cache
