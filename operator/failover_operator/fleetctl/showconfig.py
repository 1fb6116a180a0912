"""`show-config`: a group's configuration as DynamoDB holds it (the config record), and, for what the record
does not hold, where it comes from instead. The operators decide on the record; the FailoverGroup in each
cluster is where priority, autoFailover and the heartbeat interval are set."""

from __future__ import annotations

from typing import Any

from ..api import DEFAULT_HEARTBEAT_INTERVAL
from ..model import Timeouts
from ..store import GroupState, Liveness
from .session import render
from .views import fences_of, iso, scheduled_of

NOT_IN_DYNAMODB = {
    "clusterPriority": "not in DynamoDB: each cluster's FailoverGroup spec.clusterPriority (unset: clusters by name)",
    "autoFailover": "not in DynamoDB: each cluster's FailoverGroup spec.autoFailover (default true)",
    "heartbeatInterval": "not in DynamoDB: each cluster's FailoverGroup spec.heartbeatInterval (default "
    f"{DEFAULT_HEARTBEAT_INTERVAL}); a cluster beats once for all its groups, at the smallest interval among them",
}
"""What a group's config record does not hold, and where it comes from instead."""


def _timeouts(t: Timeouts | None) -> dict[str, float] | None:
    if t is None:
        return None
    return {
        "heartbeatSeconds": t.heartbeat,
        "unhealthyPrimarySeconds": t.unhealthy_primary,
        "transitoryStateSeconds": t.transitory_state,
    }


def config_of(state: GroupState, live: dict[str, Liveness]) -> dict[str, Any]:
    """The config record, field by field, and each cluster's heartbeat interval as its liveness record says."""
    c = state.config
    t = c.transition
    clusters = sorted({c.owner, *state.clusters})
    return {
        "namespace": c.namespace,
        "name": c.name,
        "operatorId": c.operator_id,
        "owner": c.owner,
        "previousOwner": c.previous_owner,
        "epoch": c.epoch,
        "version": c.version,
        "clusterPriority": None,
        "autoFailover": None,
        "suspended": c.suspended,
        "suspensionReason": c.suspension_reason,
        "fences": fences_of(state),
        "timeouts": _timeouts(c.timeouts),
        "timeoutsBefore": _timeouts(c.timeouts_before),
        "heartbeatIntervalSeconds": None,
        "clusterHeartbeatIntervalSeconds": {name: live[name].interval if name in live else None for name in clusters},
        "notInDynamoDB": NOT_IN_DYNAMODB,
        "transition": None
        if t is None
        else {
            "failoverName": t.failover_name,
            "source": t.source_cluster,
            "target": t.target_cluster,
            "mode": t.mode.value,
            "epoch": t.epoch,
            "force": t.force,
            "automatic": t.automatic,
            "requestedBy": t.requested_by,
            "requestedAt": iso(t.requested_at),
            "reason": t.reason,
        },
        "scheduledSwitchover": scheduled_of(c),
        "lastFailover": iso(c.last_failover),
        "updatedAt": iso(c.updated_at),
    }


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:g}s"


def _fenced(fences: dict[str, dict[str, Any]]) -> str:
    """Each cluster fenced by hand, with why, by whom and since when; `no` when none is."""
    said = [f"{c} ({f['reason']}; by {f['fencedBy']} at {f['fencedAt']})" for c, f in fences.items()]
    return "; ".join(said) or "no"


def _scheduled(sw: dict[str, Any] | None) -> str | None:
    if sw is None:
        return None
    return f"{sw['name']}: {sw['from']} -> {sw['to']} ({sw['mode']}) at {sw['at']}, asked by {sw['requestedBy']}"


def config_table(cfg: dict[str, Any]) -> str:
    """SETTING / VALUE rows, in the order people ask about them."""
    t, before = cfg["timeouts"], cfg["timeoutsBefore"]
    suspended = "no"
    if cfg["suspended"]:
        suspended = f"yes ({cfg['suspensionReason'] or 'no reason given'})"
    beats = ", ".join(
        f"{name} every {_seconds(interval)}" if interval is not None else f"{name} never heartbeated"
        for name, interval in cfg["clusterHeartbeatIntervalSeconds"].items()
    )
    moving = cfg["transition"]
    rows: list[list[object]] = [
        ["group", f"{cfg['namespace']}/{cfg['name']}"],
        ["operator ID", cfg["operatorId"]],
        ["owner", cfg["owner"]],
        ["previous owner", cfg["previousOwner"]],
        ["epoch", cfg["epoch"]],
        ["priority", NOT_IN_DYNAMODB["clusterPriority"]],
        ["autoFailover", NOT_IN_DYNAMODB["autoFailover"]],
        ["suspended", suspended],
        ["fenced by hand", _fenced(cfg["fences"])],
        ["timeouts.heartbeat", _seconds(t["heartbeatSeconds"])],
        ["timeouts.unhealthyPrimary", _seconds(t["unhealthyPrimarySeconds"])],
        ["timeouts.transitoryState", _seconds(t["transitoryStateSeconds"])],
    ]
    if before is not None:
        rows.append(
            [
                "timeouts before the last change",
                f"heartbeat {_seconds(before['heartbeatSeconds'])}, unhealthyPrimary "
                f"{_seconds(before['unhealthyPrimarySeconds'])}, transitoryState "
                f"{_seconds(before['transitoryStateSeconds'])}",
            ]
        )
    rows += [
        ["heartbeatInterval", NOT_IN_DYNAMODB["heartbeatInterval"]],
        ["clusters' heartbeat", f"{beats} (their liveness records)" if beats else None],
        [
            "move in progress",
            None
            if moving is None
            else f"{moving['failoverName']}: {moving['source']} -> {moving['target']} ({moving['mode']}, "
            f"epoch {moving['epoch']})",
        ],
        ["scheduled switchover", _scheduled(cfg["scheduledSwitchover"])],
        ["last failover", cfg["lastFailover"]],
        ["updated", cfg["updatedAt"]],
    ]
    return render(["SETTING", "VALUE"], rows)
