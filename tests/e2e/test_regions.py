"""Three Regions of one MRSC table, real operators on real API servers: a Region lost, the table's first Region
lost, the whole table out of reach for a while.

The table: one moto server behind three local endpoints, us-east-1, us-east-2 and us-west-2 (harness/regions.py:
one linearizable table, transactions refused, DescribeTable saying MRSC), each able to fail on its own, and each
cluster's own way to each of them. The clusters: east in us-east-1, west in us-east-2, north in us-west-2, each a
real kube-apiserver with the real `failover-operator run` process, configured with DYNAMODB_REGIONS and
DYNAMODB_ENDPOINTS, its own Region first (in the second scenario, the table's first Region first, everywhere).
Every bound is derived from the group's timeouts: h = heartbeatInterval, T = timeouts.heartbeat. Each Deployment's
replicas are read on every API server at once every 20 ms throughout: at no sample may two clusters run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from failover_operator.store import DynamoDBService
from harness.cluster import Cluster, eventually
from harness.controllers import running_controller
from harness.processes import OperatorProcess
from harness.regions import REGIONS, RegionalTable, moves, operators, regional_table, settled, topology_line, watching

from .manifests import deployment, group

H = 1.0  # heartbeatInterval
T = 4.0  # timeouts.heartbeat
REQUEST_TIMEOUT = 2.0  # the operators' DYNAMODB_TIMEOUT_SECONDS
SLACK = H
"""Added to every bound for the machine, not for the operator: on a loaded 2-core machine a process may start a
tick, or the test read a Deployment, late. What was measured is in each assertion's message."""
SPEC: dict[str, Any] = {
    "heartbeatInterval": f"{H:g}s",
    "timeouts": {"heartbeat": f"{T:g}s", "unhealthyPrimary": f"{2 * T:g}s", "transitoryState": f"{5 * T:g}s"},
    "initialPrimary": "east",
}
OPERATOR_ID = "fleet"
NS = "shop"
CLUSTERS = ("east", "west", "north")
ENV = {"LOG_FORMAT": "json", "DYNAMODB_TIMEOUT_SECONDS": f"{REQUEST_TIMEOUT:g}"}


@dataclass
class World:
    clusters: dict[str, Cluster]
    table: RegionalTable
    operators: dict[str, OperatorProcess]
    observer: DynamoDBService  # straight to moto: the test's reads are not the operators' requests
    table_name: str

    async def config(self) -> tuple[str, int]:
        config = await self.observer.state.get_group_config(NS, "web")
        assert config is not None
        return config.owner, config.epoch

    async def history(self) -> list[Any]:
        return await self.observer.state.get_failover_history(NS, "web")

    async def events(self, cluster: str, reason: str) -> list[str]:
        found = await self.clusters[cluster].list("v1", "events", NS)
        return [e.get("message", "") for e in found if e.get("reason") == reason]

    def check_mrsc_and_no_transactions(self, order: list[str] | None = None) -> None:
        """Every operator said at start-up that the table is MRSC, and the Regions it asks, in its order; no
        transaction reached any endpoint."""
        for name, process in self.operators.items():
            line = topology_line(process, self.table_name)
            assert line is not None, f"{name} logged no line saying what kind of table it is"
            assert line["mrsc"] is True and "multi-Region strong consistency, MRSC" in line["message"], line
            assert sorted(line["replicas"]) == sorted(REGIONS), line
            assert line["regions"] == (order or self.table.order(name)), line
        assert self.table.transactions() == 0, self.table.sent("TransactWriteItems", "TransactGetItems")

    @contextlib.contextmanager
    def explained(self) -> Iterator[None]:
        """An assertion that fails says what the operators logged last."""
        try:
            yield
        except AssertionError as exc:
            logs = "\n".join(f"--- {p.log.name} ---\n{p.output(25)}" for p in self.operators.values())
            raise AssertionError(f"{exc}\n{logs}") from exc


World_ = Callable[..., contextlib.AbstractAsyncContextManager[World]]


