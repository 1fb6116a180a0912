"""The custom resources' specs and statuses as pydantic models: the single source of the CRDs in `crds/`.

`crdgen.py` turns these models into the CustomResourceDefinitions, so every field, default, pattern and
description below is what the API server enforces and what `kubectl explain` shows. The operator validates
with the same models too, because objects can predate the schema and test API servers do not validate.

Attributes are snake_case in Python and camelCase on the wire (`populate_by_name` accepts both); dump with
`to_dict()` (or `to_merge_patch()` for a status patch). Rules the schema states for the API server only
(`x-kubernetes-*`, CEL) are written next to the field they constrain, with the matching pydantic check.
Spec booleans are StrictBool, as on the API server: pydantic would otherwise read "yes" as true.

This module knows nothing of kopf: handlers parse `spec`/`status` mappings with `model_validate`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from .model import ClusterState, FailoverMode, Health, HistoryRecord, Role, Timeouts

if TYPE_CHECKING:
    from .model import ScheduledSwitchover

__all__ = [
    "API_VERSION",
    "CLUSTER_NAME_PATTERN",
    "DURATION_PATTERN",
    "FAILOVER",
    "FAILOVER_GROUP",
    "GROUP",
    "NAMESPACE_PATTERN",
    "RESOURCE_NAME_PATTERN",
    "VERSION",
    "ClusterReport",
    "ClusterState",
    "Condition",
    "ConditionStatus",
    "ConditionType",
    "Durations",
    "FailoverGroupSpec",
    "FailoverGroupStatus",
    "FailoverMode",
    "FailoverSpec",
    "FailoverStatus",
    "FluxKind",
    "FluxResourceRef",
    "GroupProgress",
    "GroupRef",
    "Health",
    "LastFailover",
    "NetworkKind",
    "NetworkResourceRef",
    "Phase",
    "ResourceKind",
    "Role",
    "SpecTimeouts",
    "WorkloadKind",
    "WorkloadRef",
    "find_condition",
    "format_duration",
    "make_condition",
    "merge_conditions",
    "parse_duration",
    "set_condition",
    "validation_message",
]

GROUP = "failover.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


@dataclass(frozen=True)
class ResourceKind:
    """Names of one custom resource kind, shared by the CRD generator and the handlers that watch it."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    categories: tuple[str, ...] = ("failover",)

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"

    @property
    def api_version(self) -> str:
        return API_VERSION


FAILOVER_GROUP = ResourceKind("FailoverGroup", "failovergroups", "failovergroup", ("fg",))
FAILOVER = ResourceKind("Failover", "failovers", "failover", ("fo",))


# --- durations -------------------------------------------------------------------------------------------

# Go's time.ParseDuration syntax restricted to the units that make sense here, so that CEL's duration() on
# the API server and parse_duration() here accept exactly the same strings.
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
_DURATION_RE = re.compile(DURATION_PATTERN)
_DURATION_PART_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_MAX_DURATION_SECONDS = (2**63 - 1) / 1e9  # Go's time.Duration is int64 nanoseconds; CEL fails beyond
_DURATION_MAX_LENGTH = 32


