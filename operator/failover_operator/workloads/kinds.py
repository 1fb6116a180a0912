"""The kinds of resource a FailoverGroup can list, and our own CRDs: the one place for their API coordinates.

Every path this package sends to the Kubernetes API is built here, from a :class:`Kind`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

Category = Literal["workload", "network", "flux", "failover", "lease"]
"""workload: runs pods or jobs; network: publishes DNS; flux: a GitOps reconciler; failover: our own CRDs."""


class UnknownKindError(KeyError):
    """A kind that a FailoverGroup cannot list (the message names the supported ones)."""

    def __init__(self, kind: str, supported: list[str]) -> None:
        self.kind = kind
        self.message = f"unknown kind {kind!r} (supported: {', '.join(supported)})"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


@dataclass(frozen=True)
class Kind:
    kind: str  # "Deployment"
    group: str  # "apps" ("" for the core group)
    version: str  # "v1"
    plural: str  # "deployments"
    category: Category
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def scalable(self) -> bool:
        """Runs pods through ``spec.replicas`` (Deployment, StatefulSet)."""
        return self.kind in ("Deployment", "StatefulSet")

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """The API path: ``/apis/apps/v1/namespaces/shop/deployments/web[/status]`` (``/api/v1/...`` for core)."""
        path = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace is not None:
            path += f"/namespaces/{namespace}"
        path += f"/{self.plural}"
        if name is not None:
            path += f"/{name}"
            if subresource is not None:
                path += f"/{subresource}"
        elif subresource is not None:
            raise ValueError("a subresource needs an object name")
        return path


DEPLOYMENT = Kind("Deployment", "apps", "v1", "deployments", "workload")
STATEFUL_SET = Kind("StatefulSet", "apps", "v1", "statefulsets", "workload")
CRON_JOB = Kind("CronJob", "batch", "v1", "cronjobs", "workload")
INGRESS = Kind("Ingress", "networking.k8s.io", "v1", "ingresses", "network")
VIRTUAL_SERVICE = Kind("VirtualService", "networking.istio.io", "v1beta1", "virtualservices", "network")
HELM_RELEASE = Kind("HelmRelease", "helm.toolkit.fluxcd.io", "v2", "helmreleases", "flux")
KUSTOMIZATION = Kind("Kustomization", "kustomize.toolkit.fluxcd.io", "v1", "kustomizations", "flux")

FAILOVER_GROUP = Kind("FailoverGroup", "failover.dev", "v1alpha1", "failovergroups", "failover")
FAILOVER = Kind("Failover", "failover.dev", "v1alpha1", "failovers", "failover")
LEASE = Kind("Lease", "coordination.k8s.io", "v1", "leases", "lease")  # the operator's proof of life

KINDS: Mapping[str, Kind] = MappingProxyType(
    {k.kind: k for k in (DEPLOYMENT, STATEFUL_SET, CRON_JOB, INGRESS, VIRTUAL_SERVICE, HELM_RELEASE, KUSTOMIZATION)}
)
"""The kinds a FailoverGroup may list, by kind name."""

ALL_KINDS: Mapping[str, Kind] = MappingProxyType(
    {**KINDS, FAILOVER_GROUP.kind: FAILOVER_GROUP, FAILOVER.kind: FAILOVER, LEASE.kind: LEASE}
)
"""KINDS plus our own CRDs (for reads and status patches) and the watchdog's Lease."""


def managed_kind(kind: str | Kind) -> Kind:
    """The :class:`Kind` a FailoverGroup lists as ``kind`` (exact, else case-insensitive); UnknownKindError."""
    return _lookup(kind, KINDS)


def any_kind(kind: str | Kind) -> Kind:
    """Like :func:`managed_kind`, but also our own CRDs (FailoverGroup, Failover)."""
    return _lookup(kind, ALL_KINDS)


def _lookup(kind: str | Kind, table: Mapping[str, Kind]) -> Kind:
    if isinstance(kind, Kind):
        return kind
    found = table.get(kind)
    if found is None:
        folded = kind.casefold()
        found = next((k for name, k in table.items() if name.casefold() == folded), None)
    if found is None:
        raise UnknownKindError(kind, list(table))
    return found
