"""What a resource must look like in each role, as a JSON merge patch (pure: no I/O, no clock).

:func:`role_patch` returns the RFC 7386 merge patch that converges one object to a role, or ``None`` when it
is already there. It is idempotent: applying the patch and asking again gives ``None``. Every managed object
carries ``failover.dev/group``, ``failover.dev/epoch`` and ``failover.dev/role``; what a standby changed is
recorded in annotations on the object itself (see :mod:`.annotations`), so that promotion restores exactly it.

* Deployment, StatefulSet -- STANDBY: ``spec.replicas`` 0, the count before (absent means 1) recorded in
  ``failover.dev/replicas``. A standby scaled up again (e.g. by GitOps) is scaled down again and the new count
  recorded. PRIMARY: the recorded count is restored and the record removed; without a record replicas are left
  alone (a count is never invented); a malformed record is left in place (with replicas) for
  :mod:`.health` to report.
* CronJob, HelmRelease, Kustomization -- STANDBY: ``spec.suspend`` true, the prior value recorded in
  ``failover.dev/suspend`` ("true"/"false"). PRIMARY: the recorded value restored (anything but "true" counts as
  false), the record removed; without a record ``spec.suspend`` is left alone (it is the owner's choice).
  A Flux object that is resumed by the transition to PRIMARY (it had our record, or its role annotation was not
  PRIMARY) also gets ``reconcile.fluxcd.io/requestedAt`` when ``trigger_reconcile`` -- once, not every tick.
* Ingress, VirtualService ("DNS") -- ``failover.dev/dns: enabled|disabled``; a STANDBY moves the external-dns
  hostname annotation ``external-dns.alpha.kubernetes.io/hostname`` to ``failover.dev/stashed-hostname``, so
  external-dns stops publishing this cluster's records with no extra configuration; PRIMARY moves it back.
  Alternatively, run external-dns with ``--annotation-filter=failover.dev/dns in (enabled)``: it then ignores
  standby copies whatever their hostnames (this also covers hosts taken from ``spec.rules``/``spec.hosts``, which
  the stash cannot hide, and does not fight a GitOps tool that re-applies the hostname annotation).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..model import Role
from . import annotations as ann
from .kinds import Kind, managed_kind


def role_patch(
    kind: str | Kind,
    obj: Mapping[str, Any],
    role: Role | str,
    *,
    group: str,
    epoch: int,
    now: datetime,
    trigger_reconcile: bool = False,
) -> dict[str, Any] | None:
    """The JSON merge patch that converges ``obj`` (a ``kind``) to ``role``, or None when it is already there.

    ``group`` is "<namespace>/<name>" of the FailoverGroup; ``now`` is used only for a Flux reconcile request.
    Raises :class:`~.kinds.UnknownKindError` for a kind a FailoverGroup cannot list.
    """
    k = managed_kind(kind)
    marked = Role(role)
    role = marked.shape
    plan = _Plan(obj)
    if k.scalable:
        _replicas(plan, role)
    elif k.kind == "CronJob" or k.category == "flux":
        resumed = _suspend(plan, role)
        was_primary = plan.annotations.get(ann.ROLE) == Role.PRIMARY
        if k.category == "flux" and trigger_reconcile and resumed and (plan.had_suspend_record or not was_primary):
            plan.annotate(ann.FLUX_RECONCILE_REQUESTED_AT, now.isoformat())
    elif k.category == "network":
        _dns(plan, role)
    plan.annotate(ann.GROUP, group)
    plan.annotate(ann.EPOCH, str(epoch))
    plan.annotate(ann.ROLE, marked.value)
    return plan.patch()


class _Plan:
    """The changes to one object, collected as a merge patch that only contains what differs."""

    def __init__(self, obj: Mapping[str, Any]) -> None:
        spec = obj.get("spec")
        self.spec: Mapping[str, Any] = spec if isinstance(spec, Mapping) else {}
        self.annotations = ann.annotations_of(obj)
        self.had_suspend_record = ann.SUSPEND in self.annotations
        self.spec_changes: dict[str, Any] = {}
        self.annotation_changes: dict[str, str | None] = {}

    def annotate(self, key: str, value: str | None) -> None:
        """Set (None: remove) an annotation, if that changes it."""
        if value is None:
            if key in self.annotations:
                self.annotation_changes[key] = None
        elif self.annotations.get(key) != value:
            self.annotation_changes[key] = value

    def set_spec(self, key: str, value: Any) -> None:
        if self.spec.get(key) != value or key not in self.spec:
            self.spec_changes[key] = value

    def patch(self) -> dict[str, Any] | None:
        patch: dict[str, Any] = {}
        if self.spec_changes:
            patch["spec"] = dict(self.spec_changes)
        if self.annotation_changes:
            patch["metadata"] = {"annotations": dict(self.annotation_changes)}
        return patch or None


def _replicas(plan: _Plan, role: Role) -> None:
    raw = plan.spec.get("replicas")
    replicas = 1 if raw is None else raw  # the API server defaults an absent replicas to 1
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        return  # not something a real API server would hold: touch nothing
    if role == Role.STANDBY:
        if replicas > 0:  # running, or scaled up again while standby (GitOps): down, and remember the count
            plan.set_spec("replicas", 0)
            plan.annotate(ann.REPLICAS, str(replicas))
        return  # already 0: keep whatever record there is
    record = plan.annotations.get(ann.REPLICAS)
    restore = ann.parse_replicas_record(record)
    if restore is None:
        return  # no record: never invent a count; malformed: leave it all for health to report
    if raw is None or replicas != restore:
        plan.set_spec("replicas", restore)
    plan.annotate(ann.REPLICAS, None)


def _suspend(plan: _Plan, role: Role) -> bool:
    """Converge ``spec.suspend``; True when the object ends up resumed (not suspended) as a PRIMARY."""
    suspended = plan.spec.get("suspend") is True
    record = plan.annotations.get(ann.SUSPEND)
    if role == Role.STANDBY:
        if not suspended:  # running, or resumed again while standby (GitOps): suspend, remember it ran
            plan.set_spec("suspend", True)
            plan.annotate(ann.SUSPEND, "false")
        elif record is None:  # suspended by its owner before we came: keep it so on promotion
            plan.annotate(ann.SUSPEND, "true")
        return False
    if record is None:
        return not suspended  # no record: the owner's choice, left alone
    restore = record.strip().lower() == "true"
    if suspended != restore:
        plan.set_spec("suspend", restore)
    plan.annotate(ann.SUSPEND, None)
    return not restore


def _dns(plan: _Plan, role: Role) -> None:
    hostname = plan.annotations.get(ann.EXTERNAL_DNS_HOSTNAME)
    stashed = plan.annotations.get(ann.STASHED_HOSTNAME)
    if role == Role.STANDBY:
        plan.annotate(ann.DNS, ann.DNS_DISABLED)
        if hostname is not None:  # also when re-added while standby: the newest hostname wins the stash
            plan.annotate(ann.STASHED_HOSTNAME, hostname)
            plan.annotate(ann.EXTERNAL_DNS_HOSTNAME, None)
        return
    plan.annotate(ann.DNS, ann.DNS_ENABLED)
    if stashed is not None:
        if hostname is None:  # a hostname set meanwhile (GitOps) is newer than the stash: keep it
            plan.annotate(ann.EXTERNAL_DNS_HOSTNAME, stashed)
        plan.annotate(ann.STASHED_HOSTNAME, None)


def describe_patch(
    kind: str | Kind, obj: Mapping[str, Any], patch: Mapping[str, Any], role: Role | str, epoch: int
) -> str:
    """One line for logs and events: "scaled Deployment shop/web 3 -> 0 (STANDBY, epoch 7)"."""
    k = managed_kind(kind)
    metadata = obj.get("metadata") or {}
    what = f"{k.kind} {metadata.get('namespace', '?')}/{metadata.get('name', '?')}"
    spec = obj.get("spec") or {}
    spec_patch = patch.get("spec") or {}
    annotation_patch = (patch.get("metadata") or {}).get("annotations") or {}
    parts: list[str] = []
    if "replicas" in spec_patch:
        before = spec.get("replicas", 1)
        parts.append(f"scaled {what} {before} -> {spec_patch['replicas']}")
    if "suspend" in spec_patch:
        parts.append(f"{'suspended' if spec_patch['suspend'] else 'resumed'} {what}")
    if ann.DNS in annotation_patch:
        verb = "enabled" if annotation_patch[ann.DNS] == ann.DNS_ENABLED else "disabled"
        parts.append(f"{verb} DNS for {what}")
    if annotation_patch.get(ann.STASHED_HOSTNAME):
        parts.append(f"stashed hostname {annotation_patch[ann.STASHED_HOSTNAME]}")
    if annotation_patch.get(ann.EXTERNAL_DNS_HOSTNAME):
        parts.append(f"restored hostname {annotation_patch[ann.EXTERNAL_DNS_HOSTNAME]}")
    if ann.FLUX_RECONCILE_REQUESTED_AT in annotation_patch:
        parts.append("requested a Flux reconcile")
    if not parts:
        parts.append(f"annotated {what}")
    return f"{', '.join(parts)} ({Role(role).value}, epoch {epoch})"
