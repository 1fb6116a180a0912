"""The owner cluster's operator restarted and upgraded under load, on real API servers (issue 19): two replicas
of `failover-operator run` in east elect a leader on the chart's Lease (POD_NAME, as the downward API sets it),
east owns `groups` groups and its watchdog runs, west stands by. Then what a `kubectl rollout restart` or a
`helm upgrade` does to the leader (RollingUpdate, maxSurge 1: the new pod is up before an old one stops):

1. SIGTERM to the leader — the other replica leads; the stopped one comes back as a follower (the kubelet);
2. a rollout — a third replica starts, then the leader gets SIGTERM again.

Meanwhile every Deployment of both clusters is read every few tenths of a second. What the tests judge and the
benchmark reports (`Rollout`): fencings, owner changes, the fewest replicas any owner's Deployment had, and how
long each hand-over took. Used by tests/apiserver/test_rollout.py and bench/rollout.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from failover_operator.clock import SystemClock
from failover_operator.store import DynamoDBService

from .apiserver import RealCluster
from .cluster import eventually
from .controllers import running_controller
from .dynamo import dynamodb_client
from .manifests import deployment
from .processes import OperatorProcess

NS = "shop"
LEASES = "failover-operator"  # the release namespace, where the chart creates both Leases
WATCHDOG_LEASE, LEADER_LEASE = "failover-operator", "failover-operator-leader"
OPERATOR_ID = "rollout"
HEARTBEAT_INTERVAL, HEARTBEAT_TIMEOUT = 1.0, 6.0
TIMING = {
    "heartbeatInterval": f"{HEARTBEAT_INTERVAL:g}s",
    "timeouts": {"heartbeat": f"{HEARTBEAT_TIMEOUT:g}s", "unhealthyPrimary": "10s", "transitoryState": "20s"},
}
WATCHED_AFTER = 2 * HEARTBEAT_TIMEOUT  # each hand-over is watched this long: a standby would have taken over by then


@dataclass
class Rollout:
    groups: int
    handovers: list[float] = field(default_factory=list)  # SIGTERM to the next leader's term, seconds
    fewest_replicas: int | None = None  # of any east Deployment, over the whole watch
    west_scaled_up: int = 0  # west Deployments ever seen above 0
    fenced_events: list[str] = field(default_factory=list)  # Fenced / WatchdogFenced events in east
    owner_changes: int = 0  # groups whose owner or epoch moved, or that have a history record
    leaders: list[str] = field(default_factory=list)  # the leader's pod, in order

    def lines(self) -> list[dict[str, Any]]:
        """JSON lines for bench/ (figure, value, unit)."""
        return [
            {"figure": "rollout groups", "value": self.groups, "unit": "groups"},
            {"figure": "rollout fencings", "value": len(self.fenced_events), "unit": "events"},
            {"figure": "rollout owner changes", "value": self.owner_changes, "unit": "groups"},
            {
                "figure": "rollout fewest replicas of an owner's Deployment",
                "value": self.fewest_replicas,
                "unit": "replicas",
            },
            {"figure": "rollout standby Deployments scaled up", "value": self.west_scaled_up, "unit": "deployments"},
            *(
                {"figure": f"rollout hand-over {i + 1} (SIGTERM to the next leader)", "value": round(s, 2), "unit": "s"}
                for i, s in enumerate(self.handovers)
            ),
        ]


def group(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "failover.dev/v1alpha1",
        "kind": "FailoverGroup",
        "metadata": {"name": name, "namespace": NS},
        "spec": {**TIMING, "initialPrimary": "east", "workloads": [{"kind": "Deployment", "name": name}]},
    }


def lease(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": LEASES},
        "spec": {},
    }


async def run_rollout(
    clusters: dict[str, RealCluster],
    endpoint: str,
    table: str,
    workdir: Path,
    *,
    groups: int = 100,
    sigterm_first: bool = True,
) -> Rollout:
    """The owner's operator restarted (`sigterm_first`) and then rolled out, while everything is watched."""
    east, west = clusters["east"], clusters["west"]
    names = [f"g{i:03d}" for i in range(groups)]
    for cluster in (east, west):
        await cluster.ensure_namespace(LEASES)
        for name in (WATCHDOG_LEASE, LEADER_LEASE):
            await cluster.create(lease(name))
        for name in names:
            await cluster.create(deployment(name, NS, replicas=1))
            await cluster.create(group(name))
    leases = {"LEASE_NAMESPACE": LEASES, "LEASE_NAME": WATCHDOG_LEASE}

    def replica(pod: str) -> OperatorProcess:
        election = {"POD_NAME": pod, "POD_NAMESPACE": LEASES, "LEADER_LEASE_NAME": LEADER_LEASE}
        env = {**leases, **election, "LEADER_LEASE_SECONDS": "8"}
        return OperatorProcess(
            east, endpoint=endpoint, table=table, workdir=workdir, operator_id=OPERATOR_ID, env=env, replica=pod
        )

    pods = {pod: replica(pod) for pod in ("east-0", "east-1", "east-2")}
    others = [
        OperatorProcess(west, endpoint=endpoint, table=table, workdir=workdir, operator_id=OPERATOR_ID, env=leases),
        OperatorProcess(
            east,
            endpoint=endpoint,
            table=table,
            workdir=workdir,
            operator_id=OPERATOR_ID,
            env=leases,
            command="watchdog",
        ),
    ]
    result = Rollout(groups)
    async with contextlib.AsyncExitStack() as stack:
        for cluster in (east, west):
            await stack.enter_async_context(running_controller(cluster, interval=0.2))
        for process in [pods["east-0"], pods["east-1"], *others]:
            await process.start()
            stack.push_async_callback(process.stop)
        stack.push_async_callback(pods["east-2"].stop)
        async with dynamodb_client(endpoint) as client:
            observer = DynamoDBService(client, table, "observer", OPERATOR_ID, SystemClock())
            await _settled(east, west, observer, names)
            async with _watched(east, west, result) as watching:
                if sigterm_first:  # 1. SIGTERM to the leader; the kubelet starts it again, a follower.
                    leader = await _leader(east)
                    result.handovers.append(await _hand_over(east, pods[leader], leader))
                    await pods[leader].start()
                    await asyncio.sleep(WATCHED_AFTER)
                # 2. A rollout: the new pod first, then the old leader stops.
                await pods["east-2"].start()
                await pods["east-2"].wait_healthy()
                leader = await _leader(east)
                result.handovers.append(await _hand_over(east, pods[leader], leader))
                await asyncio.sleep(WATCHED_AFTER)
                watching.cancel()
            result.leaders = await _leaders_seen(east)
            result.fenced_events = await _fenced(east)
            result.owner_changes = await _owner_changes(observer, names)
    return result


