# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# The suite runs in two processes (pytest-xdist): most of its time waits on servers, browsers and sockets, so
# two workers take 18 minutes where one takes 43, even on two CPUs. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

.PHONY: run test test-pg test-e2e lint typecheck screenshots bench bench-pg clean

# Debian's python3 needs python3-venv for `-m venv`: installed here when we may.
$(BIN)/python:
	@$(PYTHON) -c "import ensurepip" 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq python3-venv; \
	  else echo "Installez le module venv de Python : sudo apt-get install -y python3-venv" >&2; exit 1; fi; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: export PUBLIC_URL ?= http://$(HOST):$(PORT)
run: $(VENV)/.installed
	$(BIN)/flask --app app meg db upgrade
	$(BIN)/flask --app app libeo db upgrade
	$(BIN)/flask --app app demo
	$(BIN)/flask --app app serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

# The suite on PostgreSQL (TEST_DATABASE_URL=postgresql://…); .ci/run sets it.
test-pg: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not e2e"

# Lint and import order (ruff, configured in pyproject.toml); .ci/run runs it first.
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

# Types (mypy, configured in pyproject.toml); .ci/run runs it after the lint.
typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

test-e2e: $(VENV)/.installed-dev
	$(BIN)/python -m pytest tests/e2e

# Every page each demo role reaches, at 1280 px and 390 px: screenshots/index.html to browse them.
screenshots: $(VENV)/.installed-dev
	SCREENSHOTS=1 $(BIN)/python -m pytest tests/e2e/test_crawler.py -n 2 -p no:logging; \
	  status=$$?; echo "Captures : $(CURDIR)/screenshots/index.html"; exit $$status

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench $(BENCH_ARGS)

# The same against the local PostgreSQL (creates bench_meg and bench_libeo).
bench-pg: $(VENV)/.installed-dev
	$(BIN)/python -m bench --db postgresql $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
