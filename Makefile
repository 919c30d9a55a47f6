# Frontdesk: `make run` starts the daemon on SQLite, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config/frontdesk.example.toml

.PHONY: install run test lint bench clean

$(BIN)/frontdesk: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/frontdesk

install: $(BIN)/frontdesk

run: install
	mkdir -p var
	FRONTDESK_SECRET_KEY=$${FRONTDESK_SECRET_KEY:-dev-only-secret-change-me} \
		$(BIN)/frontdesk migrate --config $(CONFIG)
	FRONTDESK_SECRET_KEY=$${FRONTDESK_SECRET_KEY:-dev-only-secret-change-me} \
		$(BIN)/frontdesk kb import config/kb-example --config $(CONFIG)
	FRONTDESK_SECRET_KEY=$${FRONTDESK_SECRET_KEY:-dev-only-secret-change-me} \
		$(BIN)/frontdesk serve --config $(CONFIG)

# Two processes (the machines have two cores); tests that restart PostgreSQL or Redis
# run afterwards on their own.
test: install
# (Exit status 5 means "no test selected", e.g. PYTEST_ARGS=tests/routing has no serial test.)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 -m "not serial" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/python -m pytest -q -p no:cacheprovider -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint: install
	$(BIN)/ruff check channels inbox routing widget tests bench
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) var .pytest_cache
