# Two commands on a fresh machine: `make demo` and `make test`. Each target builds
# .venv with python3 -m venv and installs the package editable with the extras it
# needs, again whenever setup.cfg is newer than the install stamp.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PYTEST_ARGS ?=

.PHONY: test lint demo bench soak clean help

help:
	@echo "make test   - the whole test suite (per-test timeout)"
	@echo "make lint   - ruff + mypy --strict on the package"
	@echo "make demo   - live tickers/trades from the built-in fake exchange (LIVE=1: real Binance)"
	@echo "make bench  - REST and stream benchmarks against a bare baseline, same run"
	@echo "make soak   - long soak/chaos runs (marker: soak)"

$(VENV)/.stamp-base: setup.cfg setup.py pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[crypto,testing]"
	touch $@

$(VENV)/.stamp-test: $(VENV)/.stamp-base
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $@

$(VENV)/.stamp-dev: $(VENV)/.stamp-base
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

test: $(VENV)/.stamp-test
	$(BIN)/pytest -q -p no:cacheprovider --timeout=60 $(PYTEST_ARGS)

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check binance_conn tests examples benchmarks
	$(BIN)/mypy --strict binance_conn

demo: $(VENV)/.stamp-base
	$(PY) -m binance_conn.demo $(if $(LIVE),--live,)

bench: $(VENV)/.stamp-test
	$(PY) benchmarks/rest_bench.py
	$(PY) benchmarks/ws_bench.py

soak: $(VENV)/.stamp-test
	$(BIN)/pytest -q -p no:cacheprovider -m soak --timeout=1800 $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
