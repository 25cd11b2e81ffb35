# Two commands on a fresh machine: `make demo` and `make test`. Each target builds
# .venv with python3 -m venv and installs the package editable with the extras it
# needs, again whenever setup.cfg is newer than the install stamp.
#
# Other interpreters: `make test-all` runs the suite once per supported Python found
# on this machine (python3.X on PATH or a pyenv version), each in its own .venv-3.X;
# `make test-min` runs it on the oldest supported Python with every dependency at the
# floor setup.cfg declares (.ci/constraints-min.txt). The supported versions are the
# "Programming Language :: Python :: 3.X" classifiers in setup.cfg: one list, read here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PYTEST_ARGS ?=
# A pip constraints file applied to every install into $(VENV) (test-min sets it).
CONSTRAINTS ?=
# `pip install -e .` writes binance_conn.egg-info into this tree: installs into several
# venvs at once (test-all, CI) take turns through a lock when flock(1) is there.
LOCK := $(if $(shell command -v flock 2>/dev/null),flock $(CURDIR)/.install.lock,)
PIP_INSTALL = $(LOCK) $(PY) -m pip install --quiet --disable-pip-version-check $(if $(CONSTRAINTS),-c $(CONSTRAINTS),)
SUPPORTED := $(shell sed -n 's/^ *Programming Language :: Python :: \(3\.[0-9][0-9]*\) *$$/\1/p' setup.cfg)
OLDEST := $(firstword $(SUPPORTED))
# test-all: versions to leave out (CI passes the one `make test` already ran) and how
# many interpreters run at once (the suite mostly waits on timers, not on the CPU).
SKIP ?=
JOBS ?= 1
# make test: pytest processes side by side (pytest-xdist, whole files per process, so a file's
# fixtures stay together). The suite mostly waits on timers, so 3 beat the 2 cores; 1: serial.
PARALLEL ?= 3
XDIST := $(if $(filter-out 0 1,$(PARALLEL)),-n $(PARALLEL) --dist loadfile,)

.PHONY: test test-all test-min print-oldest lint demo bench soak clean help

help:
	@echo "make test     - the whole test suite on $(PYTHON) (per-test timeout)"
	@echo "make test-all - the suite on every supported Python installed here ($(SUPPORTED))"
	@echo "make test-min - the suite on Python $(OLDEST) with the oldest supported dependencies"
	@echo "make lint     - ruff + mypy --strict on the package"
	@echo "make demo     - live tickers/trades from the built-in fake exchange (LIVE=1: real Binance, FUTURES=1: USD-M futures)"
	@echo "make bench    - REST, stream and shared-limits benchmarks against a baseline, same run"
	@echo "make soak     - long soak/chaos runs (marker: soak)"

$(VENV)/.stamp-base: setup.cfg setup.py pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PIP_INSTALL) -e ".[crypto,testing]"
	touch $@

# One pip run for everything `make test` needs (each run rebuilds the editable install).
$(VENV)/.stamp-test: setup.cfg setup.py pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PIP_INSTALL) -e ".[crypto,testing,test]"
	touch $(VENV)/.stamp-base $@

$(VENV)/.stamp-dev: $(VENV)/.stamp-base
	$(PIP_INSTALL) -e ".[dev]"
	touch $@

# The shared-limits and hub tests run a real redis-server on loopback (installed if missing).
test: $(VENV)/.stamp-test
	@bash .ci/ensure-redis
	$(BIN)/pytest -q -p no:cacheprovider --timeout=60 $(XDIST) $(PYTEST_ARGS)

test-all:
	@bash .ci/test-all --jobs "$(JOBS)" --skip "$(SKIP)" -- $(SUPPORTED)

test-min:
	@py=$$(bash .ci/find-python $(OLDEST)) || { echo "test-min: no Python $(OLDEST) on this machine"; exit 1; }; \
	$(MAKE) --no-print-directory test PYTHON="$$py" VENV=.venv-min CONSTRAINTS=.ci/constraints-min.txt

print-oldest:
	@echo $(OLDEST)

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check binance_conn tests examples benchmarks
	$(BIN)/mypy --strict binance_conn

demo: $(VENV)/.stamp-base
	$(PY) -m binance_conn.demo $(if $(LIVE),--live,) $(if $(FUTURES),--futures,)

bench: $(VENV)/.stamp-test
	$(PY) benchmarks/rest_bench.py
	$(PY) benchmarks/ws_bench.py
	$(PY) benchmarks/burst_bench.py
	$(PY) benchmarks/parse_bench.py
	$(PY) benchmarks/book_bench.py
	$(PY) benchmarks/backfill_bench.py
	$(PY) benchmarks/lag_bench.py
	$(PY) benchmarks/record_bench.py
	@bash .ci/ensure-redis
	$(PY) benchmarks/hub_bench.py
	$(PY) benchmarks/shared_limits_bench.py

soak: $(VENV)/.stamp-test
	@bash .ci/ensure-redis
	$(BIN)/pytest -q -p no:cacheprovider -m soak --timeout=1800 $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .venv-3.* .venv-min .install.lock build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
