"""Who may be asked to move a group, and who could take it over. Pure.

`refusal` is the one sentence a Failover, `failover-operator switchover`, a dry run and the store's seed API
(`execute_failover`) all refuse a move with; `readiness` is what a standby's `ReadyToTakeOver` condition says,
from the same predicates the takeover rule uses (decide.eligible).
"""

from __future__ import annotations

from collections.abc import Mapping, Set

from ..model import ClusterStatus, GroupConfig, Health, Role
from .decide import eligible
from .fenced import fence_text, unfence_command
from .reports import able_to_act


def refusal(
    config: GroupConfig,
    clusters: Mapping[str, ClusterStatus],
    target: str,
    stale: Set[str],
    *,
    check_suspension: bool = True,
    check_health: bool = True,
) -> str | None:
    """Why a move of the group to `target` must not happen, or None. `check_suspension`, `check_health`: False
    for a forced move (force moves a suspended group, to an unhealthy target, from an owner that cannot act)."""
    group = f"{config.namespace}/{config.name}"
    if target == config.owner:
        return f"{target} already owns {group} (epoch {config.epoch})"
    fence = config.fences.get(target)
    if fence is not None:  # whatever force gives up, never this: a person decided that copy stays down
        return (
            f"{target} is fenced by hand for {group} ({fence_text(fence)}): nothing moves to it, forced or not, "
            f"until {unfence_command(group, target)}"
        )
    if check_suspension and config.suspended:
        why = f" ({config.suspension_reason})" if config.suspension_reason else ""
        return f"{group} is suspended{why}: only a forced failover may move it"
    status = clusters.get(target)
    if status is None:
        return (
            f"{target} has never reported status for {group}: is its operator running, "
            f"and is the FailoverGroup applied there?"
        )
    if status.leaving:
        return f"{target} is leaving {group} (its FailoverGroup is being deleted there)"
    if check_health:
        if status.health in (Health.ERROR, Health.UNKNOWN):
            detail = f": {status.message}" if status.message else ""
            return f"{target} reports health {status.health.value} for {group}{detail}"
        if target in stale:
            return (
                f"{target}'s heartbeat for {group} has not changed for over {config.timeouts.heartbeat:g}s: "
                f"its operator looks down"
            )
        owner = clusters.get(config.owner)
        if owner is not None and config.owner not in stale and not able_to_act(owner):
            return (
                f"{config.owner} cannot act on its resources for {group} (health UNKNOWN: its API server does not "
                f"answer, or takes no writes), so it could not stop serving them; retry once it reports again, or use "
                f"force (which gives up the promise of no overlap)"
            )
    return None


def readiness(
    *,
    me: str,
    config: GroupConfig | None,
    mine: ClusterStatus | None,
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
    if me in config.fences:
        fenced = fence_text(config.fences[me])
        return False, "FencedByHand", f"{me} is fenced by hand for {group} ({fenced}): it takes nothing over"
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
    if mine is None or not eligible(mine, config.epoch):
        seen = "nothing" if mine is None else f"{mine.state.value} at epoch {mine.observed_epoch}"
        return False, "NotUpToDate", f"{me}'s status for {group} says {seen}, not STANDBY at epoch {config.epoch} yet"
    return True, "Ready", f"{me} is healthy, up to date at epoch {config.epoch} and heartbeating"
