"""Resources found serving by a restarted operator are vouched for by a read (reconciler/vouching.py,
rules/vouch.py) — not left to each group's proof of ownership, which a large fleet's first ticks, spread over
an interval, cannot all finish within the unproved allowance. Scripted trials on virtual time; the group's
first tick is held back as a thousand groups' would be (`slow_first_tick`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from failover_operator.reconciler.group import GroupRunner
from harness.simulation.checker import story
from harness.simulation.trial import Fault, Outcome, Trial, run
from harness.simulation.world import Timing

TIMING = Timing(interval=0.5, heartbeat=2.0, unhealthy=3.0, transitory=4.0)  # unproved allowance: 0.5 s
CLUSTERS = ["east", "west"]
FIRST_TICK = 1.5  # seconds: a thousand groups at this interval start over up to an interval and more


@pytest.fixture
def slow_first_tick(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every process after each cluster's first (a restart) waits FIRST_TICK before its group's first tick."""
    started: set[str] = set()

    def spread(self: GroupRunner) -> float:
        first = self.ctx.cluster not in started
        started.add(self.ctx.cluster)
        return 0.0 if first else FIRST_TICK

    monkeypatch.setattr(GroupRunner, "_spread", spread)
    yield


def play(*faults: Fault, watchdog: bool = True, replicas: int = 1) -> Outcome:
    trial = Trial(1, CLUSTERS, TIMING, sorted(faults, key=lambda f: f.at), 20.0, watchdog, replicas)
    outcome = run(trial)
    if not outcome.verdict.ok:
        first = outcome.verdict.violations[0]
        raise AssertionError(f"{outcome.verdict.violations}\n{story(outcome.world, first.time, window=20)}")
    return outcome


def said(outcome: Outcome, cluster: str, words: str) -> list[float]:
    return [e.time for e in outcome.world.story if e.cluster == cluster and words in e.text]


def test_a_restarted_owner_keeps_serving_while_its_first_tick_is_late(
    slow_first_tick: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "failover_operator.group")
    outcome = play(Fault(5.0, "sigterm", "east", 0.5))
    assert [owner for _, owner, _ in outcome.world.ownership] == ["east"]
    assert said(outcome, "east", "Fenced") == []
    assert [up for _, up in outcome.world.clusters["east"].kube.serving] == [True]  # never down
    assert "east owns shop/web at epoch 1 and its status says PRIMARY: its heartbeats vouch" in caplog.text


def test_a_read_that_shows_the_group_moved_vouches_for_nothing(
    slow_first_tick: None, caplog: pytest.LogCaptureFixture
) -> None:
    """East's operator is down long enough for west to take over; back, east finds its copy serving (the
    watchdog is off) — the read says west owns it, and the copy fences within the allowance, as before."""
    caplog.set_level(logging.INFO, "failover_operator.group")
    outcome = play(Fault(5.0, "crash", "east", 4.0), watchdog=False)
    assert [owner for _, owner, _ in outcome.world.ownership] == ["east", "west"]
    assert "west owns shop/web at epoch 2, not east: east's copy fences" in caplog.text
    assert "vouch for the copy" not in caplog.text
    assert said(outcome, "east", "could not prove it owns shop/web within 0.5s")
