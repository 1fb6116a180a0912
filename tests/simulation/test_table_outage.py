"""The whole table out of reach for every cluster at once (a single-Region table's Region down; an MRSC table with
two of its three Regions lost): what README, "Surviving a Region", says it still costs. Scripted trials on virtual
time: owners fence once the outage outlasts the fence limit, nobody ever serves twice, and once the table answers
no group changes owner and every owner serves again within one heartbeat interval (static stability: a standby,
blind as long as the owner was, counts the owner's silence afresh from when it can read again; the owner proves
ownership well within that)."""

from __future__ import annotations

import pytest

from harness.simulation.checker import story
from harness.simulation.trial import FENCE_FRACTION, Fault, Trial, run
from harness.simulation.world import CLIENT_TIMEOUT, Timing

TIMING = Timing(interval=5.0, heartbeat=15.0, unhealthy=60.0, transitory=300.0)  # the defaults
CLUSTERS = ["east", "west", "north"]
FENCE_LIMIT = FENCE_FRACTION * TIMING.heartbeat
START = 20.0


def served_again_after(seed: int, length: float) -> tuple[float | None, list[str], list[bool]]:
    faults = [Fault(START, "dynamo_down", cluster, length) for cluster in CLUSTERS]
    outcome = run(Trial(seed, CLUSTERS, TIMING, faults, START + length + 4 * TIMING.heartbeat, True, 1))
    if not outcome.verdict.ok:
        first = outcome.verdict.violations[0]
        raise AssertionError(f"{outcome.verdict.violations}\n{story(outcome.world, first.time, window=20)}")
    end = START + length
    back = [t for c in CLUSTERS for t, up in outcome.world.clusters[c].kube.serving if up and t >= end]
    owners = [owner for _, owner, _ in outcome.world.ownership]
    return (min(back) - end if back else None), owners, [up for _, up in outcome.world.clusters["east"].kube.serving]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_an_outage_within_the_fence_limit_less_an_interval_and_a_timeout_costs_nothing(seed: int) -> None:
    # the last beat before it may have been sent an interval before it began, the first after it may wait out the
    # request timeout of one sent while it lasted
    _, owners, east = served_again_after(seed, FENCE_LIMIT - TIMING.interval - CLIENT_TIMEOUT)
    assert owners == ["east"] and east == [True]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("length", [1.5 * FENCE_LIMIT, 6 * FENCE_LIMIT, 2 * TIMING.heartbeat, 10 * TIMING.heartbeat])
def test_a_longer_outage_fences_the_owner_and_nothing_moves_once_it_is_back(seed: int, length: float) -> None:
    back, owners, east = served_again_after(seed, length)
    assert east[:2] == [True, False]  # fenced while the table was out of reach
    assert owners == ["east"], owners  # nobody took it over "as fenced" once the table answered
    assert east == [True, False, True], east
    assert back is not None and back <= TIMING.interval, back
