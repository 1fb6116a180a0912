"""The table's records as pydantic models, with explicit conversions to and from DynamoDB items.

Items use DynamoDB's low-level attribute format so that numbers, booleans and absent values are exact
(no float/Decimal surprises). Attribute names are camelCase as in docs/design.md. `from_item` raises
CorruptRecordError for anything it cannot read, so a bad record is reported and skipped, never crashes a
caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from ..model import (
    ClusterStatus,
    FailoverMode,
    Fence,
    GroupConfig,
    HistoryRecord,
    Record,
    ScheduledSwitchover,
    Timeouts,
    Transition,
)
from . import keys
from .errors import CorruptRecordError

Item = dict[str, dict[str, Any]]

# Components larger than this are replaced by a summary: a DynamoDB item is capped at 400 KB and a heartbeat
# must never fail because a group lists many resources.
MAX_COMPONENTS_BYTES = 64 * 1024


class Liveness(Record):
    """A cluster's proof of life for every group at once: written every interval (the smallest
    heartbeatInterval among its groups). Readers judge staleness by `seq` moving, on their own clock."""

    cluster_name: str
    seq: int = Field(0, ge=0)
    at: datetime
    interval: float | None = None
    writer: str = ""
    change_seq: int = 0
    changes_from: int = 1
    changes: dict[str, int] = {}
    """The group partitions the cluster wrote lately (store/changes.py), so peers re-read only those."""
    fenced: list[str] = []
    """The group partitions the cluster has fenced (its status for them may not have landed): peers re-read
    them on every look, however old their last read."""
    starting: int = 0
    """How many of the cluster's groups are still starting (their first status not yet written, for at most
    STARTING_LIMIT seconds): peers do not count an owner that has never reported as silent meanwhile."""


class LockInfo(Record):
    holder: str
    reason: str = ""
    acquired_at: datetime
    lease_seconds: float
    token: str = ""
    renewals: int = 0


class Lease(Record):
    """Proof of holding a group's lock. The token never changes; renewals count up."""

    token: str
    holder: str
    namespace: str
    name: str
    reason: str = ""
    acquired_at: datetime
    lease_seconds: float
    renewals: int = 0


# --- low-level attribute helpers -------------------------------------------------------------------


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: int | float) -> dict[str, str]:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def b(value: bool) -> dict[str, bool]:
    return {"BOOL": value}


def ts(value: datetime) -> dict[str, str]:
    return {"S": keys.format_timestamp(value)}


def _opt(item: Item, name: str, value: dict[str, Any] | None) -> None:
    if value is not None:
        item[name] = value


class _Reader:
    """Reads attributes of one item, turning every failure into CorruptRecordError."""

    def __init__(self, item: Mapping[str, Any]) -> None:
        self.item = item
        self.pk = raw(item, keys.PK, "S") or "?"
        self.sk = raw(item, keys.SK, "S") or "?"

    def corrupt(self, detail: str) -> CorruptRecordError:
        return CorruptRecordError(self.pk, self.sk, detail)

    def get(self, name: str, kind: str, *, required: bool = True) -> Any:
        attr = self.item.get(name)
        if attr is None or "NULL" in attr:
            if required:
                raise self.corrupt(f"missing attribute {name!r}")
            return None
        if kind not in attr:
            raise self.corrupt(f"attribute {name!r} is not of type {kind}")
        return attr[kind]

    def text(self, name: str, *, required: bool = True) -> Any:
        return self.get(name, "S", required=required)

    def number(self, name: str, *, required: bool = True) -> Any:
        raw = self.get(name, "N", required=required)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise self.corrupt(f"attribute {name!r} is not a number: {raw!r}") from None
        return int(value) if value.is_integer() and "." not in raw and "e" not in raw.lower() else value

    def flag(self, name: str, *, required: bool = True) -> Any:
        return self.get(name, "BOOL", required=required)

    def stamp(self, name: str, *, required: bool = True) -> datetime | None:
        raw = self.text(name, required=required)
        if raw is None:
            return None
        try:
            return keys.parse_timestamp(raw)
        except ValueError:
            raise self.corrupt(f"attribute {name!r} is not a timestamp: {raw!r}") from None


def raw(item: Mapping[str, Any], attribute: str, kind: str) -> Any:
    """The plain value of one low-level attribute (`kind` "S", "N", ...), or None if absent or of another type."""
    value = item.get(attribute)
    return value.get(kind) if isinstance(value, Mapping) else None


M = TypeVar("M", bound=BaseModel)


