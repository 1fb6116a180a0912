"""Maintenance (issue 19): a suspended group is held by its owner exactly as it is — no fencing when its
heartbeats fail, no watchdog fencing, no takeover — and the hold ends safely however the resume arrives.
Scripted trials on virtual time; each asserts the outcome that matters besides the checker's verdict."""

from __future__ import annotations

from harness.simulation.checker import story
from harness.simulation.trial import Fault, Outcome, Trial, run
from harness.simulation.world import Timing

TIMING = Timing(interval=0.5, heartbeat=2.0, unhealthy=3.0, transitory=4.0)
CLUSTERS = ["east", "west", "north"]


def play(*faults: Fault, watchdog: bool = True, duration: float = 30.0, replicas: int = 1) -> Outcome:
    trial = Trial(1, CLUSTERS, TIMING, sorted(faults, key=lambda f: f.at), duration, watchdog, replicas)
    outcome = run(trial)
    if not outcome.verdict.ok:
        first = outcome.verdict.violations[0]
        raise AssertionError(f"{outcome.verdict.violations}\n{story(outcome.world, first.time, window=20)}")
    return outcome


def owners(outcome: Outcome) -> list[str]:
    return [owner for _, owner, _ in outcome.world.ownership]


def serving(outcome: Outcome, cluster: str) -> list[bool]:
    return [up for _, up in outcome.world.clusters[cluster].kube.serving]


def said(outcome: Outcome, cluster: str, words: str) -> list[float]:
    return [e.time for e in outcome.world.story if e.cluster == cluster and words in e.text]


def test_without_maintenance_a_dynamodb_outage_of_the_owner_fences_it_and_the_group_moves() -> None:
    """The control: what maintenance exists to avoid."""
    outcome = play(Fault(5.0, "dynamo_down", "east", 6.0))
    assert owners(outcome)[0] == "east" and len(owners(outcome)) > 1
    assert serving(outcome, "east")[:2] == [True, False]


def test_a_suspended_groups_owner_keeps_serving_through_a_dynamodb_outage() -> None:
    outcome = play(Fault(4.0, "suspend", "east", 14.0), Fault(6.0, "dynamo_down", "east", 6.0))
    assert owners(outcome) == ["east"]
    assert serving(outcome, "east") == [True]  # up throughout
    assert said(outcome, "east", "Fenced") == []


def test_the_watchdog_leaves_a_suspended_group_alone_when_the_operator_dies() -> None:
    outcome = play(Fault(4.0, "suspend", "east", 14.0), Fault(6.0, "crash", "east", 6.0))
    assert owners(outcome) == ["east"]
    assert serving(outcome, "east") == [True]
    assert outcome.world.clusters["east"].kube.events == []  # no WatchdogFenced


def test_a_resume_the_blind_owner_cannot_read_moves_nothing_until_it_can() -> None:
    """Resumed at 9 s while east cannot reach DynamoDB (6-16 s): east does not know, and keeps holding. Its last
    word says it holds the group, so nobody takes over although its heartbeat is stale for 7 s; once it reads
    the resume it is an owner like any other again."""
    outcome = play(Fault(4.0, "suspend", "east", 5.0), Fault(6.0, "dynamo_down", "east", 10.0))
    assert owners(outcome) == ["east"]
    assert serving(outcome, "east") == [True]
    # Back from 16 s, it reads the resume and its decisions are an owner's again (it holds nothing).
    assert [t for t in said(outcome, "east", "no action: I am east, PRIMARY") if t > 16.0]


def test_a_restarted_operator_keeps_holding_what_its_predecessor_held_while_dynamodb_is_out() -> None:
    """East's operator is restarted (SIGTERM) in maintenance while DynamoDB is out: the new process cannot read
    the config, but the watchdog's Lease says its predecessor held the group: it does not fence it after its
    unproved allowance."""
    outcome = play(
        Fault(4.0, "suspend", "east", 16.0),
        Fault(6.0, "dynamo_down", "east", 10.0),
        Fault(8.0, "sigterm", "east", 1.0),
    )
    assert owners(outcome) == ["east"]
    assert serving(outcome, "east") == [True]
    assert said(outcome, "east", "Fenced") == []


def test_after_maintenance_the_owner_fences_again_and_the_group_moves_when_it_must() -> None:
    outcome = play(Fault(4.0, "suspend", "east", 3.0), Fault(12.0, "dynamo_down", "east", 8.0))
    assert owners(outcome)[0] == "east" and len(owners(outcome)) > 1
    assert serving(outcome, "east")[:2] == [True, False]


def test_a_suspension_of_a_group_deleted_everywhere_changes_nothing_and_breaks_nothing() -> None:
    """Found by CI on a fresh range (796589426703..+200): the group deleted in every cluster, then `suspend`
    and `resume` from the fleet CLI — which answer "no such group" — used to crash the trial. And the last
    cluster to leave used to leave the group's records behind: a status write of its own, sent before it said it
    was leaving, landed after it deleted its status, so it never found itself the last one."""
    deleted = [Fault(4.0 + 0.3 * i, "group_deleted", name) for i, name in enumerate(CLUSTERS)]
    outcome = play(*deleted, Fault(8.0, "suspend", "east", 3.0))
    assert [e for e in outcome.world.story if "no such group" in e.text]
    assert len([e for e in outcome.world.story if "GroupRemoved" in e.text]) == 1
    assert not any(serving(outcome, name)[-1] for name in CLUSTERS)


def test_a_restart_that_cannot_read_the_lease_keeps_saying_maintenance_until_it_renews_it() -> None:
    """Seed 1796592323452: east held the group and was restarted while its API server was unreachable; the group
    was resumed meanwhile. The new process could not read the watchdog's Lease (which still listed the group as
    held), yet its status stopped saying maintenance: once its operator froze, a standby took over while east's
    watchdog, reading the old listing, left east's copy serving. Now its status keeps saying maintenance until a
    renewal of its own lands, and nobody takes over meanwhile."""
    outcome = play(
        Fault(2.0, "suspend", "east", 6.0),
        Fault(5.0, "sigterm", "east", 4.0),
        Fault(6.0, "api_unreachable", "east", 10.0),
        Fault(11.0, "pause", "east", 12.0),
        duration=30.0,
    )
    assert owners(outcome)[:1] == ["east"]
    takeovers = [t for t, owner, _ in outcome.world.ownership if owner != "east"]
    assert not takeovers or takeovers[0] > 23.0  # not while east's copy served, its watchdog leaving it alone
