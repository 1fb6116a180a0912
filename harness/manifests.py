"""Kubernetes objects that the demo and the tests create in emulated clusters."""

from __future__ import annotations

from typing import Any


def deployment(name: str = "web", namespace: str = "shop", replicas: int = 3) -> dict[str, Any]:
    """A plain Deployment labelled `app: <name>`, whose pods the controller stand-in starts."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": "nginx"}]},
            },
        },
    }
