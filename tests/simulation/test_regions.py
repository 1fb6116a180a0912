"""Scripted trials in a world with Regions (the region draw's world): the table an MRSC global table with an
endpoint per Region, east in us-east-1 (the owner), west in us-east-2, north in us-west-2, each operator talking
to the table through the store's RegionalClient (its own Region's endpoint first). Virtual time: the latencies
(a few ms to the own Region, tens across) and the outages are what the simulation says, not the machine."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from failover_operator.store import ensure_table
from harness.simulation.checker import story
from harness.simulation.network import CONNECT_TIMEOUT
from harness.simulation.trial import Fault, Outcome, Trial, run
from harness.simulation.world import MRSC_REFUSES_TRANSACTIONS, TABLE, Timing, World, placed

TIMING = Timing(interval=1.0, heartbeat=3.0, unhealthy=5.0, transitory=12.0)
H, T = TIMING.interval, TIMING.heartbeat
CLUSTERS = ["east", "west", "north"]
AT = 6.0  # the fault, once everything has settled


def play(*faults: Fault, duration: float = 30.0, watchdog: bool = False) -> Outcome:
    trial = Trial(1, CLUSTERS, TIMING, list(faults), duration, watchdog=watchdog, regions=placed(CLUSTERS))
    outcome = run(trial)
    if not outcome.verdict.ok:
        first = outcome.verdict.violations[0]
        raise AssertionError(f"{outcome.verdict.violations}\n{story(outcome.world, first.time, window=20)}")
    return outcome


def owners(outcome: Outcome) -> list[tuple[str, int]]:
    return [(owner, epoch) for _, owner, epoch in outcome.world.ownership]


def serving(world: World) -> list[tuple[float, float, frozenset[str]]]:
    """(from, to, who serves) over the whole trial."""
    changes = sorted((t, name, up) for name, c in world.clusters.items() for t, up in c.kube.serving)
    pieces, now, who = [], 0.0, set[str]()
    for t, name, up in changes:
        if t > now:
            pieces.append((now, t, frozenset(who)))
            now = t
        (who.add if up else who.discard)(name)
    pieces.append((now, float("inf"), frozenset(who)))
    return pieces


def overlap(world: World) -> float:
    return sum(b - a for a, b, who in serving(world) if len(who) > 1)


def events(outcome: Outcome, reason: str) -> list[tuple[float, str]]:
    return [(e.time, e.cluster) for e in outcome.world.story if e.text.startswith(f"{reason}:")]


@pytest.mark.parametrize("refuse", [False, True])
async def test_the_mrsc_tables_refusal_of_transactions_is_a_switch(refuse: bool) -> None:
    """On by default (MRSC_REFUSES_TRANSACTIONS: the protocol needs none): every Region's endpoint refuses them, as
    a real MRSC table does; off only to compare."""
    assert placed(CLUSTERS).refuse_transactions is MRSC_REFUSES_TRANSACTIONS is True
    world = World(1, CLUSTERS, TIMING, regions=placed(CLUSTERS, refuse_transactions=refuse))
    await ensure_table(world.db.client(), TABLE)
    item = {"PK": {"S": "p"}, "SK": {"S": "s"}}
    for path in world.clusters["east"].paths:
        write = path.transact_write_items(TransactItems=[{"Put": {"TableName": TABLE, "Item": item}}])
        if refuse:
            with pytest.raises(ClientError, match="ValidationException"):
                await write
        else:
            await write
    assert bool(world.db.tables[TABLE].items) is not refuse


@pytest.mark.parametrize(("lost", "watchdog"), [("partitioned", False), ("down", True)])
def test_the_owners_region_lost_the_group_is_served_elsewhere_in_time_and_never_twice(
    lost: str, watchdog: bool
) -> None:
    """us-east-1 is lost: its endpoint for everyone, and east with it (cut off from every endpoint; or its
    operator dead too, its watchdog scaling its copy down). Another Region takes the group within T + 2h."""
    outcome = play(Fault(AT, "region_lost", "us-east-1", 20.0, {"lost": lost, "mode": "timeout"}), watchdog=watchdog)
    world = outcome.world
    assert owners(outcome)[0] == ("east", 1) and owners(outcome)[1][0] in ("west", "north"), owners(outcome)
    elsewhere = [t for name in ("west", "north") for t, up in world.clusters[name].kube.serving if up]
    assert elsewhere and min(elsewhere) - AT <= T + 2 * H, (min(elsewhere) - AT, story(world, AT, 20))
    assert overlap(world) == 0.0, serving(world)


PHASES = [AT + i * H / 10 for i in range(10)]  # the fault at every tenth of an interval
OUT_OF_HAND = (("endpoint_lost", "us-east-1"), ("cut_from_own_endpoint", "east"))  # for everyone; for east only


def lost_endpoint(kind: str, where: str, mode: str, at: float) -> Outcome:
    return play(Fault(at, kind, where, 15.0, {"mode": mode}))


@pytest.mark.parametrize(("kind", "where"), OUT_OF_HAND)
@pytest.mark.parametrize("mode", ["refuse", "timeout"])
def test_the_owners_endpoint_lost_nothing_moves(kind: str, where: str, mode: str) -> None:
    """us-east-1's endpoint lost (for everyone, or only for east): east's client moves to us-east-2 at its first
    request that fails, and keeps the group: nobody takes over, whatever the phase of the fault."""
    for at in PHASES:
        outcome = lost_endpoint(kind, where, mode, at)
        world = outcome.world
        assert owners(outcome) == [("east", 1)], (at, story(world, at, 12))
        assert overlap(world) == 0.0
        assert [t for name in ("west", "north") for t, up in world.clusters[name].kube.serving if up] == []
        moved = [e.time for e in world.story if e.cluster == "east" and e.text.startswith("DynamoDB: us-east-1 -> ")]
        assert moved and at <= moved[0] < at + H + CONNECT_TIMEOUT, (at, moved)


@pytest.mark.parametrize(("kind", "where"), OUT_OF_HAND)
@pytest.mark.parametrize("mode", ["refuse", "timeout"])
def test_the_owners_endpoint_lost_nobody_fences(kind: str, where: str, mode: str) -> None:
    """... and east never stops serving: its heartbeats land in time through the next Region."""
    stopped = {}
    for at in PHASES:
        outcome = lost_endpoint(kind, where, mode, at)
        if outcome.world.clusters["east"].kube.serving != [(0.0, True)]:
            stopped[round(at, 2)] = events(outcome, "Fenced")
    assert stopped == {}


@pytest.mark.parametrize("mode", ["refuse", "timeout"])
def test_the_table_unreachable_for_everyone_then_back_no_owner_change_and_the_owner_serves_again(mode: str) -> None:
    """Every endpoint unreachable for 2T: the owner fences at its limit (it cannot prove it owns the group), nobody
    can take over; once the table is back, the owner proves ownership and serves again within an interval (and the
    connect timeout of a request sent just before, when the endpoints time out rather than refuse), and
    the group never changes hands — whatever the phase of the outage."""
    late = {}
    for at in PHASES:
        outcome = play(Fault(at, "table_unreachable", "*", 2 * T, {"mode": mode}))
        back = at + 2 * T
        again = [t for t, up in outcome.world.clusters["east"].kube.serving if up and t >= back]
        # timing out: a request sent just before the return waits out its connect timeout first
        bound = H + (CONNECT_TIMEOUT if mode == "timeout" else 0.0)
        if owners(outcome) != [("east", 1)] or not again or again[0] - back > bound:
            late[round(at, 2)] = (owners(outcome), again[:1])
    assert late == {}
