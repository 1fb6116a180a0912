"""Health of the resources a FailoverGroup lists, read from their own status fields (pure: no I/O).

:func:`assess` grades one object for the role this cluster has; :func:`summarize` grades the group (worst of)
with a message a person understands ("Deployment/web: 1 of 3 ready"). :func:`all_down` and :func:`all_ready`
answer the two questions a failover waits on: did the demoted copy stop every pod, is the promoted copy serving?

Grades: OK as intended; DEGRADED on the way there, or not quite right (rolling out, scaling down, missing,
undone by someone else); UNKNOWN when it could not be read (the API server unreachable, overloaded or
refusing us): not knowing is not failing, and only ERROR counts towards failing over an unhealthy owner;
ERROR when a primary serves nothing (pods wanted, none ready) or the API said the resource cannot be served.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..model import Health, Role
from . import annotations as ann
from .kinds import Kind, UnknownKindError, managed_kind


@dataclass(frozen=True)
class Component:
    """One listed resource, graded."""

    health: Health
    detail: dict[str, Any]  # JSON-friendly: {"desired": 3, "ready": 3, "replicas": 3} / {"missing": True} / ...
    message: str  # short, without the resource's name: "1 of 3 ready"
    ready: bool = False  # in its PRIMARY shape and serving (scaled up and all ready, resumed, DNS enabled)
    down: bool | None = None  # Deployment/StatefulSet: runs no pods (a missing one counts); None for other kinds
    shaped: bool = True  # its spec is already in the role's shape: converging would change nothing

    def to_dict(self) -> dict[str, Any]:
        """The detail plus "health" and "message" (what goes into the cluster status record)."""
        return {**self.detail, "health": self.health.value, "message": self.message}


def assess(
    kind: str | Kind,
    obj: Mapping[str, Any] | None,
    role: Role | str,
    *,
    error: str | None = None,
    unobservable: bool = False,
) -> Component:
    """Grade ``obj`` (None: it does not exist) for ``role``; ``error``: reading it failed with this text,
    ``unobservable``: because the API could not answer (UNKNOWN), not because it said no (ERROR)."""
    role = Role(role).shape
    try:
        k = managed_kind(kind)
    except UnknownKindError as e:
        return Component(Health.ERROR, {"error": str(e)}, str(e))
    pods = k.scalable
    if error is not None:
        grade = Health.UNKNOWN if unobservable else Health.ERROR
        return Component(grade, {"error": error}, error, down=False if pods else None, shaped=False)
    if obj is None:
        return Component(Health.DEGRADED, {"missing": True}, "not found", down=True if pods else None)
    if pods:
        component = _workload(obj, role)
    elif k.kind == "CronJob":
        component = _cron_job(obj, role)
    elif k.category == "flux":
        component = _flux(obj, role)
    else:
        component = _dns(obj, role)
    component = dataclasses.replace(component, shaped=_shaped(k, obj, role))
    managed = ann.annotations_of(obj).get(ann.ROLE)
    if managed is not None:
        # The role this operator last converged the object to: all a restarted operator knows of its past
        # when it cannot read DynamoDB (see reconciler.group: fencing after a restart).
        component.detail["managedRole"] = managed
    return component


def summarize(components: Mapping[str, Component], *, limit: int = 5) -> tuple[Health, str]:
    """Worst of, and a message naming what is not OK, worst first: "Deployment/web: 1 of 3 ready; ..."."""
    if not components:
        return Health.OK, "no resources listed"
    worst = max((c.health for c in components.values()), key=lambda h: h.rank)
    if worst == Health.OK:
        n = len(components)
        if n == 1:
            [(key, only)] = components.items()
            return Health.OK, f"{key}: {only.message}"
        return Health.OK, f"all {n} resources OK"
    problems = sorted(
        ((key, c) for key, c in components.items() if c.health != Health.OK), key=lambda kc: -kc[1].health.rank
    )
    shown = [f"{key}: {c.message}" for key, c in problems[:limit]]
    if len(problems) > limit:
        shown.append(f"and {len(problems) - limit} more")
    return worst, "; ".join(shown)


def all_down(components: Mapping[str, Component]) -> bool:
    """No pod of any listed Deployment/StatefulSet runs (confirms a demotion). True when none is listed."""
    return all(c.down for c in components.values() if c.down is not None)


def all_shaped(components: Mapping[str, Component]) -> bool:
    """Every listed resource's spec is in the role's shape: nothing left to scale, resume or publish."""
    return all(c.shaped for c in components.values())


def all_scaled_down(components: Mapping[str, Component]) -> bool:
    """Every listed Deployment/StatefulSet asks for zero pods (some may still terminate): none serves."""
    return all(not c.detail.get("desired") for c in components.values() if c.down is not None)


def all_ready(components: Mapping[str, Component]) -> bool:
    """Every listed resource is in its PRIMARY shape and serving (confirms a promotion)."""
    return all(c.ready for c in components.values())


def _worst(*grades: tuple[Health, str]) -> tuple[Health, str]:
    health = max((h for h, _ in grades), key=lambda h: h.rank)
    message = "; ".join(m for h, m in grades if h != Health.OK) or "; ".join(m for _, m in grades)
    return health, message


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, Mapping) else {}


def _generation_observed(obj: Mapping[str, Any]) -> bool:
    """The controller has seen the latest spec (status.observedGeneration >= metadata.generation)."""
    generation = (obj.get("metadata") or {}).get("generation")
    if not isinstance(generation, int):
        return True
    observed = _status(obj).get("observedGeneration")
    return isinstance(observed, int) and observed >= generation


def _workload(obj: Mapping[str, Any], role: Role) -> Component:
    spec, status = _spec(obj), _status(obj)
    desired = _int(spec.get("replicas"), 1)  # the API server defaults an absent replicas to 1
    replicas = _int(status.get("replicas"))  # pods that exist (not terminating)
    terminating = _int(status.get("terminatingReplicas"))  # Kubernetes >= 1.33 reports these
    ready = _int(status.get("readyReplicas"))
    updated = status.get("updatedReplicas")
    observed = _generation_observed(obj)
    record = ann.annotations_of(obj).get(ann.REPLICAS)
    recorded = ann.parse_replicas_record(record)

    detail: dict[str, Any] = {"desired": desired, "ready": ready, "replicas": replicas}
    if isinstance(updated, int):
        detail["updated"] = updated
    if terminating:
        detail["terminating"] = terminating
    if recorded is not None:
        detail["recordedReplicas"] = recorded
    grades: list[tuple[Health, str]] = []
    if record is not None and recorded is None:
        detail["malformedRecord"] = record
        grades.append((Health.DEGRADED, f"malformed {ann.REPLICAS} annotation {record!r}: replicas left alone"))

    rolling = not observed or (isinstance(updated, int) and updated < desired) or replicas > desired
    # Serving as a primary: all wanted pods ready and current; 0 wanted counts only as the owner's choice.
    serving = (ready >= desired and not rolling) if desired > 0 else record is None
    running = replicas + terminating
    down = desired == 0 and running == 0 and ready == 0 and observed

    if role == Role.PRIMARY:
        if recorded is not None:
            # pods wanted (the count to restore), none asked for: a primary that serves nothing, as 0 ready is
            grade = Health.ERROR if recorded > 0 else Health.DEGRADED
            grades.append((grade, f"not scaled up yet (recorded {recorded}, desired {desired})"))
        elif desired == 0:
            grades.append((Health.OK, "scaled to 0 by its spec"))
        elif ready == 0:
            grades.append((Health.ERROR, f"0 of {desired} ready"))
        elif ready < desired:
            grades.append((Health.DEGRADED, f"{ready} of {desired} ready" + (", rolling out" if rolling else "")))
        elif rolling:
            what = f"{updated} of {desired} updated" if isinstance(updated, int) else "update not yet observed"
            grades.append((Health.DEGRADED, f"rolling out: {what}"))
        else:
            grades.append((Health.OK, f"{ready} of {desired} ready"))
    elif desired > 0:
        grades.append((Health.DEGRADED, f"scaled up on a standby ({desired} desired, {ready} ready)"))
    elif not down:
        left = f"{running} pod{'s' if running != 1 else ''} left" if running else "not yet observed"
        grades.append((Health.DEGRADED, f"scaling down ({left})"))
    else:
        grades.append((Health.OK, "scaled down"))
    health, message = _worst(*grades)
    return Component(health, detail, message, ready=serving and recorded is None, down=down)


def _shaped(kind: Kind, obj: Mapping[str, Any], role: Role) -> bool:
    """Would converging `obj` to `role` change its spec? (What a PRIMARY checks before proving ownership again:
    pods that are only starting need no new scale-up.)"""
    annotations = ann.annotations_of(obj)
    primary = role == Role.PRIMARY
    if kind.scalable:
        if primary:
            return ann.parse_replicas_record(annotations.get(ann.REPLICAS)) is None
        return _int(_spec(obj).get("replicas"), 1) == 0
    if kind.kind == "CronJob" or kind.category == "flux":
        suspended, record = _suspension(obj)
        return not (suspended and record is not None) if primary else suspended
    if primary:
        return annotations.get(ann.DNS) == ann.DNS_ENABLED and annotations.get(ann.STASHED_HOSTNAME) is None
    return annotations.get(ann.DNS) == ann.DNS_DISABLED and annotations.get(ann.EXTERNAL_DNS_HOSTNAME) is None


def _suspension(obj: Mapping[str, Any]) -> tuple[bool, str | None]:
    return _spec(obj).get("suspend") is True, ann.annotations_of(obj).get(ann.SUSPEND)


def _cron_job(obj: Mapping[str, Any], role: Role) -> Component:
    suspended, record = _suspension(obj)
    active = _status(obj).get("active")
    running = len(active) if isinstance(active, list) else 0
    detail: dict[str, Any] = {"suspended": suspended, "active": running}
    serving = not suspended or record is None  # suspended by its owner counts as its primary shape
    if role == Role.PRIMARY:
        if suspended and record is not None:
            return Component(Health.DEGRADED, detail, "still suspended (not resumed yet)", ready=False)
        message = "suspended by its spec" if suspended else "scheduling" if not running else f"{running} job(s) running"
        return Component(Health.OK, detail, message, ready=serving)
    if not suspended:
        return Component(Health.DEGRADED, detail, "not suspended on a standby", ready=serving)
    if running:
        return Component(Health.DEGRADED, detail, f"suspended, {running} job(s) still running", ready=serving)
    return Component(Health.OK, detail, "suspended", ready=serving)


def _ready_condition(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    conditions = _status(obj).get("conditions")
    if not isinstance(conditions, list):
        return None
    return next((c for c in conditions if isinstance(c, Mapping) and c.get("type") == "Ready"), None)


def _flux(obj: Mapping[str, Any], role: Role) -> Component:
    suspended, record = _suspension(obj)
    condition = _ready_condition(obj)
    state = condition.get("status") if condition else None
    detail: dict[str, Any] = {"suspended": suspended, "readyCondition": state}
    if condition and condition.get("reason"):
        detail["reason"] = condition["reason"]
    observed = _generation_observed(obj)
    reconciled = state == "True" and observed
    if suspended:
        serving = record is None
        if role == Role.STANDBY:
            return Component(Health.OK, detail, "suspended", ready=serving)
        if record is not None:
            return Component(Health.DEGRADED, detail, "still suspended (not resumed yet)", ready=False)
        return Component(Health.OK, detail, "suspended by its spec", ready=True)
    if role == Role.STANDBY:
        return Component(Health.DEGRADED, detail, "not suspended on a standby", ready=reconciled)
    if reconciled:
        return Component(Health.OK, detail, "ready", ready=True)
    if state == "False":
        text = ": ".join(str(p) for p in ((condition or {}).get("reason"), (condition or {}).get("message")) if p)
        return Component(Health.DEGRADED, detail, f"not ready: {text}" if text else "not ready")
    if state is None and condition is None:
        return Component(Health.DEGRADED, detail, "not reconciled yet")
    return Component(Health.DEGRADED, detail, "reconciling")


def _dns(obj: Mapping[str, Any], role: Role) -> Component:
    annotations = ann.annotations_of(obj)
    dns = annotations.get(ann.DNS)
    hostname = annotations.get(ann.EXTERNAL_DNS_HOSTNAME)
    stashed = annotations.get(ann.STASHED_HOSTNAME)
    detail: dict[str, Any] = {"dns": dns}
    if hostname is not None:
        detail["hostname"] = hostname
    if stashed is not None:
        detail["stashedHostname"] = stashed
    serving = dns == ann.DNS_ENABLED and stashed is None
    if role == Role.PRIMARY:
        if serving:
            return Component(Health.OK, detail, "DNS enabled", ready=True)
        return Component(Health.DEGRADED, detail, "DNS not enabled yet", ready=False)
    if dns == ann.DNS_DISABLED and hostname is None:
        return Component(Health.OK, detail, "DNS disabled", ready=serving)
    return Component(Health.DEGRADED, detail, "DNS still published on a standby", ready=serving)
