"""A representative life of a FailoverGroup, run by the real operator with its production kopf settings, with
every Kubernetes request (per cluster) and every DynamoDB request recorded: what RBAC and IAM must allow.

Two emulated clusters (east, west) and one local DynamoDB, reached through the fault proxy (which records each
request's X-Amz-Target and body). The group lists one resource of every kind the operator manages. The story:

1. start-up: the DescribeTable check `failover-operator run` makes (runner.check_table), kopf starting;
2. bootstrap: east becomes owner, west standby (scale down, suspend CronJob and Flux, DNS off); then a person
   edits the group's timeouts (kopf's update handler reads and rewrites the group's config);
3. a planned failover (Failover CR) to west: demote east, transfer, promote west (Flux reconcile requested);
4. an automatic failover: west's operator stops, east takes over (the fencing-safe takeover transaction);
   west's operator restarts and demotes its copy (kopf resumes);
5. the Failover is deleted (kopf's finalizer comes off); the group is deleted in the owner (east hands ownership
   to west first), then in west (the last cluster removes the group's records).

The operators run with `build_registry(..., tune=True)`: the same kopf configuration as `failover-operator run`
(scanning disabled, standalone, annotation storage, the finalizer) — only the API URL comes from the test.
`namespaces` runs them namespaced (WATCH_NAMESPACE), as the chart's `rbac.namespaced` mode does.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

from failover_operator.clock import EventLoopClock
from failover_operator.handlers.registry import build_registry
from failover_operator.metrics import Metrics
from failover_operator.reconciler.context import OperatorContext
from failover_operator.runner import check_table
from failover_operator.store import DynamoDBService, ensure_table
from failover_operator.testing.controllers import running_controller
from failover_operator.testing.dynamo import dynamodb_client
from failover_operator.testing.faults import FaultProxy, RecordedRequest, start_proxy
from failover_operator.testing.fleet import Fleet, Member, operator_settings
from failover_operator.testing.kube import KubeCluster, eventually, start_kopf
from failover_operator.testing.requests_log import ApiRequest, RequestLog, recording_cluster
from failover_operator.workloads import annotations as ann
from failover_operator.workloads.converge import Workloads
from failover_operator.workloads.kube import KubeClient, api_client_for_url

NS = "shop"
CLUSTERS = ("east", "west")
OPERATOR_ID = "fleet"
FG = ("failover.dev/v1alpha1", "failovergroups")
FO = ("failover.dev/v1alpha1", "failovers")
TIMING = {
    "heartbeatInterval": "300ms",
    "timeouts": {"heartbeat": "2s", "unhealthyPrimary": "3s", "transitoryState": "8s"},
}
FLUX = (("helm.toolkit.fluxcd.io/v2", "helmreleases"), ("kustomize.toolkit.fluxcd.io/v1", "kustomizations"))
CONTROLLER_INTERVAL = 0.1  # how often the controller stand-ins look


@dataclasses.dataclass
class Recording:
    kube: dict[str, list[ApiRequest]]  # per cluster, every request (operator's and harness's), in order
    dynamodb: list[RecordedRequest]
    namespaces: list[str] | None
    table: str

    def operator_requests(self) -> list[ApiRequest]:
        return [r for requests in self.kube.values() for r in requests if r.client == "operator"]


def resources() -> list[dict[str, Any]]:
    """One resource of every kind a FailoverGroup can list (kinds.KINDS)."""
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
    host = "web.example.com"

    def meta(name: str, **annotations: str) -> dict[str, Any]:
        return {"name": name, "namespace": NS, **({"annotations": annotations} if annotations else {})}

    dns = {ann.EXTERNAL_DNS_HOSTNAME: host}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta("web"),
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta("db"),
            "spec": {
                "replicas": 1,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "web"}},
                "template": template,
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": meta("reports"),
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": meta("web", **dns),
            "spec": {"rules": [{"host": host}]},
        },
        {
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "VirtualService",
            "metadata": meta("web", **dns),
            "spec": {"hosts": [host], "http": [{"route": [{"destination": {"host": "web"}}]}]},
        },
        {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": meta("web"),
            "spec": {"interval": "5m", "chart": {"spec": {"chart": "web", "sourceRef": {"kind": "HelmRepository"}}}},
        },
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": meta("config"),
            "spec": {"interval": "5m", "path": "./config", "prune": True, "sourceRef": {"kind": "GitRepository"}},
        },
    ]


def group() -> dict[str, Any]:
    return {
        "apiVersion": FG[0],
        "kind": "FailoverGroup",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {
            **TIMING,
            "initialPrimary": "east",
            "workloads": [
                {"kind": "Deployment", "name": "web"},
                {"kind": "StatefulSet", "name": "db"},
                {"kind": "CronJob", "name": "reports"},
            ],
            "networkResources": [{"kind": "Ingress", "name": "web"}, {"kind": "VirtualService", "name": "web"}],
            "fluxResources": [
                {"kind": "HelmRelease", "name": "web", "triggerReconcile": True},
                {"kind": "Kustomization", "name": "config"},
            ],
        },
    }


def failover(name: str, target: str) -> dict[str, Any]:
    return {
        "apiVersion": FO[0],
        "kind": "Failover",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"targetCluster": target, "failoverGroups": [{"name": "web"}], "reason": "RBAC/IAM recording"},
    }


# --- stand-ins and waits --------------------------------------------------------------------------------------


async def _flux_controller(cluster: KubeCluster) -> None:
    """Flux's controllers, played: every HelmRelease/Kustomization is Ready at its current generation."""
    while True:
        with contextlib.suppress(Exception):
            for api_version, plural in FLUX:
                for obj in await cluster.list(api_version, plural):
                    meta = obj["metadata"]
                    status = obj.get("status") or {}
                    if status.get("observedGeneration") != meta.get("generation"):
                        ready = {"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded"}
                        await cluster.patch_status(
                            api_version,
                            plural,
                            meta["namespace"],
                            meta["name"],
                            {"observedGeneration": meta.get("generation"), "conditions": [ready]},
                        )
        await asyncio.sleep(CONTROLLER_INTERVAL)