def _build(reader: _Reader, factory: Callable[..., M], **fields: Any) -> M:
    try:
        return factory(**fields)
    except (ValidationError, ValueError, TypeError) as exc:
        raise reader.corrupt(str(exc).replace("\n", "; ")) from None


# --- group config -------------------------------------------------------------------------------------


def timeouts_to_attr(t: Timeouts) -> dict[str, Any]:
    return {
        "M": {
            "heartbeat": n(t.heartbeat),
            "unhealthyPrimary": n(t.unhealthy_primary),
            "transitoryState": n(t.transitory_state),
        }
    }


def transition_to_attr(t: Transition) -> dict[str, Any]:
    return {
        "M": {
            "failoverName": s(t.failover_name),
            "sourceCluster": s(t.source_cluster),
            "targetCluster": s(t.target_cluster),
            "mode": s(t.mode.value),
            "requestedBy": s(t.requested_by),
            "requestedAt": ts(t.requested_at),
            "epoch": n(t.epoch),
            "force": b(t.force),
            "automatic": b(t.automatic),
            "reason": s(t.reason),
            **({"following": b(True)} if t.following else {}),
            **({"ready": b(True)} if t.ready else {}),
        }
    }


FENCES = "fences"
"""The config's attribute holding the clusters fenced by hand: a map, cluster name -> {reason, fencedAt, fencedBy}
(store/fences.py writes it; a takeover's, a transfer's and a proof's conditions name its members)."""


def fences_to_attr(fences: Mapping[str, Fence]) -> dict[str, Any]:
    return {
        "M": {
            cluster: {"M": {"reason": s(f.reason), "fencedAt": ts(f.fenced_at), "fencedBy": s(f.fenced_by)}}
            for cluster, f in sorted(fences.items())
        }
    }


def schedule_to_attr(sw: ScheduledSwitchover) -> dict[str, Any]:
    return {
        "M": {
            "name": s(sw.name),
            "sourceCluster": s(sw.source_cluster),
            "targetCluster": s(sw.target_cluster),
            "mode": s(sw.mode.value),
            "at": ts(sw.at),
            "requestedBy": s(sw.requested_by),
            "requestedAt": ts(sw.requested_at),
            "reason": s(sw.reason),
        }
    }


def _fences_from(r: _Reader) -> dict[str, Fence]:
    attr = r.get(FENCES, "M", required=False)
    if attr is None:
        return {}
    fences = {}
    for cluster, value in attr.items():
        if not isinstance(value, Mapping) or "M" not in value:
            raise r.corrupt(f"attribute {FENCES!r}: the fence of {cluster!r} is not a map")
        f = _Reader(value["M"])
        fences[cluster] = _build(
            r, Fence, reason=f.text("reason"), fenced_at=f.stamp("fencedAt"), fenced_by=f.text("fencedBy")
        )
    return fences


def _schedule_from(r: _Reader) -> ScheduledSwitchover | None:
    attr = r.get("schedule", "M", required=False)
    if attr is None:
        return None
    t = _Reader(attr)
    return _build(
        r,
        ScheduledSwitchover,
        name=t.text("name"),
        source_cluster=t.text("sourceCluster"),
        target_cluster=t.text("targetCluster"),
        mode=t.text("mode"),
        at=t.stamp("at"),
        requested_by=t.text("requestedBy"),
        requested_at=t.stamp("requestedAt"),
        reason=t.text("reason", required=False) or "",
    )


def config_attrs(config: GroupConfig) -> Item:
    """The mutable attributes of a config record (no keys)."""
    item: Item = {
        "operatorId": s(config.operator_id),
        "namespace": s(config.namespace),
        "name": s(config.name),
        "owner": s(config.owner),
        "epoch": n(config.epoch),
        "version": n(config.version),
        "suspended": b(config.suspended),
        "timeouts": timeouts_to_attr(config.timeouts),
        "updatedAt": ts(config.updated_at),
    }
    _opt(item, "previousOwner", s(config.previous_owner) if config.previous_owner else None)
    _opt(item, "suspensionReason", s(config.suspension_reason) if config.suspension_reason else None)
    _opt(item, FENCES, fences_to_attr(config.fences) if config.fences else None)
    _opt(item, "lastFailover", ts(config.last_failover) if config.last_failover else None)
    _opt(item, "lastMove", s(config.last_move) if config.last_move else None)
    _opt(item, "transition", transition_to_attr(config.transition) if config.transition else None)
    _opt(item, "timeoutsBefore", timeouts_to_attr(config.timeouts_before) if config.timeouts_before else None)
    _opt(item, "schedule", schedule_to_attr(config.schedule) if config.schedule else None)
    _opt(item, "proofSeq", n(config.proof_seq) if config.proof_seq else None)
    _opt(item, "serving", b(True) if config.serving else None)
    _opt(item, "lockToken", s(config.lock_token) if config.lock_token else None)
    _opt(item, "lastRecord", s(config.last_record) if config.last_record else None)
    return item