@functools.lru_cache(maxsize=1024)
def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration such as `15s`, `2m`, `1h30m`, `1.5h` or `500ms`. (Cached: every tick
    reads the spec's few durations again.)"""
    if not isinstance(text, str) or not _DURATION_RE.match(text):
        raise ValueError(
            f"invalid duration {text!r}: expected numbers with units ms, s, m or h, such as '15s', '2m', "
            "'1h30m' or '500ms'"
        )
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART_RE.findall(text))
    if seconds > _MAX_DURATION_SECONDS:
        raise ValueError(f"invalid duration {text!r}: longer than the maximum of about 292 years")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest duration string for `seconds`, rounded to milliseconds: 90 -> `1m30s`, 0.5 -> `500ms`.

    The result always matches DURATION_PATTERN, so it parses back with parse_duration().
    """
    if seconds < 0:
        raise ValueError(f"cannot format a negative duration: {seconds!r}")
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    parts = [f"{hours}h"] if hours else []
    if minutes:
        parts.append(f"{minutes}m")
    if secs and millis:
        parts.append(f"{secs}.{millis:03d}".rstrip("0") + "s")
    elif secs:
        parts.append(f"{secs}s")
    elif millis:
        parts.append(f"{millis}ms")
    return "".join(parts) or "0s"


def _positive_duration(text: str) -> str:
    if parse_duration(text) <= 0:
        raise ValueError(f"duration {text!r} must be greater than zero")
    return text


def _any_duration(text: str) -> str:
    parse_duration(text)
    return text


def _matches(pattern: str, what: str) -> AfterValidator:
    """A pattern check with a message people understand (pydantic's own only repeats the regex)."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(f"{value!r} is not a valid {what}")
        return value

    return AfterValidator(check)


# A CEL rule runs even where the field's pattern failed (a pattern is no "blocking" error), and duration() of a
# string that is no duration fails the rule with an evaluation error of its own: each rule that parses a duration
# passes on what is not one, and leaves it to the pattern's message.
_IS_DURATION = f"{{d}}.matches(r'{DURATION_PATTERN}')"
_DURATION_RULE = f"!{_IS_DURATION} || duration({{d}}) > duration('0s')"

# Patterns go into the schema through json_schema_extra rather than Field(pattern=...), so that pydantic
# reports the clearer messages of the validators above instead of "String should match pattern '...'".
Duration = Annotated[
    str,
    Field(
        min_length=1,
        max_length=_DURATION_MAX_LENGTH,
        json_schema_extra={
            "pattern": DURATION_PATTERN,
            "x-kubernetes-validations": [
                {"rule": _DURATION_RULE.format(d="self"), "message": "must be a duration greater than zero"}
            ],
        },
    ),
    AfterValidator(_positive_duration),
]
"""A positive Go-style duration string (`15s`, `1h30m`, `500ms`)."""

Age = Annotated[
    str,
    Field(min_length=1, max_length=_DURATION_MAX_LENGTH, json_schema_extra={"pattern": DURATION_PATTERN}),
    AfterValidator(_any_duration),
]
"""A duration string that may be zero (an age)."""

# Letters, digits, '-', '_' and '.'; never '#', which separates the parts of every DynamoDB key.
CLUSTER_NAME_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
ClusterName = Annotated[
    str,
    Field(max_length=63, json_schema_extra={"pattern": CLUSTER_NAME_PATTERN}),
    _matches(CLUSTER_NAME_PATTERN, "cluster name (letters, digits, '-', '_', '.'; alphanumeric at both ends)"),
]

# Kubernetes object names (RFC 1123 DNS subdomain) and namespaces (RFC 1123 DNS label).
RESOURCE_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
ResourceName = Annotated[
    str,
    Field(min_length=1, max_length=253, json_schema_extra={"pattern": RESOURCE_NAME_PATTERN}),
    _matches(RESOURCE_NAME_PATTERN, "Kubernetes object name (lowercase letters, digits, '-', '.')"),
]
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
NamespaceName = Annotated[
    str,
    Field(min_length=1, max_length=63, json_schema_extra={"pattern": NAMESPACE_PATTERN}),
    _matches(NAMESPACE_PATTERN, "namespace name (lowercase letters, digits, '-')"),
]

Text = Annotated[str, Field(max_length=1024)]


def _truncate(limit: int) -> BeforeValidator:
    def cut(value: Any) -> Any:
        return value[: limit - 1] + "…" if isinstance(value, str) and len(value) > limit else value

    return BeforeValidator(cut)


# Status fields echo what other clusters wrote to DynamoDB, or error texts of any length. Writing the status
# must never fail on them, so long texts are cut instead of rejected, and reported cluster names are taken
# as the store has them (the store allows any name without '#' or whitespace).
StatusText = Annotated[str, Field(max_length=1024), _truncate(1024)]
StatusLongText = Annotated[str, Field(max_length=32768), _truncate(32768)]
StatusClusterName = Annotated[str, Field(max_length=63)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, alias_generator=to_camel)

    def to_dict(self) -> dict[str, Any]:
        """The object as Kubernetes stores it: camelCase keys, JSON types, unset (None) fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _duplicates(keys: Iterable[Any]) -> list[Any]:
    seen: set[Any] = set()
    dupes: list[Any] = []
    for key in keys:
        if key in seen and key not in dupes:
            dupes.append(key)
        seen.add(key)
    return dupes


def _map_list(*keys: str) -> dict[str, Any]:
    """Schema keys of a list whose items are identified by `keys` (merged per item by server-side apply)."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}


# --- FailoverGroup spec ----------------------------------------------------------------------------------

DEFAULT_HEARTBEAT_INTERVAL = "5s"
DEFAULT_HEARTBEAT_TIMEOUT = "15s"
DEFAULT_UNHEALTHY_PRIMARY_TIMEOUT = "60s"
DEFAULT_TRANSITORY_STATE_TIMEOUT = "5m"


class WorkloadKind(StrEnum):
    DEPLOYMENT = "Deployment"
    STATEFUL_SET = "StatefulSet"
    CRON_JOB = "CronJob"


class NetworkKind(StrEnum):
    INGRESS = "Ingress"
    VIRTUAL_SERVICE = "VirtualService"


class FluxKind(StrEnum):
    HELM_RELEASE = "HelmRelease"
    KUSTOMIZATION = "Kustomization"


class WorkloadRef(_Model):
    """A workload in the group's namespace: scaled up on the primary, to zero (or suspended) on standbys."""

    kind: WorkloadKind = Field(description="Kind of the workload: Deployment, StatefulSet or CronJob.")
    name: ResourceName = Field(description="Name of the workload, in the FailoverGroup's namespace.")


class NetworkResourceRef(_Model):
    """A network resource whose DNS annotations are on for the primary only."""

    kind: NetworkKind = Field(description="Kind of the resource: Ingress or (Istio) VirtualService.")
    name: ResourceName = Field(description="Name of the resource, in the FailoverGroup's namespace.")


class FluxResourceRef(_Model):
    """A Flux resource that is resumed on the primary and suspended on standbys."""

    kind: FluxKind = Field(description="Kind of the Flux resource: HelmRelease or Kustomization.")
    name: ResourceName = Field(description="Name of the resource, in the FailoverGroup's namespace.")
    trigger_reconcile: StrictBool = Field(
        False, description="Ask Flux to reconcile the resource right after resuming it on promotion."
    )


class SpecTimeouts(_Model):
    """How long the operators wait before they act on a silent, unhealthy or stuck cluster."""

    heartbeat: Duration = Field(
        DEFAULT_HEARTBEAT_TIMEOUT,
        description="A cluster whose heartbeat has not changed for this long is stale; a stale primary is "
        "failed over automatically.",
    )
    unhealthy_primary: Duration = Field(
        DEFAULT_UNHEALTHY_PRIMARY_TIMEOUT,
        description="A primary that reports ERROR health for this long is failed over automatically.",
    )
    transitory_state: Duration = Field(
        DEFAULT_TRANSITORY_STATE_TIMEOUT,
        description="A planned failover step (demoting, promoting) that takes longer than this has failed.",
    )


class Durations(NamedTuple):
    """A FailoverGroup's durations in seconds."""

    heartbeat_interval: float
    heartbeat: float
    unhealthy_primary: float
    transitory_state: float


# The cross-field rule in CEL. Written with has() and the defaults because objects stored before a default
# existed are validated without it (e.g. on a status update). It judges only two valid durations and a timeout
# above zero: anything else has its own message on its own field, and this one would only repeat it.
_INTERVAL = f"(has(self.heartbeatInterval) ? self.heartbeatInterval : '{DEFAULT_HEARTBEAT_INTERVAL}')"
_TIMEOUT = (
    f"(has(self.timeouts) && has(self.timeouts.heartbeat) ? self.timeouts.heartbeat : '{DEFAULT_HEARTBEAT_TIMEOUT}')"
)
_HEARTBEAT_RULE = (
    f"!{_IS_DURATION.format(d=_INTERVAL)} || !{_IS_DURATION.format(d=_TIMEOUT)} || "
    f"duration({_TIMEOUT}) <= duration('0s') || duration({_INTERVAL}) < duration({_TIMEOUT})"
)


class FailoverGroupSpec(_Model):
    """Which resources fail over together, and when the operators may fail them over on their own."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": _HEARTBEAT_RULE, "message": "heartbeatInterval must be shorter than timeouts.heartbeat"}
            ]
        }
    )

    initial_primary: ClusterName | None = Field(
        None,
        description="Cluster that becomes primary when the group is first registered. Unset: the first "
        "cluster to register it. Ignored once the group exists.",
    )
    suspended: StrictBool = Field(
        False,
        description="Suspend failover: no automatic failover, and only Failovers with force: true move the group. "
        "Clusters keep their roles and heartbeats.",
    )
    suspension_reason: Text | None = Field(None, description="Why the group is suspended, for people.")
    heartbeat_interval: Duration = Field(
        DEFAULT_HEARTBEAT_INTERVAL,
        description="How often each cluster writes its heartbeat for this group. Must be shorter than "
        "timeouts.heartbeat.",
    )
    timeouts: SpecTimeouts = Field(
        default_factory=SpecTimeouts,
        description="How long to wait before acting on a stale, unhealthy or stuck cluster.",
        json_schema_extra={"default": {}},
    )
    auto_failover: StrictBool = Field(
        True, description="Let a healthy standby take over from a stale or failing primary without a Failover."
    )
    cluster_priority: list[ClusterName] | None = Field(
        None,
        max_length=32,
        description="Clusters in order of preference for automatic failover; unlisted clusters come last.",
        json_schema_extra={
            "x-kubernetes-list-type": "atomic",
            "x-kubernetes-validations": [
                {"rule": "self.all(c, self.exists_one(d, d == c))", "message": "must not list a cluster twice"}
            ],
        },
    )
    workloads: list[WorkloadRef] = Field(
        default_factory=list,
        max_length=256,
        description="Deployments, StatefulSets and CronJobs that run on the primary only.",
        json_schema_extra=_map_list("kind", "name"),
    )
    network_resources: list[NetworkResourceRef] = Field(
        default_factory=list,
        max_length=128,
        description="Ingresses and VirtualServices whose DNS records point to the primary only.",
        json_schema_extra=_map_list("kind", "name"),
    )
    flux_resources: list[FluxResourceRef] = Field(
        default_factory=list,
        max_length=128,
        description="HelmReleases and Kustomizations that reconcile on the primary only.",
        json_schema_extra=_map_list("kind", "name"),
    )

    @field_validator("workloads", "network_resources", "flux_resources")
    @classmethod
    def _unique_refs(cls, refs: list[Any]) -> list[Any]:
        dupes = _duplicates((ref.kind.value, ref.name) for ref in refs)
        if dupes:
            listed = ", ".join(f"{kind}/{name}" for kind, name in dupes)
            raise ValueError(f"listed more than once: {listed}")
        return refs

    @field_validator("cluster_priority")
    @classmethod
    def _unique_clusters(cls, clusters: list[str] | None) -> list[str] | None:
        dupes = _duplicates(clusters or ())
        if dupes:
            raise ValueError(f"listed more than once: {', '.join(dupes)}")
        return clusters

    @model_validator(mode="after")
    def _heartbeat_within_timeout(self) -> Self:
        if parse_duration(self.heartbeat_interval) >= parse_duration(self.timeouts.heartbeat):
            raise ValueError(
                f"heartbeatInterval ({self.heartbeat_interval}) must be shorter than timeouts.heartbeat "
                f"({self.timeouts.heartbeat}): otherwise a healthy cluster looks stale between two heartbeats"
            )
        return self

    def durations(self) -> Durations:
        t = self.timeouts
        return Durations(
            heartbeat_interval=parse_duration(self.heartbeat_interval),
            heartbeat=parse_duration(t.heartbeat),
            unhealthy_primary=parse_duration(t.unhealthy_primary),
            transitory_state=parse_duration(t.transitory_state),
        )

    def store_timeouts(self) -> Timeouts:
        """The timeouts as the group config record in DynamoDB keeps them (seconds)."""
        d = self.durations()
        return Timeouts(
            heartbeat=d.heartbeat, unhealthy_primary=d.unhealthy_primary, transitory_state=d.transitory_state
        )


# --- conditions ------------------------------------------------------------------------------------------


class ConditionType(StrEnum):
    READY = "Ready"
    DEGRADED = "Degraded"
    SUSPENDED = "Suspended"
    FENCED = "Fenced"
    SPEC_VALID = "SpecValid"
    READY_TO_TAKE_OVER = "ReadyToTakeOver"  # this cluster could take the group over now, were the owner gone
    SUSPENSION_AS_SPECIFIED = "SuspensionAsSpecified"  # DynamoDB's suspension is what spec.suspended says


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


# As metav1.Condition: what `kubectl wait --for=condition=...` and other tools expect.
CONDITION_TYPE_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
CONDITION_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"


class Condition(_Model):
    """One aspect of the object's state, in the standard Kubernetes shape."""

    type: Annotated[str, Field(max_length=316, pattern=CONDITION_TYPE_PATTERN)] = Field(
        description="Type of condition in CamelCase: Ready, Degraded, Suspended, Fenced or SpecValid."
    )
    status: ConditionStatus = Field(description="Status of the condition: True, False or Unknown.")
    reason: Annotated[str, Field(min_length=1, max_length=1024, pattern=CONDITION_REASON_PATTERN)] = Field(
        description="Machine-readable reason for the last transition, in CamelCase."
    )
    message: StatusLongText = Field("", description="Human-readable details of the last transition.")
    last_transition_time: datetime = Field(description="When the status last changed.")
    observed_generation: int | None = Field(
        None, ge=0, description="metadata.generation of the object when the condition was set."
    )


def make_condition(
    type: str,
    status: ConditionStatus | bool,
    reason: str,
    message: str = "",
    *,
    now: datetime,
    observed_generation: int | None = None,
) -> Condition:
    """A condition stamped `now` (to the second, as Kubernetes writes times); True/False from a bool."""
    if isinstance(status, bool):
        status = ConditionStatus.TRUE if status else ConditionStatus.FALSE
    return Condition(
        type=type,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=now.replace(microsecond=0),
        observed_generation=observed_generation,
    )


def find_condition(conditions: Iterable[Condition], type: str) -> Condition | None:
    return next((c for c in conditions if c.type == type), None)


def set_condition(conditions: Sequence[Condition], new: Condition) -> list[Condition]:
    """`conditions` with `new` in place of its type's condition, appended if the type is new.

    lastTransitionTime records when the *status* changed, so it is kept from the old condition when the
    status is unchanged (even if reason or message change). Pure: the input is not modified.
    """
    old = find_condition(conditions, new.type)
    if old is None:
        return [*conditions, new]
    if old.status == new.status:
        new = new.model_copy(update={"last_transition_time": old.last_transition_time})
    return [new if c.type == new.type else c for c in conditions]


def merge_conditions(conditions: Sequence[Condition], updates: Iterable[Condition]) -> list[Condition]:
    """set_condition() for each of `updates`, in order."""
    merged = list(conditions)
    for update in updates:
        merged = set_condition(merged, update)
    return merged


_CONDITIONS_SCHEMA = _map_list("type")


class _Status(_Model):
    def to_merge_patch(self) -> dict[str, Any]:
        """The status as a JSON merge patch (what kopf sends for `patch.status`): fields that are None become
        null, so the patch clears what the status no longer says. A merge patch replaces lists whole, so
        list items carry no nulls."""
        return _nulls_for_unset(self.model_dump(mode="json", by_alias=True))


def _nulls_for_unset(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _nulls_for_unset(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


# --- FailoverGroup status --------------------------------------------------------------------------------


class ClusterReport(_Model):
    """One participating cluster as its latest heartbeat in DynamoDB describes it."""

    name: StatusClusterName = Field(description="Name of the cluster.")
    role: ClusterState | None = Field(
        None, description="State the cluster reports: PRIMARY, STANDBY, FAILOVER, FAILBACK or FENCED."
    )
    health: Health | None = Field(None, description="Health the cluster reports: OK, DEGRADED, ERROR or UNKNOWN.")
    heartbeat_age: Age | None = Field(
        None,
        description="No longer written (an age written once looked live long after it was not): see silentSince, "
        "and `failover-operator status`, which computes ages when it is run.",
    )
    last_heartbeat: datetime | None = Field(
        None,
        description="Wall-clock time the cluster wrote with its latest status record (for people; clocks differ). "
        "A cluster rewrites that record only when what it says changes, so an old time is not a silence.",
    )
    silent_since: datetime | None = Field(
        None,
        description="Set when this cluster's operator, writing this status, had seen no sign of life from the "
        "cluster (neither its status record nor its liveness moving) for over two heartbeat intervals: the "
        "moment, on this cluster's clock, since which it has been silent. Absent: it was heartbeating when this "
        "status was written (the status is rewritten only when something in it changes).",
    )
    observed_epoch: int | None = Field(None, ge=0, description="The last epoch the cluster has acted on.")
    message: StatusText | None = Field(None, description="What the cluster says about itself.")


class LastFailover(_Model):
    """The latest change of owner, planned or automatic."""

    name: StatusText | None = Field(None, description="Name of the Failover, or of the automatic failover.")
    source_cluster: StatusClusterName | None = Field(None, description="The previous owner.")
    target_cluster: StatusClusterName = Field(description="The new owner.")
    epoch: int = Field(ge=0, description="The epoch the new owner took the group at.")
    time: datetime | None = Field(None, description="When ownership moved.")
    automatic: bool = Field(False, description="True when an operator took over without a Failover.")
    forced: bool = Field(False, description="True when the failover skipped the safety checks (force: true).")

    @classmethod
    def from_history(cls, record: HistoryRecord) -> LastFailover:
        return cls(
            name=record.failover_name,
            source_cluster=record.source_cluster,
            target_cluster=record.target_cluster,
            epoch=record.epoch,
            time=record.finished_at,
            automatic=record.automatic,
            forced=record.forced,
        )


class ScheduledSwitchoverReport(_Model):
    """A switchover of the group scheduled for later (`failover-operator switchover --at`), from DynamoDB."""

    name: StatusText = Field(description="The move's name once it starts (its history record's).")
    source_cluster: StatusClusterName = Field(description="The owner when it was scheduled.")
    target_cluster: StatusClusterName = Field(description="The cluster that becomes primary.")
    mode: FailoverMode = Field(description="CONSISTENCY or UPTIME.")
    at: datetime = Field(description="When the target's operator asks for the move, on its own clock.")
    requested_by: StatusText = Field(description="Who scheduled it.")
    reason: StatusText | None = Field(None, description="Why, as given when it was scheduled.")

    @classmethod
    def from_schedule(cls, sw: ScheduledSwitchover) -> ScheduledSwitchoverReport:
        return cls(
            name=sw.name,
            source_cluster=sw.source_cluster,
            target_cluster=sw.target_cluster,
            mode=sw.mode,
            at=sw.at.replace(microsecond=0),
            requested_by=sw.requested_by,
            reason=sw.reason or None,
        )


class FailoverGroupStatus(_Status):
    """The group as this cluster's operator last saw it (written by the operator only)."""

    owner: StatusClusterName | None = Field(None, description="The cluster that is primary, from DynamoDB.")
    role: Role | None = Field(None, description="The role of this cluster: PRIMARY, STANDBY or FENCED.")
    epoch: int | None = Field(None, ge=0, description="Ownership epoch: incremented by every change of owner.")
    health: Health | None = Field(None, description="Health of this cluster's resources: OK, DEGRADED, ERROR, UNKNOWN.")
    suspended: bool | None = Field(None, description="Whether automatic failover is suspended, from DynamoDB.")
    suspension_reason: StatusText | None = Field(None, description="Why the group is suspended.")
    clusters: list[ClusterReport] = Field(
        default_factory=list,
        description="Every cluster that has registered the group, with its health and heartbeat age.",
        json_schema_extra=_map_list("name"),
    )
    last_failover: LastFailover | None = Field(None, description="The latest change of owner.")
    scheduled_switchover: ScheduledSwitchoverReport | None = Field(
        None, description="A switchover scheduled for later (switchover --at), not started yet."
    )
    decision: StatusText | None = Field(
        None, description="The operator's last decision and its reason, e.g. 'no action: I am east, PRIMARY ...'."
    )
    message: StatusLongText | None = Field(None, description="Details of the last problem, if any.")
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready, Degraded, Suspended, Fenced and SpecValid.",
        json_schema_extra=_CONDITIONS_SCHEMA,
    )
    observed_generation: int | None = Field(
        None, ge=0, description="metadata.generation of the spec this status was computed from."
    )


# --- Failover ----------------------------------------------------------------------------------------------


class Phase(StrEnum):
    """Progress of a Failover, and of each of its groups."""

    PENDING = "Pending"
    VALIDATING = "Validating"
    DEMOTING = "Demoting"
    TRANSFERRING = "Transferring"
    PROMOTING = "Promoting"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    VALIDATED = "Validated"  # a dry run found that the move would start (and changed nothing)

    @property
    def terminal(self) -> bool:
        """True once nothing more will happen."""
        return self in (Phase.SUCCEEDED, Phase.FAILED, Phase.VALIDATED)


class GroupRef(_Model):
    """A FailoverGroup to move."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-map-type": "atomic"})

    name: ResourceName = Field(description="Name of the FailoverGroup.")
    namespace: NamespaceName | None = Field(
        None, description="Namespace of the FailoverGroup. Unset: the Failover's own namespace."
    )


class FailoverSpec(_Model):
    """A request to move groups to one cluster. Immutable: create a new Failover to ask again."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": "self == oldSelf", "message": "spec is immutable: create a new Failover"}
            ]
        }
    )

    target_cluster: ClusterName = Field(description="The cluster that becomes primary of every listed group.")
    failover_groups: list[GroupRef] = Field(
        min_length=1,
        max_length=128,
        description="The FailoverGroups to move (each one in every cluster that has it).",
        # Not a list-map (`namespace` is optional, so it cannot be a key) and not a set (a set of objects makes
        # the API server fail every CEL rule on the object, the spec's immutability included, and server-side
        # apply refuse it): atomic, with the uniqueness of (namespace, name) as a rule of its own.
        json_schema_extra={
            "x-kubernetes-list-type": "atomic",
            "x-kubernetes-validations": [
                {
                    # has(): an item without a name is its own rule's message, not an evaluation error here
                    "rule": "self.all(g, !has(g.name) || self.exists_one(h, has(h.name) && h.name == g.name && "
                    "(has(h.__namespace__) ? h.__namespace__ : '') == (has(g.__namespace__) ? g.__namespace__ : '')))",
                    "message": "must not list a group twice",
                }
            ],
        },
    )
    mode: FailoverMode = Field(
        FailoverMode.CONSISTENCY,
        description="CONSISTENCY: the old primary stops before the new one starts (no overlap). UPTIME: the new "
        "primary starts before the old one stops (no gap).",
    )
    force: StrictBool = Field(
        False,
        description="Move even if the target is unhealthy, the group is suspended or the old primary does not answer: "
        "the target waits two heartbeatIntervals for the old primary to confirm it stopped, then moves without it.",
    )
    reason: Text | None = Field(None, description="Why the failover is requested, for people and the history.")
    dry_run: StrictBool = Field(
        False,
        description="Only check: every precondition the move would meet, and what would happen step by step. Ends "
        "in phase Validated (or Failed, with the reasons) and changes nothing.",
    )

    @field_validator("failover_groups")
    @classmethod
    def _unique_groups(cls, groups: list[GroupRef]) -> list[GroupRef]:
        dupes = _duplicates((g.namespace, g.name) for g in groups)
        if dupes:
            listed = ", ".join(f"{ns}/{name}" if ns else name for ns, name in dupes)
            raise ValueError(f"listed more than once: {listed}")
        return groups

    def group_keys(self, own_namespace: str) -> list[tuple[str, str]]:
        """(namespace, name) of every group, an unset namespace being the Failover's own.

        Raises ValueError for a group listed twice once namespaces are resolved, which the schema cannot see.
        """
        keys = [(g.namespace or own_namespace, g.name) for g in self.failover_groups]
        dupes = _duplicates(keys)
        if dupes:
            raise ValueError(f"failoverGroups lists more than once: {', '.join(f'{n}/{m}' for n, m in dupes)}")
        return keys


