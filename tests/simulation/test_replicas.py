"""Two replicas of the operator per cluster, electing a leader (issue 19), in the fault simulation: a restart of
the leader (SIGTERM: a rollout, `helm upgrade`) hands over to the other replica without touching the
application — no fencing, no owner change, never a moment without the owner's pods — and a leader that dies
(SIGKILL) is replaced within the Lease's duration, safely."""

from __future__ import annotations

from harness.simulation.checker import story
from harness.simulation.trial import Fault, Outcome, Trial, run
from harness.simulation.world import Timing

TIMING = Timing(interval=1.0, heartbeat=6.0, unhealthy=8.0, transitory=18.0)


def play(*faults: Fault, watchdog: bool = True, duration: float = 40.0) -> Outcome:
    outcome = run(Trial(1, ["east", "west"], TIMING, list(faults), duration, watchdog=watchdog, replicas=2))
    if not outcome.verdict.ok:
        first = outcome.verdict.violations[0]
        raise AssertionError(f"{outcome.verdict.violations}\n{story(outcome.world, first.time, window=20)}")
    return outcome


def said(outcome: Outcome, cluster: str, words: str) -> list[float]:
    return [e.time for e in outcome.world.story if e.cluster == cluster and words in e.text]


def test_a_sigterm_of_the_owners_leader_hands_over_without_touching_the_application() -> None:
    outcome = play(Fault(10.0, "sigterm", "east", 3.0), Fault(20.0, "sigterm", "east", 3.0))
    assert [(owner, epoch) for _, owner, epoch in outcome.world.ownership] == [("east", 1)]
    assert outcome.world.clusters["east"].kube.serving == [(0.0, True)]  # up throughout
    assert said(outcome, "east", "Fenced") == [] and outcome.world.clusters["east"].kube.events == []
    leads = said(outcome, "east", "leads (term")
    assert len(leads) == 3  # the first leader, then the other replica after each SIGTERM
    assert 10.0 < leads[1] < 10.0 + 2 * TIMING.interval  # within a look or two of the release


def test_a_killed_leader_is_replaced_within_the_leases_duration_and_nothing_overlaps() -> None:
    outcome = play(Fault(10.0, "crash", "east", 20.0))
    leads = said(outcome, "east", "leads (term")
    assert len(leads) == 2 and 10.0 < leads[1] <= 10.0 + TIMING.heartbeat / 2 + 2 * TIMING.interval
    assert [owner for _, owner, _ in outcome.world.ownership] == ["east"]  # the new leader proved it in time


def test_a_failover_in_flight_survives_a_sigterm_of_the_leader_that_executes_it() -> None:
    """West's leader asked east to drain for north, then got SIGTERM: the request stays (only deleting the
    Failover withdraws it), north takes the group once east has drained, east never serves again in between,
    and the next leader of west follows the Failover to Succeeded (seed 1796581929666: the request was
    withdrawn at SIGTERM, the drained owner served again, and the same request written again by the restarted
    operator met it)."""
    outcome = play(
        Fault(10.0, "failover", "west", 0.0, {"target": "west", "mode": "CONSISTENCY", "force": False}),
        Fault(10.05, "sigterm", "west", 3.0),
    )
    transitions = [t for _, t in outcome.world.transitions]
    assert transitions[1] is not None and transitions[2] is None and len(transitions) == 3  # asked, then moved
    assert [(owner, epoch) for _, owner, epoch in outcome.world.ownership] == [("east", 1), ("west", 2)]
    assert [up for _, up in outcome.world.clusters["east"].kube.serving] == [True, False]  # stopped once
    (failover,) = outcome.world.clusters["west"].failovers.values()
    assert failover["status"]["phase"] == "Succeeded", failover["status"]
