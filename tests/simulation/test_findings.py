"""What fault trials found against the operator, each replayed as a scripted trial of the fault simulation
(virtual time: machine load cannot change the verdict). Each failed on the code before its fix (commit
bc07ee4, where they were strict xfails): an overlap, a liveness gap or a needless fence, as the finding says;
finding 8 as "north and west served at once for 0.10s" on that code."""

from __future__ import annotations

import asyncio

from failover_operator.store import keys
from harness.simulation.checker import story
from harness.simulation.trial import Fault, Outcome, Trial, run
from harness.simulation.world import NAME, NS, OPERATOR_ID, TABLE, Timing, World

QUICK = Timing(interval=0.2, heartbeat=1.0, unhealthy=1.6, transitory=1.5)
SLOW = Timing(interval=1.0, heartbeat=4.0, unhealthy=6.0, transitory=12.0)


def play(
    *faults: Fault,
    timing: Timing = QUICK,
    clusters: tuple[str, ...] = ("east", "west"),
    duration: float = 20.0,
    watchdog: bool = False,
) -> Outcome:
    outcome = run(Trial(1, list(clusters), timing, list(faults), duration, watchdog=watchdog))
    if not outcome.verdict.ok:
        first = outcome.verdict.violations[0]
        raise AssertionError(f"{outcome.verdict.violations}\n{story(outcome.world, first.time, window=20)}")
    return outcome


def serving(outcome: Outcome, cluster: str) -> list[tuple[float, bool]]:
    return outcome.world.clusters[cluster].kube.serving


def owners(outcome: Outcome) -> list[tuple[str, int]]:
    return [(owner, epoch) for _, owner, epoch in outcome.world.ownership]


def events(outcome: Outcome, cluster: str, reason: str) -> list[float]:
    return [e.time for e in outcome.world.story if e.cluster == cluster and e.text.startswith(f"{reason}:")]


def test_6_an_owner_that_cannot_reach_its_api_server_is_not_failed_over() -> None:
    """Not being able to observe is not observing failure: the owner reports UNKNOWN, keeps heartbeating, and
    nobody takes over (its pods could not be scaled down anyway)."""
    outcome = play(Fault(3.0, "api_unreachable", "east", 6.0))
    assert owners(outcome) == [("east", 1)]
    assert serving(outcome, "west") == [(0.0, False)]


def test_3_a_fenced_owner_whose_writes_land_is_taken_over() -> None:
    """Its heartbeats land but their answers are lost: it fences (rightly), yet looks alive. Reporting FENCED,
    or not serving at the current epoch, for a heartbeat timeout is a takeover cause."""
    outcome = play(Fault(3.0, "lose_answers", "east", 20.0, {"p": 1.0}), timing=SLOW, duration=40.0)
    assert ("west", 2) in owners(outcome), outcome.world.ownership
    east, west = serving(outcome, "east"), serving(outcome, "west")
    stopped = next(t for t, s in east if t > 0 and not s)
    started = next(t for t, s in west if s)
    assert started - stopped < SLOW.heartbeat + 3 * SLOW.interval + 0.5, (east, west)


def test_2_a_shorter_heartbeat_timeout_does_not_shorten_anyones_wait_at_once() -> None:
    """The owner is cut off from DynamoDB when the heartbeat timeout drops from 4s to 1s: the standby waits the
    old 4s (the owner fences on it), never the new 1s."""
    outcome = play(
        Fault(3.0, "dynamo_down", "east", 8.0),
        Fault(3.3, "timeouts_edit", "west", options={"heartbeat": 1.0}),
        timing=Timing(interval=0.2, heartbeat=4.0, unhealthy=5.0, transitory=8.0),
        duration=25.0,
    )
    assert ("west", 2) in owners(outcome)


def test_9_a_forced_failover_of_a_reachable_owner_does_not_overlap() -> None:
    outcome = play(Fault(3.0, "failover", "west", options={"target": "west", "mode": "CONSISTENCY", "force": True}))
    assert owners(outcome)[-1] == ("west", 2)


