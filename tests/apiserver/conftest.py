"""Fixtures of the real-API-server tests: kubectl against a real kube-apiserver."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.apiserver import RealCluster

from ..ship.tools import require_tool

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def kubectl_binary() -> Path:
    return require_tool("kubectl")


def run_kubectl(
    binary: Path, cluster: RealCluster, *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """kubectl as the cluster's admin; the answer as printed (stdout, stderr, return code)."""
    return subprocess.run(
        [str(binary), "--kubeconfig", str(cluster.kubeconfig), *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def east(apiservers: Callable[..., dict[str, RealCluster]]) -> RealCluster:
    return apiservers("east")["east"]


@pytest.fixture
def kubectl(kubectl_binary: Path, east: RealCluster) -> Kubectl:
    """kubectl("get", "fg", "-n", "shop") against east, as its admin."""

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_kubectl(kubectl_binary, east, *args, input=input)

    return run
