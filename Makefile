# Two entry points for a fresh machine that has only python3 and make:
#   make demo   the console on the built-in sandbox pair
#   make test   lint, types and the test suite
# Both create .venv on first use and install the pinned versions from constraints.txt.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: demo test lint bench screenshots snapshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-app: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-app
	$(PIP) install --quiet -c constraints.txt -e '.[test]'
	touch $@

demo: $(VENV)/.installed-app
	$(BIN)/tui-sync demo $(ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check tui_sync tests bench
	$(BIN)/ruff format --check tui_sync tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n 2

snapshots: $(VENV)/.installed-test
	$(BIN)/pytest tests/test_snapshots.py --snapshot-update

screenshots: $(VENV)/.installed-app
	$(BIN)/python screenshots/make_screenshots.py

bench: $(VENV)/.installed-test
	$(BIN)/python bench/bench.py $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
