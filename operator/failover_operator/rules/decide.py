"""A group's tick in one cluster, as one pure function: a Situation in, a Decision out.

Read top to bottom like Patroni's HA loop: the first rule that applies decides, and every decision carries a
one-line reason that is logged and posted as an event when it changes. No I/O, no clocks: the caller measured
every duration on its own monotonic clock. A decision that moves ownership carries its `Move`: what the one
conditional write re-checks, so that the rule and its guard are written side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from ..model import ClusterState, ClusterStatus, FailoverMode, GroupConfig, Health, Role, Transition
from .fenced import fence_text, reason_of, unfence_command
from .reports import able_to_act, claims_serving, drained, serving
from .timing import Timing, takeover_grace, takeover_order

if TYPE_CHECKING:
    from ..model import ScheduledSwitchover


class Action(StrEnum):
    NONE = "none"  # already where the config says: keep converging, change nothing
    PROMOTE = "promote"  # prove ownership, then scale up
    DEMOTE = "demote"  # to standby
    FENCE = "fence"  # down, because ownership cannot be proved in time
    FENCED_BY_HAND = "fenced-by-hand"  # down, and kept down: a person fenced this cluster's copy (rules/fenced.py)
    DRAIN = "drain"  # down for a transition, then report FAILOVER
    ABANDON = "abandon"  # remove a transition that did not transfer in time, then (proved) serve again
    TRANSFER = "transfer"  # the target of a transition moves ownership to itself, then promotes
    HAND_BACK = "hand-back"  # UPTIME: the new owner never became ready: take ownership back
    HAND_OFF = "hand-off"  # UPTIME: the new owner is ready: remove the hand-off and stop serving
    TAKE_OVER = "take-over"  # the owner is gone: claim the group, then promote
    ASK_TO_DRAIN = "ask-to-drain"  # the owner reports ERROR: ask it to drain, as a planned failover would
    WAIT = "wait"  # would act, but yields (to a preferred standby, or to the owner draining)
    HOLD = "hold"  # maintenance: the owner leaves its resources exactly as they are
    START_SCHEDULED = "start-scheduled"  # the target of a switchover whose time has come asks for the move
    DROP_SCHEDULED = "drop-scheduled"  # a scheduled switchover that would be refused (or is obsolete) is removed


class TakeoverCause(StrEnum):
    """Why a standby judges the owner gone, and so what its takeover re-checks of the owner's records."""

    STALE = "stale"  # it says PRIMARY at the epoch, but its numbers stood still for the timeout: unchanged
    NOT_SERVING = "not serving"  # it has not said PRIMARY at the epoch for the timeout: still not saying so
    UNHEALTHY = "unhealthy"  # it reports ERROR, observed, for unhealthyPrimary: it is asked to drain first


@dataclass(frozen=True)
class StatusCheck:
    """What a move requires of one cluster. Each field that is set must still hold; a cluster that reported otherwise
    in between cancels the move. No transaction: what makes it safe is on the config, in the move's one
    conditional write (the owner's proof number, `serving`, the transition's `following` and `ready`, which the
    clusters write there themselves); the numbers and health in a cluster's own records are read right before it
    (`reads`)."""

    heartbeat_seq: int | None = None
    """Its status is still the one judged stale (0: it has none at all)."""
    liveness_seq: int | None = None
    """Its liveness (the cluster's heartbeat) is still the one judged stale."""
    health: Health | None = None
    """It still reports this health."""
    not_serving: bool = False
    """It does not serve: the config's `serving` is clear — only its proof of ownership sets it, conditioned on
    owning the group at the epoch, and only a move or its own word (its resources are down) clears it."""
    drained: bool = False
    """It says FAILOVER at the epoch: it stopped serving for this move."""
    not_ready: bool = False
    """It does not say PRIMARY and OK at the epoch (an UPTIME hand-off is handed back only then)."""
    able: bool = False
    """It can act on its resources (health is not UNKNOWN), so it can stop them: a non-forced UPTIME move."""
    following: str | None = None
    """It follows this UPTIME move (it has seen it, so it will see the target ready and stop)."""

    @property
    def empty(self) -> bool:
        return self == StatusCheck()

    @property
    def silent(self) -> bool:
        """Judged stale: the move is conditioned on the owner's proof number being the one seen standing still."""
        return self.heartbeat_seq is not None or self.liveness_seq is not None

    @property
    def reads(self) -> bool:
        """Checked by a strongly consistent read of the cluster's own records right before the move's write: what
        the config does not carry (its numbers, its health), and what its status says besides (not serving,
        drained, not ready), which the config's `serving` and `ready` say too and the write is conditioned on."""
        return self.silent or self.health is not None or self.able or self.not_serving or self.drained or self.not_ready


