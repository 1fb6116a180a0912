"""The rules of failover as a table: situation in, decision out (rules/decide.py)."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from failover_operator.model import (
    ClusterState,
    ClusterStatus,
    FailoverMode,
    Fence,
    GroupConfig,
    Health,
    Role,
    ScheduledSwitchover,
    Timeouts,
    Transition,
)
from failover_operator.rules import (
    Action,
    Situation,
    StatusCheck,
    TakeoverCause,
    Timing,
    decide,
    effective_timing,
    fence_left,
    recalled_role,
    reported_state,
    takeover_order,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
P, S, F = Role.PRIMARY, Role.STANDBY, Role.FENCED
STALE, NOT_SERVING = TakeoverCause.STALE, TakeoverCause.NOT_SERVING


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


TIMING = Timing(heartbeat=15, fence_after=7.5, unhealthy=60, transitory=300, interval=5.0)
SILENT = 16.0  # the owner has not shown it serves for longer than the heartbeat timeout

EVERYONE = {
    "east": st("east", ClusterState.PRIMARY),
    "west": st("west"),
    "north": st("north"),
}


def sit(me, local_role, config=None, **kw):
    """A situation; its fence deadline, unless given, as the runner measures it from the last heartbeat."""
    timing = kw.get("timing", TIMING)
    since = kw.get("since_heartbeat_write", 1.0)
    kw.setdefault("fence_left", 0.0 if since is None else timing.fence_after - since)
    base = dict(
        me=me,
        group="shop/web",
        local_role=local_role,
        my_health=Health.OK,
        store_ok=True,
        since_heartbeat_write=1.0,
        timing=TIMING,
        config=config if config is not None else cfg(),
        clusters=EVERYONE,
        owner_silent_for=1.0,
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
FORCED = TRANSITION.model_copy(update={"force": True})
UPTIME = TRANSITION.model_copy(update={"mode": FailoverMode.UPTIME})
DRAINED = {**EVERYONE, "east": st("east", ClusterState.FAILOVER)}
FENCED_OWNER = {**EVERYONE, "east": st("east", ClusterState.FENCED)}
NO_OWNER = {k: v for k, v in EVERYONE.items() if k != "east"}
SICK_OWNER = {**EVERYONE, "east": st("east", ClusterState.PRIMARY, health=Health.ERROR)}
BLIND_OWNER = {**EVERYONE, "east": st("east", ClusterState.PRIMARY, health=Health.UNKNOWN)}
FROM_NORTH = TRANSITION.model_copy(update={"source_cluster": "north", "epoch": 8})
FOLLOWING = {**EVERYONE, "east": st("east", ClusterState.PRIMARY).model_copy(update={"following": "fo-1"})}
FENCE = Fence(reason="disk replaced", fenced_at=T0, fenced_by="alice via fleet-cli")
FENCE_SAID = "disk replaced (by alice via fleet-cli at 2026-01-01T00:00:00Z)"
HANDOFF = UPTIME.model_copy(update={"epoch": 8})


def fenced(*names, **kw):
    """The config with `names` fenced by hand (`failover-operator fence`)."""
    return cfg(fences={n: FENCE for n in names}, **kw)


CASES = [
    # (id, situation, action, role, words in the reason)
    ("owner steady", sit("east", P), Action.NONE, P, "no action: I am east, PRIMARY of shop/web at epoch 7"),
    (
        "bootstrap owner promotes",
        sit("east", None, since_heartbeat_write=None),
        Action.PROMOTE,
        P,
        "promoting: east owns shop/web at epoch 7",
    ),
    ("bootstrap standby", sit("west", None, since_heartbeat_write=None), Action.DEMOTE, S, "standing by: east owns"),
    (
        "standby steady",
        sit("west", S),
        Action.NONE,
        S,
        "no action: I am west, STANDBY of shop/web; east is PRIMARY at epoch 7",
    ),
    (
        "old owner demotes",
        sit("east", P, cfg(owner="west", epoch=8)),
        Action.DEMOTE,
        S,
        "demoting: west owns shop/web at epoch 8",
    ),
    ("new owner promotes", sit("west", S, cfg(owner="west", epoch=8)), Action.PROMOTE, P, "promoting: west owns"),
    (
        "owner fences when heartbeats fail",
        sit("east", P, store_ok=False, since_heartbeat_write=8.0),
        Action.FENCE,
        F,
        "fencing: east cannot write its heartbeat",
    ),
    ("owner fences even if reads work", sit("east", P, since_heartbeat_write=8.0), Action.FENCE, F, "limit 7.5s"),
    (
        "owner keeps serving within the fraction",
        sit("east", P, store_ok=False, since_heartbeat_write=5.0),
        Action.NONE,
        P,
        "cannot read shop/web from DynamoDB; east keeps shop/web PRIMARY",
    ),
    (
        "fenced stays fenced while silent",
        sit("east", F, store_ok=False, since_heartbeat_write=30.0),
        Action.NONE,
        F,
        "fencing",
    ),
    (
        "fenced owner proves and resumes once it writes again",
        sit("east", F),
        Action.PROMOTE,
        P,
        "DynamoDB is reachable again",
    ),
    ("fenced ex-owner stands by", sit("east", F, cfg(owner="west", epoch=8)), Action.DEMOTE, S, "west owns"),
    (
        "store down before first read: touch nothing",
        sit("west", None, store_ok=False, since_heartbeat_write=None),
        Action.NONE,
        None,
        "has not touched shop/web yet",
    ),
    (
        "standby never fences",
        sit("west", S, store_ok=False, since_heartbeat_write=100.0),
        Action.NONE,
        S,
        "keeps shop/web STANDBY",
    ),
    (
        "owner drains for a planned failover",
        sit("east", P, cfg(transition=TRANSITION)),
        Action.DRAIN,
        S,
        "draining for failover fo-1",
    ),
    (
        "expired transition: the owner withdraws it, then resumes",
        sit("east", S, cfg(transition=TRANSITION), transition_age=301),
        Action.ABANDON,
        P,
        "did not transfer within 300s; east withdraws it",
    ),
    (
        "target waits for the source to drain",
        sit("west", S, cfg(transition=TRANSITION)),
        Action.WAIT,
        S,
        "waiting: east drains shop/web at epoch 7 for failover fo-1",
    ),
    (
        "target transfers once the source drained",
        sit("west", S, cfg(transition=TRANSITION), clusters=DRAINED),
        Action.TRANSFER,
        S,
        "east has stopped serving shop/web at epoch 7 for failover fo-1; west takes it",
    ),
    (
        "forced: the target waits two intervals for the source",
        sit("west", S, cfg(transition=FORCED), transition_age=9.9),
        Action.WAIT,
        S,
        "waiting: east drains",
    ),
    (
        "forced: then transfers without it",
        sit("west", S, cfg(transition=FORCED), transition_age=10.1),
        Action.TRANSFER,
        S,
        "transferring (forced): east did not confirm it stopped serving",
    ),
    (
        "uptime: the target waits for the source to follow the move",
        sit("west", S, cfg(transition=UPTIME)),
        Action.WAIT,
        S,
        "waiting: east has not said yet that it follows failover fo-1 (UPTIME: it must see west ready",
    ),
    (
        "uptime: the target transfers at once when the source follows",
        sit("west", S, cfg(transition=UPTIME), clusters=FOLLOWING),
        Action.TRANSFER,
        S,
        "UPTIME: east serves until west is ready",
    ),
    (
        "silent owner: first standby takes over",
        sit("north", S, owner_silent_for=SILENT, stale=frozenset({"east"})),
        Action.TAKE_OVER,
        S,
        "taking over: east's heartbeat has not changed for over 15s",
    ),
    (
        "owner whose heartbeat lists the group fenced (its status says PRIMARY): taken over as not serving",
        sit("north", S, owner_silent_for=SILENT, owner_fenced=True),
        Action.TAKE_OVER,
        S,
        "taking over: east has fenced shop/web for over 15s",
    ),
    (
        "fenced owner: a standby takes over",
        sit("north", S, owner_silent_for=SILENT, clusters=FENCED_OWNER),
        Action.TAKE_OVER,
        S,
        "east reports FENCED, not serving at epoch 7, for over 15s",
    ),
    (
        "absent owner: a standby takes over",
        sit("north", S, owner_silent_for=SILENT, clusters=NO_OWNER),
        Action.TAKE_OVER,
        S,
        "east has never reported, not serving at epoch 7",
    ),
    (
        "silent owner: second standby waits",
        sit("west", S, owner_silent_for=SILENT, priority=("north",)),
        Action.WAIT,
        S,
        "north has priority, west contends in 15.0s",
    ),
    (
        "silent owner: second standby still waits just before its grace",
        sit("west", S, owner_silent_for=SILENT, priority=("north",), takeover_ready_for=14.9),
        Action.WAIT,
        S,
        "west contends in 0.1s",
    ),
    (
        "silent owner: second standby contends after its grace",
        sit("west", S, owner_silent_for=SILENT, priority=("north",), takeover_ready_for=15.0),
        Action.TAKE_OVER,
        S,
        "taking over",
    ),
    (
        "silent owner and stale higher priority standby",
        sit("west", S, owner_silent_for=SILENT, stale=frozenset({"east", "north"}), priority=("north", "west")),
        Action.TAKE_OVER,
        S,
        "taking over",
    ),
    (
        "unhealthy owner past the limit: asked to drain",
        sit("north", S, clusters=SICK_OWNER, owner_error_for=61),
        Action.ASK_TO_DRAIN,
        S,
        "asking east to drain: east has reported ERROR for 61s",
    ),
    (
        "unhealthy owner within the limit",
        sit("west", S, clusters=SICK_OWNER, owner_error_for=30),
        Action.NONE,
        S,
        "no action",
    ),
    (
        "degraded owner is not a cause",
        sit("west", S, clusters={**EVERYONE, "east": st("east", ClusterState.PRIMARY, health=Health.DEGRADED)}),
        Action.NONE,
        S,
        "no action",
    ),
    (
        "unknown owner is not a cause",
        sit(
            "west",
            S,
            clusters={**EVERYONE, "east": st("east", ClusterState.PRIMARY, health=Health.UNKNOWN)},
            owner_error_for=None,
        ),
        Action.NONE,
        S,
        "no action",
    ),
    (
        "suspended: never automatic",
        sit("west", S, cfg(suspended=True, suspension_reason="db migration"), owner_silent_for=SILENT),
        Action.NONE,
        S,
        "suspended (db migration)",
    ),
    # Maintenance (a suspended group held by its owner as it is).
    (
        "maintenance: the owner holds its resources as they are",
        sit("east", P, cfg(suspended=True), maintenance=True),
        Action.HOLD,
        P,
        "maintenance: east holds shop/web at epoch 7 as it is",
    ),
    (
        "maintenance: an owner that cannot write its heartbeat does not fence",
        sit("east", P, cfg(suspended=True), maintenance=True, since_heartbeat_write=30.0, fence_left=float("inf")),
        Action.HOLD,
        P,
        "neither fences itself",
    ),
    (
        "maintenance: nor when it cannot read DynamoDB",
        sit("east", P, store_ok=False, config=None, maintenance=True, fence_left=float("inf")),
        Action.NONE,
        P,
        "it holds the group in maintenance: no fencing",
    ),
    (
        "maintenance: an owner found serving still proves it owns the group",
        sit("east", P, cfg(suspended=True), maintenance=True, proved=False, fence_left=float("inf")),
        Action.PROMOTE,
        P,
        "proves it still owns",
    ),
    (
        "maintenance: resumed, but the owner's last word says it holds the group: nobody takes over",
        sit(
            "west",
            S,
            clusters={**EVERYONE, "east": st("east", ClusterState.PRIMARY).model_copy(update={"maintenance": True})},
            owner_silent_for=SILENT,
            stale=frozenset({"east"}),
        ),
        Action.NONE,
        S,
        "east last said it holds shop/web in maintenance",
    ),
    (
        "maintenance: a silent cluster that held the group still holds a move up (it does not fence itself)",
        sit(
            "west",
            S,
            cfg(owner="north", epoch=8, transition=FROM_NORTH),
            clusters={
                **EVERYONE,
                "east": st("east", ClusterState.PRIMARY).model_copy(update={"maintenance": True}),
                "north": st("north", ClusterState.FAILOVER, epoch=8),
            },
            stale=frozenset({"east"}),
        ),
        Action.WAIT,
        S,
        "east still reports serving",
    ),
    # Fenced by hand (`failover-operator fence`): down and kept down; nobody takes a fenced owner's group over.
    (
        "fenced by hand: the owner scales its copy down and keeps it down",
        sit("east", P, fenced("east")),
        Action.FENCED_BY_HAND,
        F,
        "fenced by hand: disk replaced; east owns shop/web at epoch 7 and keeps its copy down: nobody serves the group",
    ),
    (
        "fenced by hand: an owner that could prove ownership does not promote",
        sit("east", F, fenced("east")),
        Action.FENCED_BY_HAND,
        F,
        "until `failover-operator unfence shop/web --cluster east`",
    ),
    (
        "fenced by hand: a standby stays down",
        sit("west", S, fenced("west")),
        Action.FENCED_BY_HAND,
        F,
        "west keeps its copy of shop/web down and takes nothing over until it is unfenced (east owns it at epoch 7)",
    ),
    (
        "fenced by hand: a fenced standby never takes over, however silent the owner",
        sit("west", F, fenced("west"), owner_silent_for=SILENT, stale=frozenset({"east"})),
        Action.FENCED_BY_HAND,
        F,
        "takes nothing over",
    ),
    (
        "fenced by hand: nobody takes over a fenced owner, however long it has not served",
        sit("north", S, fenced("east"), clusters=FENCED_OWNER, owner_silent_for=SILENT, stale=frozenset({"east"})),
        Action.NONE,
        S,
        f"east owns it at epoch 7 and is fenced by hand ({FENCE_SAID}): nobody takes the group over until it is",
    ),
    (
        "fenced by hand: nor asks a fenced owner that reports ERROR to drain",
        sit("north", S, fenced("east"), clusters=SICK_OWNER, owner_error_for=61),
        Action.NONE,
        S,
        "is fenced by hand",
    ),
    (
        "fenced by hand: a fenced standby has no priority: the next standby takes a silent owner over at once",
        sit("north", S, fenced("west"), owner_silent_for=SILENT, priority=("west",)),
        Action.TAKE_OVER,
        S,
        "taking over: east's heartbeat has not changed",
    ),
    (
        "fenced by hand: a fenced owner reports drained for a planned move away from it",
        sit("east", F, fenced("east", transition=TRANSITION)),
        Action.DRAIN,
        F,
        "keeps its copy of shop/web at epoch 7 down and reports it drained for failover fo-1: west may take the group",
    ),
    (
        "fenced by hand: a fenced owner never withdraws a move to serve again",
        sit("east", F, fenced("east", transition=TRANSITION), transition_age=301),
        Action.DRAIN,
        F,
        "fenced by hand",
    ),
    (
        "fenced by hand: a planned move away from a fenced owner transfers once it reports drained",
        sit("west", S, fenced("east", transition=TRANSITION), clusters=DRAINED),
        Action.TRANSFER,
        S,
        "east has stopped serving shop/web at epoch 7 for failover fo-1; west takes it",
    ),
    (
        "fenced by hand: an UPTIME move away from a fenced owner transfers (it follows the move, serving nothing)",
        sit(
            "west",
            S,
            fenced("east", transition=UPTIME),
            clusters={**EVERYONE, "east": st("east", ClusterState.FENCED).model_copy(update={"following": "fo-1"})},
        ),
        Action.TRANSFER,
        S,
        "UPTIME",
    ),
    (
        "fenced by hand: the fenced old owner of an UPTIME hand-off ends it at once (nothing to take back)",
        sit("east", F, fenced("east", owner="west", epoch=8, transition=HANDOFF)),
        Action.HAND_OFF,
        F,
        "east ends the UPTIME hand-off of shop/web at epoch 8 to west at once",
    ),
    (
        "fenced by hand: the owner withdraws a move to a fenced target and serves on",
        sit("east", P, fenced("west", transition=UPTIME)),
        Action.ABANDON,
        P,
        f"failover fo-1 cannot move shop/web at epoch 7 to west, which is fenced by hand ({FENCE_SAID}); east "
        "withdraws it and stays PRIMARY",
    ),
    (
        "fenced by hand: a draining owner withdraws a move to a fenced target and serves again",
        sit("east", S, fenced("west", transition=TRANSITION)),
        Action.ABANDON,
        P,
        "which is fenced by hand",
    ),
    (
        "fenced by hand: a fenced target never transfers, forced or not",
        sit("west", S, fenced("west", transition=FORCED), clusters=DRAINED, transition_age=11.0),
        Action.FENCED_BY_HAND,
        F,
        "takes nothing over",
    ),
    (
        "unfenced: the owner proves ownership and promotes",
        sit("east", F, cfg(), unfenced=True),
        Action.PROMOTE,
        P,
        "promoting: it was unfenced and east owns shop/web at epoch 7",
    ),
    ("unfenced: a standby stands by again", sit("west", F, cfg()), Action.DEMOTE, S, "standing by: east owns"),
    (
        "autoFailover off",
        sit("west", S, owner_silent_for=SILENT, auto_failover=False),
        Action.NONE,
        S,
        "autoFailover is off",
    ),
    (
        "planned failover in progress: no takeover of a draining owner",
        sit("north", S, cfg(transition=TRANSITION), clusters=DRAINED, owner_silent_for=SILENT),
        Action.NONE,
        S,
        "failover fo-1 is in progress",
    ),
    (
        "planned failover in progress: a dead owner is still taken over",
        sit("north", S, cfg(transition=TRANSITION), owner_silent_for=SILENT),
        Action.TAKE_OVER,
        S,
        "taking over",
    ),
    (
        "restarted owner: resources found serving are proved, not trusted",
        sit("east", P, proved=False, fence_left=2.0),
        Action.PROMOTE,
        P,
        "promoting: east found its resources serving when it started and proves it still owns shop/web at epoch 7",
    ),
    (
        "restarted owner that could not prove in time fences",
        sit("east", P, proved=False, fence_left=-0.1),
        Action.FENCE,
        F,
        "found shop/web serving when it started and could not prove it still owns it within 3.75s",
    ),
    (
        "uptime: the target waits while the owner cannot act on its resources",
        sit("west", S, cfg(transition=UPTIME), clusters=BLIND_OWNER),
        Action.WAIT,
        S,
        "east cannot act on its resources for shop/web (health UNKNOWN), so it could not stop serving them",
    ),
    (
        "consistency: a blind owner is waited for, and says why",
        sit("west", S, cfg(transition=TRANSITION), clusters=BLIND_OWNER),
        Action.WAIT,
        S,
        "east cannot act on its resources for shop/web (health UNKNOWN)",
    ),
    (
        "forced uptime does not wait for a blind owner",
        sit("west", S, cfg(transition=UPTIME.model_copy(update={"force": True})), clusters=BLIND_OWNER),
        Action.TRANSFER,
        S,
        "UPTIME: east serves until west is ready",
    ),
    (
        "unhealthy standby cannot take over",
        sit("west", S, owner_silent_for=SILENT, my_health=Health.DEGRADED),
        Action.NONE,
        S,
        "west is DEGRADED itself",
    ),
]


@pytest.mark.parametrize(("situation", "action", "role", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rules(situation, action, role, words):
    decision = decide(situation)
    assert (decision.action, decision.role) == (action, role), decision.reason
    assert words in decision.reason


def test_a_takeover_is_conditioned_on_the_epoch_seen_and_on_what_the_owner_says():
    stale = decide(sit("north", S, owner_silent_for=SILENT))
    assert stale.move is not None and (stale.move.epoch, stale.move.cause) == (7, STALE)
    # it still claims to serve: its numbers must not move
    assert stale.move.checks == {"east": StatusCheck(heartbeat_seq=1, liveness_seq=0)}
    fenced = decide(sit("north", S, owner_silent_for=SILENT, clusters=FENCED_OWNER))
    assert fenced.move is not None and (fenced.move.epoch, fenced.move.cause) == (7, NOT_SERVING)
    assert fenced.move.checks == {"east": StatusCheck(not_serving=True)}  # it must still not claim to serve
    transfer = decide(sit("west", S, cfg(transition=TRANSITION), clusters=DRAINED))
    assert transfer.move is not None
    assert (transfer.move.epoch, transfer.move.transition, transfer.move.unconfirmed) == (7, TRANSITION, False)
    assert transfer.move.checks == {"east": StatusCheck(drained=True)}  # it must still be drained
    forced = decide(sit("west", S, cfg(transition=FORCED), transition_age=10.1))
    assert forced.move is not None and forced.move.unconfirmed and forced.move.checks == {}
    uptime = decide(sit("west", S, cfg(transition=UPTIME), clusters=FOLLOWING))
    assert uptime.move is not None and uptime.move.checks == {"east": StatusCheck(able=True, following="fo-1")}


def test_a_move_away_from_an_owner_fenced_by_hand_requires_it_drained():
    """It is down by a person's decision, but the transfer still re-checks that its copy is confirmed down (its
    status FAILOVER at the epoch), as for any drained source: a fence lifted meanwhile, followed by a proof of
    ownership, cancels the transfer; and only a forced move goes without that report."""
    transfer = decide(sit("west", S, fenced("east", transition=TRANSITION), clusters=DRAINED))
    assert transfer.move is not None and transfer.move.checks == {"east": StatusCheck(drained=True)}
    waits = decide(sit("west", S, fenced("east", transition=TRANSITION), clusters=FENCED_OWNER))
    assert (waits.action, waits.move) == (Action.WAIT, None), waits.reason


def test_an_owner_listed_fenced_is_taken_over_as_stale_only_when_its_numbers_stood_still():
    """Its heartbeat lists the group fenced, its status still says PRIMARY (it could not write FENCED). Numbers
    seen moving (a proof may just have landed: it moves them, not the listing): only "not serving", which a
    proof's PRIMARY refuses. Numbers unchanged for the whole timeout (seed 4910: cut off since it fenced):
    "stale", which any write of the owner refuses — else nobody could take over until it writes again."""
    listed = decide(sit("north", S, owner_silent_for=SILENT, owner_fenced=True))
    assert listed.move is not None and (listed.action, listed.move.cause) == (Action.TAKE_OVER, NOT_SERVING)
    gone = decide(sit("north", S, owner_silent_for=SILENT, owner_fenced=True, stale=frozenset({"east"})))
    assert gone.move is not None and (gone.action, gone.move.cause) == (Action.TAKE_OVER, STALE)


def test_exactly_one_standby_contends_at_once_when_all_agree():
    situations = [sit(me, S, owner_silent_for=SILENT) for me in ("west", "north")]
    actions = [decide(s).action for s in situations]
    assert sorted(actions) == [Action.TAKE_OVER, Action.WAIT]


def test_stale_or_out_of_date_standbys_do_not_hold_up_the_others():
    behind = {**EVERYONE, "north": st("north", epoch=6)}  # north has not seen epoch 7: not eligible
    assert decide(sit("west", S, clusters=behind, owner_silent_for=SILENT, priority=("north",))).action == (
        Action.TAKE_OVER
    )
    sick = {**EVERYONE, "north": st("north", health=Health.DEGRADED)}
    assert decide(sit("west", S, clusters=sick, owner_silent_for=SILENT, priority=("north",))).action == (
        Action.TAKE_OVER
    )


def test_an_abandoned_planned_failover_does_not_block_automatic_failover_forever():
    abandoned = sit(
        "north", S, cfg(transition=TRANSITION), clusters=DRAINED, owner_silent_for=SILENT, transition_age=301
    )
    assert decide(abandoned).action == Action.TAKE_OVER


def test_uptime_hand_off_keeps_the_old_owner_serving_until_the_new_one_is_ready():
    handoff = UPTIME.model_copy(update={"epoch": 8})
    config = cfg(owner="west", epoch=8, transition=handoff)
    not_ready = {**EVERYONE, "west": st("west", ClusterState.PRIMARY, Health.DEGRADED, epoch=8)}
    waiting = decide(sit("east", P, config, clusters=not_ready))
    assert (waiting.action, waiting.role) == (Action.NONE, P) and "promotes first (UPTIME)" in waiting.reason
    ready = {**EVERYONE, "west": st("west", ClusterState.PRIMARY, Health.OK, epoch=8)}
    done = decide(sit("east", P, config, clusters=ready))
    assert (done.action, done.role, done.transition) == (Action.HAND_OFF, S, handoff)
    late = decide(sit("east", P, config, clusters=not_ready, transition_age=301))
    assert late.move is not None and (late.action, late.role, late.move.epoch) == (Action.HAND_BACK, P, 8)
    assert late.move.checks == {"west": StatusCheck(not_ready=True)}
    assert "has not reported ready within 300s of the UPTIME hand-off; east serves on" in late.reason
    # the new owner is not confused by the hand-off record
    assert decide(sit("west", P, config, clusters=ready)).action == Action.NONE


def test_the_old_owner_of_an_uptime_hand_off_stops_when_it_cannot_follow_it():
    """Seed 1796577804: east, the old owner of an UPTIME hand-off, could not read DynamoDB (its heartbeats still
    landed): it never saw west ready and served beside it for 2.7 s past the hand-off. It serves beside the new
    owner only while it follows the hand-off: its fence deadline is the fence limit past its last read
    (timing.fence_left), on the fence loop's own schedule."""
    handoff = UPTIME.model_copy(update={"epoch": 8})
    config = cfg(owner="west", epoch=8, transition=handoff)
    left = fence_left(100.0, TIMING, heartbeat_sent=99.0, proved=True, started=0.0, following=92.0)
    assert left == -0.5  # read 8 s ago, limit 7.5 s: past it, although its heartbeat is 1 s old
    assert fence_left(100.0, TIMING, heartbeat_sent=99.0, proved=True, started=0.0) == 6.5
    blind = dict(store_ok=False, config=None, clusters=None, known_config=config, read_age=8.0)
    stops = decide(sit("east", P, fence_left=left, **blind))
    assert (stops.action, stops.role) == (Action.FENCE, F)
    assert "cannot read shop/web (for 8.0s, limit 7.5s) during the UPTIME move to west" in stops.reason


