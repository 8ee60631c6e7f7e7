# Two entry points for a fresh machine: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint unit slow compat bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## JupyterLab on a copy of notebooks/, against an embedded sandbox (no API key needed).
demo: $(STAMP)
	env -u QUBICO_API_KEY -u PIAPI_API_KEY $(BIN)/qubico-nb demo

## Everything CI runs: lint, types, all tests (notebooks and real browsers included), and the
## unit tests again on the other supported stacks (Python 3.10/3.13, pandas 2.2/3, ipywidgets 7/8).
test: lint $(STAMP)
	scripts/ensure-chromium
	$(BIN)/python -m pytest
	scripts/test-compat

## Python (ruff, mypy) and the shipped JavaScript and CSS (Biome, pinned in .ci/biome).
lint: $(STAMP)
	$(BIN)/ruff check qubico_nb tests benchmarks scripts
	$(BIN)/ruff format --check qubico_nb tests benchmarks scripts
	$(BIN)/mypy
	scripts/biome

## Fast loop while coding: no notebooks, no browser.
unit: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

## Only the slow tests: notebooks executed headless and the real-browser tests.
slow: $(STAMP)
	scripts/ensure-chromium
	$(BIN)/python -m pytest -m slow

compat: $(STAMP)
	scripts/test-compat

## Speed and memory targets, measured side by side in one run.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) .venv-compat-* .pytest_cache .mypy_cache .ruff_cache .ci/biome/node_modules