@pytest.fixture
def world(moto_endpoint: str, table: str, dynamodb: Any, apiservers: Any, tmp_path: Path) -> World_:
    """world(order=None) -> the three clusters with their operators, the group set up: east owns it at epoch 1.
    `order`: every operator's order of Regions (default: each its own Region first)."""

    @contextlib.asynccontextmanager
    async def make(order: list[str] | None = None) -> AsyncIterator[World]:
        clusters = apiservers(*CLUSTERS)
        async with contextlib.AsyncExitStack() as stack:
            regional = await stack.enter_async_context(regional_table(moto_endpoint, CLUSTERS))
            for cluster in clusters.values():
                await stack.enter_async_context(running_controller(cluster, interval=0.1))
            processes = await stack.enter_async_context(  # killed at the end: a clean stop is not what is tested
                operators(clusters, regional, table, tmp_path, operator_id=OPERATOR_ID, order=order, env=ENV, kill=True)
            )
            w = World(
                dict(clusters), regional, processes, DynamoDBService(dynamodb, table, "observer", OPERATOR_ID), table
            )
            with w.explained():
                for cluster in clusters.values():
                    await cluster.create(deployment())
                for cluster in clusters.values():
                    await cluster.create(group(**SPEC))
                await settled(clusters, "east", 1, namespace=NS)
                w.check_mrsc_and_no_transactions(order)
            yield w

    return make


def now() -> float:
    return asyncio.get_running_loop().time()


async def wait_for(seconds: float) -> None:
    """Let `seconds` pass on the loop's clock (the Deployments are sampled meanwhile)."""
    end = now() + seconds
    await eventually(lambda: now() >= end, within=seconds + 5, interval=0.05)


AT_REST = 0.0
"""How long the fleet is left alone after the group settled before the Region or the table is lost: not at all.
A loss within about two intervals of news about the group found two operator bugs, both fixed: a gap of two
intervals between a standby's fleet reads (a wake-up tick moves its cadence on) was taken for a blind spell and
restarted the owner's silence (a takeover up to two intervals past T + 2h); and the unhealthyPrimary wait kept
running while the standby could not read, so the owner's pods saying ERROR for a moment as they came back after a
table outage got it asked to drain (the group moved). A blind spell is now reads that kept failing, or one retried
through, for an interval (reconciler/fleet.py), and the unhealthyPrimary wait restarts after one too."""


async def at_rest() -> None:
    """The fleet at rest: every standby has read the owner's last status, its reads at their cadence."""
    await wait_for(AT_REST)


def gaps(times: list[float], since: float) -> list[float]:
    """The time between consecutive `times` from `since` on (rounded, for a message)."""
    times = [t for t in times if t >= since]
    return [round(b - a, 2) for a, b in itertools.pairwise(times)]


async def test_the_owners_region_lost_the_group_is_served_elsewhere_within_t_plus_2h_never_twice(world: World_):
    """us-east-1 is lost: its endpoint refuses everyone, and east, the owner, which runs there, is cut off from
    every Region (its operator runs on, its API server answers: it must fence itself). Another Region's cluster
    serves the group within T + 2h; at no sample do two clusters run it. (The fleet at rest first: AT_REST.)"""
    async with world() as w, watching(w.clusters, NS) as seen:
        with w.explained():
            history = await w.history()
            await at_rest()
            lost = now()
            await w.table.lose("us-east-1")
            await w.table.cut_off("east")

            async def served_elsewhere() -> tuple[float, str]:
                up = seen.first_up(("west", "north"), lost)
                assert up is not None, seen.samples[-1]
                return up

            at, by = await eventually(served_elsewhere, within=T + 2 * H + SLACK + 10, interval=0.05)
            took = at - lost
            reads = {n: gaps(w.table.fleet_reads(n), lost - 2 * H) for n in ("west", "north")}
            assert took <= T + 2 * H + SLACK, (
                f"served by {by} {took:.2f}s after the loss (T + 2h = {T + 2 * H:g}s); the standbys' fleet reads "
                f"came at intervals of {reads}; samples: {seen.changes(lost)}"
            )
            assert await w.config() == (by, 2)
            (record, *_) = await w.history()
            assert len(await w.history()) == len(history) + 1 and record.automatic, record
            assert record.source_cluster == "east" and "heartbeat has not changed" in record.reason, record
            await settled({n: c for n, c in w.clusters.items() if n != "east"}, by, 2, namespace=NS)
            await wait_for(H)  # and it stays so
            assert seen.overlaps() == [], seen.overlaps()[:5]
            fenced = [t - lost for t, s in seen.samples if t >= lost and s.get("east") == 0]
            assert fenced and fenced[0] < took, f"east fenced at {fenced[:1]}, {by} served at {took:.2f}s"
            assert seen.replicas_of("east", after=at) == {0} and seen.failed_reads == 0
            assert await w.events("east", "Fenced"), "east posted no Fenced event"
            w.check_mrsc_and_no_transactions()
            print(f"\nRegion lost: east fenced {fenced[0]:.2f}s after, {by} served {took:.2f}s after (T + 2h = 6s)")


