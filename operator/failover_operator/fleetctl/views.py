"""The fleet as the commands show it: status and history, read from DynamoDB only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ..model import ClusterState, ClusterStatus, GroupConfig, HistoryRecord, Role
from ..reconciler.preflight import heard
from ..rules import readiness
from ..store import DynamoDBService, GroupState, NotFoundError
from .session import Fleet, Refused, age_text, render, span


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


async def read_states(fleet: Fleet, group: tuple[str, str] | None) -> list[GroupState]:
    """Every group of the operator ID (or one), each dated by its records' timestamps (see date_by_timestamps).
    None of them at all is refused when the table holds no fleet of that operator ID (Fleet.require)."""
    store = fleet.store
    live = await store.liveness.read()
    wanted = [group] if group is not None else sorted((c.namespace, c.name) for c in await fleet.groups())
    states = []
    for namespace, name in wanted:
        try:
            state = await store.state.get_group_state(namespace, name, liveness=live)
        except NotFoundError:
            if group is not None:
                raise Refused(not_registered(fleet, namespace, name)) from None
            continue  # deleted since it was listed
        store.state.date_by_timestamps(state)
        states.append(state)
    return states


def not_registered(fleet: Fleet, namespace: str, name: str) -> str:
    return (
        f"group {namespace}/{name} is not registered in DynamoDB (operator ID {fleet.settings.operator_id}, "
        f"{fleet.table})"
    )


def stale_of(store: DynamoDBService, state: GroupState) -> set[str]:
    """The clusters silent for longer than the group's heartbeat timeout, as this reader dated them."""
    config = state.config
    return set(store.state.stale_clusters(config.namespace, config.name, state.clusters, config.timeouts.heartbeat))


def known_clusters(state: GroupState) -> list[str]:
    """The clusters of a group as DynamoDB knows them: its owner and every cluster that reported on it."""
    return sorted({state.config.owner, *state.clusters})


def ready_to_take_over(name: str, status: ClusterStatus, state: GroupState, stale: set[str]) -> dict[str, Any]:
    """Could `name` take the group over now, were its owner gone: the rulebook's own answer (rules.readiness,
    what the cluster's ReadyToTakeOver condition says), from what DynamoDB holds. autoFailover is each
    cluster's FailoverGroup spec, not in DynamoDB: taken as on (its default)."""
    role = {ClusterState.PRIMARY: Role.PRIMARY, ClusterState.FENCED: Role.FENCED}.get(status.state, Role.STANDBY)
    ready, reason, message = readiness(
        me=name,
        config=state.config,
        mine=status,
        local_role=role,
        health=status.health,
        auto_failover=True,
        heartbeating=name not in stale and heard(status),
        store_error=None,
    )
    return {"ready": ready, "reason": reason, "message": message}


def status_of(store: DynamoDBService, state: GroupState) -> dict[str, Any]:
    config = state.config
    t = config.transition
    lock = state.lock
    stale = stale_of(store, state)
    return {
        "namespace": config.namespace,
        "name": config.name,
        "owner": config.owner,
        "epoch": config.epoch,
        "suspended": config.suspended,
        "suspensionReason": config.suspension_reason,
        "fences": fences_of(state),
        "previousOwner": config.previous_owner,
        "transition": None
        if t is None
        else {
            "failoverName": t.failover_name,
            "source": t.source_cluster,
            "target": t.target_cluster,
            "mode": t.mode.value,
            "epoch": t.epoch,
            "force": t.force,
            "requestedBy": t.requested_by,
            "requestedAt": iso(t.requested_at),
        },
        "lock": None
        if lock is None
        else {"holder": lock.holder, "reason": lock.reason, "acquiredAt": iso(lock.acquired_at)},
        "scheduledSwitchover": scheduled_of(config),
        "clusters": [
            {
                "name": name,
                "state": c.state.value,
                "health": c.health.value,
                "observedEpoch": c.observed_epoch,
                "heartbeatAgeSeconds": _rounded(store.state.heartbeat_age(config.namespace, config.name, name)),
                "stale": name in stale,
                "fencedByHand": name in config.fences,
                "message": c.message,
                "readyToTakeOver": ready_to_take_over(name, c, state, stale),
            }
            for name, c in sorted(state.clusters.items())
        ],
    }


