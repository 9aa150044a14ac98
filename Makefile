# Two commands for a new user: `make run` and `make test`.
# `make run` installs only what serving needs; the dev tools and the browser come with `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SERVE_STAMP := $(VENV)/.installed-serve
DEV_STAMP   := $(VENV)/.installed-dev
NODE_STAMP  := tests/node/node_modules/.installed
LINTED := relaygate tests $(wildcard bench)  # bench/ is optional in a checkout

.PHONY: install install-serve browser run test lint typecheck pytest bench bench-peers bench-data bench-scaling bench-tokens bench-instructions clean

# Everything `make test` needs: the package with its dev extras, the browser and the Node clients.
install: $(DEV_STAMP) browser $(NODE_STAMP)

# Only what `relaygate serve` needs.
install-serve: $(SERVE_STAMP)

# The console's browser tests drive Debian's chromium (Playwright never downloads a browser here).
# Quiet and idempotent; without it the tests skip, and fail under CI=true.
browser:
	@command -v chromium >/dev/null || apt-get install -y -qq chromium >/dev/null 2>&1 \
		|| { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; } \
		|| echo "could not install chromium: tests/console will skip (and fail under CI=true)"

# The Node client suite (tests/node): the exact packages of its lock file, never a newer one.
# Without node/npm the suite skips, and fails under CI=true.
$(NODE_STAMP): tests/node/package.json tests/node/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/node --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "node/npm not found: tests/node will skip (and fail under CI=true)"; fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(SERVE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(SERVE_STAMP)

# The dev install holds the serve install: both stamps are fresh after it.
$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(SERVE_STAMP) $(DEV_STAMP)

run: install-serve
	$(BIN)/relaygate serve

lint: install
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

# mypy keeps its cache outside the checkout, so a fresh clone (CI) checks only what changed: the cache
# is validated by each file's hash, never trusted by path alone.
MYPY_CACHE_DIR ?= $(HOME)/.cache/relaygate/mypy
typecheck: install
	MYPY_CACHE_DIR=$(MYPY_CACHE_DIR) $(BIN)/mypy

# Most tests wait on sockets and subprocesses, so three workers keep two cores busy; each test file
# runs whole on one worker (its module fixtures are shared), the longest files first (SLOW_FIRST in
# tests/conftest.py, kept by --no-loadscope-reorder in pyproject.toml). PYTEST_WORKERS=0 runs them in-process.
PYTEST_WORKERS ?= 3
pytest: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=25

test: lint typecheck pytest

bench: install
	$(BIN)/python bench/run.py

# relaygate beside the LiteLLM proxy and the Portkey gateway on one fake upstream; the peers are installed
# with pip and npm on first use, into RELAYGATE_BENCH_PEERS_DIR (default ~/.cache/relaygate-bench/peers).
bench-peers: install
	$(BIN)/python bench/peers.py

# The gateway's CPU instructions per chat request, counted by valgrind: the same on a busy machine.
bench-instructions: install
	$(BIN)/python bench/instructions.py

# The management reads and the relay at 0, 1M and 10M usage records (SQLite) and 0 and 1M (PostgreSQL).
bench-data: install
	$(BIN)/python bench/data_growth.py

# What one worker-core serves: `serve --workers 1` on one pinned core, then one worker per core left, on
# PostgreSQL + Redis (RELAYGATE_BENCH_POSTGRES_URL, RELAYGATE_BENCH_REDIS_URL; see bench/scale_out.py).
bench-scaling: install
	$(BIN)/python bench/scaling.py

# The relay on one key and spread over 10,000 keys, at 10, 10,000 and 100,000 tokens (SQLite, PostgreSQL + Redis).
bench-tokens: install
	$(BIN)/python bench/token_growth.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
