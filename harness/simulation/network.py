"""One simulated cluster's path to DynamoDB: the in-memory DynamoDB behind the faults the schedule sets.

The operator's store sees exactly what botocore would raise: a connection it cannot make, an answer that never
comes (the request *was* applied: a lost answer), throttling and 5xx. Reads and writes can be cut separately.

With Regions (the region draw): the table is an MRSC global table, one endpoint per Region (`RegionalNetwork`),
each with its own faults (lost for everyone: refusing connections or timing them out; slow); each cluster lives
in a Region and reaches every endpoint (`EndpointPath`), the others across Regions: a few milliseconds one way
to its own, tens to the others; a write waits for another Region to acknowledge it, as a strongly consistent read
does; two writes of one item through different Regions at about the same moment may conflict
(ReplicatedWriteConflictException, nothing applied). A path of its own can be cut (one cluster cannot reach
its Region's endpoint), and the cluster's own faults (`NetworkFaults`) hold on all its paths.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from failover_operator.store import keys

from ..memdynamo import MemoryClient

READS = frozenset({"get_item", "batch_get_item", "query", "describe_table"})


@dataclass
class NetworkFaults:
    """What is wrong between this cluster and DynamoDB right now."""

    reads_down: bool = False
    writes_down: bool = False
    lose_answers: float = 0.0  # probability that a write is applied but its answer is lost
    latency: float = 0.0  # seconds added to every answer (slow, not lost)
    throttle: float = 0.0  # probability of a throttling error (nothing applied)
    server_errors: float = 0.0  # probability of a 500 (nothing applied)

    @property
    def down(self) -> bool:
        return self.reads_down and self.writes_down


class FaultyClient:
    """The aioboto3 client methods the store calls, through this cluster's faults."""

    def __init__(self, inner: MemoryClient, faults: NetworkFaults, rng: random.Random, timeout: float) -> None:
        self.inner = inner
        self.faults = faults
        self.rng = rng
        self.timeout = timeout  # what botocore's read timeout would be: how long a lost answer takes to fail

    def __getattr__(self, operation: str) -> Any:
        method = getattr(self.inner, operation)

        async def call(**params: Any) -> Any:
            faults = self.faults
            write = operation not in READS
            if (write and faults.writes_down) or (not write and faults.reads_down):
                await asyncio.sleep(min(self.timeout, 1.0))  # a connect timeout
                raise EndpointConnectionError(endpoint_url="http://dynamodb.simulated")
            if faults.latency:
                await asyncio.sleep(faults.latency)
            if faults.throttle and self.rng.random() < faults.throttle:
                raise _client_error("ProvisionedThroughputExceededException", 400, operation)
            if faults.server_errors and self.rng.random() < faults.server_errors:
                raise _client_error("InternalServerError", 500, operation)
            result = await method(**params)
            if write and faults.lose_answers and self.rng.random() < faults.lose_answers:
                await asyncio.sleep(self.timeout)
                raise ReadTimeoutError(endpoint_url="http://dynamodb.simulated")
            return result

        return call


def _client_error(code: str, status: int, operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},  # type: ignore[typeddict-item]
        operation,
    )


# --- Regions: an MRSC table behind one endpoint per Region ------------------------------------------------

REGIONS = ("us-east-1", "us-east-2", "us-west-2")
LOCAL = 0.002
"""Seconds one way from a cluster to its own Region's endpoint."""
ONE_WAY = {
    frozenset({"us-east-1", "us-east-2"}): 0.012,
    frozenset({"us-east-1", "us-west-2"}): 0.035,
    frozenset({"us-east-2", "us-west-2"}): 0.028,
}
"""Seconds one way between Regions (about a third of the typical round trips between them)."""
CONFLICT_WINDOW = 0.05
"""Two writes of one item arriving at different Regions' endpoints within this many seconds may conflict."""
CONNECT_TIMEOUT = 1.0
"""How long a connection to an endpoint that does not answer takes to fail (as for `dynamo_down`)."""
STRONG_READS = frozenset({"get_item", "query", "batch_get_item"})