def test_an_uptime_hand_off_does_not_overlap_an_old_owner_that_cannot_stop():
    """Seed 1796579011: east's API server went away just before an UPTIME move to west, too soon for its status
    to say so; west took the group and started, and east, blind, could never stop (4 s past the hand-off). The
    new owner serves only while the old one can stop once it is ready; the old one ends the hand-off only when
    it can stop."""
    handoff = UPTIME.model_copy(update={"epoch": 8})
    config = cfg(owner="west", epoch=8, transition=handoff)
    blind = {**EVERYONE, "east": st("east", ClusterState.PRIMARY, Health.UNKNOWN, epoch=7)}
    waits = decide(sit("west", S, config, clusters=blind))
    assert (waits.action, waits.role) == (Action.WAIT, S), waits.reason
    assert "east cannot act on its resources for shop/web (health UNKNOWN)" in waits.reason
    stands = decide(sit("west", P, config, clusters=blind))
    assert (stands.action, stands.role) == (Action.WAIT, S)  # already up: it steps back
    able = {**blind, "east": st("east", ClusterState.PRIMARY, Health.OK, epoch=7)}
    assert decide(sit("west", S, config, clusters=able)).action == Action.PROMOTE
    gone = decide(sit("west", S, config, clusters=blind, stale=frozenset({"east"})))  # dead: fenced by then
    assert gone.action == Action.PROMOTE
    ready = {**able, "west": st("west", ClusterState.PRIMARY, Health.OK, epoch=8)}
    holds = decide(sit("east", P, config, clusters=ready, my_health=Health.UNKNOWN))
    assert (holds.action, holds.role) == (Action.NONE, P) and "cannot act on its resources" in holds.reason
    assert decide(sit("east", P, config, clusters=ready)).action == Action.HAND_OFF


