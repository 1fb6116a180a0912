"""The rules of failover, automatic and planned, as one pure function: a Situation in, a Decision out.

Read top to bottom like Patroni's HA loop: the first rule that applies decides, and every decision carries a
one-line reason that is logged and posted as an event when it changes. No I/O, no clocks: the durations it
needs were measured by the caller on its own monotonic clock.

The promise the rules keep together with the store's transactions: **at no moment do two clusters serve a
group**. How, in one paragraph:

- A cluster scales up only after it has *proved* ownership: a transaction that writes its status PRIMARY at
  the epoch, conditioned on the config naming it owner at that epoch (PROMOTE). Every takeover is conditioned
  on what the owner's status says (its heartbeat unchanged, or not PRIMARY at the epoch), so a proof and a
  takeover can never both succeed.
- An owner that cannot write its heartbeat for a fraction of the heartbeat timeout scales itself down (FENCE)
  — from when its last good heartbeat was *sent*, on its own schedule, whatever its DynamoDB calls are doing —
  before any standby's wait of a whole timeout is over. A watchdog process does the same if the operator stops.
- Ownership moves by transitions that every cluster's tick advances (Patroni's switchover key). CONSISTENCY:
  the owner drains and reports FAILOVER; only then does the target transfer ownership, conditioned on the
  transition being there and the owner still drained; an owner that gives up removes the transition first.
  UPTIME: the target transfers and promotes while the owner serves on; the owner stops once the target is
  ready, or takes ownership back if it never is. Force: the target transfers after one heartbeat interval
  even if the owner has not drained (the one move that may overlap: see README).
- A standby takes over when the owner has not shown, afresh, that it serves (a new heartbeat saying PRIMARY
  at the current epoch) for the heartbeat timeout: it is silent, fenced, or cannot promote. An owner that
  reports ERROR (observed, not merely unobservable: UNKNOWN) for unhealthyPrimary is asked to drain first, as
  for a planned failover — so even then nobody serves twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ..model import ClusterState, ClusterStatus, FailoverMode, GroupConfig, Health, Role, Transition


class Action(StrEnum):
    NONE = "none"  # already where the config says: keep converging, change nothing
    PROMOTE = "promote"  # prove ownership, then scale up
    DEMOTE = "demote"  # to standby
    FENCE = "fence"  # down, because ownership cannot be proved in time
    DRAIN = "drain"  # down for a transition, then report FAILOVER
    ABANDON = "abandon"  # remove a transition that did not transfer in time, then (proved) serve again
    TRANSFER = "transfer"  # the target of a transition moves ownership to itself, then promotes
    HAND_BACK = "hand-back"  # UPTIME: the new owner never became ready: take ownership back
    HAND_OFF = "hand-off"  # UPTIME: the new owner is ready: remove the hand-off and stop serving
    TAKE_OVER = "take-over"  # the owner is gone: claim the group, then promote
    ASK_TO_DRAIN = "ask-to-drain"  # the owner reports ERROR: ask it to drain, as a planned failover would
    WAIT = "wait"  # would act, but yields (to a preferred standby, or to the owner draining)


@dataclass(frozen=True)
class Decision:
    action: Action
    role: Role | None
    """The role to converge local resources to (None: touch nothing — we have not read the config yet)."""
    reason: str
    epoch: int | None = None
    """For TAKE_OVER, TRANSFER, HAND_BACK: the epoch the transaction is conditioned on."""
    cause: str | None = None
    """For TAKE_OVER: "stale" (heartbeat unchanged) or "not serving" (what the transaction re-checks)."""
    source_cause: str | None = None
    """For TAKE_OVER during an UPTIME hand-off: what the transaction re-checks of the hand-off's source (which
    served on), as `cause` does of the owner."""
    transition: Transition | None = None
    """For DRAIN, ABANDON, TRANSFER, HAND_BACK, HAND_OFF: the transition acted on."""
    forced: bool = False
    """For TRANSFER: the source did not confirm it drained (force)."""


@dataclass(frozen=True)
class Timing:
    """A group's durations as this cluster must apply them right now (see `effective_timing`)."""

    heartbeat: float  # a standby's wait before the owner is stale
    fence_after: float  # an owner's limit without a written heartbeat
    unhealthy: float
    transitory: float
    interval: float


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
    config: GroupConfig | None = None
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


