"""The whole table out of reach for every cluster at once (a single-Region table's Region down; an MRSC table with
two of its three Regions lost): what README, "Surviving a Region", says it still costs. Scripted trials on virtual
time: owners fence once the outage outlasts the fence limit, nobody ever serves twice, and once the table answers
every group is served again within a few heartbeat intervals (by its owner, or by a standby whose takeover landed
before the owner's proof: both happen, and this does not pin which)."""

from __future__ import annotations

import pytest

from harness.simulation.checker import story
from harness.simulation.trial import FENCE_FRACTION, Fault, Trial, run
from harness.simulation.world import Timing

TIMING = Timing(interval=0.5, heartbeat=2.0, unhealthy=3.0, transitory=4.0)
CLUSTERS = ["east", "west", "north"]
FENCE_LIMIT = FENCE_FRACTION * TIMING.heartbeat
START = 5.0


def served_again_after(seed: int, length: float) -> tuple[float | None, list[str], list[bool]]:
    faults = [Fault(START, "dynamo_down", cluster, length) for cluster in CLUSTERS]
    outcome = run(Trial(seed, CLUSTERS, TIMING, faults, 30.0, True, 1))
    if not outcome.verdict.ok:
        first = outcome.verdict.violations[0]
        raise AssertionError(f"{outcome.verdict.violations}\n{story(outcome.world, first.time, window=20)}")
    end = START + length
    back = [t for c in CLUSTERS for t, up in outcome.world.clusters[c].kube.serving if up and t >= end]
    owners = [owner for _, owner, _ in outcome.world.ownership]
    return (min(back) - end if back else None), owners, [up for _, up in outcome.world.clusters["east"].kube.serving]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_an_outage_within_the_fence_limit_less_an_interval_costs_nothing(seed: int) -> None:
    _, owners, east = served_again_after(seed, FENCE_LIMIT - TIMING.interval)
    assert owners == ["east"] and east == [True]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("length", [1.5 * FENCE_LIMIT, 6 * FENCE_LIMIT])
def test_a_longer_outage_fences_the_owner_and_every_group_is_served_again_soon_after(seed: int, length: float) -> None:
    back, _, east = served_again_after(seed, length)
    assert east[:2] == [True, False]  # fenced while the table was out of reach
    assert back is not None and back <= 3 * TIMING.interval, back
