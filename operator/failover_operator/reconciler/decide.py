"""The rules of failover, as one pure function: a Situation in, a Decision out.

Read top to bottom like Patroni's HA loop: the first rule that applies decides, and every decision carries
a one-line reason that is logged every tick and posted as an event when it changes. No I/O, no clocks: the
durations it needs were measured by the caller on its own monotonic clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ..store.records import ClusterState, ClusterStatus, FailoverMode, GroupConfig, Health


class LocalRole(StrEnum):
    """What this cluster's copy of the group's resources is converged to."""

    PRIMARY = "PRIMARY"
    STANDBY = "STANDBY"
    FENCED = "FENCED"  # demoted by itself because it could not prove it still owns the group


class Action(StrEnum):
    NONE = "none"  # already where the config says: keep converging, change nothing
    PROMOTE = "promote"
    DEMOTE = "demote"
    FENCE = "fence"
    DEMOTE_FOR_TRANSITION = "demote-for-transition"
    RESUME_AFTER_TRANSITION = "resume-after-transition"
    TAKE_OVER = "take-over"
    WAIT = "wait"  # would take over, but yields to a higher-priority standby for now


@dataclass(frozen=True)
class Decision:
    action: Action
    role: LocalRole | None
    """The role to converge local resources to (None: touch nothing — we have not read the config yet)."""
    state: ClusterState
    """What this cluster reports in its heartbeat once converged."""
    reason: str
    takeover_epoch: int | None = None
    """For TAKE_OVER: the epoch the takeover is conditioned on."""
    takeover_cause: str | None = None
    """For TAKE_OVER: "stale" or "unhealthy" (what the transaction re-checks on the owner's record)."""
    clear_transition: bool = False
    """The config's transition is done with (an expired demotion, a completed hand-off): remove it."""


@dataclass(frozen=True)
class Situation:
    """Everything the rules look at, gathered and measured by the caller."""

    me: str
    group: str  # "namespace/name", for reasons
    local_role: LocalRole | None  # None: never converged since start
    my_health: Health
    store_ok: bool  # this tick's DynamoDB read succeeded
    since_heartbeat_write: float | None  # seconds since our last successful heartbeat write (None: never)
    fence_after: float  # seconds without a successful heartbeat after which an owner fences itself
    config: GroupConfig | None = None
    clusters: Mapping[str, ClusterStatus] | None = None
    stale: frozenset[str] = frozenset()  # clusters whose heartbeat we have seen unchanged past the timeout
    owner_error_for: float | None = None  # how long we have seen the owner report ERROR (None: it doesn't)
    transition_age: float | None = None  # how long we have seen the config's current transition
    takeover_ready_for: float | None = None  # how long a takeover cause has held, as we saw it
    auto_failover: bool = True
    priority: tuple[str, ...] = ()
    heartbeat_interval: float = 5.0


def decide(s: Situation) -> Decision:
    # 1. Fencing comes first: an owner that cannot prove it still owns the group must go down before
    #    anyone else may come up. Standbys wait the full heartbeat timeout; an owner waits only a fraction.
    silent = s.since_heartbeat_write is None or s.since_heartbeat_write > s.fence_after
    if s.local_role in (LocalRole.PRIMARY, LocalRole.FENCED) and silent:
        written = "never" if s.since_heartbeat_write is None else f"{s.since_heartbeat_write:.1f}s ago"
        return Decision(
            Action.FENCE if s.local_role == LocalRole.PRIMARY else Action.NONE,
            LocalRole.FENCED,
            ClusterState.FENCED,
            f"fencing: {s.me} cannot write its heartbeat for {s.group} (last written {written}, "
            f"limit {s.fence_after:g}s) and stays down until it can prove ownership",
        )
    if not s.store_ok or s.config is None:
        role = s.local_role
        kept = f"keeps {s.group} {role.value}" if role else f"has not touched {s.group} yet"
        return Decision(
            Action.NONE,
            role,
            _state(role),
            f"no action: cannot read {s.group} from DynamoDB; {s.me} {kept} (an owner fences itself after "
            f"{s.fence_after:g}s without a heartbeat)",
        )

    config = s.config
    clusters = s.clusters or {}
    where = f"{s.group} at epoch {config.epoch}"

    # 2. I own the group.
    t = config.transition
    if config.owner == s.me:
        if t is not None and draining(config):
            limit = config.timeouts.transitory_state
            if s.transition_age is not None and s.transition_age > limit:
                return Decision(
                    Action.RESUME_AFTER_TRANSITION,
                    LocalRole.PRIMARY,
                    ClusterState.PRIMARY,
                    f"resuming: failover {t.failover_name} to {t.target_cluster} did not transfer within "
                    f"{limit:g}s; {s.me} stays PRIMARY of {where}",
                    clear_transition=True,
                )
            return Decision(
                Action.DEMOTE_FOR_TRANSITION,
                LocalRole.STANDBY,
                ClusterState.FAILOVER,
                f"demoting for failover {t.failover_name}: {s.me} hands {where} to {t.target_cluster} "
                f"({t.mode.value}) and waits for the transfer",
            )
        if s.local_role == LocalRole.PRIMARY:
            return Decision(
                Action.NONE, LocalRole.PRIMARY, ClusterState.PRIMARY, f"no action: I am {s.me}, PRIMARY of {where}"
            )
        why = "DynamoDB is reachable again and " if s.local_role == LocalRole.FENCED else ""
        return Decision(
            Action.PROMOTE,
            LocalRole.PRIMARY,
            ClusterState.PRIMARY,
            f"promoting: {why}{s.me} owns {where}",
        )

    # 3. Someone else owns it: be a standby; a primary copy here must come down first — except during an
    #    UPTIME hand-off, where the old owner serves until the new one says it is ready.
    if t is not None and s.local_role == LocalRole.PRIMARY and handing_off(config) and t.source_cluster == s.me:
        new = clusters.get(config.owner)
        limit = config.timeouts.transitory_state
        if serving(new, config.epoch):
            return Decision(
                Action.DEMOTE,
                LocalRole.STANDBY,
                ClusterState.STANDBY,
                f"demoting: {config.owner} is ready as the owner of {where} (UPTIME hand-off complete)",
                clear_transition=True,
            )
        if s.transition_age is not None and s.transition_age > limit:
            return Decision(
                Action.DEMOTE,
                LocalRole.STANDBY,
                ClusterState.STANDBY,
                f"demoting: {config.owner} owns {where} but has not reported ready within {limit:g}s",
                clear_transition=True,
            )
        return Decision(
            Action.NONE,
            LocalRole.PRIMARY,
            ClusterState.PRIMARY,
            f"handing over: {config.owner} owns {where} and promotes first (UPTIME); {s.me} serves until it is ready",
        )
    if s.local_role in (LocalRole.PRIMARY, LocalRole.FENCED, None):
        verb = "demoting" if s.local_role == LocalRole.PRIMARY else "standing by"
        return Decision(
            Action.DEMOTE,
            LocalRole.STANDBY,
            ClusterState.STANDBY,
            f"{verb}: {config.owner} owns {where}",
        )

    # 4. A standby decides whether the owner is gone.
    cause, cause_kind = _takeover_cause(s, config, clusters)
    standing = f"I am {s.me}, STANDBY of {s.group}; {config.owner} is PRIMARY at epoch {config.epoch}"
    if cause is None:
        return Decision(Action.NONE, LocalRole.STANDBY, ClusterState.STANDBY, f"no action: {standing}")
    if config.suspended:
        why = f" ({config.suspension_reason})" if config.suspension_reason else ""
        return _standby(f"no action: {cause}, but {s.group} is suspended{why}: no automatic failover")
    if not s.auto_failover:
        return _standby(f"no action: {cause}, but autoFailover is off for {s.group}")
    fresh = s.transition_age is None or s.transition_age <= config.timeouts.transitory_state
    if t is not None and (draining(config) or handing_off(config)) and fresh:
        return _standby(f"no action: {cause}, but failover {t.failover_name} is in progress")
    if s.my_health != Health.OK:
        return _standby(f"no action: {cause}, but {s.me} is {s.my_health.value} itself and cannot take over")
    order = takeover_order(_eligible(s, config, clusters), s.priority)
    rank = order.index(s.me)
    grace = takeover_grace(rank, s.heartbeat_interval)
    waited = s.takeover_ready_for or 0.0
    if waited < grace:
        return Decision(
            Action.WAIT,
            LocalRole.STANDBY,
            ClusterState.STANDBY,
            f"waiting: {cause}; {order[0]} has priority, {s.me} contends in {grace - waited:.1f}s",
        )
    return Decision(
        Action.TAKE_OVER,
        LocalRole.PRIMARY,
        ClusterState.PRIMARY,
        f"taking over: {cause}; {s.me} claims {s.group} at epoch {config.epoch + 1}",
        takeover_epoch=config.epoch,
        takeover_cause=cause_kind,
    )


def draining(config: GroupConfig) -> bool:
    """A CONSISTENCY failover has asked the current owner to stop serving."""
    t = config.transition
    return (
        t is not None
        and t.mode == FailoverMode.CONSISTENCY
        and t.source_cluster == config.owner
        and t.epoch == config.epoch
    )


def handing_off(config: GroupConfig) -> bool:
    """An UPTIME failover moved ownership; the old owner serves until the new one is ready."""
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
    owner = config.owner
    timeouts = config.timeouts
    if owner in s.stale:
        return f"{owner}'s heartbeat has not changed for over {timeouts.heartbeat:g}s", "stale"
    status = clusters.get(owner)
    errored_for = s.owner_error_for
    limit = timeouts.unhealthy_primary
    if status is not None and status.health == Health.ERROR and errored_for is not None and errored_for > limit:
        return f"{owner} has reported ERROR for {errored_for:.0f}s (limit {limit:g}s)", "unhealthy"
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


def _state(role: LocalRole | None) -> ClusterState:
    if role is None:
        return ClusterState.STANDBY
    return {
        LocalRole.PRIMARY: ClusterState.PRIMARY,
        LocalRole.STANDBY: ClusterState.STANDBY,
        LocalRole.FENCED: ClusterState.FENCED,
    }[role]


def _standby(reason: str) -> Decision:
    return Decision(Action.NONE, LocalRole.STANDBY, ClusterState.STANDBY, reason)
