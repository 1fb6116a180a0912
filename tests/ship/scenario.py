"""A representative life of a FailoverGroup, lived by real `failover-operator run` processes on real API servers
with RBAC enforced, each process authenticated as the chart's ServiceAccount: what RBAC and IAM must allow, and
what people see.

Two real kube-apiservers (east, west) and one local DynamoDB reached through the fault proxy (which records
each request's X-Amz-Target and body). In each cluster the RBAC objects `helm template` renders (the ClusterRole
by default, Roles in `rbac.namespaced` mode) are applied as they are, and the operator runs with a token of the
chart's ServiceAccount: every request it makes is authorized by the real API server and written to its audit
log. The group lists one resource of every kind the operator manages. The story (`full`: every step):

1. start-up: `failover-operator run` and `failover-operator watchdog` in both clusters (the DescribeTable
   check, kopf starting; the watchdog as its own ServiceAccount);
2. bootstrap: east becomes owner, west standby (scale down, suspend CronJob and Flux, DNS off); then a person
   edits the group's timeouts in both clusters (kopf's update handler rewrites the group's config);
3. a planned failover to west, CONSISTENCY: demote east, transfer, promote west (Flux reconcile requested);
4. back to east in UPTIME mode; then the group is suspended: a Failover to west is refused, a forced one
   moves it; the group is resumed;                                                                         [full]
5. the owner's operator is killed (SIGKILL): its watchdog scales its copy down, then the other cluster takes
   over automatically; the killed one is restarted and stays standby; then the new owner's operator is frozen
   (SIGSTOP): its watchdog fences it, the first takes over again, the frozen one resumes (SIGCONT) as standby;
6. the Failovers are deleted (kopf's finalizer comes off); the group is deleted in the owner (hand-over to
   the other cluster first), then in the other (the last cluster removes the group's records);
7. both operators and both watchdogs stop on SIGTERM.

The story waits for what each step needs and notes what it saw (`Recording.facts`); the tests judge it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from failover_operator.store import DynamoDBService, ensure_table
from failover_operator.workloads import annotations as ann
from harness.apiserver import ControlPlane, RealCluster, third_party_crds
from harness.cluster import Cluster, eventually
from harness.controllers import running_controller
from harness.dynamo import dynamodb_client
from harness.faults import FaultProxy, RecordedRequest, start_proxy
from harness.processes import OperatorProcess

from .manifests import NAMESPACE, objects, template

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
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Lease")


@dataclasses.dataclass
class Recording:
    audit: dict[str, dict[str, list[dict[str, Any]]]]  # process ("run", "watchdog") -> cluster -> its requests
    dynamodb: list[RecordedRequest]
    namespaces: list[str] | None
    table: str
    users: dict[str, str]  # process -> its identity: a ServiceAccount of the chart
    facts: dict[str, Any]  # what the story saw on the way (statuses, printed kubectl output, exit codes)

    def requests(self, process: str = "run") -> list[dict[str, Any]]:
        """Every request the process made, in every cluster, as the API servers logged them."""
        return [event for events in self.audit[process].values() for event in events]

    def operator_requests(self) -> list[dict[str, Any]]:
        return self.requests("run")


def resources() -> list[dict[str, Any]]:
    """One resource of every kind a FailoverGroup can list (kinds.KINDS)."""
    template_ = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
    host = "web.example.com"

    def meta(name: str, **annotations: str) -> dict[str, Any]:
        return {"name": name, "namespace": NS, **({"annotations": annotations} if annotations else {})}

    dns = {ann.EXTERNAL_DNS_HOSTNAME: host}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta("web"),
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template_},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta("db"),
            "spec": {
                "replicas": 1,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "web"}},
                "template": template_,
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": meta("reports"),
            "spec": {
                "schedule": "*/5 * * * *",
                "jobTemplate": {
                    "spec": {"template": {**template_, "spec": {**template_["spec"], "restartPolicy": "OnFailure"}}}
                },
            },
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


def failover(name: str, target: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": FO[0],
        "kind": "Failover",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"targetCluster": target, "failoverGroups": [{"name": "web"}], "reason": "RBAC/IAM recording", **spec},
    }


# --- stand-ins, set-up and waits ------------------------------------------------------------------------------


async def _flux_controller(cluster: Cluster) -> None:
    """Flux's controllers, played: every HelmRelease/Kustomization is Ready at its current generation."""
    while True:
        with contextlib.suppress(Exception):
            for api_version, plural in FLUX:
                for obj in await cluster.list(api_version, plural, NS):
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
async def flux_controller(cluster: Cluster) -> AsyncIterator[None]:
    task = asyncio.create_task(_flux_controller(cluster))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def install_chart_rbac(cluster: RealCluster, rendered: list[dict[str, Any]]) -> dict[str, str]:
    """Apply the chart's ServiceAccounts, RBAC objects and Lease as `helm template` rendered them; a token of
    each account, by process ("run", "watchdog").

    Cluster-wide objects get the label the harness cleans up by (harness=rbac)."""
    cluster.ensure_namespace_sync(NAMESPACE)
    for obj in (o for o in rendered if o["kind"] in RBAC_KINDS):
        obj = {
            **obj,
            "metadata": {**obj["metadata"], "labels": {**obj["metadata"].get("labels", {}), "harness": "rbac"}},
        }
        if obj["kind"] in ("ServiceAccount", "Role", "RoleBinding", "Lease"):
            obj["metadata"].setdefault("namespace", NAMESPACE)
            cluster.ensure_namespace_sync(obj["metadata"]["namespace"])
        cluster.apply_sync(obj)
    return {command: cluster.service_account_token(NAMESPACE, name) for command, name in accounts(rendered).items()}