def decide(s: Situation) -> Decision:
    # 1. An owner that cannot prove it still owns the group goes down before anyone else may come up.
    silent = s.since_heartbeat_write is None or s.since_heartbeat_write > s.timing.fence_after
    if s.local_role in (Role.PRIMARY, Role.FENCED) and silent:
        written = "never" if s.since_heartbeat_write is None else f"{s.since_heartbeat_write:.1f}s ago"
        return Decision(
            Action.FENCE if s.local_role == Role.PRIMARY else Action.NONE,
            Role.FENCED,
            f"fencing: {s.me} cannot write its heartbeat for {s.group} (last written {written}, "
            f"limit {s.timing.fence_after:g}s) and stays down until it can prove ownership",
        )
    if not s.store_ok or s.config is None:
        role = s.local_role
        kept = f"keeps {s.group} {role.value}" if role else f"has not touched {s.group} yet"
        return Decision(
            Action.NONE,
            role,
            f"no action: cannot read {s.group} from DynamoDB; {s.me} {kept} (an owner fences itself after "
            f"{s.timing.fence_after:g}s without a heartbeat)",
        )
    config = s.config
    if config.owner == s.me:
        return _as_owner(s, config)
    return _as_other(s, config, s.clusters or {})


def _as_owner(s: Situation, config: GroupConfig) -> Decision:
    where = f"{s.group} at epoch {config.epoch}"
    t = config.transition
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
    if s.local_role == Role.PRIMARY:
        return Decision(Action.NONE, Role.PRIMARY, f"no action: I am {s.me}, PRIMARY of {where}")
    why = "DynamoDB is reachable again and " if s.local_role == Role.FENCED else ""
    return Decision(Action.PROMOTE, Role.PRIMARY, f"promoting: {why}{s.me} owns {where}")


