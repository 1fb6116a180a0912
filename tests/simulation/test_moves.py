"""Every move accounted for by the cluster that became the owner, whoever asked for it (issue 19): an automatic
takeover, a move asked with the fleet CLI (no Failover object anywhere) and a hand-over by a leaving owner each
get their downtime in the history, a count in that cluster's `failover_failovers_total`, its downtime histogram,
and an event on its FailoverGroup; a Failover deleted before it moved leaves a WITHDRAWN record."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from failover_operator.model import FailoverMode, Outcome, Transition
from harness.simulation.checker import story
from harness.simulation.trial import Fault, Trial, run
from harness.simulation.trial import Outcome as TrialOutcome
from harness.simulation.world import NAME, NS, World

from .test_maintenance import TIMING

CLUSTERS = ["east", "west"]


def play(*faults: Fault, on_world=None, duration: float = 25.0) -> TrialOutcome:
    outcome = run(Trial(1, CLUSTERS, TIMING, list(faults), duration, True, 1), on_world=on_world)
    if not outcome.verdict.ok:
        first = outcome.verdict.violations[0]
        raise AssertionError(f"{outcome.verdict.violations}\n{story(outcome.world, first.time, window=20)}")
    return outcome


def counted(result: TrialOutcome, cluster: str, **labels: str) -> float:
    operator = result.world.clusters[cluster].operator
    assert operator is not None
    value = operator.ctx.metrics.registry.get_sample_value(
        "failover_failovers_total", {"namespace": NS, "name": NAME, **labels}
    )
    return value or 0.0


def downtimes(outcome: TrialOutcome, cluster: str) -> float:
    operator = outcome.world.clusters[cluster].operator
    assert operator is not None
    return operator.ctx.metrics.registry.get_sample_value("failover_downtime_seconds_count", {}) or 0.0


def events(outcome: TrialOutcome, cluster: str, reason: str) -> list[str]:
    return [e.text for e in outcome.world.story if e.cluster == cluster and e.text.startswith(f"{reason}:")]


def test_an_automatic_takeover_records_its_downtime_and_is_counted_where_it_landed() -> None:
    outcome = play(Fault(6.0, "crash", "east", 30.0))
    moves = [h for h in outcome.world.history() if h.moved]
    (takeover,) = moves
    assert takeover.automatic and takeover.target_cluster == "west"
    # From east's last claim to serve to west serving: the heartbeat timeout, then the takeover and scale-up.
    assert (
        takeover.downtime_seconds is not None and TIMING.heartbeat <= takeover.downtime_seconds < 3 * TIMING.heartbeat
    )
    assert counted(outcome, "west", mode="CONSISTENCY", automatic="true", outcome="Succeeded") == 1
    assert downtimes(outcome, "west") == 1
    (done,) = events(outcome, "west", "MoveCompleted")
    assert "east -> west at epoch 2, west serves; downtime" in done


def test_a_move_asked_with_the_fleet_cli_is_counted_and_shown_by_its_new_owner() -> None:
    """The fleet CLI writes the request and leaves (no Failover object in any cluster, nobody following it)."""
    requests: list[asyncio.Future[None]] = []

    def ask(world: World) -> None:
        async def later() -> None:
            await asyncio.sleep(6.0)
            admin = world.admin()
            now = world.clusters["east"].clock.now()
            t = Transition(
                failover_name="switchover-1",
                source_cluster="east",
                target_cluster="west",
                mode=FailoverMode.CONSISTENCY,
                requested_by="fleet-cli",
                requested_at=now,
                epoch=1,
                reason="drill",
            )
            await admin.operations.request_transition(NS, NAME, t)
            await world.publish(admin)

        requests.append(asyncio.ensure_future(later()))

    outcome = play(on_world=ask)
    (move,) = [h for h in outcome.world.history() if h.moved]
    assert (move.failover_name, move.target_cluster, move.automatic) == ("switchover-1", "west", False)
    assert move.downtime_seconds is not None and move.downtime_seconds < 2 * TIMING.heartbeat
    assert counted(outcome, "west", mode="CONSISTENCY", automatic="false", outcome="Succeeded") == 1
    assert counted(outcome, "east", mode="CONSISTENCY", automatic="false", outcome="Succeeded") == 0
    (transferred,) = events(outcome, "west", "Transferred")
    assert "for switchover-1, asked by fleet-cli: drill" in transferred
    assert len(events(outcome, "west", "MoveCompleted")) == 1


def test_a_hand_over_by_a_leaving_owner_is_counted_and_timed_by_the_cluster_it_went_to() -> None:
    outcome = play(Fault(6.0, "group_deleted", "east"))
    (move,) = [h for h in outcome.world.history() if h.moved]
    assert move.target_cluster == "west" and move.downtime_seconds is not None
    assert move.downtime_seconds < 2 * TIMING.heartbeat
    assert counted(outcome, "west", mode="CONSISTENCY", automatic="false", outcome="Succeeded") == 1


def test_a_failover_deleted_before_it_moved_leaves_a_withdrawn_record() -> None:
    outcome = play(
        Fault(4.0, "dynamo_writes_down", "east", 5.0),  # east cannot drain in time: the request stays pending
        Fault(5.0, "failover_deleted", "west", 1.0, {"target": "west", "mode": "CONSISTENCY", "force": False}),
    )
    (record,) = [h for h in outcome.world.history() if h.outcome == Outcome.WITHDRAWN]
    assert not record.moved and record.epoch == 1 and record.target_cluster == "west"
    assert record.reason.startswith("Failover shop/fo-5000 deleted")
    assert record.finished_at - record.started_at < timedelta(seconds=2)
