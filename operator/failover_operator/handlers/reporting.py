"""Reporter implementation: Kubernetes events through kopf, status through the status subresource."""

from __future__ import annotations

import logging
from typing import Any

import kopf

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