def accounts(rendered: list[dict[str, Any]]) -> dict[str, str]:
    """The ServiceAccount each Deployment runs as, by its command ("run", "watchdog")."""
    found = {}
    for deployment in (o for o in rendered if o["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        found[pod["containers"][0]["args"][0]] = pod["serviceAccountName"]
    return found


def users(rendered: list[dict[str, Any]]) -> dict[str, str]:
    return {command: f"system:serviceaccount:{NAMESPACE}:{account}" for command, account in accounts(rendered).items()}


def lease_env(rendered: list[dict[str, Any]]) -> dict[str, str]:
    """LEASE_NAMESPACE and LEASE_NAME, as the chart sets them."""
    return {k: v for k, v in _chart_env(rendered).items() if k in ("LEASE_NAMESPACE", "LEASE_NAME")}


def election_env(rendered: list[dict[str, Any]], cluster: str) -> dict[str, str]:
    """The operator's leader election as the chart sets it up (the pod's name and namespace come from the
    downward API there: one replica per cluster here, named as a pod of the Deployment would be)."""
    env = _chart_env(rendered)
    election = {k: env[k] for k in ("LEADER_LEASE_NAME", "LEADER_LEASE_SECONDS")}
    return {**election, "POD_NAME": f"failover-operator-{cluster}-0", "POD_NAMESPACE": NAMESPACE}


def _chart_env(rendered: list[dict[str, Any]]) -> dict[str, str]:
    deployment = next(o for o in rendered if o["kind"] == "Deployment" and "watchdog" not in o["metadata"]["name"])
    return {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


@dataclasses.dataclass
class Member:
    name: str
    cluster: RealCluster
    operator: OperatorProcess
    watchdog: OperatorProcess


async def status(member: Member) -> dict[str, Any]:
    obj = await member.cluster.get_or_none(*FG, NS, "web")
    return (obj or {}).get("status") or {}


async def settled(members: list[Member], owner: str, epoch: int, within: float = 20) -> None:
    """Every member's operator reports `owner` at `epoch`, its own role, health OK; replicas follow."""

    async def check() -> bool:
        for m in members:
            s = await status(m)
            assert (s.get("owner"), s.get("epoch")) == (owner, epoch), (m.name, s.get("decision"))
            assert s.get("role") == ("PRIMARY" if m.name == owner else "STANDBY"), (m.name, s.get("decision"))
            assert s.get("health") == "OK", (m.name, s.get("message"))
            deployment = await m.cluster.get("apps/v1", "deployments", NS, "web")
            assert deployment["spec"]["replicas"] == (2 if m.name == owner else 0), m.name
        return True

    await eventually(check, within=within, interval=0.1)


@dataclasses.dataclass
class ReplicaLog:
    """Each Deployment `web`'s spec.replicas as it changed, on the test's monotonic clock."""

    changes: list[tuple[float, str, int]] = dataclasses.field(default_factory=list)

    def order(self, stopped: str, started: str) -> dict[str, float | None]:
        """When `stopped` first read zero and `started` first read more, seconds after the watch began."""
        begin = self.changes[0][0] if self.changes else 0.0
        zero = next((t - begin for t, c, r in self.changes if c == stopped and r == 0), None)
        up = next((t - begin for t, c, r in self.changes if c == started and r > 0), None)
        return {"stopped at zero": zero, "started above zero": up}


@contextlib.asynccontextmanager
async def replicas_watched(members: list[Member], every: float = 0.02) -> AsyncIterator[ReplicaLog]:
    """Read every member's Deployment `web` every `every` seconds, and log each change of its replicas.

    Reading both API servers in turn gives an order good to `every` plus one round trip, well inside the
    margin the watchdog keeps (it fences at half the heartbeat timeout; a standby waits the whole of it)."""
    log = ReplicaLog()
    last: dict[str, int] = {}

    async def watch() -> None:
        while True:
            for m in members:
                with contextlib.suppress(Exception):
                    replicas = (await m.cluster.get("apps/v1", "deployments", NS, "web"))["spec"]["replicas"]
                    if last.get(m.name) != replicas:
                        last[m.name] = replicas
                        log.changes.append((asyncio.get_running_loop().time(), m.name, replicas))
            await asyncio.sleep(every)

    task = asyncio.ensure_future(watch())
    try:
        yield log
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def reasons(member: Member, reason: str) -> list[str]:
    """The messages of the group's events with this reason, in the member's cluster."""
    events = await member.cluster.list("v1", "events", NS)
    return [e.get("message", "") for e in events if e.get("reason") == reason]


async def failover_done(member: Member, name: str, within: float = 30) -> dict[str, Any]:
    async def check() -> dict[str, Any]:
        obj = await member.cluster.get(*FO, NS, name)
        s = obj.get("status") or {}
        assert s.get("phase") in ("Succeeded", "Failed"), s
        return s

    result: dict[str, Any] = await eventually(check, within=within, interval=0.1)
    return result


# --- the scenario ---------------------------------------------------------------------------------------------


async def record(
    plane: ControlPlane,
    moto_endpoint: str,
    helm: Path,
    kubectl: Path,
    workdir: Path,
    *,
    values: dict[str, Any],
    namespaces: list[str] | None = None,
    full: bool = True,
) -> Recording:
    """Run the story; ``values`` render the chart's RBAC (ClusterRole, or Roles with ``rbac.namespaced``)."""
    table = f"ship-{uuid.uuid4().hex[:12]}"
    rendered = objects(template(helm, values=values).stdout)
    identities = users(rendered)
    clusters = plane.ensure(*CLUSTERS)
    tokens = {}
    for cluster in clusters.values():
        cluster.fresh([NS, *(namespaces or [])])
        cluster.install_crds(third_party_crds())
        tokens[cluster.name] = install_chart_rbac(cluster, rendered)
        cluster.mark_audit()
    facts: dict[str, Any] = {}
    async with dynamodb_client(moto_endpoint) as admin:
        await ensure_table(admin, table)
        # The test's own reads go straight to DynamoDB, so the proxy records the operators' requests only.
        observer = DynamoDBService(admin, table, "observer", OPERATOR_ID)
        proxy: FaultProxy = await start_proxy(moto_endpoint)
        env = {**lease_env(rendered), **({"WATCH_NAMESPACE": ",".join(namespaces)} if namespaces else {})}

        def process(cluster: RealCluster, command: str) -> OperatorProcess:
            return OperatorProcess(
                cluster,
                endpoint=proxy.endpoint,
                table=table,
                workdir=workdir,
                operator_id=OPERATOR_ID,
                token=tokens[cluster.name][command],
                env={**env, **(election_env(rendered, cluster.name) if command == "run" else {})},
                command=command,
            )

        members = {
            name: Member(name, cluster, process(cluster, "run"), process(cluster, "watchdog"))
            for name, cluster in clusters.items()
        }

        def printed(where: str, *args: str) -> str:
            """What kubectl prints in cluster `where` (as its admin)."""
            done = subprocess.run(
                [str(kubectl), "--kubeconfig", str(clusters[where].kubeconfig), *args],
                capture_output=True,
                text=True,
                timeout=30,
            )
            return done.stdout + done.stderr

        try:
            async with contextlib.AsyncExitStack() as stack:
                for m in members.values():
                    await stack.enter_async_context(running_controller(m.cluster, interval=CONTROLLER_INTERVAL))
                    await stack.enter_async_context(flux_controller(m.cluster))
                try:
                    await _story(members, observer, facts, printed, full=full)
                except BaseException as exc:
                    processes = [p for m in members.values() for p in (m.operator, m.watchdog)]
                    logs = "\n".join(f"--- {p.log.name} ---\n{p.output(60)}" for p in processes)
                    raise AssertionError(f"the story stopped at {facts.get('step')!r}: {exc!r}\n{logs}") from exc
                finally:
                    for m in members.values():
                        facts.setdefault("exit codes", {})[m.name] = await m.operator.stop()
                        facts.setdefault("watchdog exit codes", {})[m.name] = await m.watchdog.stop()
        finally:
            await proxy.stop()
            for cluster in clusters.values():
                await cluster.close()
    audit = {command: {n: c.audit(user) for n, c in clusters.items()} for command, user in identities.items()}
    return Recording(
        audit=audit, dynamodb=list(proxy.requests), namespaces=namespaces, table=table, users=identities, facts=facts
    )


async def _story(
    members: dict[str, Member],
    observer: DynamoDBService,
    facts: dict[str, Any],
    printed: Callable[..., str],
    *,
    full: bool,
) -> None:
    east, west = members["east"], members["west"]
    both = [east, west]

    def step(name: str) -> None:
        facts["step"] = name

    async def in_history(name: str) -> Any:
        async def check() -> Any:
            found = [h for h in await observer.state.get_failover_history(NS, "web") if h.failover_name == name]
            assert found, name
            return found[0]

        return await eventually(check, within=10, interval=0.1)

    async def config_says(predicate: Callable[[Any], bool], what: str) -> None:
        async def check() -> bool:
            config = await observer.state.get_group_config(NS, "web")
            assert config is not None and predicate(config), (what, config)
            return True

        await eventually(check, within=15, interval=0.1)

    async def owner_says(member: Member, predicate: Callable[[Any], bool], what: str) -> None:
        async def check() -> bool:
            status = await observer.state.get_cluster_status(NS, "web", member.name)
            assert status is not None and predicate(status), (what, status)
            return True

        await eventually(check, within=15, interval=0.1)

    async def everywhere(action: Callable[[Member], Awaitable[Any]]) -> None:
        for m in both:
            await action(m)

    step("1. start-up")
    for m in both:
        await m.operator.start()
        await m.watchdog.start()
    for m in both:
        await m.operator.wait_healthy()
        await m.watchdog.wait_healthy()

    step("2. bootstrap")
    for obj in resources():
        await everywhere(lambda m, obj=obj: m.cluster.create(obj))
    await everywhere(lambda m: m.cluster.create(group()))
    await settled(both, "east", 1)

    async def both_reported() -> bool:
        assert len((await status(east)).get("clusters", [])) == 2
        return True

    await eventually(both_reported, within=10, interval=0.1)
    for m in both:
        facts[f"kubectl get fg ({m.name})"] = printed(m.name, "get", "failovergroups", "-n", NS)
    facts["kubectl get fg -o wide"] = printed("east", "get", "fg", "-n", NS, "-o", "wide")
    facts["kubectl describe fg"] = printed("east", "describe", "failovergroup", "web", "-n", NS)
    standby_web = await west.cluster.get("apps/v1", "deployments", NS, "web")
    facts["standby annotations"] = standby_web["metadata"].get("annotations", {})
    patch = {"spec": {"timeouts": {"unhealthyPrimary": "4s"}}}
    await everywhere(lambda m: m.cluster.patch(*FG, NS, "web", patch))
    await config_says(lambda c: c.timeouts.unhealthy_primary == 4, "timeouts edited")

    step("3. planned failover to west (CONSISTENCY)")
    await west.cluster.create(failover("to-west", "west"))
    facts["to-west"] = await failover_done(west, "to-west")
    epoch = 2
    await settled(both, "west", epoch)
    facts["kubectl get fo"] = printed("west", "get", "failovers", "-n", NS)
    if full:
        step("4. back to east (UPTIME), then suspended: refused, forced")
        await east.cluster.create(failover("back", "east", mode="UPTIME"))
        facts["back"] = await failover_done(east, "back")
        epoch += 1
        await settled(both, "east", epoch)
        suspend = {"spec": {"suspended": True, "suspensionReason": "database migration"}}
        await everywhere(lambda m: m.cluster.patch(*FG, NS, "web", suspend))
        await config_says(lambda c: c.suspended, "suspended")
        await west.cluster.create(failover("refused", "west"))
        facts["refused"] = await failover_done(west, "refused")
        await west.cluster.create(failover("forced", "west", force=True))
        facts["forced"] = await failover_done(west, "forced")
        epoch += 1
        await settled(both, "west", epoch)
        await everywhere(lambda m: m.cluster.patch(*FG, NS, "web", {"spec": {"suspended": False}}))
        await config_says(lambda c: not c.suspended, "resumed")
        # Automatic failover is back once the owner says it no longer holds the group (its watchdog's Lease first):
        # until then it does not fence itself, and nobody may take over from it.
        await owner_says(west, lambda s: not s.maintenance, "no longer holds it in maintenance")

    step("5. the owner's operator is killed (SIGKILL); its watchdog fences; the other takes over")
    owner, other = west, east
    async with replicas_watched(both) as seen:
        await owner.operator.kill()
        await settled([other], other.name, epoch + 1)
    epoch += 1
    facts["SIGKILL"] = seen.order(owner.name, other.name)
    facts["takeover"] = await in_history(f"auto-{other.name}-epoch-{epoch}")
    facts["watchdog events"] = await reasons(owner, "WatchdogFenced")
    await owner.operator.start()
    await owner.operator.wait_healthy()
    await settled(both, other.name, epoch)

    step("5b. the new owner's operator is frozen (SIGSTOP); its watchdog fences; the first takes over again")
    owner, other = other, owner
    async with replicas_watched(both) as seen:
        owner.operator.pause()
        try:
            await settled([other], other.name, epoch + 1)
        finally:
            owner.operator.resume()
    epoch += 1
    facts["SIGSTOP"] = seen.order(owner.name, other.name)
    await settled(both, other.name, epoch)
    owner, other = other, owner  # `other` is the owner again below, as after step 5

    step("6. deletions")
    for name in ("to-west", "back", "refused", "forced"):
        for m in both:
            if await m.cluster.get_or_none(*FO, NS, name) is not None:
                await m.cluster.delete(*FO, NS, name)
                await m.cluster.wait_absent(*FO, NS, name, within=15)
    await other.cluster.delete(*FG, NS, "web")
    await other.cluster.wait_absent(*FG, NS, "web", within=20)
    await config_says(lambda c: c.owner == owner.name, "handed over")
    facts["after hand-over"] = (await other.cluster.get("apps/v1", "deployments", NS, "web"))["spec"]["replicas"]
    await owner.cluster.delete(*FG, NS, "web")
    await owner.cluster.wait_absent(*FG, NS, "web", within=20)
    facts["records left"] = await observer.state.get_group_config(NS, "web")

    step("7. SIGTERM")
