# Fresh machine: `make demo` and `make test` are the whole set-up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
CONSTRAINTS := constraints.txt
PIP_INSTALL := $(PIP) install --quiet --disable-pip-version-check -c $(CONSTRAINTS)

.PHONY: demo test bench lint deps deps-test deps-bench node chromium clean help constraints

help:
	@echo "make demo   set up and run the daemon's main job on the embedded defaults"
	@echo "make test   set up and run the test suite (SQLite, PostgreSQL, py-evm, hardhat)"
	@echo "make bench  run the accuracy, speed and gas benchmarks"
	@echo "make lint   ruff, mypy and the import contracts (lint-imports)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check --upgrade pip setuptools wheel

$(VENV)/.deps: pyproject.toml $(CONSTRAINTS) | $(PY)
	$(PIP_INSTALL) -e . --config-settings editable_mode=compat
	@touch $@

$(VENV)/.deps-test: $(VENV)/.deps
	$(PIP_INSTALL) -e ".[dev,grid,deep,prophet,cluster]" --config-settings editable_mode=compat
	@touch $@

$(VENV)/.deps-bench: $(VENV)/.deps-test
	$(PIP_INSTALL) -e ".[dev,grid,deep,prophet,cluster,bench]" --config-settings editable_mode=compat
	@touch $@

# Headless Chromium renders the evaluation report in a test; Debian's package, installed as root.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "note: headless Chromium missing (apt-get install chromium as root); its test will skip"; }

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: $(VENV)/.deps
deps-test: $(VENV)/.deps-test
deps-bench: $(VENV)/.deps-bench
node: node_modules/.installed

demo: deps
	$(VENV)/bin/oracle demo

test: deps-test node chromium
	$(PY) -m pytest -q -p no:cacheprovider

bench: deps-bench node
	@for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

lint: deps-test
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .ruff_cache .mypy_cache

constraints: $(VENV)/.deps-bench
	@echo '# Exact versions for CI and users: regenerate with `make constraints` after changing pyproject.toml.' > $(CONSTRAINTS).new
	$(PIP) freeze --exclude-editable | grep -vi '^solchain' >> $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
