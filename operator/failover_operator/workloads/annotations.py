"""Every annotation this package reads or writes on the resources a FailoverGroup lists.

The ``failover.dev/...`` records are how a cluster remembers, on the object itself, what it changed when it
made the object a standby, so that promotion restores exactly that (and a restart of the operator loses nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GROUP = "failover.dev/group"  # "<namespace>/<name>" of the FailoverGroup that manages the object
EPOCH = "failover.dev/epoch"  # the epoch the object was last converged at, as a decimal string
ROLE = "failover.dev/role"  # "PRIMARY" | "STANDBY"

REPLICAS = "failover.dev/replicas"  # Deployment/StatefulSet on a standby: the replicas before scale-down ("3")
SUSPEND = "failover.dev/suspend"  # CronJob/HelmRelease/Kustomization on a standby: the prior spec.suspend
DNS = "failover.dev/dns"  # Ingress/VirtualService: "enabled" | "disabled"
STASHED_HOSTNAME = "failover.dev/stashed-hostname"  # the external-dns hostname, moved away on a standby

EXTERNAL_DNS_HOSTNAME = "external-dns.alpha.kubernetes.io/hostname"
FLUX_RECONCILE_REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"

DNS_ENABLED = "enabled"
DNS_DISABLED = "disabled"


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """``metadata.annotations`` (a copy; empty if absent or not a mapping)."""
    metadata = obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    return dict(annotations) if isinstance(annotations, Mapping) else {}


def parse_replicas_record(value: str | None) -> int | None:
    """The recorded replica count, or None if absent or malformed (see :func:`is_malformed_replicas_record`)."""
    if value is None:
        return None
    text = value.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def is_malformed_replicas_record(value: str | None) -> bool:
    """Present, but not a non-negative integer: the operator then leaves replicas alone and reports it."""
    return value is not None and parse_replicas_record(value) is None