@dataclass(frozen=True)
class Move:
    """A change of owner (TAKE_OVER, TRANSFER, HAND_BACK) as one conditional write: the config goes to epoch + 1
    only if it is still at `epoch` with the same owner, and everything in `checks` still holds."""

    epoch: int
    checks: Mapping[str, StatusCheck] = field(default_factory=dict)
    """By cluster: the owner's, and an UPTIME hand-off's source's (which serves on)."""
    transition: Transition | None = None
    """The request it carries out: the config must still hold it (a source that gave up removed it first)."""
    cause: TakeoverCause | None = None
    """TAKE_OVER: why the owner is gone."""
    unconfirmed: bool = False
    """TRANSFER: forced, and the owner never confirmed it stopped serving: an overlap is possible, and the
    downtime cannot be measured."""


@dataclass(frozen=True)
class Decision:
    action: Action
    role: Role | None
    """The role to converge local resources to (None: touch nothing — we have not read the config yet)."""
    reason: str
    move: Move | None = None
    """For TAKE_OVER, TRANSFER, HAND_BACK: the write and what it re-checks."""
    transition: Transition | None = None
    """For DRAIN, ABANDON, TRANSFER, HAND_BACK, HAND_OFF: the transition acted on."""
    schedule: ScheduledSwitchover | None = None
    """For START_SCHEDULED, DROP_SCHEDULED: the scheduled switchover acted on."""


@dataclass(frozen=True)
class Situation:
    """Everything the rules look at, gathered and measured by the caller."""

    me: str
    group: str  # "namespace/name", for reasons
    local_role: Role | None  # None: never converged since start
    my_health: Health
    store_ok: bool  # this tick's DynamoDB read succeeded
    since_heartbeat_write: float | None  # seconds since our last good heartbeat was sent (None: never)
    timing: Timing
    fence_left: float = 1.0
    """Seconds until this cluster must have stopped serving the group (timing.fence_left)."""
    proved: bool = True
    """Our PRIMARY role was proved by this process (False: found serving when it started, not proved yet)."""
    config: GroupConfig | None = None
    """The group's config as read in this tick (None: it could not be read)."""
    known_config: GroupConfig | None = None
    """The config as last read, however long ago (when this tick could not read it)."""
    read_age: float | None = None
    """Seconds since the group's records were last read (None: never)."""
    clusters: Mapping[str, ClusterStatus] | None = None
    stale: frozenset[str] = frozenset()  # clusters whose heartbeat we have seen unchanged past the timeout
    owner_silent_for: float | None = None
    """How long since we last saw the owner report, afresh, that it serves at the current epoch (a new
    heartbeat saying PRIMARY at the epoch), or since we first saw it owning at that epoch."""
    owner_fenced: bool = False
    """The owner's heartbeat lists the group as fenced: it does not serve it, whatever its status says (a proof
    that landed with its answer lost). A takeover then requires its status not to say PRIMARY."""
    source_silent_for: float | None = None
    """During an UPTIME hand-off: the same as owner_silent_for, of the hand-off's source (which serves on)."""
    owner_error_for: float | None = None  # how long we have seen the owner report ERROR (None: it doesn't)
    transition_age: float | None = None  # how long we have seen the config's current transition
    takeover_ready_for: float | None = None  # how long a takeover cause has held, as we saw it
    auto_failover: bool = True
    priority: tuple[str, ...] = ()
    maintenance: bool = False
    """This cluster holds the group in maintenance (reconciler/maintenance.py): its status and its watchdog say
    so, so nobody takes the group over from it, and it neither fences itself nor reshapes its resources."""
    unfenced: bool = False
    """Our copy is FENCED because a person fenced it by hand, and the fence has been lifted (`unfence`)."""
    schedule_late: float | None = None
    """Seconds since the time of the config's scheduled switchover, on this cluster's own wall clock (None: none
    is scheduled, or its time has not come). A wall-clock time is for people: it decides when a move is asked
    for, never whether anyone may serve."""