def fences_of(state: GroupState) -> dict[str, dict[str, Any]]:
    """The clusters fenced by hand (`fence`), each with its reason, when, and by whom."""
    return {
        cluster: {"reason": f.reason, "fencedAt": iso(f.fenced_at), "fencedBy": f.fenced_by}
        for cluster, f in sorted(state.config.fences.items())
    }


def _state_text(cluster: dict[str, Any]) -> str | None:
    """The STATE column: the status record's state, and whether a person fenced the cluster's copy."""
    state: str | None = cluster["state"]
    return f"{state} (fenced by hand)" if cluster.get("fencedByHand") else state


def scheduled_of(config: GroupConfig) -> dict[str, Any] | None:
    """The group's switchover scheduled for later (`switchover --at`), as `status` and `show-config` show it."""
    sw = config.schedule
    if sw is None:
        return None
    return {
        "name": sw.name,
        "from": sw.source_cluster,
        "to": sw.target_cluster,
        "mode": sw.mode.value,
        "at": sw.when,
        "requestedBy": sw.requested_by,
        "requestedAt": iso(sw.requested_at),
        "reason": sw.reason,
    }


def scheduled_table(groups: list[dict[str, Any]], now: datetime) -> str | None:
    """The scheduled switchovers among `groups`, one line each (None: there are none)."""
    rows = []
    for g in groups:
        sw = g.get("scheduledSwitchover")
        if sw is None:
            continue
        left = (datetime.fromisoformat(sw["at"]) - now).total_seconds()
        when = f"in {span(timedelta(seconds=left))}" if left >= 0 else f"due {span(timedelta(seconds=-left))} ago"
        move = f"{sw['from']}->{sw['to']}"
        rows.append([f"{g['namespace']}/{g['name']}", move, sw["mode"], sw["at"], when, sw["name"]])
    if not rows:
        return None
    return render(["SCHEDULED", "MOVE", "MODE", "AT", "WHEN", "NAME"], rows)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def ready_text(cluster: dict[str, Any], owner: str) -> str | None:
    """The READY column: yes, or no and the rulebook's reason in one word; the owner has nothing to take over."""
    ready = cluster.get("readyToTakeOver")
    if ready is None or cluster["name"] == owner:
        return None
    return "yes" if ready["ready"] else f"no: {ready['reason']}"


def status_table(groups: list[dict[str, Any]], now: datetime | None = None) -> str:
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
            ready = ready_text(c, g["owner"])
            rows.append([*lead, c["name"], _state_text(c), c["health"], c["observedEpoch"], age_text(age), ready])
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
        "READY",
    ]
    table = render(header, rows)
    scheduled = scheduled_table(groups, now or datetime.now(UTC))
    return table if scheduled is None else f"{table}\n\n{scheduled}"


def history_kind(record: HistoryRecord) -> str:
    """How the move came about: automatic (a takeover, or a drain asked because the owner failed), forced (a
    request that did not wait for the owner to confirm it stopped), or planned."""
    if record.forced:
        return "forced"
    return "auto" if record.automatic else "planned"


def history_of(record: HistoryRecord) -> dict[str, Any]:
    return {
        "epoch": record.epoch,
        "from": record.source_cluster,
        "to": record.target_cluster,
        "mode": record.mode.value,
        "kind": history_kind(record),
        "automatic": record.automatic,
        "downtimeSeconds": record.downtime_seconds,
        "reason": record.reason,
        "name": record.failover_name,
        "time": iso(record.finished_at),
        "outcome": record.outcome.value,  # whatever the model's Outcome says, new values included
        "forced": record.forced,
        "overlapUnknown": record.unconfirmed,
    }


def _downtime(h: dict[str, Any]) -> str:
    """What the record measured, whoever measured it; an unconfirmed forced move claims none (it may overlap)."""
    if h["downtimeSeconds"] is not None:
        return f"{h['downtimeSeconds']:.2f}s"
    if h.get("overlapUnknown"):
        return "unknown (overlap possible: the old owner never confirmed it stopped)"
    return "-"


def history_table(history: list[dict[str, Any]]) -> str:
    if not history:
        return "No failovers recorded."
    rows = [
        [
            h["epoch"],
            (h["time"] or "")[:19].replace("T", " "),
            f"{h['from']}->{h['to']}",
            h["mode"],
            h["kind"],
            h["outcome"],
            _downtime(h),
            h["name"],
            h["reason"],
        ]
        for h in history
    ]
    return render(["EPOCH", "TIME", "MOVE", "MODE", "KIND", "OUTCOME", "DOWNTIME", "NAME", "REASON"], rows)