def test_7_uptime_returns_ownership_when_the_target_never_becomes_ready() -> None:
    """The target scales up but its pods never become ready: the old owner never stops serving, and after
    transitoryState ownership returns to it, in one conditional transaction."""

    def never_ready(world: World) -> None:
        kube = world.clusters["west"].kube
        step = kube.controller_step
        kube.controller_step = lambda startup, started: step(1e9, started)  # type: ignore[method-assign]

    outcome = run(
        Trial(
            1,
            ["east", "west"],
            QUICK,
            [Fault(3.2, "failover", "west", options={"target": "west", "mode": "UPTIME", "force": False})],
            25.0,
        ),
        on_world=never_ready,
    )
    assert outcome.verdict.ok, outcome.verdict.violations
    assert serving(outcome, "east") == [(0.0, True)]  # served throughout: no gap
    assert owners(outcome)[-1] == ("east", 3), outcome.world.ownership
    (handoff, rollback) = outcome.world.history()
    assert (handoff.source_cluster, handoff.target_cluster) == ("east", "west")
    assert (rollback.source_cluster, rollback.target_cluster, rollback.outcome.value) == ("west", "east", "ROLLED_BACK")


def test_an_uptime_failover_to_a_target_whose_api_server_takes_no_writes_is_refused() -> None:
    """The target's API server refuses writes (it reads fine): it could not scale up, and it says so (UNKNOWN:
    its Lease renewals are refused), so the move is refused and nothing moves."""
    outcome = play(
        Fault(3.0, "api_refuses", "west", 12.0),
        Fault(3.5, "failover", "west", options={"target": "west", "mode": "UPTIME", "force": False}),
        duration=25.0,
    )
    assert serving(outcome, "east") == [(0.0, True)]
    assert owners(outcome) == [("east", 1)]
    failed = [e.text for e in outcome.world.story if e.cluster == "west" and e.text.startswith("FailoverFailed:")]
    assert failed and "west reports health UNKNOWN" in failed[0], failed


def test_1_a_late_transfer_never_lands_after_the_owner_resumed() -> None:
    """CONSISTENCY: the owner gives up waiting after transitoryState and resumes while the transfer is still
    in flight (the target's DynamoDB answers slowly): the transfer is conditioned on the transition, and the
    resume on having removed it."""
    play(
        Fault(3.0, "failover", "west", options={"target": "west", "mode": "CONSISTENCY", "force": False}),
        Fault(3.25, "slow_answers", "west", 6.0, {"latency": 0.8}),
        duration=25.0,
    )


def test_4_a_slow_but_working_dynamodb_never_fences_the_owner() -> None:
    """Answers take 0.8s, every one (the fence limit is 2s, heartbeats go every 1s): each heartbeat is written
    long before its deadline, so nothing may fence (the old tick shrank its calls' budget near the deadline,
    and waited for each answer before the next heartbeat)."""
    outcome = play(Fault(3.0, "slow_answers", "east", 20.0, {"latency": 0.8}), timing=SLOW, duration=30.0)
    assert serving(outcome, "east") == [(0.0, True)]
    assert events(outcome, "east", "Fenced") == []


def test_5_a_fenced_owner_scales_down_as_soon_as_its_api_server_is_back() -> None:
    """Cut off from DynamoDB *and* its API server: it cannot scale down (inherent). Once the API is back it
    scales down on its own schedule, not after its DynamoDB calls time out."""
    outcome = play(
        Fault(3.0, "dynamo_down", "east", 12.0),
        Fault(3.0, "api_unreachable", "east", 5.0),
        timing=SLOW,
        duration=30.0,
    )
    back = 8.0
    stopped = next(t for t, s in serving(outcome, "east") if not s)
    assert back <= stopped < back + 0.6, serving(outcome, "east")


def test_a_paused_owner_is_stopped_by_its_watchdog_before_a_standby_starts() -> None:
    outcome = play(Fault(3.0, "pause", "east", 6.0), watchdog=True)
    east_stops = next(t for t, s in serving(outcome, "east") if not s)
    west_starts = next(t for t, s in serving(outcome, "west") if s)
    assert east_stops < west_starts


