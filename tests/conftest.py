"""Shared fixtures: one serialized moto server per test session, a fresh table per test; real API servers
(etcd + one kube-apiserver per cluster name, started on first use and shared by the session), emptied before
each test that asks for them."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from failover_operator.clock import FakeClock
from failover_operator.store import DynamoDBService, ensure_table
from failover_operator.store.calls import RetryPolicy
from harness import apiserver
from harness.apiserver import ControlPlane, RealCluster
from harness.dynamo import dynamodb_client, moto_process
from harness.faults import FaultProxy, start_proxy
from harness.memdynamo import MemoryDynamoDB

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per moto request drowns real logs

FAST_RETRIES = RetryPolicy(attempts=5, base_delay=0.001, max_delay=0.01)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One local DynamoDB for the session, in its own process (it would otherwise compete for our GIL with
    the operators under test), its requests serialized like real DynamoDB's (see harness/dynamo.py)."""
    with moto_process() as endpoint:
        yield endpoint


@pytest.fixture
async def dynamodb(request: pytest.FixtureRequest, moto_endpoint: str) -> AsyncIterator[Any]:
    """A DynamoDB client: on moto over HTTP; and, where tests/store asks for both, on the in-memory DynamoDB of
    the fault simulation (harness/memdynamo.py), so that the store's contract holds on both."""
    if getattr(request, "param", "moto") == "memory":
        yield MemoryDynamoDB(time.monotonic).client()
        return
    async with dynamodb_client(moto_endpoint) as client:
        yield client


@pytest.fixture
async def table(dynamodb: Any) -> str:
    name = f"failover-{uuid.uuid4().hex[:12]}"
    await ensure_table(dynamodb, name)
    return name


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


ServiceFactory = Callable[..., DynamoDBService]


@pytest.fixture
def make_service(dynamodb: Any, table: str, clock: FakeClock) -> ServiceFactory:
    """make_service("east") -> a DynamoDBService for cluster east (operator ID "fleet", shared fake clock)."""

    def make(cluster: str, operator_id: str = "fleet", *, clock_: Any = None, client: Any = None) -> DynamoDBService:
        return DynamoDBService(
            client or dynamodb, table, cluster, operator_id, clock=clock_ or clock, retry=FAST_RETRIES
        )

    return make


@pytest.fixture
async def proxy(moto_endpoint: str) -> AsyncIterator[FaultProxy]:
    p = await start_proxy(moto_endpoint)
    try:
        yield p
    finally:
        await p.stop()


@pytest.fixture
async def proxied(proxy: FaultProxy) -> AsyncIterator[Any]:
    """A DynamoDB client that goes through the fault proxy."""
    async with dynamodb_client(proxy.endpoint) as client:
        yield client


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """etcd and real kube-apiservers (envtest binaries). Skips with one line where there are none, unless
    REQUIRE_ENVTEST=1 (`make test` on the project's own machines) makes that a failure."""
    assets = apiserver.assets_dir()
    if assets is None:
        if apiserver.required():
            pytest.fail(apiserver.missing_reason(), pytrace=False)
        pytest.skip(apiserver.missing_reason())
    with apiserver.running_control_plane(assets) as plane:
        yield plane


RealClusters = Callable[..., dict[str, RealCluster]]


@pytest.fixture
async def apiservers(control_plane: ControlPlane) -> AsyncIterator[RealClusters]:
    """apiservers("east", "west") -> real API servers by name, emptied of what earlier tests left, their audit
    logs marked (entries from now on only), namespace `shop` present."""
    handed: dict[str, RealCluster] = {}

    def get(*names: str) -> dict[str, RealCluster]:
        clusters = control_plane.ensure(*names)
        for name, cluster in clusters.items():
            if name not in handed:
                cluster.fresh()
                handed[name] = cluster
        return clusters

    yield get
    for cluster in handed.values():
        await cluster.close()
