"""Kubernetes side effects and health of the resources a FailoverGroup lists.

Knows nothing of DynamoDB or kopf. The pure decisions (:mod:`.roles`, :mod:`.health`) are separate from the
I/O (:mod:`.kube`, :mod:`.converge`); every annotation key is in :mod:`.annotations`, every kind in :mod:`.kinds`.
"""

from .converge import ConvergeResult, Observation, RefLike, ResourceRef, Workloads
from .health import Component, Health, all_down, all_ready, assess, summarize
from .kinds import ALL_KINDS, FAILOVER, FAILOVER_GROUP, KINDS, Kind, UnknownKindError, any_kind, managed_kind
from .kube import KubeClient, KubeError, api_client_from_environment
from .roles import Role, describe_patch, role_patch

__all__ = [
    "ALL_KINDS",
    "FAILOVER",
    "FAILOVER_GROUP",
    "KINDS",
    "Component",
    "ConvergeResult",
    "Health",
    "Kind",
    "KubeClient",
    "KubeError",
    "Observation",
    "RefLike",
    "ResourceRef",
    "Role",
    "UnknownKindError",
    "Workloads",
    "all_down",
    "all_ready",
    "any_kind",
    "api_client_from_environment",
    "assess",
    "describe_patch",
    "managed_kind",
    "role_patch",
    "summarize",
]
