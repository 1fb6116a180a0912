"""Fencing by hand (issue 19, `failover-operator fence` / `unfence`), end to end: the real operators of three
clusters on virtual time, the fence written to DynamoDB as the CLI writes it. Scripted trials; each asserts the
outcome that matters besides the checker's verdict (never two serving)."""

from __future__ import annotations

from typing import Any

from harness.simulation.checker import story
from harness.simulation.trial import Fault, Outcome, Trial, run
from harness.simulation.world import NAME, NS, TABLE, Timing

TIMING = Timing(interval=0.5, heartbeat=2.0, unhealthy=3.0, transitory=4.0)
CLUSTERS = ["east", "west", "north"]


def play(*faults: Fault, duration: float = 30.0) -> Outcome:
    trial = Trial(1, CLUSTERS, TIMING, sorted(faults, key=lambda f: f.at), duration, True, 1)
    outcome = run(trial)
    if not outcome.verdict.ok:
        first = outcome.verdict.violations[0]
        raise AssertionError(f"{outcome.verdict.violations}\n{story(outcome.world, first.time, window=20)}")
    return outcome


def owners(outcome: Outcome) -> list[str]:
    return [owner for _, owner, _ in outcome.world.ownership]


def serving(outcome: Outcome, cluster: str) -> list[tuple[float, bool]]:
    return list(outcome.world.clusters[cluster].kube.serving)


def said(outcome: Outcome, cluster: str, words: str) -> list[float]:
    return [e.time for e in outcome.world.story if e.cluster == cluster and words in e.text]


def status_item(outcome: Outcome, cluster: str) -> dict[str, Any]:
    table = outcome.world.db.tables[TABLE]
    return next(
        item for (pk, sk), item in table.items.items() if pk.endswith(f"#{NS}#{NAME}") and sk == f"CLUSTER#{cluster}"
    )


def test_a_fenced_owner_stops_nobody_takes_over_however_long_and_it_serves_again_once_unfenced() -> None:
    """East, the owner, fenced at 4 s for 12 s — six heartbeat timeouts: it scales its copy down within a tick or
    two of hearing of it, nobody takes the group over meanwhile, and once unfenced it proves ownership and serves
    again (nobody took over in the race: its silence counts from the unfence)."""
    outcome = play(Fault(4.0, "fence", "east", 12.0, {"reason": "disk replaced"}))
    assert owners(outcome) == ["east"]
    east = serving(outcome, "east")
    assert [up for _, up in east] == [True, False, True], east
    stopped = east[1][0]
    assert 4.0 < stopped < 4.0 + 3 * TIMING.interval, east  # heard of with the fleet's liveness, within a tick
    assert 16.0 < east[2][0] < 16.0 + 4 * TIMING.interval, east
    assert [up for _, up in serving(outcome, "west")] == [False] and [up for _, up in serving(outcome, "north")] == [
        False
    ]
    assert said(outcome, "east", "FencedByHand: fenced by hand: disk replaced; east owns shop/web at epoch 1")
    assert said(outcome, "east", "promoting: it was unfenced and east owns shop/web at epoch 1")
    for standby in ("west", "north"):  # nobody even contended, six heartbeat timeouts long
        assert [said(outcome, standby, what) for what in ("WaitingToTakeOver", "TookOver", "AskedToDrain")] == [
            [],
            [],
            [],
        ]


def test_a_fenced_standby_is_refused_as_a_failover_target_and_never_takes_over() -> None:
    """West, a standby, fenced for the whole trial: a Failover to it fails with the rulebook's sentence, and when
    the owner dies north takes the group over, never west. West's status says why, in DynamoDB and in its
    FailoverGroup."""
    outcome = play(
        Fault(2.0, "fence", "west", 60.0, {"reason": "network work"}),
        Fault(5.0, "failover", "north", 0.0, {"target": "west", "mode": "CONSISTENCY", "force": True}),
        Fault(12.0, "crash", "east", 30.0),
        duration=30.0,
    )
    assert owners(outcome) == ["east", "north"]
    assert [up for _, up in serving(outcome, "west")] == [False]
    (failover,) = outcome.world.clusters["north"].failovers.values()
    status = failover["status"]
    assert status["phase"] == "Failed", status
    assert "west is fenced by hand for shop/web (network work (by fleet-cli at" in str(status), status
    item = status_item(outcome, "west")
    assert item["state"]["S"] == "FENCED" and item["message"]["S"].startswith("fenced by hand: network work")
    conditions = {c["type"]: c for c in outcome.world.clusters["west"].group["status"]["conditions"]}
    assert (conditions["Fenced"]["status"], conditions["Fenced"]["reason"]) == ("True", "FencedByHand")
    assert conditions["ReadyToTakeOver"]["reason"] == "FencedByHand"


def test_a_planned_move_away_from_a_fenced_owner_goes_through_and_the_fence_stays_with_it() -> None:
    """East fenced at 4 s; a CONSISTENCY Failover to west at 8 s: east, already down, reports drained, and west
    takes the group and serves; east's copy stays down to the end."""
    outcome = play(
        Fault(4.0, "fence", "east", 60.0),
        Fault(8.0, "failover", "west", 0.0, {"target": "west", "mode": "CONSISTENCY", "force": False}),
    )
    assert owners(outcome) == ["east", "west"]
    assert [up for _, up in serving(outcome, "east")] == [True, False]
    west = serving(outcome, "west")
    assert [up for _, up in west] == [False, True] and west[1][0] > 8.0
    (failover,) = outcome.world.clusters["west"].failovers.values()
    assert failover["status"]["phase"] == "Succeeded", failover["status"]
