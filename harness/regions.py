"""Three local Regions of one MRSC table, and real operator processes that reach it from their own Region.

One moto server holds the table. Each Region has its endpoint, a FaultProxy (harness/faults.py) that forwards
every request to moto's one backend whatever Region it was signed for (so the three endpoints are one
linearizable table, as an MRSC global table is), refuses transactions and answers DescribeTable as an MRSC table's
endpoint does. Each cluster reaches each endpoint through a link of its own (a plain FaultProxy in front of it),
so that a Region can be lost for everyone (its endpoint refuses connections) and a cluster can be cut off from
every Region (its links refuse), each for real: connections refused, kept-alive ones dropped.

The operators are `failover-operator run` processes (harness/processes.py), configured as in a pod with
DYNAMODB_REGIONS and DYNAMODB_ENDPOINTS in their own order of preference (their own Region first, then the
nearest). Used by tests/e2e/test_regions.py and `make demo-regions` (harness/demo_regions.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from failover_operator.api import API_VERSION

from .cluster import Cluster, eventually
from .dynamo import REGION
from .faults import FaultProxy, MrscTable, start_proxy
from .processes import OperatorProcess
from .simulation.network import nearest_first

__all__ = [
    "HOMES",
    "REGIONS",
    "RegionalTable",
    "ReplicaWatch",
    "operators",
    "regional_table",
    "settled",
]

REGIONS = ("us-east-1", "us-east-2", "us-west-2")
"""The table's Regions, in the table's own order (us-east-1 first: its home Region)."""
HOMES = {"east": "us-east-1", "west": "us-east-2", "north": "us-west-2"}
"""Where each cluster runs."""
TRANSACTIONS = ("TransactWriteItems", "TransactGetItems")


@dataclass
class RegionalTable:
    """The endpoints of one MRSC table (`endpoints`: Region -> its endpoint) and each cluster's links to them
    (`links`: cluster -> Region -> the link); the Regions `lost` and the clusters `cut` off from every Region."""

    endpoints: dict[str, FaultProxy]
    links: dict[str, dict[str, FaultProxy]] = field(default_factory=dict)
    lost: set[str] = field(default_factory=set)  # Regions lost
    cut: set[str] = field(default_factory=set)  # clusters cut off from every Region

    def order(self, cluster: str) -> list[str]:
        """The Regions as the cluster prefers them: its own first, then the nearest."""
        return nearest_first(HOMES[cluster], REGIONS)

    def settings(self, cluster: str, order: Sequence[str] | None = None) -> dict[str, str]:
        """The operator's environment for the table: DYNAMODB_REGIONS and DYNAMODB_ENDPOINTS (its links), in
        `order` (default: the cluster's own), and no one-Region endpoint."""
        regions = list(order or self.order(cluster))
        return {
            "DYNAMODB_REGIONS": ",".join(regions),
            "DYNAMODB_ENDPOINTS": ",".join(self.links[cluster][r].endpoint for r in regions),
            "DYNAMODB_ENDPOINT": "",
        }

    async def lose(self, *regions: str) -> None:
        """The Regions are lost, for everyone: their endpoints, and every cluster's way to them, refuse connections."""
        self.lost.update(regions)
        await self._apply()

    async def restore(self, *regions: str) -> None:
        self.lost.difference_update(regions)
        await self._apply()

    async def cut_off(self, cluster: str) -> None:
        """The cluster reaches no Region any more (each of its links refuses connections)."""
        self.cut.add(cluster)
        await self._apply()

    async def reconnect(self, cluster: str) -> None:
        self.cut.discard(cluster)
        await self._apply()

    async def _apply(self) -> None:
        """Each endpoint and link refuses or accepts, as `lost` and `cut` say: the links refuse before their
        endpoints do and accept after (a client sees a refused connection, never a link's failure to reach on)."""
        links = [
            (link, region in self.lost or cluster in self.cut)
            for cluster, by_region in self.links.items()
            for region, link in by_region.items()
        ]
        endpoints = [(endpoint, region in self.lost) for region, endpoint in self.endpoints.items()]
        for proxy, down in links + endpoints:
            if down:
                await proxy.refuse()
        for proxy, down in endpoints + links:
            if not down:
                await proxy.accept()

    def sent(self, *operations: str) -> dict[str, int]:
        """How many requests of these operations reached each Region's endpoint (every one, when none is named)."""
        return {
            region: sum(1 for r in proxy.requests if not operations or r.operation in operations)
            for region, proxy in self.endpoints.items()
        }

    def fleet_reads(self, cluster: str) -> list[float]:
        """When the cluster read every cluster's liveness (a Query of the fleet's partition), in order
        (time.monotonic, the loop's clock)."""
        return sorted(
            r.at
            for link in self.links[cluster].values()
            for r in link.requests
            if r.operation == "Query" and "FLEET#" in str(r.body.get("ExpressionAttributeValues", ""))
        )

    def transactions(self) -> int:
        """Transactions that reached any endpoint (each one refused: an MRSC table has none)."""
        return sum(self.sent(*TRANSACTIONS).values())


@contextlib.asynccontextmanager
async def regional_table(upstream: str, clusters: Iterable[str]) -> AsyncIterator[RegionalTable]:
    """Three Region endpoints in front of the DynamoDB at `upstream` (moto, whose REGION backend holds the
    table), and a link from each of `clusters` to each of them."""
    mrsc = MrscTable(replicas=REGIONS)
    started: list[FaultProxy] = []
    try:
        endpoints = {}
        for region in REGIONS:
            endpoints[region] = await start_proxy(upstream, backend_region=REGION, region=region, mrsc=mrsc)
            started.append(endpoints[region])
        table = RegionalTable(endpoints)
        for cluster in clusters:
            table.links[cluster] = {}
            for region in REGIONS:
                link = await start_proxy(endpoints[region].endpoint)
                table.links[cluster][region] = link
                started.append(link)
        yield table
    finally:
        for proxy in reversed(started):
            await proxy.stop()


@contextlib.asynccontextmanager
async def operators(
    clusters: Mapping[str, Cluster],
    table: RegionalTable,
    table_name: str,
    workdir: Path,
    *,
    operator_id: str,
    order: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    kill: bool = False,
) -> AsyncIterator[dict[str, OperatorProcess]]:
    """A `failover-operator run` per cluster, started and healthy (in parallel), stopped at the end: SIGTERM, as
    Kubernetes stops a pod (about 5 s), or SIGKILL with `kill` (a test that is done with them).
    `order`: every operator's order of Regions (default: each its own Region first)."""
    processes = {
        name: OperatorProcess(
            cluster,
            endpoint="",  # set blank: the Regions' endpoints are DYNAMODB_ENDPOINTS
            table=table_name,
            workdir=workdir,
            operator_id=operator_id,
            env={**table.settings(name, order), **(env or {})},
        )
        for name, cluster in clusters.items()
    }
    try:
        for process in processes.values():
            await process.start()
        await asyncio.gather(*(p.wait_healthy(within=60) for p in processes.values()))
        yield processes
    finally:
        await asyncio.gather(*(p.kill() if kill else p.stop() for p in processes.values()))


def log_lines(process: OperatorProcess) -> list[dict[str, Any]]:
    """The process's JSON log lines (LOG_FORMAT=json), other lines left out."""
    lines = []
    with contextlib.suppress(OSError):
        for line in process.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    lines.append(json.loads(line))
    return lines


def topology_line(process: OperatorProcess, table_name: str) -> dict[str, Any] | None:
    """The start-up line that says what kind of table it is (runner._table_is)."""
    return next(
        (e for e in log_lines(process) if str(e.get("message", "")).startswith(f"DynamoDB table {table_name}: ")),
        None,
    )


def moves(process: OperatorProcess) -> list[dict[str, Any]]:
    """The lines that say the regional client moved to another Region (store/regions.py)."""
    return [e for e in log_lines(process) if str(e.get("message", "")).startswith("DynamoDB: moving from ")]


async def group_status(cluster: Cluster, namespace: str, name: str = "web") -> dict[str, Any]:
    obj = await cluster.get_or_none(API_VERSION, "failovergroups", namespace, name)
    return (obj or {}).get("status") or {}


async def settled(
    clusters: Mapping[str, Cluster],
    owner: str,
    epoch: int,
    *,
    namespace: str,
    name: str = "web",
    replicas: int = 3,
    within: float = 30.0,
) -> None:
    """Every cluster reports `owner` at `epoch`, its own role, health OK; the owner runs `replicas` (ready),
    everyone else none."""

    async def check() -> bool:
        for cluster_name, cluster in clusters.items():
            s = await group_status(cluster, namespace, name)
            assert (s.get("owner"), s.get("epoch")) == (owner, epoch), (cluster_name, s.get("decision"))
            assert s.get("role") == ("PRIMARY" if cluster_name == owner else "STANDBY"), (cluster_name, s)
            assert s.get("health") == "OK", (cluster_name, s.get("message"))
            dep = await cluster.get("apps/v1", "deployments", namespace, name)
            want = replicas if cluster_name == owner else 0
            assert dep["spec"].get("replicas") == want, (cluster_name, dep["spec"].get("replicas"))
            assert ((dep.get("status") or {}).get("readyReplicas") or 0) == want, (cluster_name, dep.get("status"))
        return True

    await eventually(check, within=within, interval=0.1, message=f"the fleet did not settle on {owner} at {epoch}")


@dataclass
class ReplicaWatch:
    """Each cluster's Deployment's spec.replicas, read on every API server at once every `every` seconds (the
    test's loop clock): `samples` of (time, {cluster: replicas}); a cluster whose read failed is left out."""

    clusters: Mapping[str, Cluster]
    namespace: str
    name: str = "web"
    every: float = 0.02
    samples: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    failed_reads: int = 0

    async def _read(self, cluster: Cluster) -> int | None:
        try:
            dep = await cluster.get("apps/v1", "deployments", self.namespace, self.name)
        except Exception:
            self.failed_reads += 1
            return None
        return int(dep["spec"].get("replicas", 1))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        names = list(self.clusters)
        while True:
            read = await asyncio.gather(*(self._read(self.clusters[n]) for n in names))
            self.samples.append((loop.time(), {n: r for n, r in zip(names, read, strict=True) if r is not None}))
            await asyncio.sleep(self.every)

    @staticmethod
    def serving(sample: Mapping[str, int]) -> list[str]:
        return sorted(n for n, r in sample.items() if r > 0)

    def overlaps(self) -> list[tuple[float, dict[str, int]]]:
        """Samples in which more than one cluster ran the Deployment."""
        return [(t, s) for t, s in self.samples if len(self.serving(s)) > 1]

    def first_up(self, clusters: Iterable[str], after: float) -> tuple[float, str] | None:
        """(time, cluster) of the first sample after `after` in which one of `clusters` runs it."""
        wanted = set(clusters)
        for t, s in self.samples:
            if t >= after:
                up = [n for n in self.serving(s) if n in wanted]
                if up:
                    return t, up[0]
        return None

    def replicas_of(self, cluster: str, after: float = 0.0) -> set[int]:
        """Every value the cluster's replicas took in the samples after `after`."""
        return {s[cluster] for t, s in self.samples if t >= after and cluster in s}

    def changes(self, since: float) -> list[tuple[float, dict[str, int]]]:
        """The samples in which something changed, times from `since` (for people)."""
        out: list[tuple[float, dict[str, int]]] = []
        last: dict[str, int] | None = None
        for t, s in self.samples:
            if s != last:
                out.append((t - since, s))
                last = s
        return out


@contextlib.asynccontextmanager
async def watching(
    clusters: Mapping[str, Cluster], namespace: str, name: str = "web", every: float = 0.02
) -> AsyncIterator[ReplicaWatch]:
    """A ReplicaWatch sampling while the block runs (its first sample taken before the block starts)."""
    watch = ReplicaWatch(clusters, namespace, name, every)
    task = asyncio.ensure_future(watch.run())
    try:
        await eventually(lambda: bool(watch.samples), within=10, interval=0.01)
        yield watch
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
