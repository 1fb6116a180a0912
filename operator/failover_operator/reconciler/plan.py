"""A FailoverGroup spec reduced to the plain values the reconciler (and the watchdog) work with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..api import FailoverGroupSpec
from ..model import Timeouts
from ..workloads.converge import ResourceRef


@dataclass(frozen=True)
class GroupPlan:
    heartbeat_interval: float
    timeouts: Timeouts
    auto_failover: bool = True
    priority: tuple[str, ...] = ()
    initial_primary: str | None = None
    suspended: bool = False
    suspension_reason: str | None = None
    resources: tuple[ResourceRef, ...] = ()
    generation: int | None = None
    created: datetime | None = None
    """The FailoverGroup's creationTimestamp: of two groups listing one resource, the older manages it."""
    spec_error: str | None = None  # the current spec is invalid; this plan is the last valid one


def plan_of(body: Mapping[str, Any]) -> GroupPlan:
    """The reconciler's view of a FailoverGroup object. Raises ValidationError for an invalid spec.

    Defaults are applied here too (not only by the CRD schema): objects can predate a schema change.
    """
    spec = FailoverGroupSpec.model_validate(dict(body.get("spec") or {}))
    d = spec.durations()
    resources = [
        *(ResourceRef(kind=str(w.kind), name=w.name) for w in spec.workloads),
        *(ResourceRef(kind=str(r.kind), name=r.name) for r in spec.network_resources),
        *(
            ResourceRef(kind=str(f.kind), name=f.name, trigger_reconcile=f.trigger_reconcile)
            for f in spec.flux_resources
        ),
    ]
    return GroupPlan(
        heartbeat_interval=d.heartbeat_interval,
        timeouts=spec.store_timeouts(),
        auto_failover=spec.auto_failover,
        priority=tuple(spec.cluster_priority or ()),
        initial_primary=spec.initial_primary,
        suspended=spec.suspended,
        suspension_reason=spec.suspension_reason,
        resources=tuple(resources),
        generation=(body.get("metadata") or {}).get("generation"),
        created=_timestamp((body.get("metadata") or {}).get("creationTimestamp")),
    )


def _timestamp(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
