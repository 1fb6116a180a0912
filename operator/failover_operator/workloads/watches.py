"""The listed resources as the API server last told this operator, kept by one list-and-watch per kind (per
namespace, for an operator confined to some): a quiet tick grades what the watch delivered instead of asking
the API server for every resource of every group every interval (1,000 groups: 200 GETs a second).

What is not known is read as before (a GET): a kind not watched yet, a watch that broke or is listing again
after a 410 Gone, a namespace outside the operator's. An object our own patch wrote is not trusted from here
until the watch has delivered that very version (or a list begun after the patch), so the tick after a converge
never grades the object as it was before. Writes never use it: converging always reads the object afresh and
patches on the resourceVersion it read.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .kinds import Kind
from .kube import KubeError

log = logging.getLogger(__name__)

WATCH_SECONDS = 60  # each watch request ends after this long and is made again from the last version seen
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"  # the whole object again, as applied
RETRY_SECONDS = (1.0, 30.0)  # a broken watch is listed again after 1 s, doubling to 30 s while it fails
RECENT = 256  # versions delivered lately, per watch

Key = tuple[str, str]  # (namespace, name)


class Watchable(Protocol):
    """What the cache needs of a Kubernetes client (workloads.kube.KubeClient; the simulations' servers)."""

    async def list_versioned(self, kind: Kind, namespace: str | None) -> tuple[list[dict[str, Any]], str]: ...

    def watch(
        self, kind: Kind, namespace: str | None, resource_version: str, *, seconds: int = ...
    ) -> AsyncIterator[dict[str, Any]]: ...


@dataclass
class _Watch:
    """One kind in one scope (a namespace, or all)."""

    synced: bool = False
    objects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    pending: dict[Key, tuple[str, int]] = field(default_factory=dict)
    """Our own writes the watch has not shown yet: the version each left, and the list count when written."""
    lists: int = 0
    recent: deque[tuple[Key, str]] = field(default_factory=lambda: deque(maxlen=RECENT))
    """The versions the watch delivered last: our patch's may come before the patch's answer does."""
    task: asyncio.Task[None] | None = None
    error: str | None = None


class ObjectCache:
    """``cache.get(kind, "shop", "web")`` -> (known, object or None); ``cache.wrote(...)`` after a patch."""

    def __init__(self, kube: Watchable, namespaces: Sequence[str] = (), *, seconds: int = WATCH_SECONDS) -> None:
        self.kube = kube
        self.namespaces = frozenset(namespaces)  # empty: the whole cluster, one watch per kind
        self.seconds = seconds
        self._watches: dict[tuple[str, str | None], _Watch] = {}
        self._closed = False

    def get(self, kind: Kind, namespace: str, name: str) -> tuple[bool, dict[str, Any] | None]:
        """(True, the object as last delivered, None if it does not exist), or (False, None) when the cache does
        not know: the caller reads it. The first ask for a kind starts its watch."""
        watch = self._watch(kind, namespace)
        if watch is None or not watch.synced or (namespace, name) in watch.pending:
            return False, None
        return True, watch.objects.get((namespace, name))

    def wrote(self, kind: Kind, namespace: str, name: str, stored: Mapping[str, Any]) -> None:
        """Our patch left `stored`: until the watch shows that version, the object is read, not looked up."""
        watch = self._watches.get(self._scope(kind, namespace))
        version = (stored.get("metadata") or {}).get("resourceVersion")
        if watch is not None and isinstance(version, str) and ((namespace, name), version) not in watch.recent:
            watch.pending[(namespace, name)] = (version, watch.lists)

    def stop(self) -> None:
        """Stop every watch (a process dying stops them so); nothing is known from now on."""
        self._closed = True
        for watch in self._watches.values():
            watch.synced = False
            if watch.task is not None:
                watch.task.cancel()

    async def close(self) -> None:
        self.stop()
        await asyncio.gather(*(w.task for w in self._watches.values() if w.task is not None), return_exceptions=True)

    # --- inside ----------------------------------------------------------------------------------------

    def _scope(self, kind: Kind, namespace: str) -> tuple[str, str | None]:
        return f"{kind.plural}.{kind.group}", namespace if self.namespaces else None

    def _watch(self, kind: Kind, namespace: str) -> _Watch | None:
        if self._closed or (self.namespaces and namespace not in self.namespaces):
            return None
        key = self._scope(kind, namespace)
        watch = self._watches.get(key)
        if watch is None:
            watch = self._watches[key] = _Watch()
            watch.task = asyncio.ensure_future(self._run(kind, key[1], watch))
        return watch

    async def _run(self, kind: Kind, namespace: str | None, watch: _Watch) -> None:
        """List, then watch from the list's version for as long as the API server lets us; list again after a
        410 Gone, or after a failure (with a growing pause). Never raises but for cancellation."""
        where = f"{kind.plural} in {namespace or 'all namespaces'}"
        pause = RETRY_SECONDS[0]
        while True:
            try:
                watch.lists += 1
                began = watch.lists
                items, version = await self.kube.list_versioned(kind, namespace)
                watch.objects = {_key(obj): _trimmed(kind, obj) for obj in items}
                watch.pending = {k: v for k, v in watch.pending.items() if v[1] >= began}  # the list shows the rest
                watch.synced = True
                if watch.error is not None:
                    log.info("watching %s again", where)
                watch.error = None
                pause = RETRY_SECONDS[0]
                following: str | None = version
                while following is not None:  # the API server ended a watch in time: watch on from where it ended
                    following = await self._follow(kind, namespace, watch, following)
                watch.synced = False  # 410 Gone: events were missed; list again at once
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # KubeError mostly; whatever it is, the resources are read meanwhile
                watch.synced = False
                text = str(exc) or type(exc).__name__
                if text != watch.error:  # a kind not installed is the observation's to report (one warning)
                    level = logging.INFO if isinstance(exc, KubeError) and exc.not_found else logging.WARNING
                    log.log(level, "cannot watch %s (each resource is read instead until it works): %s", where, text)
                watch.error = text
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_SECONDS[1])

    async def _follow(self, kind: Kind, namespace: str | None, watch: _Watch, version: str) -> str | None:
        """One watch request's events into the cache; the version to watch on from, or None after 410 Gone."""
        async for event in self.kube.watch(kind, namespace, version, seconds=self.seconds):
            kind_of, obj = event.get("type"), event.get("object") or {}
            if kind_of == "ERROR":
                if obj.get("code") == 410:
                    return None
                raise KubeError(int(obj.get("code") or 0), str(obj.get("reason") or "Error"), str(obj.get("message")))
            seen = (obj.get("metadata") or {}).get("resourceVersion")
            if isinstance(seen, str):
                version = seen
            if kind_of == "BOOKMARK":
                continue
            key = _key(obj)
            if kind_of == "DELETED":
                watch.objects.pop(key, None)
                watch.pending.pop(key, None)
                continue
            watch.objects[key] = _trimmed(kind, obj)
            if isinstance(seen, str):
                watch.recent.append((key, seen))
            mine = watch.pending.get(key)
            if mine is not None and mine[0] == seen:
                del watch.pending[key]  # our write arrived: what follows it is newer
        return version


def _key(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _trimmed(kind: Kind, obj: dict[str, Any]) -> dict[str, Any]:
    """What grading reads, kept; the rest dropped (labels, field managers, the last applied copy, the pod
    templates): the watch holds every object of the kind, the operator's or not."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        kept = {k: meta[k] for k in _METADATA if k in meta}
        annotations = kept.get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED in annotations:
            kept["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
        obj["metadata"] = kept
    spec = obj.get("spec")
    if isinstance(spec, dict):
        if kind.scalable:
            obj["spec"] = {k: spec[k] for k in ("replicas",) if k in spec}
        elif kind.kind == "CronJob":
            obj["spec"] = {k: v for k, v in spec.items() if k != "jobTemplate"}
    for key in [k for k in obj if k not in ("apiVersion", "kind", "metadata", "spec", "status")]:
        del obj[key]
    return obj


_METADATA = ("name", "namespace", "resourceVersion", "generation", "annotations", "deletionTimestamp", "uid")