def decide(s: Situation) -> Decision:
    # 1. An owner that cannot prove it still owns the group goes down before anyone else may come up.
    if s.local_role in (Role.PRIMARY, Role.FENCED) and s.fence_left <= 0:
        return Decision(
            Action.FENCE if s.local_role == Role.PRIMARY else Action.NONE,
            Role.FENCED,
            f"fencing: {s.me} {_unvouched(s)} and stays down until it can prove ownership",
        )
    if not s.store_ok or s.config is None:
        role = s.local_role
        kept = f"keeps {s.group} {role.value}" if role else f"has not touched {s.group} yet"
        why = (
            "it holds the group in maintenance: no fencing"
            if s.maintenance
            else f"an owner fences itself after {s.timing.fence_after:g}s without a heartbeat"
        )
        return Decision(Action.NONE, role, f"no action: cannot read {s.group} from DynamoDB; {s.me} {kept} ({why})")
    config = s.config
    if s.me in config.fences:
        return _fenced_by_hand(s, config, s.clusters or {})
    if config.owner == s.me:
        return _as_owner(s, config, s.clusters or {})
    return _as_other(s, config, s.clusters or {})


def _unvouched(s: Situation) -> str:
    """Why a cluster that may serve must stop: what it could not write (or read) in time."""
    known = s.known_config or s.config
    if s.local_role == Role.PRIMARY and uptime_party(known, s.me) and known is not None and known.transition:
        age = "never" if s.read_age is None else f"for {s.read_age:.1f}s"
        t = known.transition
        if t.source_cluster == s.me:
            return (
                f"cannot read {s.group} ({age}, limit {s.timing.fence_after:g}s) during the UPTIME move to "
                f"{t.target_cluster}: it stops serving rather than serve on beside a new owner it cannot see"
            )
        return (
            f"cannot read {s.group} ({age}, limit {s.timing.fence_after:g}s) during the UPTIME hand-off from "
            f"{t.source_cluster}: it stops serving rather than serve on after {t.source_cluster} may have taken the "
            f"group back"
        )
    if not s.proved and s.local_role == Role.PRIMARY:
        return (
            f"found {s.group} serving when it started and could not prove it still owns it within "
            f"{s.timing.unproved_allowance:g}s"
        )
    written = "never" if s.since_heartbeat_write is None else f"{s.since_heartbeat_write:.1f}s ago"
    return f"cannot write its heartbeat for {s.group} (last written {written}, limit {s.timing.fence_after:g}s)"


