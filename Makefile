# uxwizz: `make run` installs and serves on SQLite; `make test` installs and runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest
export UXWIZZ_TEST_MYSQL_URL ?= mysql://root:@127.0.0.1:3306

.PHONY: install install-test assets run test test-sqlite test-mysql e2e services bench lint clean

install: $(VENV)/.runtime assets

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

install-test: install $(VENV)/.test

$(VENV)/.test: pyproject.toml $(VENV)/.runtime
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Front-end bundles (tracker, dashboard charts, rrweb) built from npm packages into static/build/.
assets:
	@if [ -f package.json ]; then \
	  command -v npm >/dev/null || { echo "npm is missing: install Node.js 18+ (apt-get install nodejs npm)"; exit 1; }; \
	  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; fi; \
	  npm run --silent build; \
	fi

run: install
	$(PY) uxwizz.py

# The whole suite: unit + functional on SQLite and on MariaDB, then the browser tests.
test: install-test services
	@status=0; \
	for part in test-sqlite test-mysql e2e; do \
	  $(MAKE) --no-print-directory $$part || { status=1; echo "== $$part FAILED"; }; \
	done; \
	if [ $$status = 0 ]; then echo "== whole suite passed: SQLite, MariaDB, browser"; fi; \
	exit $$status

services:
	@bash tests/ensure_services.sh

test-sqlite: install-test
	UXWIZZ_TEST_DB=sqlite $(PYTEST) tests/unit tests/functional

test-mysql: install-test
	UXWIZZ_TEST_DB=mysql $(PYTEST) tests/unit tests/functional

e2e: install-test
	$(PYTEST) tests/e2e

bench: install-test
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

lint: install-test
	$(PY) -m ruff check core installer tests bench uxwizz.py
	$(PY) -m mypy

clean:
	rm -rf $(VENV) node_modules static/build
