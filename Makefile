# escucha: `make run` serves the demo, `make test` runs the whole suite, `make lint` checks style,
# types and the import rules. The Makefile installs what it needs into .venv.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
RUN_STAMP := $(VENV)/.stamp-run
DEV_STAMP := $(VENV)/.stamp-dev
PYTEST_ARGS ?=
# `make test` spreads the suite over this many processes (pytest-xdist; 0: one process).
PYTEST_WORKERS ?= 2

.PHONY: run test lint format coverage system-deps migrate demo worker demo-traffic messages clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "escucha needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(RUN_STAMP)

# Debian packages the tests and the IVR audio need (Chromium for the browser tests, espeak-ng
# for prompts, Kamailio, baresip and sipp for the SIP tests). Installed when missing and
# running as root; otherwise a note says what to do.
system-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v espeak-ng >/dev/null 2>&1 || missing="$$missing espeak-ng"; \
	command -v sox >/dev/null 2>&1 || missing="$$missing sox"; \
	[ -x /usr/sbin/kamailio ] || missing="$$missing kamailio"; \
	[ -f /usr/lib/x86_64-linux-gnu/kamailio/modules/websocket.so ] || missing="$$missing kamailio-websocket-modules"; \
	command -v baresip >/dev/null 2>&1 || missing="$$missing baresip"; \
	command -v sipp >/dev/null 2>&1 || missing="$$missing sip-tester"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "note: install these Debian packages for the full suite:$$missing"; \
	  fi; \
	fi

migrate: $(RUN_STAMP)
	$(BIN)/escucha db upgrade

demo: migrate
	$(BIN)/escucha demo load
	$(BIN)/escucha demo history --if-empty

run: demo
ifeq ($(DEMO_TRAFFIC),1)
	( sleep 8; $(MAKE) --no-print-directory demo-traffic ) & $(BIN)/escucha serve
else
	$(BIN)/escucha serve
endif

# Simulated callers and bot agents for the server `make run` started (in another terminal,
# or `make run DEMO_TRAFFIC=1`). Talks only to 127.0.0.1.
CALLS_PER_HOUR ?= 120
demo-traffic: $(RUN_STAMP)
	$(BIN)/escucha demo-traffic --url http://127.0.0.1:$${ESCUCHA_PORT:-8000} \
	  --calls-per-hour $(CALLS_PER_HOUR) \
	  --token "$$($(BIN)/escucha users token sofia --name demo-traffic)" \
	  --agent-token "$$($(BIN)/escucha users token ana --name demo-traffic)" \
	  --agent-token "$$($(BIN)/escucha users token luis --name demo-traffic)"

worker: $(RUN_STAMP)
	$(BIN)/escucha worker

# Bytecode is written even where PYTHONDONTWRITEBYTECODE is set: without the cache every run
# (and every worker) compiles the sources and rewrites the tests' asserts again.
test: $(DEV_STAMP) system-deps
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_architecture.py

# The numerical core is covered line by line (its tests alone reach every line).
coverage: $(DEV_STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/numerics --cov=escucha.numerics \
	  --cov-report=term-missing:skip-covered --cov-fail-under=100

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

messages: $(DEV_STAMP)
	$(BIN)/pybabel extract -F babel.cfg -o src/escucha/web/translations/messages.pot .
	$(BIN)/pybabel update -i src/escucha/web/translations/messages.pot -d src/escucha/web/translations

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