class GroupProgress(_Model):
    """Progress of one group of a Failover."""

    namespace: NamespaceName = Field(description="Namespace of the FailoverGroup.")
    name: ResourceName = Field(description="Name of the FailoverGroup.")
    phase: Phase = Field(Phase.PENDING, description="Step the group has reached.")
    source_cluster: StatusClusterName | None = Field(None, description="The owner before the failover.")
    target_cluster: StatusClusterName | None = Field(None, description="The owner after the failover.")
    epoch: int | None = Field(None, ge=0, description="The epoch after the change of owner.")
    start_time: datetime | None = Field(None, description="When work on the group started.")
    demoted_time: datetime | None = Field(None, description="When the old primary reported it had stopped.")
    transferred_time: datetime | None = Field(None, description="When ownership moved in DynamoDB.")
    promoted_time: datetime | None = Field(None, description="When the new primary reported it had started.")
    completion_time: datetime | None = Field(None, description="When the group reached Succeeded or Failed.")
    downtime_seconds: float | None = Field(
        None, ge=0, description="Seconds during which neither cluster served the group."
    )
    overlap_unknown: bool | None = Field(
        None,
        description="Forced, and the old owner never confirmed it stopped serving before the new owner took over: "
        "the two may have served at once, for a time nobody measured (and the downtime is unknown).",
    )
    message: StatusText | None = Field(None, description="What happened, or why the group failed.")


