"""Converge the resources a FailoverGroup lists to this cluster's role, and observe their health (the I/O).

The decisions are pure and live elsewhere (:func:`.roles.role_patch`, :func:`.health.assess`); this module
reads each listed object, patches what differs, and grades what it reads. One resource failing (missing,
an API error, even a bug) is recorded and never stops the others.

Order matters when a cluster changes role, so resources are converged in phases (each phase in parallel,
with bounded concurrency): a demotion first withdraws DNS, then suspends Flux (so that it cannot scale the
workloads up again behind our back), then CronJobs, then scales Deployments/StatefulSets down; a promotion
does the reverse (workloads up first, DNS last).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from . import annotations as ann
from .health import Component, Health, all_down, all_ready, all_scaled_down, all_shaped, assess, summarize
from .kinds import Kind, UnknownKindError, managed_kind
from .kube import KubeClient, KubeError
from .roles import Role, describe_patch, role_patch
from .watches import ObjectCache

logger = logging.getLogger(__name__)


class RefLike(Protocol):
    """Anything with ``.kind`` and ``.name`` (and optionally ``.trigger_reconcile``), e.g. the CR's own model."""

    @property
    def kind(self) -> str: ...

    @property
    def name(self) -> str: ...


@dataclass(frozen=True)
class ResourceRef:
    """One resource a FailoverGroup lists, in the group's namespace."""

    kind: str
    name: str
    trigger_reconcile: bool = False  # Flux: request a reconcile when promoted


@dataclass
class ConvergeResult:
    changed: list[str] = field(default_factory=list)  # "Kind/name" of every resource patched
    errors: list[str] = field(default_factory=list)  # one line each: "reading Deployment shop/web: 500 ..."
    actions: list[str] = field(default_factory=list)  # one line per change: "scaled Deployment shop/web 3 -> 0 (...)"
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    """By "Kind/name": the object as converging last read it, or as the API server stored our patch. An
    observation right after may grade these instead of reading each again."""

    @property
    def ok(self) -> bool:
        return not self.errors


Versions = tuple[str, tuple[tuple[str, str], ...]]  # (role, (("Kind/name", resourceVersion), ...))


@dataclass(frozen=True)
class Observation:
    health: Health
    message: str  # "Deployment/web: 1 of 3 ready; ..." (worst first)
    components: dict[str, dict[str, Any]]  # "Kind/name" -> detail + "health" + "message" (JSON-friendly)
    all_down: bool  # no pod of any listed Deployment/StatefulSet runs
    all_scaled_down: bool  # every listed Deployment/StatefulSet asks for zero pods (some may still terminate)
    all_ready: bool  # everything listed is in its PRIMARY shape and serving
    all_shaped: bool = False  # every listed resource's spec is in the observed role's shape already
    any_unknown: bool = False  # some listed resource could not be observed (the API could not answer)
    graded: Versions | None = field(default=None, compare=False)
    """The role and every object's resourceVersion this was graded from (None: some object was not read): the
    same objects graded for the same role grade the same (grading is pure), so a quiet tick reuses it."""


@dataclass(frozen=True)
class _Read:
    """One listed resource as read: the object (None: it does not exist), or why it could not be."""

    key: str
    kind: str | Kind
    obj: Mapping[str, Any] | None = None
    error: str | None = None
    unobservable: bool = False

    def grade(self, role: Role) -> Component:
        return assess(self.kind, self.obj, role, error=self.error, unobservable=self.unobservable)

    @property
    def version(self) -> str | None:
        """The object's resourceVersion; None when there is none to compare (missing, unreadable, unknown)."""
        if self.obj is None:
            return None
        version = (self.obj.get("metadata") or {}).get("resourceVersion")
        return version if isinstance(version, str) and version else None


def utc_now() -> datetime:
    return datetime.now(UTC)


# A demotion withdraws traffic and GitOps first; a promotion brings workloads up first.
_STANDBY_PHASES = ("network", "flux", "cronjob", "scalable")
_PRIMARY_PHASES = tuple(reversed(_STANDBY_PHASES))


def _phase(kind: Kind) -> str:
    if kind.scalable:
        return "scalable"
    return "cronjob" if kind.kind == "CronJob" else kind.category


