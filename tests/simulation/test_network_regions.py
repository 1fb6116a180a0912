"""The simulation's network with Regions (network.RegionalNetwork): an endpoint per Region in front of one MRSC
store, what a request costs from where, lost endpoints, cut paths, replicated write conflicts. On virtual time:
every duration below is exact."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from failover_operator.store import ensure_table
from failover_operator.store.regions import RegionalClient
from harness.memdynamo import MRSC, MemoryDynamoDB
from harness.simulation.network import (
    CONFLICT_WINDOW,
    CONNECT_TIMEOUT,
    LOCAL,
    REGIONS,
    EndpointPath,
    NetworkFaults,
    RegionalNetwork,
    nearest_first,
    one_way,
)
from harness.simulation.virtual_loop import VirtualLoop

TABLE = "t"
KEY = {"PK": {"S": "GROUP#x"}, "SK": {"S": "CONFIG"}}


def simulate(body: Callable[[RegionalNetwork], Awaitable[Any]], conflicts: float = 1.0) -> Any:
    """Run `body` on a fresh virtual loop, with a network of the three Regions over one MRSC table."""
    loop = VirtualLoop()

    async def main() -> Any:
        db = MemoryDynamoDB(loop.time, mrsc=MRSC())
        await ensure_table(db.client(), TABLE)
        network = RegionalNetwork({r: db.client(r) for r in REGIONS}, random.Random(1), conflicts=conflicts)
        return await body(network)

    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def path(network: RegionalNetwork, home: str, to: str, faults: NetworkFaults | None = None) -> EndpointPath:
    return next(p for p in network.paths(home, home, faults or NetworkFaults()) if p.region == to)


async def timed(call: Awaitable[Any]) -> tuple[float, Any]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        result = await call
    except Exception as exc:
        result = exc
    return loop.time() - start, result


def put(value: str) -> dict[str, Any]:
    return {"TableName": TABLE, "Item": {**KEY, "v": {"S": value}}}


def test_a_client_prefers_its_own_region_then_the_nearest() -> None:
    assert nearest_first("us-east-1") == ["us-east-1", "us-east-2", "us-west-2"]
    assert nearest_first("us-west-2") == ["us-west-2", "us-east-2", "us-east-1"]
    assert one_way("us-east-2", "us-east-2") == LOCAL and 0.01 <= one_way("us-east-1", "us-west-2") <= 0.1


def test_what_a_request_costs_from_where() -> None:
    async def body(network: RegionalNetwork) -> dict[str, float]:
        near, far = path(network, "us-east-1", "us-east-1"), path(network, "us-east-1", "us-west-2")
        replication = network.endpoints["us-east-1"].replication
        costs = {
            "write near": (await timed(near.put_item(**put("1"))))[0],
            "write far": (await timed(far.put_item(**put("2"))))[0],
            "strong read near": (await timed(near.get_item(TableName=TABLE, Key=KEY, ConsistentRead=True)))[0],
            "eventual read near": (await timed(near.get_item(TableName=TABLE, Key=KEY)))[0],
        }
        assert costs["write near"] == pytest.approx(2 * LOCAL + replication)
        assert costs["write far"] == pytest.approx(
            2 * one_way("us-east-1", "us-west-2") + 2 * one_way("us-west-2", "us-east-2")
        )
        assert costs["strong read near"] == pytest.approx(costs["write near"])
        assert costs["eventual read near"] == pytest.approx(2 * LOCAL)
        return costs

    costs = simulate(body)
    assert 0.01 < costs["write near"] < costs["write far"] < 0.15, costs


def test_writes_of_one_item_through_two_regions_at_once_conflict_and_the_later_is_not_applied() -> None:
    async def body(network: RegionalNetwork) -> list[Any]:
        east, west = path(network, "us-east-1", "us-east-1"), path(network, "us-west-2", "us-west-2")
        first = asyncio.ensure_future(east.put_item(**put("east")))
        await asyncio.sleep(0.01)
        results = await asyncio.gather(first, west.put_item(**put("west")), return_exceptions=True)
        item = await east.get_item(TableName=TABLE, Key=KEY, ConsistentRead=True)
        await asyncio.sleep(CONFLICT_WINDOW)
        await west.put_item(**put("later"))  # outside the window: no conflict
        return [*results, item["Item"]["v"]["S"], network.conflicted]

    first, second, value, conflicted = simulate(body)
    assert first == {}
    assert isinstance(second, ClientError) and second.response["Error"]["Code"] == "ReplicatedWriteConflictException"
    assert (value, conflicted) == ("east", 1)


def test_one_region_writing_an_item_twice_never_conflicts() -> None:
    async def body(network: RegionalNetwork) -> int:
        east = path(network, "us-east-1", "us-east-1")
        await asyncio.gather(east.put_item(**put("a")), east.put_item(**put("b")))
        return network.conflicted

    assert simulate(body) == 0


@pytest.mark.parametrize(
    ("mode", "error", "seconds"),
    [("refuse", EndpointConnectionError, 2 * LOCAL), ("timeout", ConnectTimeoutError, CONNECT_TIMEOUT)],
)
def test_a_lost_endpoint_fails_everyone_and_is_noted_as_trouble(mode: str, error: type, seconds: float) -> None:
    troubles: list[tuple[str, float, float]] = []

    async def body(network: RegionalNetwork) -> tuple[float, Any, float, Any]:
        network.on_trouble = lambda cluster, a, b: troubles.append((cluster, a, b))
        network.endpoints["us-east-1"].faults.lost = True
        network.endpoints["us-east-1"].faults.mode = mode
        near = await timed(path(network, "us-east-1", "us-east-1").put_item(**put("x")))
        other = await timed(path(network, "us-east-2", "us-east-2").put_item(**put("y")))
        return (*near, *other)

    took, failed, other_took, other = simulate(body)
    assert isinstance(failed, error) and took == pytest.approx(seconds)
    assert other == {} and other_took < 0.1  # another Region's endpoint answers
    assert [(c, round(b - a, 6)) for c, a, b in troubles] == [("us-east-1", round(seconds, 6))]


def test_a_write_applied_as_its_endpoint_is_lost_gets_no_answer() -> None:
    async def body(network: RegionalNetwork) -> tuple[float, Any, Any]:
        endpoint = network.endpoints["us-east-1"]
        writing = asyncio.ensure_future(timed(path(network, "us-east-1", "us-east-1").put_item(**put("x"))))
        await asyncio.sleep(LOCAL + endpoint.replication / 2)  # arrived and applied, not yet answered
        endpoint.faults.lost = True
        took, result = await writing
        item = await path(network, "us-east-2", "us-east-2").get_item(TableName=TABLE, Key=KEY, ConsistentRead=True)
        return took, result, item

    took, result, item = simulate(body)
    assert isinstance(result, ReadTimeoutError) and took == pytest.approx(2.0)
    assert item["Item"]["v"] == {"S": "x"}  # it was applied: an answer lost, as a lost answer is


def test_a_cut_path_fails_only_that_cluster_and_the_regional_client_moves_on() -> None:
    moves: list[tuple[str, str]] = []

    async def body(network: RegionalNetwork) -> tuple[Any, Any]:
        loop = asyncio.get_running_loop()
        paths = network.paths("east", "us-east-1", NetworkFaults())
        paths[0].cut, paths[0].cut_mode = True, "refuse"
        client = RegionalClient([(p.region, p) for p in paths], loop.time, on_move=lambda a, b, _: moves.append((a, b)))
        with pytest.raises(EndpointConnectionError):
            await client.put_item(**put("x"))
        written = await client.put_item(**put("x"))  # the retry goes to the next Region
        other = await path(network, "us-east-1", "us-east-1").get_item(TableName=TABLE, Key=KEY)  # not cut for others
        return written, other

    written, other = simulate(body)
    assert written == {} and other["Item"]["v"] == {"S": "x"}
    assert moves == [("us-east-1", "us-east-2")]


def test_the_clusters_own_faults_hold_on_every_path() -> None:
    async def body(network: RegionalNetwork) -> list[Any]:
        faults = NetworkFaults(reads_down=True, writes_down=True)
        return [
            (await timed(p.get_item(TableName=TABLE, Key=KEY)))[1] for p in network.paths("east", "us-east-1", faults)
        ]

    assert all(isinstance(r, EndpointConnectionError) for r in simulate(body))


def test_a_slow_endpoint_is_slow_for_everyone() -> None:
    async def body(network: RegionalNetwork) -> tuple[float, float]:
        network.endpoints["us-east-2"].faults.latency = 0.5
        slow = (await timed(path(network, "us-east-1", "us-east-2").get_item(TableName=TABLE, Key=KEY)))[0]
        fast = (await timed(path(network, "us-east-1", "us-east-1").get_item(TableName=TABLE, Key=KEY)))[0]
        return slow, fast

    slow, fast = simulate(body)
    assert slow == pytest.approx(0.5 + 2 * one_way("us-east-1", "us-east-2")) and fast == pytest.approx(2 * LOCAL)