@contextlib.asynccontextmanager
async def flux_controller(cluster: KubeCluster) -> AsyncIterator[None]:
    task = asyncio.create_task(_flux_controller(cluster))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def recording_fleet(endpoint: str, table: str) -> AsyncIterator[Fleet]:
    """Like testing.fleet.running_fleet (clusters, controller stand-ins, one store per member reaching DynamoDB
    at `endpoint`), but with recording clusters, Flux's controllers played too, and the store's production
    retry policy."""
    async with contextlib.AsyncExitStack() as stack:
        members: dict[str, Member] = {}
        for name in CLUSTERS:
            cluster = await stack.enter_async_context(recording_cluster(name))
            await stack.enter_async_context(running_controller(cluster, interval=CONTROLLER_INTERVAL))
            await stack.enter_async_context(flux_controller(cluster))
            client = await stack.enter_async_context(dynamodb_client(endpoint))
            clock = EventLoopClock()
            store = DynamoDBService(client, table, name, OPERATOR_ID, clock)
            kube = KubeClient(api_client_for_url(cluster.url))
            stack.callback(kube.close)
            ctx = OperatorContext(
                settings=operator_settings(name, table, endpoint, OPERATOR_ID),
                store=store,
                workloads=Workloads(kube),
                metrics=Metrics(),
                clock=clock,
                failover_poll_seconds=0.1,
            )
            members[name] = Member(name=name, cluster=cluster, ctx=ctx, kube=kube)
        fleet = Fleet(members)
        try:
            yield fleet
        finally:
            for member in fleet:
                await member.stop()


async def status(member: Member) -> dict[str, Any]:
    obj = await member.cluster.get_or_none(*FG, NS, "web")
    return (obj or {}).get("status") or {}


async def settled(members: list[Member], owner: str, epoch: int, within: float = 15) -> None:
    """Every member's operator reports `owner` at `epoch`, its own role, health OK."""

    async def check() -> bool:
        for m in members:
            s = await status(m)
            assert (s.get("owner"), s.get("epoch")) == (owner, epoch), (m.name, s.get("decision"))
            assert s.get("role") == ("PRIMARY" if m.name == owner else "STANDBY"), (m.name, s.get("decision"))
            assert s.get("health") == "OK", (m.name, s.get("message"))
        return True

    await eventually(check, within=within, interval=0.1)