def test_nobody_else_takes_over_while_the_old_owner_of_an_uptime_hand_off_serves_on():
    """West owns the group after an UPTIME hand-off from east and went silent; east still serves. North may not
    start until east has not shown it serves for a heartbeat timeout too — and then only on a transaction that
    re-checks east (found by `make chaos`, seed 940: a 0.02s overlap of east and north)."""
    handoff = UPTIME.model_copy(update={"epoch": 8})
    config = cfg(owner="west", epoch=8, transition=handoff)
    clusters = {
        "east": st("east", ClusterState.PRIMARY, epoch=8),
        "west": st("west", ClusterState.PRIMARY, epoch=8),
        "north": st("north", epoch=8),
    }
    held = decide(sit("north", S, config, clusters=clusters, owner_silent_for=SILENT, source_silent_for=3.0))
    assert held.action == Action.NONE
    assert "but east still serves shop/web (UPTIME hand-off to west)" in held.reason
    both = decide(sit("north", S, config, clusters=clusters, owner_silent_for=SILENT, source_silent_for=SILENT))
    assert both.move is not None and (both.action, both.move.cause) == (Action.TAKE_OVER, STALE)
    assert both.move.checks["east"] == StatusCheck(heartbeat_seq=1, liveness_seq=0)  # the source re-checked too
    fenced = {**clusters, "east": st("east", ClusterState.FENCED, epoch=8)}
    gone = decide(sit("north", S, config, clusters=fenced, owner_silent_for=SILENT, source_silent_for=SILENT))
    assert gone.move is not None and gone.move.checks["east"] == StatusCheck(not_serving=True)
    # Without a hand-off there is nothing more to check.
    plain = decide(sit("north", S, cfg(owner="west", epoch=8), clusters=clusters, owner_silent_for=SILENT))
    assert plain.move is not None and set(plain.move.checks) == {"west"}