class FailoverStatus(_Status):
    """Progress, timings and outcome of the Failover (written by the operator only)."""

    phase: Phase | None = Field(
        None, description="Step the Failover has reached; Succeeded, Failed and Validated (a dry run) are final."
    )
    groups: list[GroupProgress] = Field(
        default_factory=list,
        description="Progress of each group.",
        json_schema_extra=_map_list("namespace", "name"),
    )
    start_time: datetime | None = Field(None, description="When the operator started the Failover.")
    completion_time: datetime | None = Field(None, description="When the Failover reached Succeeded or Failed.")
    duration_seconds: float | None = Field(None, ge=0, description="Seconds from start to completion.")
    duration: StatusText | None = Field(None, description="From start to completion, for people (e.g. 1m05s).")
    measured_downtime_seconds: float | None = Field(
        None, ge=0, description="Longest downtime of any group, in seconds."
    )
    message: StatusLongText | None = Field(None, description="Outcome, or why the Failover failed.")
    executed_by: StatusClusterName | None = Field(None, description="The cluster whose operator ran the Failover.")
    conditions: list[Condition] = Field(
        default_factory=list, description="Standard conditions.", json_schema_extra=_CONDITIONS_SCHEMA
    )
    observed_generation: int | None = Field(
        None, ge=0, description="metadata.generation of the spec this status was computed from."
    )


# --- errors ----------------------------------------------------------------------------------------------


def validation_message(exc: ValidationError, prefix: str = "spec") -> str:
    """One line for a condition or an event: `spec.timeouts.heartbeat: ...; spec.workloads[0].kind: ...`."""
    problems = []
    for error in exc.errors():
        path = prefix
        for part in error["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{path}: {message}")
    return "; ".join(problems)