def one_way(a: str, b: str) -> float:
    """Seconds one way from Region `a` to Region `b`."""
    return LOCAL if a == b else ONE_WAY[frozenset({a, b})]


def nearest_first(home: str, regions: tuple[str, ...] = REGIONS) -> list[str]:
    """The Regions in the order a client in `home` prefers them: its own, then the nearest."""
    return sorted(regions, key=lambda r: (one_way(home, r), regions.index(r)))


@dataclass
class EndpointFaults:
    """What is wrong with one Region's DynamoDB endpoint, for everyone."""

    lost: bool = False
    mode: str = "refuse"  # how a lost endpoint fails a request: "refuse" (at once) or "timeout" (after a while)
    latency: float = 0.0  # seconds added to every answer


class Endpoint:
    """One replica Region's endpoint in front of the one store: its faults, and what a request costs there (a
    write waits for the nearest other replica to acknowledge it, and so does a strongly consistent read)."""

    def __init__(self, region: str, client: MemoryClient, regions: tuple[str, ...]) -> None:
        self.region = region
        self.client = client
        self.faults = EndpointFaults()
        self.replication = 2 * min(one_way(region, r) for r in regions if r != region)
        self.url = f"https://dynamodb.{region}.amazonaws.com"
        self.requests = 0


class RegionalNetwork:
    """Every Region's endpoint, and the replicated write conflicts between them: a write of an item that arrives
    within CONFLICT_WINDOW of a write of the same item through another Region fails with probability `conflicts`
    (ReplicatedWriteConflictException: nothing applied). `on_trouble(cluster, start, end)`: told of each request
    that failed because of an endpoint (lost, cut off, its answer lost), from when it was sent to when it failed."""

    def __init__(
        self,
        clients: dict[str, MemoryClient],
        rng: random.Random,
        *,
        conflicts: float = 0.5,
        timeout: float = 2.0,
    ) -> None:
        regions = tuple(clients)
        self.endpoints = {region: Endpoint(region, client, regions) for region, client in clients.items()}
        self.rng = rng
        self.conflicts = conflicts
        self.timeout = timeout  # botocore's read timeout: how long an answer that never comes takes to fail
        self.written: dict[tuple[str, str], tuple[float, str]] = {}  # item -> (when, through which Region)
        self.conflicted = 0
        self.on_trouble: Callable[[str, float, float], None] | None = None

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(self.endpoints)

    def conflict(self, region: str, items: list[tuple[str, str]], now: float) -> bool:
        """Does a write of `items` arriving through `region` now conflict with another Region's recent write?"""
        for item in items:
            last = self.written.get(item)
            recent = last is not None and last[1] != region and now - last[0] < CONFLICT_WINDOW
            if recent and self.conflicts > 0 and self.rng.random() < self.conflicts:
                self.conflicted += 1
                return True
        return False

    def wrote(self, region: str, items: list[tuple[str, str]], now: float) -> None:
        for item in items:
            self.written[item] = (now, region)

    def trouble(self, cluster: str, start: float, end: float) -> None:
        if self.on_trouble is not None:
            self.on_trouble(cluster, start, end)

    def paths(self, cluster: str, home: str, faults: NetworkFaults) -> list[EndpointPath]:
        """`cluster`'s paths to every endpoint, in its order of preference (its own Region first)."""
        return [
            EndpointPath(self, self.endpoints[region], cluster, home, faults)
            for region in nearest_first(home, self.regions)
        ]