async def _settled(east: RealCluster, west: RealCluster, observer: DynamoDBService, names: list[str]) -> None:
    """Every group registered with east its owner at epoch 1, east's Deployments up, west's down."""

    async def check() -> bool:
        configs = {c.name: c for c in await observer.state.list_groups()}
        assert set(configs) == set(names), f"{len(configs)} of {len(names)} groups registered"
        assert all((c.owner, c.epoch) == ("east", 1) for c in configs.values())
        for cluster, wanted in ((east, 1), (west, 0)):
            items = await cluster.list("apps/v1", "deployments", NS)
            replicas = {d["metadata"]["name"]: d["spec"]["replicas"] for d in items}
            assert all(replicas[n] == wanted for n in names), (cluster.name, replicas)
        return True

    # Each group's first ticks are spread over up to an interval; the whole start is bounded by a few timeouts.
    await eventually(check, within=10 * HEARTBEAT_TIMEOUT + 0.2 * len(names), interval=0.5)


@contextlib.asynccontextmanager
async def _watched(east: RealCluster, west: RealCluster, result: Rollout) -> AsyncIterator[asyncio.Task[None]]:
    """Every Deployment of both clusters, listed every 0.2 s: the fewest replicas of east's, west's scaled up."""
    scaled_up: set[str] = set()

    async def watch() -> None:
        while True:
            with contextlib.suppress(Exception):
                for d in await east.list("apps/v1", "deployments", NS):
                    r = int(d["spec"]["replicas"])
                    result.fewest_replicas = r if result.fewest_replicas is None else min(result.fewest_replicas, r)
                for d in await west.list("apps/v1", "deployments", NS):
                    if int(d["spec"]["replicas"]) > 0:
                        scaled_up.add(d["metadata"]["name"])
                result.west_scaled_up = len(scaled_up)
            await asyncio.sleep(0.2)

    task = asyncio.ensure_future(watch())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _leader(east: RealCluster) -> str:
    async def holder() -> str:
        held = (await east.get("coordination.k8s.io/v1", "leases", LEASES, LEADER_LEASE)).get("spec") or {}
        assert held.get("holderIdentity"), held
        return str(held["holderIdentity"])

    return await eventually(holder, within=30, interval=0.2)


async def _hand_over(east: RealCluster, process: OperatorProcess, leader: str) -> float:
    """SIGTERM to the leader; seconds until another replica holds the Lease."""
    assert process.process is not None
    began = time.monotonic()
    process.process.send_signal(signal.SIGTERM)

    async def next_leader() -> str:
        now = await _leader(east)
        assert now != leader, now
        return now

    await eventually(next_leader, within=30, interval=0.05)
    elapsed = time.monotonic() - began
    await asyncio.wait_for(process.process.wait(), timeout=30)
    return elapsed


async def _leaders_seen(east: RealCluster) -> list[str]:
    held = (await east.get("coordination.k8s.io/v1", "leases", LEASES, LEADER_LEASE)).get("spec") or {}
    return [str(held.get("holderIdentity")), f"transitions {held.get('leaseTransitions')}"]


async def _fenced(east: RealCluster) -> list[str]:
    events = await east.list("v1", "events", NS)
    return [f"{e.get('reason')}: {e.get('message')}" for e in events if e.get("reason") in ("Fenced", "WatchdogFenced")]


async def _owner_changes(observer: DynamoDBService, names: list[str]) -> int:
    changed = 0
    for name in names:
        config = await observer.state.get_group_config(NS, name)
        history = await observer.state.get_failover_history(NS, name)
        if config is None or (config.owner, config.epoch) != ("east", 1) or history:
            changed += 1
    return changed