def _fenced_by_hand(s: Situation, config: GroupConfig, clusters: Mapping[str, ClusterStatus]) -> Decision:
    """A person fenced this cluster's copy of the group: it goes down and stays down, whatever it owns, and takes
    nothing over, until it is unfenced — as CloudNativePG fences an instance. An owner's group is then served by
    nobody; a planned move may still take it away (its copy is down: it reports drained for a CONSISTENCY move,
    and an UPTIME move's hand-off it ends at once, having nothing to hand back). A switchover scheduled to it
    whose time comes is dropped, saying why (a move to a fenced cluster is refused)."""
    fenced = f"fenced by hand: {reason_of(config.fences[s.me])}"
    where = f"{s.group} at epoch {config.epoch}"
    t = config.transition
    sw = config.schedule
    if sw is not None and sw.target_cluster == s.me and s.schedule_late is not None and t is None:
        return replace(_schedule_due(s, config, clusters, None), role=Role.FENCED)
    if t is not None and handing_off(config) and t.source_cluster == s.me:
        return Decision(
            Action.HAND_OFF,
            Role.FENCED,
            f"{fenced}; {s.me} ends the UPTIME hand-off of {where} to {config.owner} at once: its copy is down, so "
            f"it will not take the group back",
            transition=t,
        )
    if config.owner != s.me:
        return Decision(
            Action.FENCED_BY_HAND,
            Role.FENCED,
            f"{fenced}; {s.me} keeps its copy of {s.group} down and takes nothing over until it is unfenced "
            f"({config.owner} owns it at epoch {config.epoch})",
        )
    if t is not None and draining(config):
        return Decision(
            Action.DRAIN,
            Role.FENCED,
            f"{fenced}; {s.me} keeps its copy of {where} down and reports it drained for failover "
            f"{t.failover_name}: {t.target_cluster} may take the group",
            transition=t,
        )
    moving = ""
    if t is not None and t.source_cluster == s.me and t.epoch == config.epoch:
        moving = f"; failover {t.failover_name} ({t.mode.value}) may move it to {t.target_cluster}"
    return Decision(
        Action.FENCED_BY_HAND,
        Role.FENCED,
        f"{fenced}; {s.me} owns {where} and keeps its copy down: nobody serves the group, and nobody takes it over, "
        f"until {unfence_command(s.group, s.me)}{moving}",
    )


def _as_owner(s: Situation, config: GroupConfig, clusters: Mapping[str, ClusterStatus]) -> Decision:
    where = f"{s.group} at epoch {config.epoch}"
    t = config.transition
    if t is not None and handing_off(config) and t.source_cluster != s.me and t.source_cluster not in s.stale:
        # The new owner of an UPTIME hand-off starts beside the old one only while the old one can stop once it
        # is ready: an old owner that cannot act on its resources (its API server is gone, or takes no writes)
        # would serve on.
        source = clusters.get(t.source_cluster)
        serves = claims_serving(source, t.epoch - 1) or claims_serving(source, config.epoch)
        if serves and not able_to_act(source):
            return Decision(
                Action.WAIT,
                Role.STANDBY,
                f"waiting: {_cannot_act(t.source_cluster, s.group)} once {s.me} is ready; {s.me} serves {where} "
                f"once it can (or {t.source_cluster} takes the group back after {s.timing.transitory:g}s)",
            )
    target_fence = config.fences.get(t.target_cluster) if t is not None else None
    if t is not None and target_fence is not None and t.source_cluster == s.me and t.epoch == config.epoch:
        # Nothing moves to a fenced cluster (the transfer is conditioned on it): waiting would only keep us down.
        return Decision(
            Action.ABANDON,
            Role.PRIMARY,
            f"resuming: failover {t.failover_name} cannot move {where} to {t.target_cluster}, which is fenced by "
            f"hand ({fence_text(target_fence)}); {s.me} withdraws it and stays PRIMARY",
            transition=t,
        )
    if t is not None and draining(config):
        limit = s.timing.transitory
        if s.transition_age is not None and s.transition_age > limit:
            return Decision(
                Action.ABANDON,
                Role.PRIMARY,
                f"resuming: failover {t.failover_name} to {t.target_cluster} did not transfer within {limit:g}s; "
                f"{s.me} withdraws it and stays PRIMARY of {where}",
                transition=t,
            )
        return Decision(
            Action.DRAIN,
            Role.STANDBY,
            f"draining for failover {t.failover_name}: {s.me} stops serving {where} for {t.target_cluster} "
            f"({t.mode.value}) and waits for the transfer",
            transition=t,
        )
    if s.local_role == Role.PRIMARY and s.proved:
        if s.maintenance:
            return Decision(
                Action.HOLD,
                Role.PRIMARY,
                f"maintenance: {s.me} holds {where} as it is ({s.group} is suspended): it neither fences itself "
                f"nor changes its resources, and nobody takes the group over",
            )
        obsolete = _schedule_obsolete(s, config)
        if obsolete is not None:
            return obsolete
        return Decision(Action.NONE, Role.PRIMARY, f"no action: I am {s.me}, PRIMARY of {where}")
    if s.local_role == Role.PRIMARY:
        return Decision(
            Action.PROMOTE,
            Role.PRIMARY,
            f"promoting: {s.me} found its resources serving when it started and proves it still owns {where}",
        )
    why = "DynamoDB is reachable again and " if s.local_role == Role.FENCED else ""
    if s.local_role == Role.FENCED and s.unfenced:
        why = "it was unfenced and "
    return Decision(Action.PROMOTE, Role.PRIMARY, f"promoting: {why}{s.me} owns {where}")


