"""Shared fixtures: one serialized moto server per test session, a fresh table per test."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from failover_operator.clock import FakeClock
from failover_operator.store import DynamoDBService, ensure_table
from failover_operator.store.calls import RetryPolicy
from failover_operator.testing.dynamo import dynamodb_client, moto_process
from failover_operator.testing.faults import FaultProxy, start_proxy

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per moto request drowns real logs

FAST_RETRIES = RetryPolicy(attempts=5, base_delay=0.001, max_delay=0.01)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One local DynamoDB for the session, in its own process (it would otherwise compete for our GIL with
    the operators under test), its requests serialized like real DynamoDB's (see testing/dynamo.py)."""
    with moto_process() as endpoint:
        yield endpoint


@pytest.fixture
async def dynamodb(moto_endpoint: str) -> AsyncIterator[Any]:
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
