"""A scheduled switchover (`switchover --at`, issue 19), end to end: the schedule kept in DynamoDB, the operators'
own code carrying it out on virtual time, every cluster's clock offset and drifting. Scripted trials; each
asserts the outcome that matters besides the checker's verdict (never two serving, liveness, one history record
per move)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.simulation.checker import story
from harness.simulation.trial import Fault, Outcome, Trial, run
from harness.simulation.world import Timing

TIMING = Timing(interval=0.5, heartbeat=2.0, unhealthy=3.0, transitory=4.0)
CLUSTERS = ["east", "west", "north"]
ASKED, DUE = 4.0, 12.0  # asked at 4 s for 12 s (as west's own clock reads it)


def play(*faults: Fault, duration: float = 30.0) -> Outcome:
    trial = Trial(1, CLUSTERS, TIMING, sorted(faults, key=lambda f: f.at), duration, watchdog=True)
    outcome = run(trial)
    if not outcome.verdict.ok:
        first = outcome.verdict.violations[0]
        raise AssertionError(f"{outcome.verdict.violations}\n{story(outcome.world, first.time, window=20)}")
    return outcome


def scheduled(mode: str = "CONSISTENCY", **options: object) -> Fault:
    return Fault(ASKED, "schedule", "west", DUE - ASKED, {"mode": mode, **options})


def owners(outcome: Outcome) -> list[str]:
    return [owner for _, owner, _ in outcome.world.ownership]


def moves(outcome: Outcome) -> list[tuple[float, str]]:
    """(when, name) of every move request that appeared in the config."""
    seen: list[tuple[float, str]] = []
    for when, transition in outcome.world.transitions:
        if transition and (not seen or seen[-1][1] != transition["failover_name"]):
            seen.append((when, transition["failover_name"]))
    return seen


def events(outcome: Outcome, cluster: str, words: str) -> list[float]:
    return [e.time for e in outcome.world.story if e.cluster == cluster and e.kind == "event" and words in e.text]


@pytest.mark.parametrize("mode", ["CONSISTENCY", "UPTIME"])
def test_the_move_starts_at_its_time_not_before_and_completes(mode: str) -> None:
    outcome = play(scheduled(mode))
    interval = TIMING.interval
    (started, name), *_ = moves(outcome)
    assert name == "scheduled-12000"
    # At its time on the target's clock: not before, and within an interval or two (the tick that notices it, a
    # read afresh and the write) — the operators read DynamoDB no more often for it.
    assert DUE <= started <= DUE + 2 * interval, started
    assert events(outcome, "west", "SwitchoverStarted") and min(events(outcome, "west", "SwitchoverStarted")) >= DUE
    assert owners(outcome) == ["east", "west"]
    moved_at = outcome.world.ownership[-1][0]
    assert started < moved_at < DUE + TIMING.transitory
    (record,) = outcome.world.history()
    assert (record.failover_name, record.source_cluster, record.target_cluster) == (name, "east", "west")
    assert (record.mode.value, record.forced, record.automatic, record.reason) == (
        mode,
        False,
        False,
        "scheduled in the simulation",
    )
    assert outcome.world.clusters["west"].kube.serving[-1][1]  # the new owner serves at the end


def test_while_scheduled_every_cluster_shows_it() -> None:
    """Before its time, the FailoverGroup's status in every cluster says what is scheduled (not only the CLI)."""
    seen: dict[str, object] = {}

    def at_ten(world: object) -> None:
        async def look() -> None:
            import asyncio

            await asyncio.sleep(10.0)
            for name, cluster in world.clusters.items():  # type: ignore[attr-defined]
                seen[name] = (cluster.group.get("status") or {}).get("scheduledSwitchover")

        world.loop.create_task(look())  # type: ignore[attr-defined]

    trial = Trial(1, CLUSTERS, TIMING, [scheduled()], 16.0, watchdog=True)
    outcome = run(trial, on_world=at_ten)
    assert outcome.verdict.ok, outcome.verdict.violations
    assert set(seen) == set(CLUSTERS)
    for shown in seen.values():
        assert isinstance(shown, dict)
        assert (shown["name"], shown["sourceCluster"], shown["targetCluster"], shown["mode"]) == (
            "scheduled-12000",
            "east",
            "west",
            "CONSISTENCY",
        )


