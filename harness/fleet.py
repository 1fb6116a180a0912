"""Several clusters, each with the real operator (in-process), sharing one local DynamoDB.

Used by the end-to-end tests: `async with running_fleet(endpoint, table, "east", "west", clusters=...) as fleet:`.
Each member is a real kopf operator with the project's own registry, store and workloads layer, on a real
kube-apiserver (``clusters``: handles from :mod:`harness.apiserver`) or, without ``clusters``, an emulated one
(for faults a real server cannot be made to produce). DynamoDB is moto.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from failover_operator.api import API_VERSION
from failover_operator.clock import EventLoopClock
from failover_operator.handlers.registry import (
    FINALIZER,
    apply_daemon_settings,
    apply_posting_settings,
    build_registry,
)
from failover_operator.metrics import Metrics
from failover_operator.reconciler.context import OperatorContext
from failover_operator.settings import Settings
from failover_operator.store import DynamoDBService
from failover_operator.store.calls import RetryPolicy
from failover_operator.workloads.converge import Workloads
from failover_operator.workloads.kube import KubeClient
from failover_operator.workloads.watches import ObjectCache

from .cluster import Cluster
from .controllers import running_controller
from .dynamo import dynamodb_client
from .emulator import running_cluster
from .kopf_runner import KopfOperator, fast_kopf_settings, start_kopf


@dataclass
class Member:
    """One cluster of the fleet: its API server, its operator and that operator's context."""

    name: str
    cluster: Cluster
    ctx: OperatorContext
    kube: KubeClient
    operator: KopfOperator | None = None

    @property
    def store(self) -> DynamoDBService:
        return self.ctx.store

    async def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        return await self.cluster.create(copy.deepcopy(obj))

    async def group(self, namespace: str, name: str) -> dict[str, Any]:
        return await self.cluster.get(API_VERSION, "failovergroups", namespace, name)

    async def failover(self, namespace: str, name: str) -> dict[str, Any]:
        return await self.cluster.get(API_VERSION, "failovers", namespace, name)

    async def deployment(self, namespace: str, name: str) -> dict[str, Any]:
        return await self.cluster.get("apps/v1", "deployments", namespace, name)

    async def replicas(self, namespace: str, name: str) -> int:
        return int((await self.deployment(namespace, name)).get("spec", {}).get("replicas", 1))

    async def stop(self) -> None:
        if self.operator is not None:
            await self.operator.stop()
            self.operator = None


def operator_settings(cluster: str, table: str, endpoint: str, operator_id: str = "fleet", **extra: Any) -> Settings:
    return Settings(
        cluster_name=cluster,
        operator_id=operator_id,
        dynamodb_table=table,
        dynamodb_endpoint=endpoint,
        aws_region="us-east-1",
        metrics_port=0,
        **extra,
    )


async def start_member(member: Member, *, settings: Any = None) -> KopfOperator:
    """(Re)start the member's operator with a fresh registry (as a restarted process would have)."""
    registry = build_registry(member.ctx, member.kube, login=False, tune=False)
    kopf_settings = settings or fast_kopf_settings()
    kopf_settings.persistence.finalizer = FINALIZER
    apply_daemon_settings(kopf_settings)
    apply_posting_settings(kopf_settings)
    member.operator = await start_kopf(registry, member.cluster, settings=kopf_settings)
    return member.operator


@dataclass
class Fleet:
    members: dict[str, Member]

    def __getitem__(self, name: str) -> Member:
        return self.members[name]

    def __iter__(self) -> Any:
        return iter(self.members.values())

    async def apply_everywhere(self, obj: dict[str, Any]) -> None:
        for member in self:
            await member.apply(obj)


@contextlib.asynccontextmanager
async def running_fleet(
    endpoint: str,
    table: str,
    *names: str,
    startup_seconds: float = 0.0,
    retry: RetryPolicy | None = None,
    failover_poll_seconds: float = 0.1,
    start_operators: bool = True,
    dynamodb_endpoints: dict[str, str] | None = None,
    member_settings: dict[str, dict[str, Any]] | None = None,
    clusters: Mapping[str, Cluster] | None = None,
) -> AsyncIterator[Fleet]:
    """Clusters `names` with controllers and operators: the API servers in `clusters` (real ones), else new
    emulated ones. `dynamodb_endpoints` lets a member reach DynamoDB through another endpoint (e.g. a fault
    proxy); `member_settings` overrides a member's operator settings."""
    async with contextlib.AsyncExitStack() as stack:
        members: dict[str, Member] = {}
        for name in names:
            if clusters is not None:
                cluster = clusters[name]
            else:
                cluster = await stack.enter_async_context(running_cluster(name, forget_requests=True))
            await stack.enter_async_context(running_controller(cluster, startup_seconds=startup_seconds))
            member_endpoint = (dynamodb_endpoints or {}).get(name, endpoint)
            client = await stack.enter_async_context(dynamodb_client(member_endpoint))
            clock = EventLoopClock()
            settings = operator_settings(name, table, member_endpoint, **(member_settings or {}).get(name, {}))
            store = DynamoDBService(
                client,
                table,
                name,
                "fleet",
                clock,
                retry=retry or RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05),
            )
            kube = KubeClient(cluster.api_client())
            stack.callback(kube.close)
            watched = ObjectCache(kube, settings.namespaces)  # as the operator's own process does
            stack.push_async_callback(watched.close)
            ctx = OperatorContext(
                settings=settings,
                store=store,
                workloads=Workloads(kube, cache=watched),
                metrics=Metrics(),
                clock=clock,
                failover_poll_seconds=failover_poll_seconds,
            )
            members[name] = Member(name=name, cluster=cluster, ctx=ctx, kube=kube)
        fleet = Fleet(members)
        try:
            if start_operators:
                for member in fleet:
                    await start_member(member)
            yield fleet
        finally:
            for member in reversed(list(fleet)):
                await member.stop()