def _as_other(s: Situation, config: GroupConfig, clusters: Mapping[str, ClusterStatus]) -> Decision:
    where = f"{s.group} at epoch {config.epoch}"
    t = config.transition
    limit = s.timing.transitory

    # An UPTIME hand-off from me: I serve until the new owner is ready, or take ownership back.
    if t is not None and handing_off(config) and t.source_cluster == s.me and s.local_role == Role.PRIMARY:
        if serving(clusters.get(config.owner), config.epoch) and s.my_health == Health.UNKNOWN:
            return Decision(
                Action.NONE,
                Role.PRIMARY,
                f"handing over: {config.owner} is ready as the owner of {where}, but {s.me} cannot act on its "
                f"resources to stop serving them; it ends the hand-off once it can",
            )
        if serving(clusters.get(config.owner), config.epoch):
            return Decision(
                Action.HAND_OFF,
                Role.STANDBY,
                f"demoting: {config.owner} is ready as the owner of {where} (UPTIME hand-off complete)",
                transition=t,
            )
        if s.transition_age is not None and s.transition_age > limit:
            return Decision(
                Action.HAND_BACK,
                Role.PRIMARY,
                f"taking {s.group} back: {config.owner} has not reported ready within {limit:g}s of the UPTIME "
                f"hand-off; {s.me} serves on and claims it at epoch {config.epoch + 1}",
                move=Move(config.epoch, {config.owner: StatusCheck(not_ready=True)}, transition=t),
                transition=t,
            )
        return Decision(
            Action.NONE,
            Role.PRIMARY,
            f"handing over: {config.owner} owns {where} and promotes first (UPTIME); {s.me} serves until it is ready",
        )

    cause, kind = _takeover_cause(s, config, clusters)

    # A transition to me, not transferred yet: I am the one to move ownership (unless its source died).
    to_me = t is not None and t.target_cluster == s.me and t.source_cluster == config.owner
    if t is not None and to_me and t.epoch == config.epoch and (kind != TakeoverCause.STALE or t.force):
        return _transfer(s, config, clusters, t)

    if s.local_role in (Role.PRIMARY, Role.FENCED, None):
        verb = "demoting" if s.local_role == Role.PRIMARY else "standing by"
        return Decision(Action.DEMOTE, Role.STANDBY, f"{verb}: {config.owner} owns {where}")

    # A switchover scheduled to me whose time has come: I ask for the move (or drop it, saying why).
    sw = config.schedule
    if sw is not None and sw.target_cluster == s.me and s.schedule_late is not None and t is None:
        return _schedule_due(s, config, clusters, cause)

    # A standby decides whether the owner is gone.
    standing = f"I am {s.me}, STANDBY of {s.group}; {config.owner} is PRIMARY at epoch {config.epoch}"
    owner_fence = config.fences.get(config.owner)
    if owner_fence is not None:
        return _standby(
            Action.NONE,
            f"no action: I am {s.me}, STANDBY of {s.group}; {config.owner} owns it at epoch {config.epoch} and is "
            f"fenced by hand ({fence_text(owner_fence)}): nobody takes the group over until it is unfenced",
        )
    if cause is None or kind is None:
        return _standby(Action.NONE, f"no action: {standing}")
    if config.suspended:
        why = f" ({config.suspension_reason})" if config.suspension_reason else ""
        return _standby(Action.NONE, f"no action: {cause}, but {s.group} is suspended{why}: no automatic failover")
    owner_status = clusters.get(config.owner)
    if owner_status is not None and owner_status.maintenance:
        return _standby(
            Action.NONE,
            f"no action: {cause}, but {config.owner} last said it holds {s.group} in maintenance (it does not fence "
            f"itself): nobody takes the group over until it says otherwise",
        )
    if not s.auto_failover:
        return _standby(Action.NONE, f"no action: {cause}, but autoFailover is off for {s.group}")
    fresh = s.transition_age is None or s.transition_age <= limit
    if t is not None and fresh and kind != TakeoverCause.STALE:
        return _standby(Action.NONE, f"no action: {cause}, but failover {t.failover_name} is in progress")
    if s.my_health != Health.OK:
        return _standby(
            Action.NONE, f"no action: {cause}, but {s.me} is {s.my_health.value} itself and cannot take over"
        )
    checks = {config.owner: _owner_check(kind, clusters.get(config.owner))}
    if t is not None and handing_off(config) and t.source_cluster != s.me:
        # The old owner of an UPTIME hand-off serves on: nobody else may start until it has stopped too.
        old_owner = t.source_cluster
        if s.source_silent_for is None or s.source_silent_for <= s.timing.heartbeat:
            return _standby(
                Action.NONE,
                f"no action: {cause}, but {old_owner} still serves {s.group} (UPTIME hand-off to {config.owner}); "
                f"it takes the group back if {config.owner} is not ready within {limit:g}s",
            )
        source = clusters.get(old_owner)
        source_kind = TakeoverCause.STALE if claims_serving(source, config.epoch) else TakeoverCause.NOT_SERVING
        checks[old_owner] = _owner_check(source_kind, source)
    order = takeover_order(_eligible(s, config, clusters), s.priority)
    rank = order.index(s.me)
    grace = takeover_grace(rank, s.timing.interval)
    waited = s.takeover_ready_for or 0.0
    if waited < grace:
        return _standby(
            Action.WAIT, f"waiting: {cause}; {order[0]} has priority, {s.me} contends in {grace - waited:.1f}s"
        )
    if kind == TakeoverCause.UNHEALTHY:
        return _standby(
            Action.ASK_TO_DRAIN,
            f"asking {config.owner} to drain: {cause}; {s.me} takes over {s.group} once it has stopped serving",
        )
    return Decision(
        Action.TAKE_OVER,
        Role.STANDBY,  # promoted only after the takeover and a proof of ownership
        f"taking over: {cause}; {s.me} claims {s.group} at epoch {config.epoch + 1}",
        move=Move(config.epoch, checks, cause=kind),
    )


