"""A stand-in for kube-controller-manager's Deployment and StatefulSet controllers.

The test API servers (real or emulated) run no controllers, so nothing would ever report pods ready or gone. This loop
makes `status` follow `spec.replicas`: scaling down is immediate, scaling up takes `startup_seconds` (pods
starting), so that failover downtime can be measured against something that behaves like a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from .cluster import Cluster

log = logging.getLogger(__name__)

KINDS = (("apps/v1", "deployments"), ("apps/v1", "statefulsets"))


class WorkloadController:
    def __init__(self, cluster: Cluster, *, startup_seconds: float = 0.0, interval: float = 0.05) -> None:
        self.cluster = cluster
        self.startup_seconds = startup_seconds
        self.interval = interval
        self._scaling_up: dict[tuple[str, str, str], float] = {}

    async def run(self) -> None:
        while True:
            try:
                await self.step()
            except Exception as exc:  # a stand-in must never take the test or demo down
                log.debug("workload controller step failed: %s", exc)
            await asyncio.sleep(self.interval)

    async def step(self) -> None:
        loop = asyncio.get_running_loop()
        for api_version, plural in KINDS:
            for obj in await self.cluster.list(api_version, plural):
                meta = obj.get("metadata", {})
                key = (plural, meta.get("namespace", ""), meta.get("name", ""))
                desired = _int((obj.get("spec") or {}).get("replicas"), 1)
                status = obj.get("status") or {}
                ready = _int(status.get("readyReplicas"), 0)
                generation = meta.get("generation")
                if ready < desired:
                    started = self._scaling_up.setdefault(key, loop.time())
                    if loop.time() - started < self.startup_seconds:
                        target = _status(ready, desired, generation, ready)
                    else:
                        target = _status(desired, desired, generation, desired)
                        self._scaling_up.pop(key, None)
                else:
                    self._scaling_up.pop(key, None)
                    target = _status(desired, desired, generation, desired)
                if any(status.get(k) != v for k, v in target.items()):
                    await self.cluster.patch_status(api_version, plural, key[1], key[2], target)


def _status(replicas: int, desired: int, generation: Any, ready: int) -> dict[str, Any]:
    """Like the real controllers, zero counts are omitted (null removes them in a merge patch)."""
    return {
        "replicas": replicas or None,
        "readyReplicas": ready or None,
        "availableReplicas": ready or None,
        "updatedReplicas": replicas or None,
        "observedGeneration": generation,
    }


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@contextlib.asynccontextmanager
async def running_controller(cluster: Cluster, **options: Any) -> AsyncIterator[WorkloadController]:
    controller = WorkloadController(cluster, **options)
    task = asyncio.create_task(controller.run())
    try:
        yield controller
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