class Workloads:
    """``await workloads.converge("shop", refs, Role.STANDBY, group="shop/web", epoch=7)``."""

    def __init__(
        self,
        kube: KubeClient,
        now: Callable[[], datetime] = utc_now,
        *,
        concurrency: int = 8,
        conflict_retries: int = 3,
        cache: ObjectCache | None = None,
    ) -> None:
        self.kube = kube
        self.now = now
        self.concurrency = concurrency
        self.conflict_retries = conflict_retries
        self.cache = cache
        """What the watches delivered, graded instead of a GET per resource per tick (None: always GET)."""

    async def converge(
        self, namespace: str, refs: Iterable[RefLike], role: Role | str, *, group: str, epoch: int
    ) -> ConvergeResult:
        """Patch every listed resource that is not yet in ``role``; errors are collected, not raised."""
        role = Role(role)
        result = ConvergeResult()
        now = self.now()
        limit = asyncio.Semaphore(self.concurrency)
        phases: dict[str, list[tuple[Kind, RefLike]]] = {}
        for ref in _unique(refs):
            try:
                kind = managed_kind(ref.kind)
            except UnknownKindError as e:
                result.errors.append(f"{ref.kind}/{ref.name}: {e}")
                continue
            phases.setdefault(_phase(kind), []).append((kind, ref))
        order = _STANDBY_PHASES if role == Role.STANDBY else _PRIMARY_PHASES
        for phase in order:
            members = phases.get(phase, [])
            await asyncio.gather(
                *(
                    self._converge_one(namespace, kind, ref, role, group, epoch, now, limit, result)
                    for kind, ref in members
                )
            )
        for error in result.errors:  # the caller reports them (it knows the tick's context); here only for debugging
            logger.debug("Could not converge %s to %s: %s", group, role.value, error)
        return result

    async def observe(
        self,
        namespace: str,
        refs: Iterable[RefLike],
        role: Role | str,
        *,
        known: Mapping[str, Mapping[str, Any]] | None = None,
        previous: Observation | None = None,
        foreign: Mapping[str, str] | None = None,
    ) -> Observation:
        """Read and grade every listed resource; a failed read is an ERROR component, not an exception.
        `known` ("Kind/name" -> object, from a converge just done) is graded as it is instead of read again.
        `previous` is returned as it is when it was graded from the very objects read now, for the same role.
        `foreign` ("Kind/name" -> who manages it instead): listed, but left alone — an ERROR component that
        says so, neither read nor counted as up or down."""
        role = Role(role)
        foreign = foreign or {}
        mine = [ref for ref in refs if ref_key(ref) not in foreign] if foreign else refs
        reads = await self._read(namespace, mine, known or {})
        graded = _graded(role, reads)
        if graded is not None and foreign:
            graded = (graded[0], (*graded[1], *sorted((k, f"foreign:{v}") for k, v in foreign.items())))
        if graded is not None and previous is not None and previous.graded == graded:
            return previous
        components = {r.key: r.grade(role) for r in reads}
        for key, manager in foreign.items():
            text = f"managed by {manager}, not by this group: left alone"
            components[key] = Component(Health.ERROR, {"managedBy": manager}, text, shaped=True)
        health, message = summarize(components)
        return Observation(
            health=health,
            message=message,
            components={key: c.to_dict() for key, c in components.items()},
            all_down=all_down(components),
            all_scaled_down=all_scaled_down(components),
            all_shaped=all_shaped(components),
            all_ready=all_ready(components),
            any_unknown=any(c.health == Health.UNKNOWN for c in components.values()),
            graded=graded,
        )

    def managed_by(self, namespace: str, ref: RefLike) -> str | None:
        """The group a listed resource says manages it (its `failover.dev/group`), as the watch delivered it;
        None when it says none, or the watch does not know it yet (nothing is read for this)."""
        if self.cache is None:
            return None
        try:
            kind = managed_kind(ref.kind)
        except UnknownKindError:
            return None
        known, obj = self.cache.get(kind, namespace, ref.name)
        if not known or obj is None:
            return None
        return ann.annotations_of(obj).get(ann.GROUP)

    async def assess(
        self,
        namespace: str,
        refs: Iterable[RefLike],
        role: Role | str,
        *,
        known: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> dict[str, Component]:
        """Like :meth:`observe`, but the graded :class:`~.health.Component` objects, keyed "Kind/name"."""
        role = Role(role)
        return {r.key: r.grade(role) for r in await self._read(namespace, refs, known or {})}

    async def _read(
        self, namespace: str, refs: Iterable[RefLike], known: Mapping[str, Mapping[str, Any]]
    ) -> list[_Read]:
        unique = _unique(refs)
        limit = asyncio.Semaphore(self.concurrency)
        if len(unique) == 1:  # most groups, every tick: no task and no gather for one read
            return [await self._read_one(namespace, unique[0], limit, known)]
        return list(await asyncio.gather(*(self._read_one(namespace, ref, limit, known) for ref in unique)))

    async def _read_one(
        self, namespace: str, ref: RefLike, limit: asyncio.Semaphore, known: Mapping[str, Mapping[str, Any]]
    ) -> _Read:
        try:
            kind = managed_kind(ref.kind)
        except UnknownKindError:
            return _Read(f"{ref.kind}/{ref.name}", ref.kind)
        key = f"{kind.kind}/{ref.name}"
        if key in known:
            return _Read(key, kind, known[key])
        if self.cache is not None:
            watched, found = self.cache.get(kind, namespace, ref.name)
            if watched:
                return _Read(key, kind, found)
        try:
            obj = await _limited(limit, self.kube.get(kind, namespace, ref.name))
        except KubeError as e:
            return _Read(key, kind, error=str(e), unobservable=e.unobservable)
        except Exception as e:  # a bug must not hide the other resources' health
            logger.exception("Could not observe %s %s/%s", kind.kind, namespace, ref.name)
            return _Read(key, kind, error=f"{type(e).__name__}: {e}")
        return _Read(key, kind, obj)

    async def _converge_one(
        self,
        namespace: str,
        kind: Kind,
        ref: RefLike,
        role: Role,
        group: str,
        epoch: int,
        now: datetime,
        limit: asyncio.Semaphore,
        result: ConvergeResult,
    ) -> None:
        trigger = bool(getattr(ref, "trigger_reconcile", False))
        key = f"{kind.kind}/{ref.name}"
        try:
            for attempt in range(1, self.conflict_retries + 1):
                obj = await _limited(limit, self.kube.get(kind, namespace, ref.name))
                if obj is None:
                    result.errors.append(f"{kind.kind} {namespace}/{ref.name} not found")
                    return
                newer = _epoch_of(obj)
                if role == Role.PRIMARY and newer is not None and newer > epoch:
                    # The epoch on the object is the fencing token where the action happens: it was converged
                    # for a later owner than the one we act for, so our view is old. Never scale it up.
                    result.errors.append(
                        f"refusing to make {kind.kind} {namespace}/{ref.name} PRIMARY for epoch {epoch}: it was "
                        f"converged at epoch {newer}"
                    )
                    return
                patch = role_patch(kind, obj, role, group=group, epoch=epoch, now=now, trigger_reconcile=trigger)
                if patch is None:
                    result.objects[key] = obj
                    return
                try:
                    stored = await _limited(limit, self.kube.patch(kind, namespace, ref.name, _guarded(patch, obj)))
                    result.objects[key] = stored
                    if self.cache is not None:
                        self.cache.wrote(kind, namespace, ref.name, stored)
                except KubeError as e:
                    if e.conflict and attempt < self.conflict_retries:
                        continue  # changed since we read it (GitOps, a controller): read again, decide again
                    raise
                action = describe_patch(kind, obj, patch, role, epoch)
                logger.info("%s", action)
                result.changed.append(key)
                result.actions.append(action)
                return
        except KubeError as e:
            result.errors.append(str(e))
        except Exception as e:  # a bug in one resource must not stop the others
            logger.exception("Could not converge %s %s/%s", kind.kind, namespace, ref.name)
            result.errors.append(f"{kind.kind} {namespace}/{ref.name}: {type(e).__name__}: {e}")


def _graded(role: Role, reads: Iterable[_Read]) -> Versions | None:
    versions = []
    for read in reads:
        version = read.version
        if version is None:
            return None
        versions.append((read.key, version))
    return role.value, tuple(versions)


def _epoch_of(obj: Mapping[str, Any]) -> int | None:
    value = ann.annotations_of(obj).get(ann.EPOCH)
    return int(value) if value is not None and value.isdigit() else None


def _guarded(patch: Mapping[str, Any], obj: Mapping[str, Any]) -> dict[str, Any]:
    """The patch, conditioned on the version we read (409 if the object changed since)."""
    version = (obj.get("metadata") or {}).get("resourceVersion")
    if not version:
        return dict(patch)
    metadata = {**patch.get("metadata", {}), "resourceVersion": version}
    return {**patch, "metadata": metadata}


async def _limited(limit: asyncio.Semaphore, call: Awaitable[Any]) -> Any:
    async with limit:
        return await call


def ref_key(ref: RefLike) -> str:
    """ "Kind/name" as components are keyed (the kind as the API names it, when it is one we manage)."""
    try:
        return f"{managed_kind(ref.kind).kind}/{ref.name}"
    except UnknownKindError:
        return f"{ref.kind}/{ref.name}"


def _unique(refs: Iterable[RefLike]) -> list[RefLike]:
    """Each (kind, name) once, in the order listed."""
    seen: set[tuple[str, str]] = set()
    unique: list[RefLike] = []
    for ref in refs:
        key = (ref.kind.casefold(), ref.name)
        if key not in seen:
            seen.add(key)
            unique.append(ref)
    return unique