def _as_other(s: Situation, config: GroupConfig, clusters: Mapping[str, ClusterStatus]) -> Decision:
    where = f"{s.group} at epoch {config.epoch}"
    t = config.transition
    limit = s.timing.transitory

    # An UPTIME hand-off from me: I serve until the new owner is ready, or take ownership back.
    if t is not None and handing_off(config) and t.source_cluster == s.me and s.local_role == Role.PRIMARY:
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
                epoch=config.epoch,
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
    if t is not None and to_me and t.epoch == config.epoch and (kind != "stale" or t.force):
        elsewhere = _serving_elsewhere(s, config, clusters)
        if elsewhere is not None:
            # Neither mode nor force lets a move overlap a third cluster that has not stopped serving (an old
            # owner whose scale-down its API server refused, say): only the source's overlap is ever intended.
            return _standby(
                s,
                Action.WAIT,
                f"waiting: {elsewhere} still reports serving {s.group}; {s.me} takes it for failover "
                f"{t.failover_name} once it has stopped",
            )
        if t.mode == FailoverMode.UPTIME:
            return _transfer(
                t,
                config,
                f"transferring: {s.me} takes {where} for failover {t.failover_name} "
                f"(UPTIME: {config.owner} serves until {s.me} is ready)",
            )
        source = clusters.get(config.owner)
        if drained(source, config.epoch):
            return _transfer(
                t,
                config,
                f"transferring: {config.owner} has stopped serving {where} for failover "
                f"{t.failover_name}; {s.me} takes it",
            )
        # Force waits two intervals: the owner learns of the request with the requester's next heartbeat and
        # acts on its next tick; an owner that answers within that drains before the target scales up.
        if t.force and s.transition_age is not None and s.transition_age > 2 * s.timing.interval:
            return _transfer(
                t,
                config,
                f"transferring (forced): {config.owner} did not confirm it stopped serving {where} "
                f"within {2 * s.timing.interval:g}s; {s.me} takes it for failover {t.failover_name}",
                forced=True,
            )
        return _standby(s, Action.WAIT, f"waiting: {config.owner} drains {where} for failover {t.failover_name}")

    if s.local_role in (Role.PRIMARY, Role.FENCED, None):
        verb = "demoting" if s.local_role == Role.PRIMARY else "standing by"
        return Decision(Action.DEMOTE, Role.STANDBY, f"{verb}: {config.owner} owns {where}")

    # A standby decides whether the owner is gone.
    standing = f"I am {s.me}, STANDBY of {s.group}; {config.owner} is PRIMARY at epoch {config.epoch}"
    if cause is None:
        return _standby(s, Action.NONE, f"no action: {standing}")
    if config.suspended:
        why = f" ({config.suspension_reason})" if config.suspension_reason else ""
        return _standby(s, Action.NONE, f"no action: {cause}, but {s.group} is suspended{why}: no automatic failover")
    if not s.auto_failover:
        return _standby(s, Action.NONE, f"no action: {cause}, but autoFailover is off for {s.group}")
    fresh = s.transition_age is None or s.transition_age <= limit
    if t is not None and fresh and kind != "stale":
        return _standby(s, Action.NONE, f"no action: {cause}, but failover {t.failover_name} is in progress")
    if s.my_health != Health.OK:
        return _standby(
            s, Action.NONE, f"no action: {cause}, but {s.me} is {s.my_health.value} itself and cannot take over"
        )
    source_cause = None
    if t is not None and handing_off(config) and t.source_cluster != s.me:
        # The old owner of an UPTIME hand-off serves on: nobody else may start until it has stopped too.
        old_owner = t.source_cluster
        if s.source_silent_for is None or s.source_silent_for <= s.timing.heartbeat:
            return _standby(
                s,
                Action.NONE,
                f"no action: {cause}, but {old_owner} still serves {s.group} (UPTIME hand-off to {config.owner}); "
                f"it takes the group back if {config.owner} is not ready within {limit:g}s",
            )
        source_cause = "stale" if claims_serving(clusters.get(old_owner), config.epoch) else "not serving"
    order = takeover_order(_eligible(s, config, clusters), s.priority)
    rank = order.index(s.me)
    grace = takeover_grace(rank, s.timing.interval)
    waited = s.takeover_ready_for or 0.0
    if waited < grace:
        return _standby(
            s, Action.WAIT, f"waiting: {cause}; {order[0]} has priority, {s.me} contends in {grace - waited:.1f}s"
        )
    if kind == "unhealthy":
        return _standby(
            s,
            Action.ASK_TO_DRAIN,
            f"asking {config.owner} to drain: {cause}; {s.me} takes over {s.group} once it has stopped serving",
        )
    return Decision(
        Action.TAKE_OVER,
        Role.STANDBY,  # promoted only after the takeover and a proof of ownership
        f"taking over: {cause}; {s.me} claims {s.group} at epoch {config.epoch + 1}",
        epoch=config.epoch,
        cause=kind,
        source_cause=source_cause,
    )


def _serving_elsewhere(s: Situation, config: GroupConfig, clusters: Mapping[str, ClusterStatus]) -> str | None:
    """A cluster, neither the owner nor me, whose status still says PRIMARY (at any epoch) while its heartbeat
    moves: it has not confirmed that it stopped serving. A silent one (past the timeout) does not hold a move
    up: its watchdog or its own fencing has stopped it by then."""
    for name, status in sorted(clusters.items()):
        if name in (s.me, config.owner) or name in s.stale:
            continue
        if status.state == ClusterState.PRIMARY:
            return name
    return None