async def failover_done(member: Member, name: str, within: float = 20) -> dict[str, Any]:
    async def check() -> dict[str, Any]:
        obj = await member.cluster.get(*FO, NS, name)
        s = obj.get("status") or {}
        assert s.get("phase") in ("Succeeded", "Failed"), s
        return s

    result: dict[str, Any] = await eventually(check, within=within, interval=0.1)
    return result


async def start_operator(member: Member, namespaces: list[str] | None) -> None:
    """The member's operator with the production kopf configuration (the `tune` startup handler)."""
    registry = build_registry(member.ctx, member.kube, login=False, tune=True)
    member.operator = await start_kopf(registry, member.cluster, namespaces=namespaces)


# --- the scenario ---------------------------------------------------------------------------------------------


async def record(moto_endpoint: str, *, namespaces: list[str] | None = None) -> Recording:
    table = f"ship-{uuid.uuid4().hex[:12]}"
    async with dynamodb_client(moto_endpoint) as admin:
        await ensure_table(admin, table)
        # The test's own reads go straight to DynamoDB, so the proxy records the operators' requests only.
        observer = DynamoDBService(admin, table, "observer", OPERATOR_ID)
        proxy: FaultProxy = await start_proxy(moto_endpoint)
        try:
            async with recording_fleet(proxy.endpoint, table) as fleet:
                logs = {m.name: RequestLog(m.cluster) for m in fleet}
                await _story(fleet, proxy, observer, namespaces)
                for m in fleet:
                    await m.stop()
                kube = {name: log.requests() for name, log in logs.items()}
            return Recording(kube=kube, dynamodb=list(proxy.requests), namespaces=namespaces, table=table)
        finally:
            await proxy.stop()


async def _story(fleet: Fleet, proxy: FaultProxy, observer: DynamoDBService, namespaces: list[str] | None) -> None:
    east, west = fleet["east"], fleet["west"]

    # 1. start-up: the table check of `failover-operator run`, then the operators.
    async with dynamodb_client(proxy.endpoint) as client:
        await check_table(client, east.ctx.settings)
    for m in fleet:
        await start_operator(m, namespaces)

    # 2. bootstrap; then a person edits the group's timeouts (kopf's update handler rewrites the config)
    for m in fleet:
        for obj in resources():
            await m.apply(obj)
    for m in fleet:
        await m.apply(group())
    await settled([east, west], "east", 1)
    for m in fleet:
        await m.cluster.patch(*FG, NS, "web", {"spec": {"timeouts": {"unhealthyPrimary": "4s"}}})

    async def timeouts_updated() -> bool:
        config = await observer.state.get_group_config(NS, "web")
        assert config is not None and config.timeouts.unhealthy_primary == 4, config
        return True

    await eventually(timeouts_updated, within=10, interval=0.1)

    # 3. a planned failover to west
    await west.apply(failover("to-west", "west"))
    result = await failover_done(west, "to-west")
    assert result["phase"] == "Succeeded", result.get("message")
    await settled([east, west], "west", 2)

    # 4. west's operator goes away: east takes over automatically; west comes back and steps down
    await west.stop()
    await settled([east], "east", 3)
    await start_operator(west, namespaces)
    await settled([east, west], "east", 3)

    # 5. deletions: the Failover; the group in the owner (hand-over to west), then in west (the last one)
    await west.cluster.delete(*FO, NS, "to-west")
    await west.cluster.wait_absent(*FO, NS, "to-west", within=10)
    await east.cluster.delete(*FG, NS, "web")
    await east.cluster.wait_absent(*FG, NS, "web", within=15)
    await west.cluster.delete(*FG, NS, "web")
    await west.cluster.wait_absent(*FG, NS, "web", within=15)
    assert await observer.state.get_group_config(NS, "web") is None  # the last cluster removed the records