def _transfer(s: Situation, config: GroupConfig, clusters: Mapping[str, ClusterStatus], t: Transition) -> Decision:
    """The target of a requested move, while its source still owns the group: transfer, or wait and say why."""
    where = f"{s.group} at epoch {config.epoch}"
    owner = config.owner
    source = clusters.get(owner)
    elsewhere = _serving_elsewhere(s, config, clusters)
    if elsewhere is not None:
        # Neither mode nor force lets a move overlap a third cluster that has not stopped serving (an old owner
        # whose scale-down its API server refused, say): only the source's overlap is ever intended.
        return _standby(
            Action.WAIT,
            f"waiting: {elsewhere} still reports serving {s.group}; {s.me} takes it for failover "
            f"{t.failover_name} once it has stopped",
        )
    forced_now = t.force and s.transition_age is not None and s.transition_age > s.timing.force_wait
    if t.mode == FailoverMode.UPTIME:
        # The source serves on beside us until we are ready, so it must be able to stop then: able to act on its
        # resources, and following the move (it has seen it: it will see us ready). Force asks for neither.
        if t.force or (able_to_act(source) and source is not None and source.following == t.failover_name):
            return _moving(
                t,
                config,
                {} if t.force else {owner: StatusCheck(able=True, following=t.failover_name)},
                f"transferring: {s.me} takes {where} for failover {t.failover_name} "
                f"(UPTIME: {owner} serves until {s.me} is ready)",
            )
        if not able_to_act(source):
            return _standby(Action.WAIT, f"waiting: {_cannot_act(owner, s.group)}; {s.me} takes it once {owner} can")
        return _standby(
            Action.WAIT,
            f"waiting: {owner} has not said yet that it follows failover {t.failover_name} (UPTIME: it must see "
            f"{s.me} ready to stop serving {where})",
        )
    if drained(source, config.epoch):
        return _moving(
            t,
            config,
            {owner: StatusCheck(drained=True)},
            f"transferring: {owner} has stopped serving {where} for failover {t.failover_name}; {s.me} takes it",
        )
    if forced_now:
        # The owner hears of the request with the requester's next heartbeat and acts on its next tick; one that
        # answers within the force wait drains before the target scales up. One that does not: what force gives up.
        return _moving(
            t,
            config,
            {},
            f"transferring (forced): {owner} did not confirm it stopped serving {where} "
            f"within {s.timing.force_wait:g}s; {s.me} takes it for failover {t.failover_name}",
            unconfirmed=True,
        )
    if not t.force and source is not None and not able_to_act(source):
        return _standby(Action.WAIT, f"waiting: {_cannot_act(owner, s.group)}; it drains once it can")
    return _standby(Action.WAIT, f"waiting: {owner} drains {where} for failover {t.failover_name}")


