"""Reporter implementation: Kubernetes events through kopf, status through the status subresource."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import kopf

from ..reconciler.context import OperatorContext
from ..waits import first_of
from ..workloads.kube import KubeClient, KubeError

log = logging.getLogger("failover_operator.handlers")


class KopfReporter:
    def __init__(self, body: kopf.Body, kube: KubeClient, kind: str) -> None:
        self.body = body
        self.kube = kube
        self.kind = kind

    def event(self, reason: str, message: str, *, warning: bool = False) -> None:
        # Kubernetes caps event messages at 1 KiB; kopf would reject longer ones.
        kopf.event(self.body, type="Warning" if warning else "Normal", reason=reason, message=message[:1000])

    async def patch_status(self, status: dict[str, Any]) -> None:
        meta = self.body.metadata
        try:
            await self.kube.patch_status(self.kind, meta.namespace or "", meta.name or "", status)
        except KubeError as exc:
            if exc.not_found:
                return  # deleted meanwhile: nothing left to describe
            raise


@contextlib.asynccontextmanager
async def stop_event(stopped: kopf.DaemonStopped, ctx: OperatorContext) -> AsyncIterator[asyncio.Event]:
    """kopf's daemon stop flag as an asyncio.Event, which the reconciler (no kopf imports) can wait on; set too
    when this replica hands over (ctx.stopping), which waits for the daemon to end before it releases the
    leader Lease."""
    stop = asyncio.Event()
    if ctx.stopping.is_set():
        stop.set()
        yield stop
        return

    async def bridge() -> None:
        await first_of(stopped.wait(), ctx.stopping.wait())
        stop.set()

    task = asyncio.create_task(bridge())
    try:
        with ctx.acting_for_the_cluster():
            yield stop
    finally:
        task.cancel()
