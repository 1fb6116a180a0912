"""The Kubernetes resources the harness knows by name: what the emulator serves in discovery, and how the
cluster handles turn ``("apps/v1", "deploy")`` into a request path on any API server, real or emulated."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

__all__ = ["BUILTIN_RESOURCES", "DEFAULT_RESOURCES", "FAILOVER_RESOURCES", "ResourceSpec", "find_spec"]


@dataclasses.dataclass(frozen=True)
class ResourceSpec:
    """One resource as served in discovery. ``custom`` marks CRD-backed resources (no strategic merge)."""

    api_version: str  # "v1", "apps/v1", "failover.dev/v1alpha1"
    plural: str
    kind: str
    namespaced: bool = True
    shortnames: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ("status",)
    categories: tuple[str, ...] = ()
    custom: bool = False
    singular: str | None = None

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def names(self) -> set[str]:
        """Every name a client may use for it: kind, plural, singular and short names, lower-cased."""
        return {n.lower() for n in (self.kind, self.plural, self.singular or self.kind, *self.shortnames)}

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """The request path: ``/apis/apps/v1/namespaces/shop/deployments/web/status``."""
        path = f"/apis/{self.api_version}" if self.group else f"/api/{self.version}"
        if namespace is not None and self.namespaced:
            path += f"/namespaces/{namespace}"
        path += f"/{self.plural}"
        if name is not None:
            path += f"/{name}"
        if subresource is not None:
            path += f"/{subresource}"
        return path


BUILTIN_RESOURCES: tuple[ResourceSpec, ...] = (
    ResourceSpec(
        "v1", "namespaces", "Namespace", namespaced=False, shortnames=("ns",), subresources=("status", "finalize")
    ),
    ResourceSpec("v1", "events", "Event", shortnames=("ev",), subresources=()),
    ResourceSpec("v1", "configmaps", "ConfigMap", shortnames=("cm",), subresources=()),
    ResourceSpec("v1", "secrets", "Secret", subresources=()),
    ResourceSpec("v1", "services", "Service", shortnames=("svc",), categories=("all",)),
    ResourceSpec("v1", "pods", "Pod", shortnames=("po",), categories=("all",)),
    ResourceSpec("events.k8s.io/v1", "events", "Event", shortnames=("ev",), subresources=()),
    ResourceSpec(
        "apps/v1",
        "deployments",
        "Deployment",
        shortnames=("deploy",),
        subresources=("status", "scale"),
        categories=("all",),
    ),
    ResourceSpec(
        "apps/v1",
        "statefulsets",
        "StatefulSet",
        shortnames=("sts",),
        subresources=("status", "scale"),
        categories=("all",),
    ),
    ResourceSpec("batch/v1", "cronjobs", "CronJob", shortnames=("cj",), categories=("all",)),
    ResourceSpec("networking.k8s.io/v1", "ingresses", "Ingress", shortnames=("ing",)),
    ResourceSpec("coordination.k8s.io/v1", "leases", "Lease", subresources=()),
    ResourceSpec("v1", "serviceaccounts", "ServiceAccount", shortnames=("sa",), subresources=("token",)),
    ResourceSpec("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", namespaced=False, subresources=()),
    ResourceSpec(
        "rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False, subresources=()
    ),
    ResourceSpec("rbac.authorization.k8s.io/v1", "roles", "Role", subresources=()),
    ResourceSpec("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", subresources=()),
    ResourceSpec(
        "apiextensions.k8s.io/v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        shortnames=("crd", "crds"),
        categories=("api-extensions",),
    ),
    # Third-party CRDs the operator switches over (CRD-backed: no strategic merge, objects on delete).
    ResourceSpec(
        "networking.istio.io/v1beta1",
        "virtualservices",
        "VirtualService",
        shortnames=("vs",),
        categories=("istio-io", "networking-istio-io"),
        custom=True,
    ),
    ResourceSpec("helm.toolkit.fluxcd.io/v2", "helmreleases", "HelmRelease", shortnames=("hr",), custom=True),
    ResourceSpec("kustomize.toolkit.fluxcd.io/v1", "kustomizations", "Kustomization", shortnames=("ks",), custom=True),
)

FAILOVER_RESOURCES: tuple[ResourceSpec, ...] = (
    ResourceSpec("failover.dev/v1alpha1", "failovergroups", "FailoverGroup", shortnames=("fg",), custom=True),
    ResourceSpec("failover.dev/v1alpha1", "failovers", "Failover", shortnames=("fo",), custom=True),
)

DEFAULT_RESOURCES: tuple[ResourceSpec, ...] = BUILTIN_RESOURCES + FAILOVER_RESOURCES


def find_spec(api_version: str, kind: str, specs: Iterable[ResourceSpec] = DEFAULT_RESOURCES) -> ResourceSpec:
    """The resource of ``api_version`` named ``kind`` (kind, plural, singular or short name, any case)."""
    for spec in specs:
        if spec.api_version == api_version and kind.lower() in spec.names():
            return spec
    raise KeyError(f"Resource {kind!r} is not known in {api_version!r}.")
