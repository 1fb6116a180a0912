"""Fixtures for the workloads layer: an emulated cluster (kmock, for the faults it injects) and a KubeClient."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from failover_operator.workloads import KubeClient
from harness.cluster import kubernetes_api_client
from harness.emulator import EmulatedCluster, running_cluster


@pytest.fixture
async def cluster() -> AsyncIterator[EmulatedCluster]:
    async with running_cluster("east") as east:
        yield east


@pytest.fixture
async def kube(cluster: EmulatedCluster) -> AsyncIterator[KubeClient]:
    """A KubeClient over the official client's ApiClient, as the harness builds it for the emulator."""
    async with KubeClient(kubernetes_api_client(cluster.url), workers=4) as client:
        yield client
