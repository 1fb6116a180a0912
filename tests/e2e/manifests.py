"""Manifests for the end-to-end tests."""

from __future__ import annotations

from typing import Any

from harness.manifests import deployment

__all__ = ["FAST_TIMING", "deployment", "failover", "group"]

FAST_TIMING = {
    "heartbeatInterval": "200ms",
    "timeouts": {"heartbeat": "2s", "unhealthyPrimary": "3s", "transitoryState": "8s"},
}


def group(name: str = "web", namespace: str = "shop", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "failover.dev/v1alpha1",
        "kind": "FailoverGroup",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {**FAST_TIMING, "workloads": [{"kind": "Deployment", "name": name}], **spec},
    }


def failover(
    name: str, target: str, groups: list[dict[str, Any]], namespace: str = "shop", **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "failover.dev/v1alpha1",
        "kind": "Failover",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"targetCluster": target, "failoverGroups": groups, **spec},
    }
