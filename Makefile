# Two entry points for a fresh machine: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint unit install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## JupyterLab on notebooks/, against an embedded sandbox (no API key needed).
demo: $(STAMP)
	env -u QUBICO_API_KEY -u PIAPI_API_KEY $(BIN)/qubico-nb demo

## Everything: lint, types, unit tests, notebooks, and the real-browser test.
test: $(STAMP)
	scripts/ensure-chromium
	$(BIN)/ruff check qubico_nb tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest

## Fast loop while coding: no notebooks, no browser.
unit: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