def _schedule_due(
    s: Situation, config: GroupConfig, clusters: Mapping[str, ClusterStatus], cause: str | None
) -> Decision:
    from .schedule import due  # (rules/schedule.py judges with requests.refusal, which imports this module)

    return due(s, config, clusters, cause)


def _schedule_obsolete(s: Situation, config: GroupConfig) -> Decision | None:
    from .schedule import obsolete

    return obsolete(s, config)


def _cannot_act(cluster: str, group: str) -> str:
    return f"{cluster} cannot act on its resources for {group} (health UNKNOWN), so it could not stop serving them"


def _moving(
    t: Transition, config: GroupConfig, checks: Mapping[str, StatusCheck], reason: str, *, unconfirmed: bool = False
) -> Decision:
    move = Move(config.epoch, checks, transition=t, unconfirmed=unconfirmed)
    return Decision(Action.TRANSFER, Role.STANDBY, reason, move=move, transition=t)


def _standby(action: Action, reason: str) -> Decision:
    return Decision(action, Role.STANDBY, reason)


def _owner_check(kind: TakeoverCause, status: ClusterStatus | None) -> StatusCheck:
    """What a takeover re-checks of a cluster judged gone: unchanged numbers (stale), or still not serving."""
    if kind == TakeoverCause.STALE and status is not None:
        return StatusCheck(heartbeat_seq=status.heartbeat_seq, liveness_seq=status.liveness_seq or 0)
    return StatusCheck(not_serving=True)


def _serving_elsewhere(s: Situation, config: GroupConfig, clusters: Mapping[str, ClusterStatus]) -> str | None:
    """A cluster, neither the owner nor me, whose status still says PRIMARY (at any epoch) while its heartbeat
    moves: it has not confirmed that it stopped serving. A silent one (past the timeout) does not hold a move
    up: its watchdog or its own fencing has stopped it by then."""
    for name, status in sorted(clusters.items()):
        if name in (s.me, config.owner) or (name in s.stale and not status.maintenance):
            continue  # (one that held the group in maintenance does not fence itself: silent, it may still serve)
        if status.state == ClusterState.PRIMARY:
            return name
    return None


def draining(config: GroupConfig) -> bool:
    """A CONSISTENCY transition asks the current owner to stop serving."""
    t = config.transition
    return (
        t is not None
        and t.mode == FailoverMode.CONSISTENCY
        and t.source_cluster == config.owner
        and t.epoch == config.epoch
    )


