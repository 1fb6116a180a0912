"""One simulated cluster's Kubernetes API, behind the operator's own `KubeClient` interface (get, patch,
patch_status), with its faults, a Deployment controller, and a record of when the cluster serves.

"Serving" is what the safety claim is about: some Deployment or StatefulSet of the group has
`spec.replicas > 0` in this cluster. Every write that changes that is recorded with the (virtual) time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from failover_operator.workloads.kinds import Kind, any_kind
from failover_operator.workloads.kube import KubeError
from harness.copying import deep_copy

Obj = dict[str, Any]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, Mapping):
        return deep_copy(patch)
    result = deep_copy(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@dataclass
class ApiFaults:
    """What is wrong with this API server right now (set by the fault schedule)."""

    unreachable: bool = False  # every request fails as if the server were gone
    refuse_writes: bool = False  # every write answers 500
    latency: float = 0.0  # extra seconds before each answer


@dataclass
class SimKube:
    """The API server of one simulated cluster; `now` is the simulation's clock (for the serving record)."""

    name: str
    now: Callable[[], float]
    faults: ApiFaults = field(default_factory=ApiFaults)
    objects: dict[tuple[str, str, str], Obj] = field(default_factory=dict)
    serving: list[tuple[float, bool]] = field(default_factory=list)  # (time, serving) at every change
    events: list[tuple[float, str, str]] = field(default_factory=list)  # posted by the watchdog
    version: int = 0
    requests: int = 0
    reads: int = 0  # GETs of one object
    _settled: int = -1  # the version at which the controllers last found every object settled
    _watchers: list[tuple[str, str | None, asyncio.Queue[Obj]]] = field(default_factory=list)

    # --- the operator's KubeClient interface -------------------------------------------------------------

    async def get(self, kind: str | Kind, namespace: str, name: str) -> Obj | None:
        self.reads += 1
        await self._gate(any_kind(kind), namespace, name, "reading")
        obj = self.objects.get((any_kind(kind).plural, namespace, name))
        return deep_copy(obj) if obj is not None else None

    async def patch(self, kind: str | Kind, namespace: str, name: str, patch: Mapping[str, Any]) -> Obj:
        k = any_kind(kind)
        await self._gate(k, namespace, name, "patching", write=True)
        return self._write(k, namespace, name, dict(patch), status=False)

    async def patch_status(self, kind: str | Kind, namespace: str, name: str, status: Mapping[str, Any]) -> Obj:
        k = any_kind(kind)
        await self._gate(k, namespace, name, "patching the status of", write=True)
        return self._write(k, namespace, name, {"status": dict(status)}, status=True)

    async def list(self, kind: str | Kind, namespace: str | None) -> list[Obj]:
        k = any_kind(kind)
        await self._gate(k, namespace or "*", "", "listing")
        return [
            deep_copy(obj)
            for (plural, ns, _), obj in self.objects.items()
            if plural == k.plural and (namespace is None or ns == namespace)
        ]

    async def list_versioned(self, kind: str | Kind, namespace: str | None) -> tuple[list[Obj], str]:
        return await self.list(kind, namespace), str(self.version)

    async def watch(
        self, kind: str | Kind, namespace: str | None, resource_version: str, *, seconds: int = 60
    ) -> AsyncIterator[Obj]:
        """Changes from now on (this server keeps no history: an older `resource_version` is 410 Gone), until
        `seconds` pass (then a bookmark at the current version) or the server becomes unreachable."""
        k = any_kind(kind)
        await self._gate(k, namespace or "*", "", "watching")
        if resource_version != str(self.version):
            yield {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}
            return
        queue: asyncio.Queue[Obj] = asyncio.Queue()
        watcher = (k.plural, namespace, queue)
        self._watchers.append(watcher)
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        try:
            while (left := end - loop.time()) > 0.001:  # (virtual time: a timeout of 1e-15 s moves nothing)
                if self.faults.unreachable:
                    raise KubeError(0, "Unreachable", f"watching {k.plural}: the watch broke: connection reset")
                try:  # not wait_for: in 3.11 it can swallow a cancellation that meets the answer
                    async with asyncio.timeout(min(left, 1.0)):
                        event = await queue.get()
                except TimeoutError:
                    continue
                yield event
            yield {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": str(self.version)}}}
        finally:
            self._watchers.remove(watcher)

    async def create_event(self, involved: Mapping[str, Any], reason: str, message: str, **_: Any) -> None:
        self.events.append((self.now(), reason, message))

    def close(self) -> None:
        return None

    # --- the world's side ---------------------------------------------------------------------------------

    def create(self, obj: Obj) -> None:
        meta = obj["metadata"]
        kind = any_kind(obj["kind"])
        self.version += 1
        stored = deep_copy(obj)
        stored["metadata"].update(resourceVersion=str(self.version), generation=1)
        self.objects[(kind.plural, meta["namespace"], meta["name"])] = stored
        self._record()
        self._emit(kind.plural, "ADDED", stored)

    def is_serving(self) -> bool:
        return any(
            plural in ("deployments", "statefulsets") and replicas(obj) > 0
            for (plural, _, _), obj in self.objects.items()
        )

    def controller_step(self, startup: float, started: dict[tuple[str, str, str], float]) -> None:
        """The Deployment/StatefulSet controllers: pods go at once, and are ready `startup` seconds after a
        scale-up (no I/O: the controllers run inside the API server's cluster, faults or not)."""
        if self.version == self._settled and not started:
            return  # nothing written since every object was last found settled: nothing to do
        now = self.now()
        for key, obj in self.objects.items():
            if key[0] not in ("deployments", "statefulsets"):
                continue
            desired = replicas(obj)
            status = obj.setdefault("status", {})
            ready = int(status.get("readyReplicas") or 0)
            if ready < desired:
                since = started.setdefault(key, now)
                target = desired if now - since >= startup else ready
            else:
                started.pop(key, None)
                target = desired
            generation = obj["metadata"].get("generation")
            wanted = {
                "replicas": target,
                "readyReplicas": target,
                "availableReplicas": target,
                "updatedReplicas": target,
                "observedGeneration": generation,
            }
            if any(status.get(k) != v for k, v in wanted.items()):
                status.update(wanted)
                self.version += 1
                obj["metadata"]["resourceVersion"] = str(self.version)
                self._emit(key[0], "MODIFIED", obj)
        if not started:
            self._settled = self.version

    # --- inside -------------------------------------------------------------------------------------------

    async def _gate(self, kind: Kind, namespace: str, name: str, doing: str, *, write: bool = False) -> None:
        self.requests += 1
        what = f"{doing} {kind.kind} {namespace}/{name}"
        if self.faults.latency:
            await asyncio.sleep(self.faults.latency)
        if self.faults.unreachable:
            raise KubeError(0, "Unreachable", f"{what}: cannot reach the API server: connection refused")
        if write and self.faults.refuse_writes:
            raise KubeError(500, "InternalError", f"{what}: 500 InternalError: etcdserver: request timed out")

    def _write(self, kind: Kind, namespace: str, name: str, patch: Obj, *, status: bool) -> Obj:
        key = (kind.plural, namespace, name)
        current = self.objects.get(key)
        what = f"{kind.kind} {namespace}/{name}"
        if current is None:
            raise KubeError(404, "NotFound", f'patching {what}: 404 NotFound: {kind.plural} "{name}" not found')
        expected = (patch.get("metadata") or {}).get("resourceVersion")
        if expected is not None and expected != current["metadata"]["resourceVersion"]:
            raise KubeError(409, "Conflict", f"patching {what}: 409 Conflict: the object has been modified")
        if expected is not None:
            patch = {**patch, "metadata": {k: v for k, v in patch["metadata"].items() if k != "resourceVersion"}}
        updated = merge_patch(current, {"status": patch["status"]} if status else patch)
        if (not status and updated.get("spec") != current.get("spec")) or _annotations(updated) != _annotations(
            current
        ):
            updated["metadata"]["generation"] = current["metadata"]["generation"] + 1  # as a real server does
        if updated != current:
            self.version += 1
            updated["metadata"]["resourceVersion"] = str(self.version)
            self.objects[key] = updated
            self._record()
            self._emit(kind.plural, "MODIFIED", updated)
        return deep_copy(updated)

    def _emit(self, plural: str, change: str, obj: Obj) -> None:
        namespace = obj["metadata"].get("namespace")
        for watched, scope, queue in self._watchers:
            if watched == plural and scope in (None, namespace):
                queue.put_nowait({"type": change, "object": deep_copy(obj)})

    def _record(self) -> None:
        serving = self.is_serving()
        if not self.serving or self.serving[-1][1] != serving:
            self.serving.append((self.now(), serving))


def replicas(obj: Mapping[str, Any]) -> int:
    value = (obj.get("spec") or {}).get("replicas", 1)
    return value if isinstance(value, int) else 1


def _annotations(obj: Mapping[str, Any]) -> Any:
    return (obj.get("metadata") or {}).get("annotations")