async def test_the_tables_first_region_lost_nothing_moves_and_nobody_fences(world: World_):
    """us-east-1, every operator's first Region, refuses connections; every cluster runs on. Each client moves to
    us-east-2; the owner keeps the group at its epoch and never scales down, nobody else ever runs it."""
    async with world(order=list(REGIONS)) as w, watching(w.clusters, NS) as seen:
        with w.explained():
            history = await w.history()
            before = w.table.sent()
            await w.table.lose("us-east-1")
            await wait_for(2 * T)  # twice what a takeover waits for, four times the owner's fence limit
            assert await w.config() == ("east", 1)
            assert len(await w.history()) == len(history)
            assert seen.replicas_of("east") == {3}, seen.changes(seen.samples[0][0])
            assert seen.replicas_of("west") == seen.replicas_of("north") == {0}, seen.changes(seen.samples[0][0])
            assert seen.failed_reads == 0
            for name, process in w.operators.items():
                moved = [(m["moved_from"], m["region"]) for m in moves(process)]
                assert moved and moved[0] == ("us-east-1", "us-east-2"), (name, moved)
                assert not await w.events(name, "Fenced"), name
            after = w.table.sent()
            assert after["us-east-2"] > before["us-east-2"] and after["us-west-2"] == before["us-west-2"]
            await settled(w.clusters, "east", 1, namespace=NS, within=2 * H + SLACK)
            w.check_mrsc_and_no_transactions(list(REGIONS))


async def test_the_table_out_of_reach_longer_than_t_nothing_moves_and_the_owner_serves_again(world: World_):
    """Every endpoint refuses for 2T, then answers again. The owner fences meanwhile (it cannot prove it owns the
    group), nobody takes over; within an interval and a request timeout of the return the owner serves again,
    at the same epoch, and no failover is recorded. (The fleet at rest first: AT_REST.)"""
    async with world() as w, watching(w.clusters, NS) as seen:
        with w.explained():
            history = await w.history()
            await at_rest()
            lost = now()
            await w.table.lose(*REGIONS)
            await wait_for(2 * T)
            await w.table.restore(*REGIONS)
            back = now()

            async def serving_again() -> float:
                again = [t for t, s in seen.samples if t >= back and s.get("east") == 3]
                assert again, seen.samples[-1]
                return again[0]

            bound = H + REQUEST_TIMEOUT
            again = await eventually(serving_again, within=bound + SLACK + 10, interval=0.05)
            assert again - back <= bound + SLACK, f"east served {again - back:.2f}s after the return (h + timeout)"
            await wait_for(T + H)  # a standby that would take over late has had its time
            assert await w.config() == ("east", 1)
            assert len(await w.history()) == len(history)
            assert 0 in seen.replicas_of("east", after=lost), "east never fenced in an outage of 2T"
            assert seen.replicas_of("west") == seen.replicas_of("north") == {0}, seen.changes(lost)
            assert seen.overlaps() == [] and seen.failed_reads == 0
            await settled(w.clusters, "east", 1, namespace=NS, within=2 * H + SLACK)
            w.check_mrsc_and_no_transactions()
            print(f"\ntable out of reach for 2T: east served again {again - back:.2f}s after the return")
