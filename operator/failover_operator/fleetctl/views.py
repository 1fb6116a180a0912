"""The fleet as the commands show it: status, history and problems, read from DynamoDB only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..model import GroupConfig, HistoryRecord
from ..store import DynamoDBService, GroupState, NotFoundError
from .session import Refused, age_text, render


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


async def read_states(store: DynamoDBService, group: tuple[str, str] | None) -> list[GroupState]:
    """Every group of the operator ID (or one), each dated by its records' timestamps (see date_by_timestamps)."""
    live = await store.liveness.read()
    if group is not None:
        wanted = [group]
    else:
        configs: list[GroupConfig] = await store.state.list_groups()
        wanted = sorted((c.namespace, c.name) for c in configs)
    states = []
    for namespace, name in wanted:
        try:
            state = await store.state.get_group_state(namespace, name, liveness=live)
        except NotFoundError:
            if group is not None:
                raise Refused(f"group {namespace}/{name} is not registered in DynamoDB") from None
            continue  # deleted since it was listed
        store.state.date_by_timestamps(state)
        states.append(state)
    return states


def status_of(store: DynamoDBService, state: GroupState) -> dict[str, Any]:
    config = state.config
    t = config.transition
    lock = state.lock
    return {
        "namespace": config.namespace,
        "name": config.name,
        "owner": config.owner,
        "epoch": config.epoch,
        "suspended": config.suspended,
        "suspensionReason": config.suspension_reason,
        "previousOwner": config.previous_owner,
        "transition": None
        if t is None
        else {
            "failoverName": t.failover_name,
            "source": t.source_cluster,
            "target": t.target_cluster,
            "mode": t.mode.value,
            "epoch": t.epoch,
            "requestedBy": t.requested_by,
            "requestedAt": _iso(t.requested_at),
        },
        "lock": None
        if lock is None
        else {"holder": lock.holder, "reason": lock.reason, "acquiredAt": _iso(lock.acquired_at)},
        "clusters": [
            {
                "name": name,
                "state": c.state.value,
                "health": c.health.value,
                "observedEpoch": c.observed_epoch,
                "heartbeatAgeSeconds": _rounded(store.state.heartbeat_age(config.namespace, config.name, name)),
                "message": c.message,
            }
            for name, c in sorted(state.clusters.items())
        ],
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def status_table(groups: list[dict[str, Any]]) -> str:
    rows: list[list[object]] = []
    for g in groups:
        moving = g["transition"]
        first = [
            f"{g['namespace']}/{g['name']}",
            g["owner"],
            g["epoch"],
            "yes" if g["suspended"] else "no",
            f"{moving['source']}->{moving['target']}" if moving else None,
            g["lock"]["holder"] if g["lock"] else None,
        ]
        clusters = g["clusters"] or [{"name": None, "state": None, "health": None, "observedEpoch": None}]
        for i, c in enumerate(clusters):
            lead = first if i == 0 else [""] * len(first)
            age = c.get("heartbeatAgeSeconds")
            rows.append([*lead, c["name"], c["state"], c["health"], c["observedEpoch"], age_text(age)])
    if not rows:
        return "No groups."
    header = [
        "GROUP",
        "OWNER",
        "EPOCH",
        "SUSPENDED",
        "MOVING",
        "LOCK",
        "CLUSTER",
        "STATE",
        "HEALTH",
        "OBSERVED",
        "HEARTBEAT",
    ]
    return render(header, rows)


def history_of(record: HistoryRecord) -> dict[str, Any]:
    return {
        "epoch": record.epoch,
        "from": record.source_cluster,
        "to": record.target_cluster,
        "mode": record.mode.value,
        "automatic": record.automatic,
        "downtimeSeconds": record.downtime_seconds,
        "reason": record.reason,
        "name": record.failover_name,
        "time": _iso(record.finished_at),
        "outcome": record.outcome.value,
        "forced": record.forced,
        "overlapUnknown": record.unconfirmed,
    }


def _downtime(h: dict[str, Any]) -> str:
    if h.get("overlapUnknown"):
        return "unknown (overlap possible: the old owner never confirmed it stopped)"
    return "-" if h["downtimeSeconds"] is None else f"{h['downtimeSeconds']:.2f}s"


def history_table(history: list[dict[str, Any]]) -> str:
    if not history:
        return "No failovers recorded."
    rows = [
        [
            h["epoch"],
            (h["time"] or "")[:19].replace("T", " "),
            f"{h['from']}->{h['to']}",
            h["mode"],
            "auto" if h["automatic"] else "forced" if h.get("forced") else "planned",
            h["outcome"],
            _downtime(h),
            h["name"],
            h["reason"],
        ]
        for h in history
    ]
    return render(["EPOCH", "TIME", "MOVE", "MODE", "KIND", "OUTCOME", "DOWNTIME", "NAME", "REASON"], rows)