def config_to_item(config: GroupConfig) -> Item:
    pk = keys.group_pk(config.operator_id, config.namespace, config.name)
    return {
        **keys.key(pk, keys.CONFIG_SK),
        keys.GSI1PK: s(keys.operator_gsi1pk(config.operator_id)),
        keys.GSI1SK: s(keys.group_gsi1sk(config.namespace, config.name)),
        "recordType": s("CONFIG"),
        **config_attrs(config),
    }


def config_from_item(item: Mapping[str, Any]) -> GroupConfig:
    r = _Reader(item)
    try:
        operator_id, namespace, name = keys.parse_group_pk(r.pk)
    except ValueError as exc:
        raise r.corrupt(str(exc)) from None
    timeouts = _timeouts_from(r, "timeouts") or Timeouts()
    transition = None
    transition_attr = r.get("transition", "M", required=False)
    if transition_attr is not None:
        t = _Reader(transition_attr)
        transition = _build(
            r,
            Transition,
            failover_name=t.text("failoverName"),
            source_cluster=t.text("sourceCluster"),
            target_cluster=t.text("targetCluster"),
            mode=t.text("mode"),
            requested_by=t.text("requestedBy"),
            requested_at=t.stamp("requestedAt"),
            epoch=t.number("epoch"),
            force=bool(t.flag("force", required=False)),
            automatic=bool(t.flag("automatic", required=False)),
            reason=t.text("reason", required=False) or "",
            following=bool(t.flag("following", required=False)),
            ready=bool(t.flag("ready", required=False)),
        )
    return _build(
        r,
        GroupConfig,
        namespace=namespace,
        name=name,
        operator_id=operator_id,
        owner=r.text("owner"),
        previous_owner=r.text("previousOwner", required=False),
        epoch=r.number("epoch"),
        version=r.number("version"),
        suspended=bool(r.flag("suspended", required=False)),
        suspension_reason=r.text("suspensionReason", required=False),
        fences=_fences_from(r),
        timeouts=timeouts,
        timeouts_before=_timeouts_from(r, "timeoutsBefore"),
        last_failover=r.stamp("lastFailover", required=False),
        last_move=r.text("lastMove", required=False),
        schedule=_schedule_from(r),
        updated_at=r.stamp("updatedAt"),
        transition=transition,
        proof_seq=r.number("proofSeq", required=False) or 0,
        serving=bool(r.flag("serving", required=False)),
        lock_token=r.text("lockToken", required=False),
        last_record=r.text("lastRecord", required=False),
    )


def _timeouts_from(r: _Reader, attribute: str) -> Timeouts | None:
    attr = r.get(attribute, "M", required=False)
    if attr is None:
        return None
    t = _Reader(attr)
    return _build(
        r,
        Timeouts,
        heartbeat=t.number("heartbeat"),
        unhealthy_primary=t.number("unhealthyPrimary"),
        transitory_state=t.number("transitoryState"),
    )


# --- cluster status -----------------------------------------------------------------------------------


def components_json(components: Mapping[str, Any]) -> str:
    """Components as stored: compact JSON, summarised when too large for a heartbeat item."""
    text = json.dumps(components, sort_keys=True, separators=(",", ":"), default=str)
    if len(text.encode()) <= MAX_COMPONENTS_BYTES:
        return text
    summary = {"truncated": True, "count": len(components), "bytes": len(text.encode())}
    return json.dumps(summary, sort_keys=True, separators=(",", ":"))


def cluster_status_from_item(item: Mapping[str, Any]) -> ClusterStatus:
    r = _Reader(item)
    try:
        cluster = keys.parse_cluster_sk(r.sk)
    except ValueError as exc:
        raise r.corrupt(str(exc)) from None
    raw_components = r.text("components", required=False) or "{}"
    try:
        components = json.loads(raw_components)
    except json.JSONDecodeError as exc:
        raise r.corrupt(f"components is not valid JSON: {exc}") from None
    if not isinstance(components, dict):
        raise r.corrupt("components is not a JSON object")
    return _build(
        r,
        ClusterStatus,
        cluster_name=cluster,
        health=r.text("health"),
        state=r.text("state"),
        heartbeat_seq=r.number("heartbeatSeq"),
        last_heartbeat=r.stamp("lastHeartbeat"),
        observed_epoch=r.number("observedEpoch", required=False),
        components=components,
        message=r.text("message", required=False),
        following=r.text("following", required=False),
        leaving=bool(r.flag("leaving", required=False)),
        maintenance=bool(r.flag("maintenance", required=False)),
    )


