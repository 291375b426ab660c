# The two commands: `make run` and `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint types pytest fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/omnikanal serve --demo --host 127.0.0.1 --port 8000

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

types: $(STAMP)
	$(BIN)/mypy

# On every core (pytest-xdist); each worker has its own databases. `pytest FILE` runs serially.
pytest: $(STAMP)
	$(BIN)/pytest -n auto --durations=15

test: lint types pytest

# Schemathesis with a large budget (the suite runs the same test with a small one).
FUZZ_EXAMPLES ?= 150
FUZZ_SEED ?= random
fuzz: $(STAMP)
	OMNIKANAL_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) OMNIKANAL_FUZZ_SEED=$(FUZZ_SEED) \
		OMNIKANAL_FUZZ_TIMEOUT=0 $(BIN)/pytest -m fuzz tests/fuzz

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