def test_cancelled_before_its_time_nothing_happens() -> None:
    outcome = play(scheduled(cancel_at=DUE - 1.0))
    assert moves(outcome) == [] and owners(outcome) == ["east"]
    assert outcome.world.history() == []
    assert events(outcome, "west", "Switchover") == []
    assert any("switchover scheduled-12000 cancelled" in e.text for e in outcome.world.story)


def test_refused_at_its_time_it_is_dropped_saying_why_and_never_retried() -> None:
    """The group is suspended when the time comes (maintenance): the target drops the schedule with an event that
    says why; after the resume nothing moves."""
    outcome = play(scheduled(), Fault(8.0, "suspend", "east", 8.0))
    assert moves(outcome) == [] and owners(outcome) == ["east"]
    dropped = [e for e in outcome.world.story if e.cluster == "west" and "SwitchoverDropped" in e.text]
    assert len(dropped) == 1 and dropped[0].time >= DUE, dropped
    assert "shop/web is suspended (maintenance): only a forced failover may move it" in dropped[0].text
    assert events(outcome, "west", "SwitchoverStarted") == []


def test_a_target_whose_operator_was_down_at_the_time_drops_it_when_it_is_back() -> None:
    """West's operator is down from 10 s to 20 s: back 8 s past the time (more than transitoryState, 4 s), it
    drops the schedule rather than move the group at another time than asked."""
    outcome = play(scheduled(), Fault(10.0, "crash", "west", 10.0), duration=32.0)
    assert moves(outcome) == [] and owners(outcome) == ["east"]
    dropped = [e for e in outcome.world.story if e.cluster == "west" and "SwitchoverDropped" in e.text]
    assert len(dropped) == 1 and dropped[0].time >= 20.0, dropped
    assert "past its time, more than transitoryState (4s)" in dropped[0].text


READS = {"get_item", "query", "batch_get_item", "transact_get_items"}


def _reads(faults: list[Fault]) -> list[tuple[float, str]]:
    """(when, cluster) of every DynamoDB read the clusters' operators make in a short trial."""
    log: list[tuple[float, str]] = []

    def counting(world: Any) -> None:
        for name, cluster in world.clusters.items():
            inner = cluster.client

            class Counting:
                def __getattr__(self, operation: str, inner: Any = inner, name: str = name) -> Any:
                    method = getattr(inner, operation)

                    async def call(**params: Any) -> Any:
                        if operation in READS:
                            log.append((world.time(), name))
                        return await method(**params)

                    return call

                def __setattr__(self, attribute: str, value: Any, inner: Any = inner) -> None:
                    setattr(inner, attribute, value)  # (the world sets the DynamoDB behind it)

            cluster.client = Counting()

    outcome = run(Trial(1, CLUSTERS, TIMING, faults, DUE + 4.0, watchdog=True), on_world=counting)
    assert outcome.verdict.ok, outcome.verdict.violations
    return log


def test_waiting_for_its_time_reads_dynamodb_no_more_often() -> None:
    """Each cluster notices the time from the config it already knows: from a heartbeat timeout after the schedule
    was written (and read) until its time, every cluster reads exactly what it reads with nothing scheduled."""
    quiet, waiting = _reads([]), _reads([scheduled()])

    def per_cluster(log: list[tuple[float, str]]) -> dict[str, int]:
        window = [name for when, name in log if ASKED + TIMING.heartbeat <= when < DUE]
        return {name: window.count(name) for name in CLUSTERS}

    assert per_cluster(waiting) == per_cluster(quiet)
    assert all(count > 0 for count in per_cluster(quiet).values())  # (they do read meanwhile: the fleet's liveness)