def test_what_a_cluster_reports_is_the_truth_about_its_resources():
    primary, failover, fenced, standby = (
        ClusterState.PRIMARY,
        ClusterState.FAILOVER,
        ClusterState.FENCED,
        ClusterState.STANDBY,
    )
    assert reported_state(P, False, True, standby) == primary  # serving (or about to): its proof said so
    assert reported_state(S, True, False, primary) == primary  # draining, but pods still run: still serving
    assert reported_state(S, True, True, primary) == failover  # drained, confirmed
    assert reported_state(F, False, True, primary) == fenced
    assert reported_state(S, False, None, fenced) == fenced  # cannot observe: the last report stands
    assert reported_state(S, False, False, standby) == primary  # a standby not scaled down yet serves
    # Scaled to zero, pods still terminating: not serving; its own role (a draining owner waits to be drained).
    assert reported_state(S, False, False, primary, scaled_down=True) == standby
    assert reported_state(F, False, False, primary, scaled_down=True) == fenced
    assert reported_state(S, True, False, primary, scaled_down=True) == primary


def test_a_restarted_operator_recalls_what_its_resources_say():
    assert recalled_role(["PRIMARY", "STANDBY"]) == P
    assert recalled_role(["FENCED", None]) == F
    assert recalled_role([None, "STANDBY"]) is None


