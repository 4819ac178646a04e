# Two commands for a fresh clone (see README.md):
#   make quickstart   set up .venv and train the offline quickstart
#   make test         set up .venv, then lint, type-check and run the test suite
#   make test-fast    lint, the unit tests and one end-to-end smoke run (~4 min on 2 cores)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Our machines carry a CPU build of torch 2.13.0 on local disk; override for another build,
# e.g. `make setup TORCH_SPEC="torch==2.13.0 --index-url <your wheel index>"`.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup quickstart test test-fast lint typecheck clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

quickstart: setup
	HF_HUB_OFFLINE=1 $(PY) -m lab.train

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest

# Leaves out the tests marked `slow` (they train models), except the one marked `smoke`.
test-fast: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -m "smoke or not (slow or gpu)"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache .ruff_cache .mypy_cache
