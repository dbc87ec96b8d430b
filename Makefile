# Ledgerdesk — the two README commands are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
PYTEST_ARGS ?=
RUFF := $(BIN)/ruff
RUFF_OPTS := --line-length 100 --target-version py311
RUFF_RULES := --select E,F,W,I,B,UP --ignore E501,B008
SRC := core jobs dashboard pages tests bench sandbox

.PHONY: run test lint bench format clean help

help:
	@echo "make run    start the desk (sandbox + scheduler + dashboard when no STRIPE_API_KEY is set)"
	@echo "make test   run the whole test suite (SQLite, PostgreSQL, sandbox, browser)"
	@echo "make lint   ruff + mypy"
	@echo "make bench  measure the performance figures (bench/results/*.json)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Ledgerdesk needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(RUNTIME_STAMP): requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	@touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $(RUNTIME_STAMP) $@

run: $(RUNTIME_STAMP)
	$(BIN)/python -m jobs up

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider --timeout=600 -o console_output_style=classic $(PYTEST_ARGS) tests

lint: $(DEV_STAMP)
	$(RUFF) check $(RUFF_OPTS) $(RUFF_RULES) $(SRC)
	$(RUFF) format --check $(RUFF_OPTS) $(SRC)
	$(BIN)/mypy --python-version 3.11 --ignore-missing-imports --no-error-summary core jobs

format: $(DEV_STAMP)
	$(RUFF) check --fix $(RUFF_OPTS) $(RUFF_RULES) $(SRC)
	$(RUFF) format $(RUFF_OPTS) $(SRC)

bench: $(DEV_STAMP)
	$(BIN)/python -m bench $(BENCH)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
