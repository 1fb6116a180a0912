"""The steady state costs per cluster, not per group or per tick: with nothing changing, each cluster sends one
heartbeat and one read of every cluster's liveness per interval; a change is re-read by the peers at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

import failover_operator.reconciler.group as group_module
from failover_operator.reconciler.group import GroupRunner
from failover_operator.reconciler.heartbeat import ClusterHeartbeat
from harness.simulation.trial import Fault, Trial, run
from harness.simulation.world import Timing, World

TIMING = Timing(interval=0.5, heartbeat=1.5, unhealthy=2.5, transitory=4.0)


def requests(world: World, cluster: str) -> int:
    operator = world.clusters[cluster].operator
    assert operator is not None
    store = operator.ctx.store
    return store.call.calls + store._ctx.call_once.calls


def reads(world: World, cluster: str) -> int:
    return world.clusters[cluster].kube.reads


def quiet_rates(count: Callable[[World, str], int]) -> dict[str, float]:
    """Three clusters, nothing changing: `count` per interval of each, measured from 10 s to 30 s."""
    counts: dict[float, dict[str, int]] = {}

    def watch(world: World) -> None:
        async def later(at: float) -> None:
            await asyncio.sleep(at)
            counts[at] = {name: count(world, name) for name in world.clusters}

        world.loop.create_task(later(10.0))
        world.loop.create_task(later(30.0))

    outcome = run(Trial(1, ["east", "west", "north"], TIMING, [], 32.0), on_world=watch)
    assert outcome.verdict.ok, outcome.verdict.violations
    intervals = 20.0 / TIMING.interval
    return {cluster: (counts[30.0][cluster] - counts[10.0][cluster]) / intervals for cluster in counts[30.0]}


def test_nothing_changing_costs_one_write_and_one_read_per_cluster_per_interval() -> None:
    for cluster, per_interval in quiet_rates(requests).items():
        # one beat and one liveness read per interval of the cluster's own clock (rates differ by up to 10 %)
        assert 2 / 1.1 - 0.05 <= per_interval <= 2 / 0.9 + 0.05, (cluster, per_interval)


def test_a_planned_failover_is_carried_out_promptly_with_change_driven_reads() -> None:
    outcome = run(
        Trial(
            1,
            ["east", "west", "north"],
            TIMING,
            [Fault(5.0, "failover", "north", 0.0, {"target": "west", "mode": "CONSISTENCY", "force": False})],
            20.0,
        )
    )
    assert outcome.verdict.ok, outcome.verdict.violations
    (when, owner, epoch) = outcome.world.ownership[-1]
    assert (owner, epoch) == ("west", 2)
    assert when - 5.0 < 4 * TIMING.interval + 1.0, when  # drain, report, transfer: a few ticks, not minutes


def test_nothing_changing_reads_no_resource() -> None:
    """Owner and standbys alike: no read of the group's Deployment while nothing changes (one read per tick
    before): each tick grades what the operator's watch delivered."""
    assert quiet_rates(reads) == {"east": 0.0, "west": 0.0, "north": 0.0}


def _slow_start(monkeypatch: pytest.MonkeyPatch, cluster: str, delay: float, limit: float) -> None:
    """`cluster`'s group takes `delay` seconds to start (as one of a thousand starting at once would), while
    its operator already heartbeats at the group's interval (its other groups know their roles)."""
    original = GroupRunner._spread

    def spread(self: GroupRunner) -> float:
        return delay if self.ctx.cluster == cluster else original(self)

    monkeypatch.setattr(GroupRunner, "_spread", spread)
    monkeypatch.setattr(ClusterHeartbeat, "_known", lambda self: True)
    monkeypatch.setattr(ClusterHeartbeat, "interval", lambda self: TIMING.interval)
    monkeypatch.setattr(group_module, "STARTING_LIMIT", limit)


def test_a_peer_does_not_take_over_a_group_its_owner_is_still_starting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold start of many groups: the bootstrap owner's first status comes well after the heartbeat timeout.
    Its heartbeat says groups are still starting, so nobody takes over meanwhile."""
    _slow_start(monkeypatch, "east", delay=6.0, limit=120.0)
    outcome = run(Trial(1, ["east", "west"], TIMING, [], 12.0))
    assert [(owner, epoch) for _, owner, epoch in outcome.world.ownership] == [("east", 1)]


def test_a_group_still_starting_past_the_limit_is_taken_over(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting is believed for STARTING_LIMIT only: a group that never gets going does not block its peers."""
    _slow_start(monkeypatch, "east", delay=20.0, limit=3.0)
    outcome = run(Trial(1, ["east", "west"], TIMING, [], 12.0))
    (when, owner, epoch) = outcome.world.ownership[-1]
    assert (owner, epoch) == ("west", 2)
    assert 3.0 < when < 3.0 + TIMING.heartbeat + 4 * TIMING.interval, when  # not before the limit


def test_a_dead_owner_is_taken_over_at_the_heartbeat_timeout_not_an_interval_later() -> None:
    """The owner's operator dies at 5 s. Its silence counts from when this operator first read its last liveness
    number (at most 0.9 interval after it was written), not from when each group's tick next looked at it, and
    the group looks again the moment the silence reaches the timeout instead of at its next tick: each of which
    added up to an interval."""
    crash = 5.0
    late = []
    for seed in range(1, 9):
        outcome = run(Trial(seed, ["east", "west"], TIMING, [Fault(crash, "crash", "east", 60.0)], 12.0))
        moves = [(when, owner) for when, owner, epoch in outcome.world.ownership if epoch > 1]
        assert moves and moves[0][1] == "west", (seed, outcome.world.ownership)
        late.append(moves[0][0] - crash)
    # the last beat is sent before the crash and read within 0.9 interval; the timeout; the takeover itself
    assert max(late) < TIMING.heartbeat + 0.9 * TIMING.interval + 0.25, late
