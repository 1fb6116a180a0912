"""The rules of failover as a table: situation in, decision out."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from failover_operator.reconciler.decide import Action, LocalRole, Situation, decide, takeover_order
from failover_operator.store.records import (
    ClusterState,
    ClusterStatus,
    FailoverMode,
    GroupConfig,
    Health,
    Timeouts,
    Transition,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
P, S, F = LocalRole.PRIMARY, LocalRole.STANDBY, LocalRole.FENCED


def cfg(owner="east", epoch=7, **kw):
    return GroupConfig(
        namespace="shop",
        name="web",
        operator_id="o",
        owner=owner,
        epoch=epoch,
        updated_at=T0,
        timeouts=Timeouts(heartbeat=15, unhealthy_primary=60, transitory_state=300),
        **kw,
    )


def st(name, state=ClusterState.STANDBY, health=Health.OK, epoch=7):
    return ClusterStatus(
        cluster_name=name, state=state, health=health, heartbeat_seq=1, last_heartbeat=T0, observed_epoch=epoch
    )


EVERYONE = {
    "east": st("east", ClusterState.PRIMARY),
    "west": st("west"),
    "north": st("north"),
}


def sit(me, local_role, config=None, **kw):
    base = dict(
        me=me,
        group="shop/web",
        local_role=local_role,
        my_health=Health.OK,
        store_ok=True,
        since_heartbeat_write=1.0,
        fence_after=7.5,
        config=config if config is not None else cfg(),
        clusters=EVERYONE,
        heartbeat_interval=5.0,
    )
    base.update(kw)
    return Situation(**base)


TRANSITION = Transition(
    failover_name="fo-1",
    source_cluster="east",
    target_cluster="west",
    mode=FailoverMode.CONSISTENCY,
    requested_by="west",
    requested_at=T0,
    epoch=7,
)

CASES = [
    # (id, situation, action, role, state, words in the reason)
    (
        "owner steady",
        sit("east", P),
        Action.NONE,
        P,
        ClusterState.PRIMARY,
        "no action: I am east, PRIMARY of shop/web at epoch 7",
    ),
    (
        "bootstrap owner never scales down",
        sit("east", None, since_heartbeat_write=None),
        Action.PROMOTE,
        P,
        ClusterState.PRIMARY,
        "promoting: east owns shop/web at epoch 7",
    ),
    (
        "bootstrap standby",
        sit("west", None, since_heartbeat_write=None),
        Action.DEMOTE,
        S,
        ClusterState.STANDBY,
        "standing by: east owns",
    ),
    (
        "standby steady",
        sit("west", S),
        Action.NONE,
        S,
        ClusterState.STANDBY,
        "no action: I am west, STANDBY of shop/web; east is PRIMARY at epoch 7",
    ),
    (
        "old owner demotes",
        sit("east", P, cfg(owner="west", epoch=8)),
        Action.DEMOTE,
        S,
        ClusterState.STANDBY,
        "demoting: west owns shop/web at epoch 8",
    ),
    (
        "new owner promotes",
        sit("west", S, cfg(owner="west", epoch=8)),
        Action.PROMOTE,
        P,
        ClusterState.PRIMARY,
        "promoting: west owns",
    ),
    (
        "owner fences when heartbeats fail",
        sit("east", P, store_ok=False, since_heartbeat_write=8.0),
        Action.FENCE,
        F,
        ClusterState.FENCED,
        "fencing: east cannot write its heartbeat",
    ),
    (
        "owner fences even if reads work",
        sit("east", P, since_heartbeat_write=8.0),
        Action.FENCE,
        F,
        ClusterState.FENCED,
        "limit 7.5s",
    ),
    (
        "owner keeps serving within the fraction",
        sit("east", P, store_ok=False, since_heartbeat_write=5.0),
        Action.NONE,
        P,
        ClusterState.PRIMARY,
        "cannot read shop/web from DynamoDB; east keeps shop/web PRIMARY",
    ),
    (
        "fenced stays fenced while silent",
        sit("east", F, store_ok=False, since_heartbeat_write=30.0),
        Action.NONE,
        F,
        ClusterState.FENCED,
        "fencing",
    ),
    (
        "fenced owner resumes once it writes again",
        sit("east", F),
        Action.PROMOTE,
        P,
        ClusterState.PRIMARY,
        "DynamoDB is reachable again",
    ),
    (
        "fenced ex-owner stands by",
        sit("east", F, cfg(owner="west", epoch=8)),
        Action.DEMOTE,
        S,
        ClusterState.STANDBY,
        "west owns",
    ),
    (
        "store down before first read: touch nothing",
        sit("west", None, store_ok=False, since_heartbeat_write=None),
        Action.NONE,
        None,
        ClusterState.STANDBY,
        "has not touched shop/web yet",
    ),
    (
        "standby never fences",
        sit("west", S, store_ok=False, since_heartbeat_write=100.0),
        Action.NONE,
        S,
        ClusterState.STANDBY,
        "keeps shop/web STANDBY",
    ),
    (
        "owner demotes for a planned failover",
        sit("east", P, cfg(transition=TRANSITION)),
        Action.DEMOTE_FOR_TRANSITION,
        S,
        ClusterState.FAILOVER,
        "demoting for failover fo-1",
    ),
    (
        "expired transition: owner resumes",
        sit("east", S, cfg(transition=TRANSITION), transition_age=301),
        Action.RESUME_AFTER_TRANSITION,
        P,
        ClusterState.PRIMARY,
        "did not transfer within 300s",
    ),
    (
        "stale owner: first standby takes over",
        sit("north", S, stale=frozenset({"east"})),
        Action.TAKE_OVER,
        P,
        ClusterState.PRIMARY,
        "taking over: east's heartbeat has not changed for over 15s",
    ),
    (
        "stale owner: second standby waits",
        sit("west", S, stale=frozenset({"east"}), priority=("north",)),
        Action.WAIT,
        S,
        ClusterState.STANDBY,
        "north has priority, west contends in 15.0s",
    ),
    (
        "stale owner: second standby still waits just before its grace",
        sit("west", S, stale=frozenset({"east"}), priority=("north",), takeover_ready_for=14.9),
        Action.WAIT,
        S,
        ClusterState.STANDBY,
        "west contends in 0.1s",
    ),
    (
        "stale owner: second standby contends after its grace",
        sit("west", S, stale=frozenset({"east"}), priority=("north",), takeover_ready_for=15.0),
        Action.TAKE_OVER,
        P,
        ClusterState.PRIMARY,
        "taking over",
    ),
    (
        "stale owner and stale higher priority standby",
        sit("west", S, stale=frozenset({"east", "north"}), priority=("north", "west")),
        Action.TAKE_OVER,
        P,
        ClusterState.PRIMARY,
        "taking over",
    ),
    (
        "unhealthy owner past the limit",
        sit("north", S, clusters={**EVERYONE, "east": st("east", health=Health.ERROR)}, owner_error_for=61),
        Action.TAKE_OVER,
        P,
        ClusterState.PRIMARY,
        "east has reported ERROR for 61s",
    ),
    (
        "unhealthy owner within the limit",
        sit("west", S, clusters={**EVERYONE, "east": st("east", health=Health.ERROR)}, owner_error_for=30),
        Action.NONE,
        S,
        ClusterState.STANDBY,
        "no action",
    ),
    (
        "degraded owner is not a cause",
        sit("west", S, clusters={**EVERYONE, "east": st("east", health=Health.DEGRADED)}, owner_error_for=None),
        Action.NONE,
        S,
        ClusterState.STANDBY,
        "no action",
    ),
    (
        "suspended: never automatic",
        sit("west", S, cfg(suspended=True, suspension_reason="db migration"), stale=frozenset({"east"})),
        Action.NONE,
        S,
        ClusterState.STANDBY,
        "suspended (db migration)",
    ),
    (
        "autoFailover off",
        sit("west", S, stale=frozenset({"east"}), auto_failover=False),
        Action.NONE,
        S,
        ClusterState.STANDBY,
        "autoFailover is off",
    ),
    (
        "planned failover in progress",
        sit("north", S, cfg(transition=TRANSITION), stale=frozenset({"east"})),
        Action.NONE,
        S,
        ClusterState.STANDBY,
        "failover fo-1 is in progress",
    ),
    (
        "unhealthy standby cannot take over",
        sit("west", S, stale=frozenset({"east"}), my_health=Health.DEGRADED),
        Action.NONE,
        S,
        ClusterState.STANDBY,
        "west is DEGRADED itself",
    ),
]


@pytest.mark.parametrize(
    ("situation", "action", "role", "state", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rules(situation, action, role, state, words):
    decision = decide(situation)
    assert (decision.action, decision.role, decision.state) == (action, role, state), decision.reason
    assert words in decision.reason


def test_takeover_is_conditioned_on_the_epoch_seen_and_names_its_cause():
    stale = decide(sit("north", S, stale=frozenset({"east"})))
    assert (stale.takeover_epoch, stale.takeover_cause) == (7, "stale")
    sick = decide(sit("north", S, clusters={**EVERYONE, "east": st("east", health=Health.ERROR)}, owner_error_for=61))
    assert sick.takeover_cause == "unhealthy"


def test_exactly_one_standby_contends_at_once_when_all_agree():
    situations = [sit(me, S, stale=frozenset({"east"})) for me in ("west", "north")]
    actions = [decide(s).action for s in situations]
    assert sorted(actions) == [Action.TAKE_OVER, Action.WAIT]


def test_stale_or_out_of_date_standbys_do_not_hold_up_the_others():
    behind = {**EVERYONE, "north": st("north", epoch=6)}  # north has not seen epoch 7: not eligible
    assert decide(sit("west", S, clusters=behind, stale=frozenset({"east"}), priority=("north",))).action == (
        Action.TAKE_OVER
    )
    sick = {**EVERYONE, "north": st("north", health=Health.DEGRADED)}
    assert decide(sit("west", S, clusters=sick, stale=frozenset({"east"}), priority=("north",))).action == (
        Action.TAKE_OVER
    )


def test_an_abandoned_planned_failover_does_not_block_automatic_failover_forever():
    abandoned = sit("north", S, cfg(transition=TRANSITION), stale=frozenset({"east"}), transition_age=301)
    assert decide(abandoned).action == Action.TAKE_OVER


def test_uptime_hand_off_keeps_the_old_owner_serving_until_the_new_one_is_ready():
    handoff = TRANSITION.model_copy(update={"mode": FailoverMode.UPTIME, "epoch": 8})
    config = cfg(owner="west", epoch=8, transition=handoff)
    not_ready = {**EVERYONE, "west": st("west", ClusterState.PRIMARY, Health.DEGRADED, epoch=8)}
    waiting = decide(sit("east", P, config, clusters=not_ready))
    assert (waiting.action, waiting.role) == (Action.NONE, P) and "promotes first (UPTIME)" in waiting.reason
    ready = {**EVERYONE, "west": st("west", ClusterState.PRIMARY, Health.OK, epoch=8)}
    done = decide(sit("east", P, config, clusters=ready))
    assert (done.action, done.role, done.clear_transition) == (Action.DEMOTE, S, True)
    late = decide(sit("east", P, config, clusters=not_ready, transition_age=301))
    assert (late.action, late.role) == (Action.DEMOTE, S) and "has not reported ready within 300s" in late.reason
    # the new owner is not confused by the hand-off record
    assert decide(sit("west", P, config, clusters=ready)).action == Action.NONE


def test_takeover_order():
    assert takeover_order({"c", "a", "b"}, ()) == ["a", "b", "c"]
    assert takeover_order({"c", "a", "b"}, ("c", "zzz", "b")) == ["c", "b", "a"]


def test_every_decision_reason_is_one_line():
    for case in CASES:
        assert "\n" not in decide(case[1]).reason
    assert "\n" not in decide(replace(CASES[0][1], group="x/y")).reason


def _takeover_time(me: str, phase: float, interval: float, timeout: float, last_write: float) -> float:
    """When `me`, ticking every `interval` from `phase`, would claim the group: decide() on each tick, with the
    staleness clock started at the first tick that saw the owner's last heartbeat, as GroupRunner keeps it."""
    tick = phase
    while tick < last_write:
        tick += interval
    first_seen = tick
    stale_since = None
    for _ in range(1000):
        tick += interval
        if tick - first_seen <= timeout:
            continue
        stale_since = tick if stale_since is None else stale_since
        s = sit(
            me,
            S,
            stale=frozenset({"east"}),
            priority=("north", "west"),
            heartbeat_interval=interval,
            takeover_ready_for=tick - stale_since,
        )
        if decide(s).action == Action.TAKE_OVER:
            return tick
    raise AssertionError(f"{me} never took over")


@pytest.mark.parametrize("interval", [0.2, 1.0, 5.0])
def test_the_preferred_standby_wins_whatever_the_tick_phases(interval):
    """Standbys see the owner go stale up to two intervals apart; the grace must cover that and a slow tick."""
    steps = 20
    phases = [interval * k / steps for k in range(steps)]
    slow_tick = 0.9 * max(interval, 1.0)  # the first standby's claim may take this long to land
    for last_write in (0.0, interval / 3):
        first = max(_takeover_time("north", p, interval, 15, last_write) for p in phases) + slow_tick
        second = min(_takeover_time("west", p, interval, 15, last_write) for p in phases)
        assert first < second, (interval, first, second)
