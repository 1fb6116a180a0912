"""Fixtures of the shipping checks: helm (from `make tools`), and the recordings of the operator's requests."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from . import scenario
from .tools import require_helm, require_tool


@pytest.fixture(scope="session")
def helm() -> Path:
    return require_helm()


@pytest.fixture(scope="session")
def clusterwide(moto_endpoint: str) -> scenario.Recording:
    """The scenario with the operators watching all namespaces (the chart's default: a ClusterRole)."""
    return asyncio.run(scenario.record(moto_endpoint))


@pytest.fixture(scope="session")
def namespaced(moto_endpoint: str) -> scenario.Recording:
    """The scenario with the operators watching one namespace (the chart's rbac.namespaced mode: Roles)."""
    return asyncio.run(scenario.record(moto_endpoint, namespaces=[scenario.NS]))


@pytest.fixture(scope="session")
def kubectl() -> Path:
    return require_tool("kubectl")