def test_a_shorter_heartbeat_timeout_waits_out_the_old_one():
    changed = cfg().model_copy(
        update={
            "timeouts": Timeouts(heartbeat=5, unhealthy_primary=60, transitory_state=300),
            "timeouts_before": Timeouts(heartbeat=15),
        }
    )
    during = effective_timing(changed, 15, 0.5, 1.0, change_seen_for=10.0)
    assert (during.heartbeat, during.fence_after) == (15, 2.5)  # standbys the longer, owners the shorter
    after = effective_timing(changed, 15, 0.5, 1.0, change_seen_for=16.0)
    assert (after.heartbeat, after.fence_after) == (5, 2.5)
    longer = changed.model_copy(update={"timeouts": Timeouts(heartbeat=30), "timeouts_before": Timeouts(heartbeat=15)})
    assert (
        effective_timing(longer, 15, 0.5, 1.0, 1.0).heartbeat,
        effective_timing(longer, 15, 0.5, 1.0, 1.0).fence_after,
    ) == (30, 7.5)


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
            owner_silent_for=SILENT,
            priority=("north", "west"),
            timing=Timing(heartbeat=15, fence_after=7.5, unhealthy=60, transitory=300, interval=interval),
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


@pytest.mark.parametrize(
    "transition", [UPTIME, UPTIME.model_copy(update={"force": True}), TRANSITION.model_copy(update={"force": True})]
)
def test_no_move_overlaps_a_third_cluster_that_still_serves(transition):
    """Seed 9847: north, the old owner of an earlier UPTIME hand-off, could not scale down (its API server
    refused); a forced UPTIME move to west scaled west up at once, and the two served together for 0.35 s. The
    target waits until every cluster but the source has stopped — unless that one is silent (stale)."""
    clusters = {**FOLLOWING, "north": st("north", ClusterState.PRIMARY, epoch=6)}
    drained = {**clusters, "east": st("east", ClusterState.FAILOVER).model_copy(update={"following": "fo-1"})}
    for statuses in (clusters, drained):
        waiting = decide(sit("west", S, cfg(transition=transition), clusters=statuses, transition_age=11.0))
        assert waiting.action == Action.WAIT and "north still reports serving" in waiting.reason
    stopped = decide(
        sit("west", S, cfg(transition=transition), clusters=drained | {"north": st("north")}, transition_age=11.0)
    )
    assert stopped.action == Action.TRANSFER
    silent = decide(
        sit("west", S, cfg(transition=transition), clusters=drained, stale=frozenset({"north"}), transition_age=11.0)
    )
    assert silent.action == Action.TRANSFER


