"""The rulebook beyond a group's tick (tests/reconciler/test_decide.py is that table): leaving a group, who
manages a resource two groups list, the fence deadline, the watchdog's deadline, which moves are refused."""

from __future__ import annotations

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
    Transition,
)
from failover_operator.rules import (
    Leaving,
    Step,
    Timing,
    claimant,
    eligible,
    fence_left,
    leave,
    readiness,
    refusal,
    vouch,
    watchdog_deadline,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TIMING = Timing(heartbeat=15, fence_after=7.5, unhealthy=60, transitory=300, interval=5.0)


def cfg(owner: str = "east", epoch: int = 7) -> GroupConfig:
    return GroupConfig(namespace="shop", name="web", operator_id="o", owner=owner, epoch=epoch, updated_at=T0)


def st(name: str, health: Health = Health.OK, state: ClusterState = ClusterState.STANDBY) -> ClusterStatus:
    return ClusterStatus(
        cluster_name=name, health=health, state=state, heartbeat_seq=1, last_heartbeat=T0, observed_epoch=7
    )


ALL = {"east": st("east", state=ClusterState.PRIMARY), "west": st("west"), "north": st("north")}


def leaving(me: str, config: GroupConfig | None = None, **kw: object) -> Leaving:
    base: dict[str, object] = dict(
        me=me, group="shop/web", config=cfg() if config is None else config, clusters=ALL, stale=frozenset(), down=True
    )
    base.update(kw)
    return Leaving(**base)  # type: ignore[arg-type]


LEAVE_CASES = [
    # (id, situation, step, words in the reason, hand-over targets)
    ("not the owner, copy up: stop first", leaving("west", down=False), Step.STOP, "west stops serving", ()),
    ("not the owner, copy unknown: stop first", leaving("west", down=None), Step.STOP, "(east owns it at epoch 7)", ()),
    ("not the owner, copy down: leave", leaving("west"), Step.LEAVE, "leaves it to east", ()),
    ("owner with peers, copy up: stop first", leaving("east", down=False), Step.STOP, "before it hands it over", ()),
    (
        "owner with peers, copy down: hand over, healthy first, in priority order",
        leaving(
            "east",
            clusters={**ALL, "south": st("south", Health.DEGRADED)},
            priority=("north",),
        ),
        Step.HAND_OVER,
        "hands it to a live peer",
        (("north", False), ("west", False), ("south", True)),
    ),
    (
        "owner: a peer that is leaving too is handed nothing (seed 1796580352984: two leaving clusters handed the "
        "group back and forth)",
        leaving("east", clusters={**ALL, "west": ALL["west"].model_copy(update={"leaving": True})}),
        Step.HAND_OVER,
        "hands it to a live peer",
        (("north", False),),
    ),
    (
        "owner whose peers are all silent: leaves it owned, serving nothing",
        leaving("east", stale=frozenset({"west", "north"})),
        Step.LEAVE,
        "no live peer can take shop/web",
        (),
    ),
    (
        "owner and last cluster: its resources stay as they are",
        leaving("east", clusters={"east": ALL["east"]}, down=False),
        Step.REMOVE,
        "leaves its resources as they are",
        (),
    ),
    (
        "last cluster, not the owner: stops first",
        leaving("west", clusters={"west": ALL["west"]}, down=False),
        Step.STOP,
        "west stops serving",
        (),
    ),
    (
        "last cluster, not the owner, down: removes the records",
        leaving("west", clusters={"west": ALL["west"]}),
        Step.REMOVE,
        "last cluster of shop/web",
        (),
    ),
]


@pytest.mark.parametrize(
    ("situation", "step", "words", "targets"), [c[1:] for c in LEAVE_CASES], ids=[c[0] for c in LEAVE_CASES]
)
def test_leaving(situation: Leaving, step: Step, words: str, targets: tuple[tuple[str, bool], ...]) -> None:
    decided = leave(situation)
    assert decided.step == step, decided.reason
    assert words in decided.reason
    assert decided.targets == targets


def test_no_record_left_is_done() -> None:
    assert leave(Leaving("west", "shop/web", None, {}, frozenset(), True)).step == Step.DONE


def test_a_resource_two_groups_list_is_managed_by_the_one_it_names_else_the_older() -> None:
    older, newer = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    listing = {"shop/web": older, "shop/dup": newer}
    assert claimant(None, listing) == "shop/web"
    assert claimant("shop/dup", listing) == "shop/dup"  # converged by dup first: it stays dup's
    assert claimant("shop/gone", listing) == "shop/web"  # a group that no longer lists it claims nothing
    assert claimant(None, {"shop/b": older, "shop/a": older}) == "shop/a"  # the same age: by name
    assert claimant(None, {"shop/b": None, "shop/a": older}) == "shop/a"  # an unknown age is not older
    assert claimant(None, {}) is None


def test_the_fence_deadline() -> None:
    assert fence_left(100.0, TIMING, heartbeat_sent=98.0, proved=True, started=0.0) == 5.5
    assert fence_left(100.0, TIMING, heartbeat_sent=None, proved=True, started=0.0) == 0.0
    # found serving when it started: the allowance from its start, whatever its heartbeats
    assert TIMING.unproved_allowance == 3.75
    assert fence_left(100.0, TIMING, heartbeat_sent=99.9, proved=False, started=98.0) == 1.75
    # serving beside a new owner (an UPTIME move): no longer than the fence limit past its last read
    assert fence_left(100.0, TIMING, heartbeat_sent=99.9, proved=True, started=0.0, following=95.0) == 2.5
    edited = Timing(heartbeat=15, fence_after=11.25, unhealthy=60, transitory=300, interval=5.0)  # fraction 0.75
    assert edited.unproved_allowance == 1.875  # within the rest of the timeout after the predecessor's limit


def test_the_watchdog_is_not_satisfied_by_a_renewal_that_says_nothing_is_served() -> None:
    deadline = watchdog_deadline(None, True, 10.0, 7.0)
    assert deadline == 17.0
    assert watchdog_deadline(deadline, False, 12.0, 7.0) == 17.0  # unchanged: the same deadline
    assert watchdog_deadline(deadline, True, 12.0, None) == 17.0  # "nothing served": the deadline keeps running
    assert watchdog_deadline(deadline, True, 12.0, 7.0) == 19.0  # vouched for again
    assert watchdog_deadline(None, True, 12.0, None) is None  # nothing ever served: nothing to fence
    # Seed 1796580356542: the API server was gone for 13 s, for the watchdog and a frozen operator alike; the
    # renewal the watchdog saw when it came back was 13 s old, and it waited its whole allowance again. A
    # renewal first seen after the watchdog was blind for longer than the operator's renewal period vouches only
    # until the next renewal is due.
    assert watchdog_deadline(None, True, 30.0, 3.0, blind_for=13.5, renewed_every=0.5) == 31.0
    assert watchdog_deadline(None, True, 30.0, 3.0, blind_for=0.1, renewed_every=0.5) == 33.0
    assert watchdog_deadline(None, True, 30.0, 3.0, blind_for=13.5) == 33.0  # an older operator says nothing


def test_a_move_is_refused_while_the_owner_cannot_act_unless_forced() -> None:
    blind = {**ALL, "east": st("east", Health.UNKNOWN, ClusterState.PRIMARY)}
    refused = refusal(cfg(), blind, "west", set())
    assert refused is not None and "east cannot act on its resources for shop/web" in refused
    assert "use force" in refused
    assert refusal(cfg(), blind, "west", set(), check_health=False) is None  # force
    assert refusal(cfg(), blind, "west", {"east"}) is None  # a silent owner: what automatic failover is for
    assert refusal(cfg(), ALL, "west", set()) is None


FENCE = Fence(reason="disk replaced", fenced_at=T0, fenced_by="alice via fleet-cli")


def test_nothing_moves_to_a_cluster_fenced_by_hand_forced_or_not() -> None:
    fenced_west = cfg().model_copy(update={"fences": {"west": FENCE}})
    said = (
        "west is fenced by hand for shop/web (disk replaced (by alice via fleet-cli at 2026-01-01T00:00:00Z)): "
        "nothing moves to it, forced or not, until `failover-operator unfence shop/web --cluster west`"
    )
    assert refusal(fenced_west, ALL, "west", set()) == said
    assert refusal(fenced_west, ALL, "west", set(), check_suspension=False, check_health=False) == said  # force
    assert refusal(fenced_west, ALL, "north", set()) is None  # another cluster may still take it
    # A move away from a fenced owner is allowed: its copy is down already.
    fenced_east = cfg().model_copy(update={"fences": {"east": FENCE}})
    assert refusal(fenced_east, ALL, "west", set()) is None


def test_a_standby_fenced_by_hand_is_not_ready_to_take_over() -> None:
    fenced_west = cfg().model_copy(update={"fences": {"west": FENCE}})
    common = dict(health=Health.OK, auto_failover=True, heartbeating=True, store_error=None)
    ready = readiness(me="west", config=cfg(), mine=ALL["west"], local_role=Role.STANDBY, **common)
    assert ready[0] and ready[1] == "Ready"
    fenced = readiness(me="west", config=fenced_west, mine=ALL["west"], local_role=Role.FENCED, **common)
    assert fenced == (
        False,
        "FencedByHand",
        "west is fenced by hand for shop/web (disk replaced (by alice via fleet-cli at 2026-01-01T00:00:00Z)): "
        "it takes nothing over",
    )


def test_a_leaving_owner_hands_nothing_to_a_peer_fenced_by_hand() -> None:
    fenced_west = cfg().model_copy(update={"fences": {"west": FENCE}})
    assert leave(leaving("east", fenced_west)).targets == (("north", False),)
    both = cfg().model_copy(update={"fences": {"west": FENCE, "north": FENCE}})
    assert leave(leaving("east", both)).step == Step.LEAVE  # nobody to hand it to: it stays owned, serving nothing


def test_a_second_timeout_edit_soon_after_a_first_keeps_the_longer_wait() -> None:
    """Seed 1796579632752: the heartbeat timeout went 0.6 s -> 0.3 s, and 0.1 s later the rest of the timeouts
    changed: the second write kept 0.3 s as "before", and standbys waited 0.3 s at once while a cut-off owner
    could still be fencing on 0.6 s (a 0.03 s overlap). What a change replaces keeps the longest heartbeat
    timeout not yet known to be over."""
    from failover_operator.model import Timeouts
    from failover_operator.reconciler.edits import replaced

    first = cfg().model_copy(
        update={"timeouts": Timeouts(heartbeat=0.3), "timeouts_before": Timeouts(heartbeat=0.6, unhealthy_primary=9)}
    )
    assert replaced(first) == Timeouts(heartbeat=0.6)  # the current ones, with the longer heartbeat timeout
    longer = first.model_copy(update={"timeouts": Timeouts(heartbeat=1.0)})
    assert replaced(longer) == Timeouts(heartbeat=1.0)
    assert replaced(cfg()) == cfg().timeouts


def test_a_cluster_that_is_leaving_is_moved_nothing_and_takes_nothing_over() -> None:
    leaving_west = {**ALL, "west": ALL["west"].model_copy(update={"leaving": True})}
    assert (
        refusal(cfg(), leaving_west, "west", set())
        == "west is leaving shop/web (its FailoverGroup is being deleted there)"
    )

    assert eligible(ALL["west"], 7) and not eligible(leaving_west["west"], 7)


def test_what_a_read_after_a_heartbeat_vouches_for() -> None:
    """rules/vouch.py: only a read that shows the group ours, still, and our status PRIMARY at its epoch."""
    primary = st("east", state=ClusterState.PRIMARY)
    transition = Transition(
        failover_name="fo-1",
        source_cluster="east",
        target_cluster="west",
        mode=FailoverMode.CONSISTENCY,
        requested_by="west",
        requested_at=T0,
        epoch=7,
    )

    def serving(config: GroupConfig) -> GroupConfig:
        return config.model_copy(update={"serving": True, "proof_seq": 3})

    moving = serving(cfg()).model_copy(update={"transition": transition})
    fenced = serving(cfg()).model_copy(update={"fences": {"east": FENCE}})
    rows = [
        (serving(cfg()), primary, True, "east owns shop/web at epoch 7 and its status says PRIMARY"),
        (None, primary, False, "shop/web is not registered"),
        (serving(cfg(owner="west", epoch=8)), primary, False, "west owns shop/web at epoch 8, not east"),
        (fenced, primary, False, "fenced by hand"),
        (moving, primary, False, "a move of shop/web is under way"),
        (cfg(), primary, False, "the config of shop/web does not say east serves it"),
        (serving(cfg()), None, False, "east has no status for shop/web"),
        (serving(cfg()), primary.model_copy(update={"leaving": True}), False, "says it leaves shop/web"),
        (serving(cfg()), st("east", state=ClusterState.FENCED), False, "says FENCED at epoch 7, not PRIMARY at 7"),
        (serving(cfg(epoch=8)), primary, False, "says PRIMARY at epoch 7, not PRIMARY at 8"),
    ]
    for config, status, ok, words in rows:
        verdict = vouch("east", "shop/web", config, status)
        assert verdict.ok == ok and words in verdict.reason, (config, status, verdict)
        assert "\n" not in verdict.reason