def _transfer(t: Transition, config: GroupConfig, reason: str, *, forced: bool = False) -> Decision:
    return Decision(Action.TRANSFER, Role.STANDBY, reason, epoch=config.epoch, transition=t, forced=forced)


def _standby(s: Situation, action: Action, reason: str) -> Decision:
    return Decision(action, Role.STANDBY, reason)


def draining(config: GroupConfig) -> bool:
    """A CONSISTENCY transition asks the current owner to stop serving."""
    t = config.transition
    return (
        t is not None
        and t.mode == FailoverMode.CONSISTENCY
        and t.source_cluster == config.owner
        and t.epoch == config.epoch
    )


def handing_off(config: GroupConfig) -> bool:
    """An UPTIME transition moved ownership; the old owner serves until the new one is ready."""
    t = config.transition
    return (
        t is not None and t.mode == FailoverMode.UPTIME and t.target_cluster == config.owner and t.epoch == config.epoch
    )


def serving(status: ClusterStatus | None, epoch: int) -> bool:
    """The cluster reports itself PRIMARY, healthy and up to date with `epoch`: it serves the group."""
    return (
        status is not None
        and status.state == ClusterState.PRIMARY
        and status.health == Health.OK
        and status.observed_epoch == epoch
    )


def claims_serving(status: ClusterStatus | None, epoch: int) -> bool:
    """The cluster reports PRIMARY at `epoch` (healthy or not): what only a proof of ownership writes."""
    return status is not None and status.state == ClusterState.PRIMARY and status.observed_epoch == epoch


def drained(status: ClusterStatus | None, epoch: int) -> bool:
    """The cluster reports that it stopped serving at `epoch` for a transition."""
    return status is not None and status.state == ClusterState.FAILOVER and status.observed_epoch == epoch


def reported_state(
    role: Role | None,
    draining_me: bool,
    down: bool | None,
    previous: ClusterState,
    scaled_down: bool = False,
) -> ClusterState:
    """What this cluster's heartbeat says: the truth about its resources, not its intentions.

    A cluster whose workloads are scaled up reports PRIMARY whatever it is converging to (a standby that has
    not scaled down yet serves). Once they are scaled to zero (`scaled_down`) it no longer serves; while pods
    still terminate it reports its own role (STANDBY, FENCED), except an owner draining for a transition,
    which reports PRIMARY until no pod runs: FAILOVER (drained) means confirmed down, and the transfer waits
    for it. `down` None: the resources could not be observed: the previous report stands.
    """
    if role == Role.PRIMARY:
        return ClusterState.PRIMARY
    if down is None:
        return previous
    if down:
        if draining_me:
            return ClusterState.FAILOVER
    elif draining_me or not scaled_down:
        return ClusterState.PRIMARY
    return ClusterState.FENCED if role == Role.FENCED else ClusterState.STANDBY


def recalled_role(managed_roles: Iterable[str | None]) -> Role | None:
    """A restarted operator that cannot read DynamoDB: what its resources say it was doing.

    Resources it last converged PRIMARY: it may have been the owner, and standbys may be taking over right now
    (its heartbeat stopped while it restarted): it counts as a PRIMARY that cannot prove ownership, and fences.
    FENCED: it stays down. Nothing of ours on them: nothing is touched before the config has been read."""
    roles = set(managed_roles)
    if Role.PRIMARY.value in roles:
        return Role.PRIMARY
    if Role.FENCED.value in roles:
        return Role.FENCED
    return None


def effective_timing(
    config: GroupConfig | None,
    fallback_heartbeat: float,
    fraction: float,
    interval: float,
    change_seen_for: float | None,
) -> Timing:
    """The durations to apply now. Right after the heartbeat timeout changed (the config keeps the timeouts
    from before), nobody's wait may shorten before the old timeout has passed: standbys wait max(old, new) and
    owners fence on min(old, new) until this cluster has seen the change for the old timeout."""
    if config is None:
        h = fallback_heartbeat
        return Timing(h, fraction * h, 60.0, 300.0, interval)
    new = config.timeouts
    old = config.timeouts_before
    wait, fence = new.heartbeat, new.heartbeat
    if old is not None and (change_seen_for is None or change_seen_for <= old.heartbeat):
        wait, fence = max(old.heartbeat, new.heartbeat), min(old.heartbeat, new.heartbeat)
    return Timing(wait, fraction * fence, new.unhealthy_primary, new.transitory_state, interval)


