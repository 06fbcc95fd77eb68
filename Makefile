# The two commands: `make demo` and `make test`. Both set up everything they need first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit bench browser messages kafka-jars kafka-up kafka-down reliability \
	kafka-status clean

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
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

# Debian's chromium for the browser tests (never a browser build downloaded by a tool),
# and CJK fonts so the zh-Hant/zh-Hans pages render (and are screenshot) as people see them.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@command -v chromium >/dev/null 2>&1 || { echo "chromium could not be installed" >&2; exit 1; }
	@fc-list :lang=zh-tw 2>/dev/null | grep -q . || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk; }
	@fc-list :lang=zh-tw 2>/dev/null | grep -q . || { echo "fonts-noto-cjk could not be installed" >&2; exit 1; }

# The Kafka broker's jars, from Maven Central through tools/broker/pom.xml.
kafka-jars: setup
	$(BIN)/python -m tools.broker jars

# Everything: lint, types, unit, property, live-broker and browser tests, and the short
# form of the fault, load and bad-input suite (a few minutes). The live tests start the
# local Kafka broker themselves and fail, never skip, if it does not come up.
test: lint typecheck browser kafka-jars
	$(BIN)/pytest

# The fault, load and bad-input suite at full size (200,000 events, 5 SIGKILLs, 10,000
# bad messages...); prints the scenario table. `make reliability FORM=short` for CI's form.
FORM ?= full
reliability: setup browser kafka-jars
	CLOSECAST_RELIABILITY=$(FORM) $(BIN)/python -m tests.reliability

unit: setup
	$(BIN)/pytest -m "not live" --ignore=tests/reliability --ignore=tests/live

# The pages' texts: extract them from web/ into the template, then merge it into each
# language's catalogue (translate the new entries in the .po files, then commit them).
# The server reads the .po files themselves: there is no compile step.
messages: setup
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k gettext -k i18n.gettext --no-location \
		--sort-output -o web/locale/messages.pot .
	$(BIN)/python -m web.reasons web/locale/messages.pot
	$(BIN)/pybabel update -i web/locale/messages.pot -d web/locale --ignore-obsolete

bench: setup
	$(BIN)/python -m bench

kafka-up: setup
	$(BIN)/python -m tools.broker up

kafka-down: setup
	$(BIN)/python -m tools.broker down

kafka-status: setup
	$(BIN)/python -m tools.broker status

clean:
	rm -rf .closecast .pytest_cache .mypy_cache .ruff_cache
