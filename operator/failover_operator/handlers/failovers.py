"""Failover: executed by a daemon that returns once the Failover is Succeeded or Failed.

A daemon, not a create handler: it is stopped (and the half-done failover undone) when the Failover is
deleted, and restarted with the operator, resuming from DynamoDB where the records say the failover is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import kopf
from pydantic import ValidationError

from ..api import FailoverSpec, FailoverStatus, Phase, make_condition, validation_message
from ..reconciler.context import OperatorContext
from ..reconciler.failover import FailoverExecutor
from ..workloads.kube import KubeClient
from .reporting import KopfReporter, stop_event

log = logging.getLogger("failover_operator.handlers")


class FailoverHandlers:
    def __init__(self, ctx: OperatorContext, kube: KubeClient) -> None:
        self.ctx = ctx
        self.kube = kube
        self.executor = FailoverExecutor(ctx)

    async def daemon(self, body: kopf.Body, stopped: kopf.DaemonStopped, **_: Any) -> None:
        namespace, name = body.metadata.namespace or "", body.metadata.name or ""
        reporter = KopfReporter(body, self.kube, "Failover")
        status = _status(body)
        if status is not None and status.phase is not None and status.phase.terminal:
            return
        generation = body.metadata.get("generation")
        try:
            spec = FailoverSpec.model_validate(dict(body.get("spec") or {}))
        except ValidationError as exc:
            message = f"invalid Failover: {validation_message(exc)}"
            reporter.event("InvalidSpec", message, warning=True)
            now = self.ctx.clock.now()
            # The conditions every ended Failover has, so `kubectl wait --for=condition=Complete` returns here too.
            said = [("Complete", True), (Phase.SUCCEEDED.value, False), ("Failed", True)]
            failed = FailoverStatus(
                phase=Phase.FAILED,
                message=message,
                executed_by=self.ctx.cluster,
                observed_generation=generation,
                completion_time=now.replace(microsecond=0),
                conditions=[
                    make_condition(kind, value, Phase.FAILED.value, message, now=now, observed_generation=generation)
                    for kind, value in said
                ],
            )
            await reporter.patch_status(failed.to_merge_patch())
            return
        async with stop_event(stopped, self.ctx) as stop:
            await self.executor.run(
                namespace, name, spec, status, reporter, stop, generation, _created(body), deleted=_deleted(stopped)
            )


def _deleted(stopped: kopf.DaemonStopped) -> Callable[[], bool]:
    """Whether the daemon stops because its Failover was deleted (not because the operator stops)."""

    def deleted() -> bool:
        reason = stopped.reason
        return reason is not None and bool(reason & kopf.DaemonStoppingReason.RESOURCE_DELETED)

    return deleted


def _status(body: kopf.Body) -> FailoverStatus | None:
    raw = body.get("status")
    if not raw:
        return None
    try:
        return FailoverStatus.model_validate(dict(raw))
    except ValidationError:
        log.warning("ignoring an unreadable status of Failover %s/%s", body.metadata.namespace, body.metadata.name)
        return None


def _created(body: kopf.Body) -> datetime | None:
    stamp = body.metadata.get("creationTimestamp")
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")) if stamp else None
    except ValueError:
        return None