PRIORITY_MARGIN_SECONDS = 1.0


def takeover_grace(rank: int, heartbeat_interval: float) -> float:
    """How long the standby at `rank` waits, after it judges the owner gone, before it contends.

    Each standby starts its staleness clock when it first sees the owner's last heartbeat, which is up to one
    interval after the write, and notices the timeout at its next tick, up to one more interval later; so two
    standbys judge the same owner stale up to two intervals apart. Each rank therefore yields two intervals,
    plus a margin for the tick itself (a DynamoDB round trip, a busy event loop): then the preferred standby
    wins whenever it is working, and a later one still steps in when it is not.
    """
    return rank * (2 * heartbeat_interval + max(heartbeat_interval, PRIORITY_MARGIN_SECONDS))


def takeover_order(candidates: Iterable[str], priority: Iterable[str]) -> list[str]:
    """Who contends first: clusters in `priority` order, then the others by name."""
    candidates = set(candidates)
    ranked = [c for c in dict.fromkeys(priority) if c in candidates]
    return ranked + sorted(candidates - set(ranked))


def _takeover_cause(
    s: Situation, config: GroupConfig, clusters: Mapping[str, ClusterStatus]
) -> tuple[str | None, str | None]:
    """Why the owner is gone, and what the takeover transaction must still find true of its status.

    The owner must show, afresh, that it serves: a new heartbeat saying PRIMARY at the epoch, at least once a
    heartbeat timeout. Silent that long while its status still says so: "stale" (the transaction requires its
    heartbeat unchanged). Silent while it says anything else — FENCED, drained, or nothing at all: "not
    serving" (the transaction requires it still not to say PRIMARY at the epoch, which only a proof writes).
    An owner reporting ERROR, observed, for unhealthyPrimary: "unhealthy" (it is asked to drain first)."""
    owner = config.owner
    timing = s.timing
    status = clusters.get(owner)
    silent = s.owner_silent_for
    if silent is not None and silent > timing.heartbeat:
        # A fenced listing in its heartbeat may be older than a proof that just landed (a proof moves the
        # numbers, not the listing): only numbers seen unchanged for the whole timeout make it "stale" then.
        if claims_serving(status, config.epoch) and (not s.owner_fenced or owner in s.stale):
            return f"{owner}'s heartbeat has not changed for over {timing.heartbeat:g}s", "stale"
        if s.owner_fenced:
            return f"{owner} has fenced {s.group} for over {timing.heartbeat:g}s", "not serving"
        what = "has never reported" if status is None else f"reports {status.state.value}"
        return f"{owner} {what}, not serving at epoch {config.epoch}, for over {timing.heartbeat:g}s", "not serving"
    errored_for = s.owner_error_for
    erroring = status is not None and status.health == Health.ERROR and errored_for is not None
    if erroring and errored_for is not None and errored_for > timing.unhealthy:
        return f"{owner} has reported ERROR for {errored_for:.0f}s (limit {timing.unhealthy:g}s)", "unhealthy"
    return None, None


def _eligible(s: Situation, config: GroupConfig, clusters: Mapping[str, ClusterStatus]) -> set[str]:
    """Standbys that could take over: healthy, heartbeating, up to date — and always me (I know I am)."""
    eligible = {s.me}
    for name, status in clusters.items():
        if name == config.owner or name in s.stale:
            continue
        up_to_date = status.observed_epoch == config.epoch
        if status.health == Health.OK and status.state == ClusterState.STANDBY and up_to_date:
            eligible.add(name)
    return eligible