def uptime_source(config: GroupConfig | None, me: str) -> bool:
    """`me` is the source of an UPTIME move of the group, asked for or under way: its target takes the group
    and starts beside it without waiting for it."""
    t = config.transition if config is not None else None
    if t is None or t.mode != FailoverMode.UPTIME or t.source_cluster != me:
        return False
    asked = config is not None and config.owner == me and t.epoch == config.epoch
    return asked or (config is not None and handing_off(config))


def uptime_party(config: GroupConfig | None, me: str) -> bool:
    """`me` serves beside another cluster by an UPTIME move of the group: its source (rules: uptime_source), or the
    new owner while the hand-off lasts (the source may take the group back if it is not ready in time)."""
    if uptime_source(config, me):
        return True
    return config is not None and config.owner == me and handing_off(config)


def handing_off(config: GroupConfig) -> bool:
    """An UPTIME transition moved ownership; the old owner serves until the new one is ready."""
    t = config.transition
    return (
        t is not None and t.mode == FailoverMode.UPTIME and t.target_cluster == config.owner and t.epoch == config.epoch
    )


def _takeover_cause(
    s: Situation, config: GroupConfig, clusters: Mapping[str, ClusterStatus]
) -> tuple[str | None, TakeoverCause | None]:
    """Why the owner is gone (for people), and what the takeover must still find true of its records.

    The owner must show, afresh, that it serves: a new heartbeat saying PRIMARY at the epoch, at least once a
    heartbeat timeout. Silent that long while its status still says so: STALE (the takeover requires its
    numbers unchanged). Silent while it says anything else — FENCED, drained, or nothing at all: NOT_SERVING
    (the takeover requires it still not to say PRIMARY at the epoch, which only a proof writes). An owner
    reporting ERROR, observed, for unhealthyPrimary: UNHEALTHY (it is asked to drain first)."""
    owner = config.owner
    timing = s.timing
    status = clusters.get(owner)
    silent = s.owner_silent_for
    if silent is not None and silent > timing.heartbeat:
        # A fenced listing in its heartbeat may be older than a proof that just landed (a proof moves the
        # numbers, not the listing): only numbers seen unchanged for the whole timeout make it "stale" then.
        if claims_serving(status, config.epoch) and (not s.owner_fenced or owner in s.stale):
            return f"{owner}'s heartbeat has not changed for over {timing.heartbeat:g}s", TakeoverCause.STALE
        if s.owner_fenced:
            return f"{owner} has fenced {s.group} for over {timing.heartbeat:g}s", TakeoverCause.NOT_SERVING
        what = "has never reported" if status is None else f"reports {status.state.value}"
        reason = f"{owner} {what}, not serving at epoch {config.epoch}, for over {timing.heartbeat:g}s"
        return reason, TakeoverCause.NOT_SERVING
    errored_for = s.owner_error_for
    erroring = status is not None and status.health == Health.ERROR and errored_for is not None
    if erroring and errored_for is not None and errored_for > timing.unhealthy:
        reason = f"{owner} has reported ERROR for {errored_for:.0f}s (limit {timing.unhealthy:g}s)"
        return reason, TakeoverCause.UNHEALTHY
    return None, None


def eligible(status: ClusterStatus | None, epoch: int) -> bool:
    """A standby that could take over: it reports STANDBY, healthy, up to date with `epoch`, and is not leaving."""
    return (
        status is not None
        and status.health == Health.OK
        and status.state == ClusterState.STANDBY
        and status.observed_epoch == epoch
        and not status.leaving
    )


def _eligible(s: Situation, config: GroupConfig, clusters: Mapping[str, ClusterStatus]) -> set[str]:
    """Standbys that could take over, heartbeating — and always me (I know I am)."""
    return {s.me} | {
        name
        for name, status in clusters.items()
        if name != config.owner and name not in s.stale and eligible(status, config.epoch) and name not in config.fences
    }