def test_a_killed_owner_is_stopped_by_its_watchdog_before_a_standby_starts() -> None:
    outcome = play(Fault(3.0, "crash", "east", 6.0), watchdog=True)
    east_stops = next(t for t, s in serving(outcome, "east") if not s)
    west_starts = next(t for t, s in serving(outcome, "west") if s)
    assert east_stops < west_starts


def test_8_a_takeover_whose_answers_are_lost_scales_up_only_on_a_proof_answered_in_time() -> None:
    """North's takeover lands at epoch 2, but its answers are lost until 10.5s (its writes land: its proof too,
    unanswered). It must not scale up on any of them (it proves ownership first, and acts only on a proof answered
    within the fence limit), and nobody else serves meanwhile: its proof landed (the config says it may serve) and
    its heartbeats land (it is alive), so west does not take it over. (With transactions, west took over while
    north's answers were lost, and north's late "succeeded" had to be ignored: seed 5150.)

    East (the owner) is cut off from DynamoDB and fences; west is cut off too until north's takeover has landed
    (at 4s), so north is the one taking over."""
    outcome = play(
        Fault(3.0, "dynamo_down", "east", 12.0),
        Fault(3.0, "dynamo_down", "west", 2.0),
        Fault(3.0, "lose_answers", "north", 7.5, {"p": 1.0}),
        clusters=("east", "north", "west"),
    )
    assert owners(outcome) == [("east", 1), ("north", 2)]
    north = serving(outcome, "north")
    assert [up for _, up in north] == [False, True], north
    assert north[1][0] > 10.5, north  # only once a proof of its was answered
    assert serving(outcome, "west") == [(0.0, False)]


def test_3_a_fenced_owner_whose_proofs_land_unanswered_is_taken_over_in_time() -> None:
    """Seed 3615: the fenced owner tries to prove ownership again; the proof lands (saying PRIMARY) but its
    answers are lost, then slow. It was retried for 5 s, and for as long the standbys' takeover "of an owner not
    serving" was refused by the PRIMARY it left. A proof is now waited for only up to the fence limit (it is not
    acted on past it), and the owner's true status follows at once."""
    timing = Timing(interval=0.5, heartbeat=2.0, unhealthy=3.0, transitory=6.0)
    outcome = play(
        Fault(6.94, "slow_answers", "east", 2.0, {"latency": 0.762}),
        Fault(9.39, "lose_answers", "east", 2.5, {"p": 1.0}),
        Fault(12.79, "slow_answers", "east", 5.12, {"latency": 0.886}),
        timing=timing,
        clusters=("east", "west", "north"),
        duration=30.0,
    )
    assert owners(outcome)[-1][1] == 2, outcome.world.ownership


def test_a_status_write_never_overtakes_a_proof_of_ownership() -> None:
    """The invariant behind the takeover "as not serving": while the owner serves, its status record says
    PRIMARY. Here a fenced owner proves ownership again over a slow table while its fencing loop wants its
    FENCED status written. (A write started while a proof is in flight is numbered after it and could land
    after it; no status write starts during a proof now. This schedule did not catch the old code in the act:
    it guards the invariant, sampled every 10 ms.)"""
    lies: list[float] = []

    def watch(world: World) -> None:
        async def sample() -> None:
            table = world.db.tables[TABLE]
            pk = keys.group_pk(OPERATOR_ID, NS, NAME)
            while True:
                await asyncio.sleep(0.01)
                config = table.items.get((pk, keys.CONFIG_SK))
                status = table.items.get((pk, keys.cluster_sk("east")))
                serving_now = world.clusters["east"].kube.is_serving()
                owner = config is not None and config["owner"]["S"] == "east"
                if serving_now and owner and status is not None and status["state"]["S"] != "PRIMARY":
                    lies.append(world.time())

        world.loop.create_task(sample())

    outcome = run(
        Trial(
            1,
            ["east", "west"],
            QUICK,
            [Fault(3.0, "dynamo_writes_down", "east", 1.5), Fault(4.5, "slow_answers", "east", 4.0, {"latency": 0.3})],
            12.0,
        ),
        on_world=watch,
    )
    assert outcome.verdict.ok, outcome.verdict.violations
    assert events(outcome, "east", "Fenced"), "the scenario did not fence the owner"
    assert lies == [], f"east served while its status said otherwise at {lies[:5]}"
