"""What `kubectl get/describe failovergroup` shows, computed from one tick. Pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from ..api import (
    ClusterReport,
    Condition,
    ConditionType,
    FailoverGroupStatus,
    LastFailover,
    Role,
    ScheduledSwitchoverReport,
    make_condition,
    merge_conditions,
)
from ..model import Health
from ..rules import Decision
from ..rules.fenced import fence_text
from ..store import GroupConfig, GroupState
from ..workloads.converge import Observation


def silent_since(age: float | None, interval: float, now: datetime) -> datetime | None:
    """Since when a cluster has been silent (no sign of life seen for over two intervals), to the second; None
    while it heartbeats. A moment, not an age: it stays true however long the status goes unwritten (a status is
    rewritten only when something in it changes), and it does not move while the silence lasts."""
    if age is None or age < 2 * interval:
        return None
    return (now - timedelta(seconds=age)).replace(microsecond=0)


def suspension_as_specified(
    spec_suspended: bool, config: GroupConfig, *, now: datetime, generation: int | None
) -> Condition:
    """Whether the group's suspension in DynamoDB (what every operator acts on) is what this FailoverGroup's
    `spec.suspended` says: the fleet commands suspend and resume through DynamoDB alone, and a spec edit is
    written there only when it is made. A disagreement is shown, never silently undone either way."""
    if spec_suspended == config.suspended:
        return make_condition(
            ConditionType.SUSPENSION_AS_SPECIFIED,
            True,
            "AsSpecified",
            "suspended, as spec.suspended says" if config.suspended else "not suspended, as spec.suspended says",
            now=now,
            observed_generation=generation,
        )
    if spec_suspended:
        reason, message = (
            "ResumedOutsideSpec",
            "spec.suspended is true, but the group was resumed in DynamoDB (failover-operator resume): automatic "
            "failover applies; set spec.suspended: false to agree, or suspend it again",
        )
    else:
        why = f" ({config.suspension_reason})" if config.suspension_reason else ""
        reason, message = (
            "SuspendedOutsideSpec",
            f"the group was suspended in DynamoDB{why} (failover-operator suspend) while spec.suspended is false: "
            f"no automatic failover until it is resumed",
        )
    return make_condition(
        ConditionType.SUSPENSION_AS_SPECIFIED, False, reason, message, now=now, observed_generation=generation
    )


def claimed_text(claimed: Mapping[str, str]) -> str | None:
    """What a group says of the resources it lists that another group of this cluster manages (None: none)."""
    if not claimed:
        return None
    listed = "; ".join(f"{key} is managed by FailoverGroup {group}" for key, group in sorted(claimed.items()))
    return f"{listed}: this group leaves it alone and never scales it (list each resource in one group only)"


def _scheduled(config: GroupConfig | None, previous: FailoverGroupStatus | None) -> ScheduledSwitchoverReport | None:
    """The group's scheduled switchover as the config last read says (as the previous status, never read)."""
    if config is None:
        return previous.scheduled_switchover if previous is not None else None
    return ScheduledSwitchoverReport.from_schedule(config.schedule) if config.schedule is not None else None


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
    claimed: Mapping[str, str] | None = None,
    takeover: tuple[bool, str, str] | None = None,
    spec_suspended: bool | None = None,
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
                    silent_since=None if name == me else silent_since(heartbeat_age(name), heartbeat_interval, now),
                    last_heartbeat=c.last_heartbeat.replace(microsecond=0),
                    observed_epoch=c.observed_epoch,
                    message=c.message,
                )
            )
    elif previous is not None:
        clusters = list(previous.clusters)
    last = next((h for h in state.history if h.moved), None) if state is not None else None
    message = store_error and f"cannot reach DynamoDB: {store_error}"
    if message is None and spec_error is not None:
        message = f"invalid spec (running with the last valid one): {spec_error}"
    conflict = claimed_text(claimed or {})
    if message is None and conflict is not None:
        message = conflict
    fence = config.fences.get(me) if config is not None else None
    if message is None and fence is not None:
        message = f"fenced by hand: {fence_text(fence)}"
    if message is None and observation is not None and health != Health.OK:
        message = observation.message or None
    ready = local_role in (Role.PRIMARY, Role.STANDBY) and health == Health.OK and store_error is None
    if local_role is None:
        ready_reason, ready_message = "NotReconciled", "the group's config has not been read yet"
    elif store_error is not None:
        ready_reason, ready_message = "DynamoDBUnreachable", store_error
    elif fence is not None:
        ready_reason, ready_message = "FencedByHand", decision.reason
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
            *(
                [suspension_as_specified(spec_suspended, config, now=now, generation=generation)]
                if config is not None and spec_suspended is not None
                else []
            ),
            make_condition(
                ConditionType.FENCED,
                local_role == Role.FENCED or fence is not None,
                "FencedByHand" if fence is not None else "Fenced" if local_role == Role.FENCED else "NotFenced",
                f"fenced by hand: {fence_text(fence)}"
                if fence is not None
                else decision.reason
                if local_role == Role.FENCED
                else "",
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
                spec_error is None and conflict is None,
                "InvalidSpec" if spec_error is not None else "ResourceClaimed" if conflict is not None else "Valid",
                spec_error or conflict or "",
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
        scheduled_switchover=_scheduled(config, previous),
        decision=decision.reason,
        message=message,
        conditions=conditions,
        observed_generation=generation,
    )
