# The two commands: `make demo` and `make test`. Both set up everything they need first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit bench kafka-up kafka-down kafka-status clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(STAMP)

demo: setup
	$(BIN)/closecast demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

# Everything: lint, types, unit, property, live-broker tests. The live tests start the
# local Kafka broker themselves (fetching its jars with Maven on first use).
test: lint typecheck
	$(BIN)/pytest

unit: setup
	$(BIN)/pytest -m "not live"

bench: setup
	$(BIN)/python -m bench

kafka-up: setup
	$(BIN)/python -m streams.broker up

kafka-down: setup
	$(BIN)/python -m streams.broker down

kafka-status: setup
	$(BIN)/python -m streams.broker status

clean:
	rm -rf .closecast .pytest_cache .mypy_cache .ruff_cache