# --- lock ---------------------------------------------------------------------------------------------


def liveness_from_item(item: Mapping[str, Any]) -> Liveness:
    r = _Reader(item)
    try:
        cluster = keys.parse_cluster_sk(r.sk)
    except ValueError as exc:
        raise r.corrupt(str(exc)) from None
    return _build(
        r,
        Liveness,
        cluster_name=cluster,
        seq=r.number("seq"),
        at=r.stamp("at"),
        interval=r.number("interval", required=False),
        writer=r.text("writer", required=False) or "",
        change_seq=r.number("changeSeq", required=False) or 0,
        changes_from=r.number("changesFrom", required=False) or 1,
        changes={k: int(v.get("N", "0")) for k, v in (r.get("changes", "M", required=False) or {}).items()},
        fenced=sorted(r.get("fenced", "SS", required=False) or []),
        starting=r.number("starting", required=False) or 0,
    )


def publisher_from_item(item: Mapping[str, Any]) -> Liveness:
    """A publisher's change list (keys.publisher_sk), as a Liveness with no sequence number of its own."""
    r = _Reader(item)
    if not r.sk.startswith(keys.PUBLISHER_PREFIX):
        raise r.corrupt(f"not a publisher sort key: {r.sk!r}")
    return _build(
        r,
        Liveness,
        cluster_name=r.sk[len(keys.PUBLISHER_PREFIX) :],
        at=r.stamp("at"),
        writer=r.text("writer", required=False) or "",
        change_seq=r.number("changeSeq"),
        changes_from=r.number("changesFrom", required=False) or 1,
        changes={k: int(v.get("N", "0")) for k, v in (r.get("changes", "M", required=False) or {}).items()},
    )


def lease_to_item(pk: str, lease: Lease) -> Item:
    return {
        **keys.key(pk, keys.LOCK_SK),
        "recordType": s("LOCK"),
        "holder": s(lease.holder),
        "reason": s(lease.reason),
        "token": s(lease.token),
        "acquiredAt": ts(lease.acquired_at),
        "leaseSeconds": n(float(lease.lease_seconds)),
        "renewals": n(lease.renewals),
    }


def lock_from_item(item: Mapping[str, Any]) -> LockInfo:
    r = _Reader(item)
    return _build(
        r,
        LockInfo,
        holder=r.text("holder"),
        reason=r.text("reason", required=False) or "",
        acquired_at=r.stamp("acquiredAt"),
        lease_seconds=r.number("leaseSeconds"),
        token=r.text("token"),
        renewals=r.number("renewals"),
    )


# --- history ------------------------------------------------------------------------------------------


def history_to_item(pk: str, record: HistoryRecord) -> Item:
    item: Item = {
        **keys.key(pk, record.record_id),
        "recordType": s("HISTORY"),
        "failoverName": s(record.failover_name),
        "sourceCluster": s(record.source_cluster),
        "targetCluster": s(record.target_cluster),
        "reason": s(record.reason),
        "forced": b(record.forced),
        "automatic": b(record.automatic),
        "mode": s(record.mode.value),
        "startedAt": ts(record.started_at),
        "finishedAt": ts(record.finished_at),
        "outcome": s(record.outcome.value),
        "epoch": n(record.epoch),
    }
    _opt(item, "downtimeSeconds", n(record.downtime_seconds) if record.downtime_seconds is not None else None)
    _opt(item, "unconfirmed", b(True) if record.unconfirmed else None)
    return item


def history_from_item(item: Mapping[str, Any]) -> HistoryRecord:
    r = _Reader(item)
    return _build(
        r,
        HistoryRecord,
        failover_name=r.text("failoverName"),
        source_cluster=r.text("sourceCluster"),
        target_cluster=r.text("targetCluster"),
        reason=r.text("reason", required=False) or "",
        forced=bool(r.flag("forced", required=False)),
        automatic=bool(r.flag("automatic", required=False)),
        mode=r.text("mode", required=False) or FailoverMode.CONSISTENCY.value,
        started_at=r.stamp("startedAt"),
        finished_at=r.stamp("finishedAt"),
        outcome=r.text("outcome"),
        epoch=r.number("epoch"),
        downtime_seconds=r.number("downtimeSeconds", required=False),
        unconfirmed=bool(r.flag("unconfirmed", required=False)),
        record_id=r.sk,
    )