class EndpointPath:
    """One cluster's path to one Region's endpoint, as the aioboto3 client of that Region: the cluster's own
    network faults (`NetworkFaults`, on every path), this path's own (`cut`: cannot reach this endpoint), then
    the endpoint's, the latency there and back, and what the request costs at the endpoint."""

    def __init__(
        self, network: RegionalNetwork, endpoint: Endpoint, cluster: str, home: str, faults: NetworkFaults
    ) -> None:
        self.network = network
        self.endpoint = endpoint
        self.cluster = cluster
        self.faults = faults
        self.one_way = one_way(home, endpoint.region)
        self.cut = False
        self.cut_mode = "refuse"
        self.requests = 0

    @property
    def region(self) -> str:
        return self.endpoint.region

    def __getattr__(self, operation: str) -> Any:
        if operation.startswith("_"):
            raise AttributeError(operation)
        method = getattr(self.endpoint.client, operation)
        loop = asyncio.get_running_loop()

        async def call(**params: Any) -> Any:
            faults, endpoint, network = self.faults, self.endpoint, self.network
            write = operation not in READS
            started = loop.time()
            self.requests += 1
            if (write and faults.writes_down) or (not write and faults.reads_down):
                await asyncio.sleep(min(network.timeout, CONNECT_TIMEOUT))  # the cluster is cut off: no connection
                raise EndpointConnectionError(endpoint_url=endpoint.url)
            if self.cut or endpoint.faults.lost:
                await self._unreachable(self.cut_mode if self.cut else endpoint.faults.mode, started)
            if faults.latency:
                await asyncio.sleep(faults.latency)
            if faults.throttle and network.rng.random() < faults.throttle:
                raise _client_error("ProvisionedThroughputExceededException", 400, operation)
            if faults.server_errors and network.rng.random() < faults.server_errors:
                raise _client_error("InternalServerError", 500, operation)
            await asyncio.sleep(self.one_way)  # on its way there
            if endpoint.faults.lost:  # the endpoint went away meanwhile: no answer ever comes
                await self._no_answer(started)
            endpoint.requests += 1
            items = _written_items(operation, params) if write else []
            if items and network.conflict(endpoint.region, items, loop.time()):
                await asyncio.sleep(self.one_way)
                raise _client_error("ReplicatedWriteConflictException", 400, operation)
            try:
                result = await method(**params)
                if items:
                    network.wrote(endpoint.region, items, loop.time())
            finally:  # answered (or refused) once the other Regions have acknowledged, and on its way back
                if write or _strong(operation, params):
                    await asyncio.sleep(endpoint.replication)
                if endpoint.faults.latency:
                    await asyncio.sleep(endpoint.faults.latency)
                if endpoint.faults.lost:  # applied, but the endpoint went away before it answered
                    await self._no_answer(started)
                await asyncio.sleep(self.one_way)
            if write and faults.lose_answers and network.rng.random() < faults.lose_answers:
                await asyncio.sleep(network.timeout)
                raise ReadTimeoutError(endpoint_url=endpoint.url)
            return result

        return call

    async def _unreachable(self, mode: str, started: float) -> None:
        """The endpoint cannot be reached: refused after a round trip, or a connect timeout."""
        if mode == "timeout":
            await asyncio.sleep(min(self.network.timeout, CONNECT_TIMEOUT))
            self.network.trouble(self.cluster, started, asyncio.get_running_loop().time())
            raise ConnectTimeoutError(endpoint_url=self.endpoint.url)
        await asyncio.sleep(2 * self.one_way)
        self.network.trouble(self.cluster, started, asyncio.get_running_loop().time())
        raise EndpointConnectionError(endpoint_url=self.endpoint.url)

    async def _no_answer(self, started: float) -> None:
        """The request was sent and no answer comes: botocore's read timeout, from when it was sent."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, started + self.network.timeout - loop.time()))
        self.network.trouble(self.cluster, started, loop.time())
        raise ReadTimeoutError(endpoint_url=self.endpoint.url)


def _written_items(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(table, key) of every item a write request writes."""
    actions: list[dict[str, Any]] = [params]
    if operation == "transact_write_items":  # a ConditionCheck writes nothing
        actions = [
            body
            for entry in params.get("TransactItems", [])
            for kind, body in entry.items()
            if kind != "ConditionCheck"
        ]
    found = []
    for action in actions:
        record = action.get("Key") or action.get("Item") or {}
        key = json.dumps({k: record.get(k) for k in (keys.PK, keys.SK)}, sort_keys=True)
        found.append((str(action.get("TableName", "")), key))
    return found


def _strong(operation: str, params: dict[str, Any]) -> bool:
    """A strongly consistent read (it, too, waits for another Region)."""
    if operation not in STRONG_READS:
        return False
    if operation == "batch_get_item":
        return any(spec.get("ConsistentRead") for spec in params.get("RequestItems", {}).values())
    return bool(params.get("ConsistentRead"))
