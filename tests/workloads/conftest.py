"""Fixtures for the workloads layer: an emulated cluster (kmock, via the team's harness) and a KubeClient on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from failover_operator.testing.kube import KubeCluster, kubernetes_api_client, running_cluster
from failover_operator.workloads import KubeClient


@pytest.fixture
async def cluster() -> AsyncIterator[KubeCluster]:
    async with running_cluster("east") as east:
        yield east


@pytest.fixture
async def kube(cluster: KubeCluster) -> AsyncIterator[KubeClient]:
    """A KubeClient over the official client's ApiClient, as the harness builds it for the emulator."""
    async with KubeClient(kubernetes_api_client(cluster.url), workers=4) as client:
        yield client
