# The two commands: `make run` starts the whole system, `make test` runs every test.
# Both create the virtualenv and install on first use, on a machine with only Python 3.11+.

SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_ARGS ?=
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run test lint format bench clean translations

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,test]' -c requirements.lock
	@touch $(STAMP)

install: $(STAMP) ## Create the virtualenv and install everything (done by run and test)

run: $(STAMP) ## Start Temporal (dev server), migrations, worker and API on 127.0.0.1:8000
	@exec $(BIN)/aftersales dev $(RUN_ARGS)

# Two test processes (pytest-xdist), each test file in one of them: most tests wait on
# Temporal, a browser or a subprocess, so two overlap well even on two cores. Three gained
# about 5 % on a clean clone and once lost the time-skipping test server mid-module.
TEST_WORKERS ?= 2

test: $(STAMP) ## Run the whole test suite (set AFTERSALES_TEST_DATABASE_URL for PostgreSQL too)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP) ## ruff, mypy and the import rules of architecture.md (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

format: $(STAMP) ## Format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

translations: $(STAMP) ## Extract the customer's words (babel.cfg) and update the de/fr catalogs
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k pgettext:1c,2 --no-location --sort-output \
		--width 100 --project aftersales -o presentation/locales/messages.pot .
	for lang in de fr; do \
		if [ -f presentation/locales/$$lang/LC_MESSAGES/messages.po ]; then \
			$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete --width 100 -l $$lang \
				-i presentation/locales/messages.pot -d presentation/locales; \
		else $(BIN)/pybabel init -l $$lang -i presentation/locales/messages.pot -d presentation/locales; fi; \
	done

bench: $(STAMP) ## Run every benchmark (each prints its ratio)
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) .data
