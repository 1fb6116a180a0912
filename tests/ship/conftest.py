"""Fixtures of the shipping checks: helm and kubectl (from `make tools`), and the stories the real operators
live on real API servers as the chart's ServiceAccount (what RBAC and IAM must allow)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from harness.apiserver import ControlPlane

from . import scenario
from .manifests import MINIMAL, NAMESPACED
from .tools import require_helm, require_tool

NAMESPACED_STORY = {**NAMESPACED, "watchNamespaces": [scenario.NS, "payments"]}


@pytest.fixture(scope="session")
def helm() -> Path:
    return require_helm()


@pytest.fixture(scope="session")
def kubectl() -> Path:
    return require_tool("kubectl")


@pytest.fixture(scope="session")
def clusterwide(
    control_plane: ControlPlane, moto_endpoint: str, helm: Path, kubectl: Path, tmp_path_factory: pytest.TempPathFactory
) -> scenario.Recording:
    """The whole story, the operators watching all namespaces (the chart's default: a ClusterRole)."""
    workdir = tmp_path_factory.mktemp("clusterwide")
    return asyncio.run(scenario.record(control_plane, moto_endpoint, helm, kubectl, workdir, values=MINIMAL))


@pytest.fixture(scope="session")
def namespaced(
    control_plane: ControlPlane, moto_endpoint: str, helm: Path, kubectl: Path, tmp_path_factory: pytest.TempPathFactory
) -> scenario.Recording:
    """The core of the story, the operators watching one namespace (rbac.namespaced: Roles, WATCH_NAMESPACE)."""
    workdir = tmp_path_factory.mktemp("namespaced")
    return asyncio.run(
        scenario.record(
            control_plane,
            moto_endpoint,
            helm,
            kubectl,
            workdir,
            values=NAMESPACED_STORY,
            namespaces=[scenario.NS],
            full=False,
        )
    )
