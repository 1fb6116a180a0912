# failover-operator. Every target sets up what it needs: on a fresh machine with Python 3.11,
# `make demo` and `make test` are all there is to type.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: help venv install test lint typecheck bench demo run crds setup-table clean

help:
	@echo "make demo   - two fake clusters, one local DynamoDB, a real failover (no cloud, no cluster)"
	@echo "make test   - lint and the whole test suite"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - benchmarks (JSON lines)"
	@echo "make crds   - regenerate crds/ from operator/failover_operator/api.py"
	@echo "make run    - the operator against the cluster in KUBECONFIG (settings from the environment)"

venv: $(BIN)/python

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install --upgrade pip
	$(PIP) install -c constraints.txt -e '.[test]'
	@touch $@

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

typecheck: lint

bench: install
	$(BIN)/python bench/store_bench.py

demo: install
	$(BIN)/python -m failover_operator.demo

run: install
	$(BIN)/failover-operator run

setup-table: install
	$(BIN)/failover-operator setup-table --table $${DYNAMODB_TABLE:-failover-operator}

crds: install
	$(BIN)/python -m failover_operator.crdgen --write crds

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