# --- a switchover scheduled for later (rules/schedule.py) ---------------------------------------------------

SCHEDULED = ScheduledSwitchover(
    name="scheduled-20260101-000000-ab12",
    source_cluster="east",
    target_cluster="west",
    at=T0,
    requested_by="fleet-cli",
    requested_at=T0,
    reason="maintenance window",
)
WHAT = (
    "the switchover scheduled-20260101-000000-ab12 of shop/web to west (CONSISTENCY) scheduled for 2026-01-01T00:00:00Z"
)
DUE = 0.5  # seconds past its time, on the deciding cluster's own clock
SICK_TARGET = {**EVERYONE, "west": st("west", health=Health.ERROR)}
LEAVING_TARGET = {**EVERYONE, "west": st("west").model_copy(update={"leaving": True})}
AT_8 = {"east": st("east", epoch=8), "west": st("west", epoch=8), "north": st("north", ClusterState.PRIMARY, epoch=8)}

SCHEDULE_CASES = [
    # (id, situation, action, role, words in the reason)
    (
        "not due yet: the target stands by",
        sit("west", S, cfg(schedule=SCHEDULED)),
        Action.NONE,
        S,
        "no action: I am west, STANDBY of shop/web",
    ),
    (
        "due: its target asks for the move",
        sit("west", S, cfg(schedule=SCHEDULED), schedule_late=DUE),
        Action.START_SCHEDULED,
        S,
        f"starting {WHAT}: west asks east to hand shop/web at epoch 7 over",
    ),
    (
        "due: an UPTIME one too",
        sit("west", S, cfg(schedule=SCHEDULED.model_copy(update={"mode": FailoverMode.UPTIME})), schedule_late=DUE),
        Action.START_SCHEDULED,
        S,
        "to west (UPTIME) scheduled for",
    ),
    (
        "due: another standby leaves it to its target",
        sit("north", S, cfg(schedule=SCHEDULED), schedule_late=DUE),
        Action.NONE,
        S,
        "no action: I am north, STANDBY",
    ),
    (
        "due: the owner leaves it to its target",
        sit("east", P, cfg(schedule=SCHEDULED), schedule_late=DUE),
        Action.NONE,
        P,
        "no action: I am east, PRIMARY",
    ),
    (
        "due, the group suspended: dropped, saying why",
        sit("west", S, cfg(schedule=SCHEDULED, suspended=True, suspension_reason="db migration"), schedule_late=DUE),
        Action.DROP_SCHEDULED,
        S,
        f"dropping {WHAT}: shop/web is suspended (db migration): only a forced failover may move it",
    ),
    (
        "due, the target unhealthy: dropped",
        sit("west", S, cfg(schedule=SCHEDULED), clusters=SICK_TARGET, schedule_late=DUE),
        Action.DROP_SCHEDULED,
        S,
        "west reports health ERROR for shop/web",
    ),
    (
        "due, the target leaving the group: dropped",
        sit("west", S, cfg(schedule=SCHEDULED), clusters=LEAVING_TARGET, schedule_late=DUE),
        Action.DROP_SCHEDULED,
        S,
        "west is leaving shop/web",
    ),
    (
        "due, the owner unable to act on its resources: dropped",
        sit("west", S, cfg(schedule=SCHEDULED), clusters=BLIND_OWNER, schedule_late=DUE),
        Action.DROP_SCHEDULED,
        S,
        "east cannot act on its resources for shop/web (health UNKNOWN",
    ),
    (
        "due, another cluster owns the group now: dropped",
        sit("west", S, cfg(owner="north", epoch=8, schedule=SCHEDULED), clusters=AT_8, schedule_late=DUE),
        Action.DROP_SCHEDULED,
        S,
        "north owns shop/web now (epoch 8), not east as when it was scheduled",
    ),
    (
        "due, the owner silent: dropped, the rules of failover decide",
        sit("west", S, cfg(schedule=SCHEDULED), owner_silent_for=SILENT, schedule_late=DUE),
        Action.DROP_SCHEDULED,
        S,
        "east's heartbeat has not changed for over 15s; who takes the group over is for the rules of failover",
    ),
    (
        "missed by more than transitoryState (its operator was down): dropped, never made late",
        sit("west", S, cfg(schedule=SCHEDULED), schedule_late=301.0),
        Action.DROP_SCHEDULED,
        S,
        "it is 301s past its time, more than transitoryState (300s): a move is not made at another time than asked",
    ),
    (
        "due while a move is in progress: the move goes on first",
        sit("west", S, cfg(schedule=SCHEDULED, transition=TRANSITION), schedule_late=DUE),
        Action.WAIT,
        S,
        "waiting: east drains shop/web at epoch 7 for failover fo-1",
    ),
    (
        "due, the target fenced: it stands by first",
        sit("west", F, cfg(schedule=SCHEDULED), schedule_late=DUE),
        Action.DEMOTE,
        S,
        "standing by: east owns",
    ),
    (
        "due, the target fenced by hand: dropped, saying why; its copy stays down",
        sit("west", F, fenced("west", schedule=SCHEDULED), schedule_late=DUE),
        Action.DROP_SCHEDULED,
        F,
        f"dropping {WHAT}: west is fenced by hand for shop/web (disk replaced",
    ),
    (
        "not due, the target fenced by hand: it keeps its copy down and the schedule waits",
        sit("west", F, fenced("west", schedule=SCHEDULED)),
        Action.FENCED_BY_HAND,
        F,
        "fenced by hand: disk replaced",
    ),
    (
        "due, the owner fenced by hand: a planned move away from it starts",
        sit("west", S, fenced("east", schedule=SCHEDULED), schedule_late=DUE),
        Action.START_SCHEDULED,
        S,
        f"starting {WHAT}",
    ),
    (
        "the owner drops one to itself (it moved there meanwhile)",
        sit("west", P, cfg(owner="west", epoch=8, schedule=SCHEDULED), clusters=AT_8),
        Action.DROP_SCHEDULED,
        P,
        "dropping the switchover scheduled-20260101-000000-ab12 of shop/web to west scheduled for "
        "2026-01-01T00:00:00Z: west owns shop/web already (epoch 8)",
    ),
    (
        "the owner leaves one long past its time to its target (their wall clocks may disagree)",
        sit("east", P, cfg(schedule=SCHEDULED), schedule_late=3600.0),
        Action.NONE,
        P,
        "no action: I am east, PRIMARY",
    ),
    (
        "in maintenance the owner holds, and drops nothing",
        sit("west", P, cfg(owner="west", epoch=8, schedule=SCHEDULED, suspended=True), clusters=AT_8, maintenance=True),
        Action.HOLD,
        P,
        "maintenance: west holds",
    ),
]


@pytest.mark.parametrize(
    ("situation", "action", "role", "words"), [c[1:] for c in SCHEDULE_CASES], ids=[c[0] for c in SCHEDULE_CASES]
)
def test_scheduled_switchover_rules(situation, action, role, words):
    decision = decide(situation)
    assert (decision.action, decision.role) == (action, role), decision.reason
    assert words in decision.reason
    assert "\n" not in decision.reason
    acted_on = action in (Action.START_SCHEDULED, Action.DROP_SCHEDULED)
    assert (decision.schedule is not None) == acted_on  # what the carry-out acts on (its name, conditioned on)
    assert decision.schedule is None or decision.schedule.name == SCHEDULED.name
