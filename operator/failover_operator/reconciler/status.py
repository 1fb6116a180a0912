"""What `kubectl get/describe failovergroup` shows, computed from one tick. Pure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ..api import (
    ClusterReport,
    ConditionType,
    FailoverGroupStatus,
    LastFailover,
    Role,
    format_duration,
    make_condition,
    merge_conditions,
)
from ..model import Health
from ..store import GroupConfig, GroupState
from ..workloads.converge import Observation
from .decide import Decision


def heartbeat_age_text(age: float | None, interval: float) -> str | None:
    """A heartbeat age that changes only when it means something, as a lower bound.

    A healthy cluster's heartbeat, seen every tick, is always younger than two intervals: "0s". An older one is
    shown in doubling steps (2, 4, 8, ... intervals): a silent cluster's exact age would rewrite every group's
    status on every tick, for as long as it stays silent (a thousand patches an interval, the moment a cluster
    dies). Its `lastHeartbeat` time, which does not move, says exactly when.
    """
    if age is None:
        return None
    step = 2 * interval
    if age < step:
        return format_duration(0)
    while step * 2 <= age:
        step *= 2
    return format_duration(step)


def takeover_readiness(
    *,
    me: str,
    config: GroupConfig | None,
    state: GroupState | None,
    local_role: Role | None,
    health: Health,
    auto_failover: bool,
    heartbeating: bool,
    store_error: str | None,
) -> tuple[bool, str, str]:
    """Could this cluster take the group over right now, were its owner gone? (ready, reason, message)"""
    if local_role is None or config is None:
        return False, "NotReconciled", "the group's config has not been read yet"
    group = f"{config.namespace}/{config.name}"
    if store_error is not None:
        return False, "DynamoDBUnreachable", store_error
    if config.owner == me:
        return False, "Owner", f"{me} owns {group} (epoch {config.epoch})"
    if config.suspended:
        return False, "Suspended", f"{group} is suspended ({config.suspension_reason or 'no reason given'})"
    if not auto_failover:
        return False, "AutoFailoverOff", f"autoFailover is off for {group}: only a Failover moves it"
    if local_role == Role.FENCED:
        return False, "Fenced", f"{me} has fenced {group}"
    if not heartbeating:
        return False, "NotHeartbeating", f"{me}'s heartbeat is not being written: a takeover needs DynamoDB"
    if health != Health.OK:
        return False, "NotHealthy", f"{me} reports {health.value} for {group}"
    mine = state.clusters.get(me) if state is not None else None
    if mine is None or mine.observed_epoch != config.epoch:
        seen = "nothing" if mine is None else f"epoch {mine.observed_epoch}"
        return False, "NotUpToDate", f"{me}'s status for {group} says {seen}, not epoch {config.epoch} yet"
    return True, "Ready", f"{me} is healthy, up to date at epoch {config.epoch} and heartbeating"


def group_status(
    *,
    me: str,
    config: GroupConfig | None,
    state: GroupState | None,
    local_role: Role | None,
    observation: Observation | None,
    decision: Decision,
    heartbeat_age: Callable[[str], float | None],
    heartbeat_interval: float,
    generation: int | None,
    store_error: str | None,
    previous: FailoverGroupStatus | None,
    now: datetime,
    spec_error: str | None = None,
    takeover: tuple[bool, str, str] | None = None,
) -> FailoverGroupStatus:
    health = observation.health if observation is not None else Health.UNKNOWN
    role = local_role
    clusters = []
    if state is not None:
        for name in sorted(state.clusters):
            c = state.clusters[name]
            clusters.append(
                ClusterReport(
                    name=name,
                    role=c.state,
                    health=c.health,
                    heartbeat_age=heartbeat_age_text(0.0 if name == me else heartbeat_age(name), heartbeat_interval),
                    last_heartbeat=c.last_heartbeat.replace(microsecond=0),
                    observed_epoch=c.observed_epoch,
                    message=c.message,
                )
            )
    elif previous is not None:
        clusters = list(previous.clusters)
    last = state.history[0] if state is not None and state.history else None
    message = store_error and f"cannot reach DynamoDB: {store_error}"
    if message is None and spec_error is not None:
        message = f"invalid spec (running with the last valid one): {spec_error}"
    if message is None and observation is not None and health != Health.OK:
        message = observation.message or None
    ready = local_role in (Role.PRIMARY, Role.STANDBY) and health == Health.OK and store_error is None
    if local_role is None:
        ready_reason, ready_message = "NotReconciled", "the group's config has not been read yet"
    elif store_error is not None:
        ready_reason, ready_message = "DynamoDBUnreachable", store_error
    elif health != Health.OK:
        ready_reason, ready_message = "ResourcesNotHealthy", message or health.value
    else:
        ready_reason = "Primary" if local_role == Role.PRIMARY else "Standby"
        ready_message = decision.reason
    suspended = bool(config and config.suspended)
    conditions = merge_conditions(
        previous.conditions if previous is not None else [],
        [
            make_condition(
                ConditionType.READY, ready, ready_reason, ready_message, now=now, observed_generation=generation
            ),
            make_condition(
                ConditionType.DEGRADED,
                health != Health.OK,
                "ResourcesDegraded" if health != Health.OK else "ResourcesHealthy",
                (observation.message if observation is not None else "") or health.value,
                now=now,
                observed_generation=generation,
            ),
            make_condition(
                ConditionType.SUSPENDED,
                suspended,
                "Suspended" if suspended else "NotSuspended",
                (config.suspension_reason or "") if config and suspended else "automatic failover is enabled",
                now=now,
                observed_generation=generation,
            ),
            make_condition(
                ConditionType.FENCED,
                local_role == Role.FENCED,
                "Fenced" if local_role == Role.FENCED else "NotFenced",
                decision.reason if local_role == Role.FENCED else "",
                now=now,
                observed_generation=generation,
            ),
            *(
                [
                    make_condition(
                        ConditionType.READY_TO_TAKE_OVER,
                        takeover[0],
                        takeover[1],
                        takeover[2],
                        now=now,
                        observed_generation=generation,
                    )
                ]
                if takeover is not None
                else []
            ),
            make_condition(
                ConditionType.SPEC_VALID,
                spec_error is None,
                "Valid" if spec_error is None else "InvalidSpec",
                spec_error or "",
                now=now,
                observed_generation=generation,
            ),
        ],
    )
    return FailoverGroupStatus(
        owner=config.owner if config else None,
        role=role,
        epoch=config.epoch if config else None,
        health=health,
        suspended=suspended if config else None,
        suspension_reason=config.suspension_reason if config and config.suspended else None,
        clusters=clusters,
        last_failover=LastFailover.from_history(last)
        if last is not None
        else (previous.last_failover if previous else None),
        decision=decision.reason,
        message=message,
        conditions=conditions,
        observed_generation=generation,
    )
