"""The simulated world of one trial: clusters, each with its API server and the operator's own reconciler code,
one in-memory DynamoDB, and the faults the schedule applies, all on one virtual clock (virtual_loop.py).

The operator's code runs as it does under kopf (`handlers/` only parses objects and calls the lifecycle): the
same `GroupLifecycle` per group (create, run, update, delete), `FailoverExecutor.run` per Failover, the real
store over `DynamoDBService`, the real `Workloads` over the cluster's API. A crash cancels every task of the
operator (its pods keep running); a SIGTERM stops its daemons as kopf does, then the process is gone; a pause
freezes it at its next I/O; a restart builds it anew from what the cluster's objects carry, as a restarted
process would.

With `regions` (the region draw): the table is an MRSC global table with an endpoint per Region
(network.RegionalNetwork), each cluster lives in a Region, and each operator process (and the fleet CLI) talks
to the table through the store's own `RegionalClient`: its Region's endpoint first, then the nearest others.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from failover_operator.api import FailoverSpec, FailoverStatus, format_duration
from failover_operator.fleetctl.session import Publisher
from failover_operator.leadership import Leadership, LeaderTiming
from failover_operator.lifecycle import GroupLifecycle
from failover_operator.metrics import Metrics
from failover_operator.model import FailoverMode, ScheduledSwitchover
from failover_operator.reconciler.context import OperatorContext
from failover_operator.reconciler.failover import FailoverExecutor
from failover_operator.reconciler.plan import GroupPlan, plan_of
from failover_operator.settings import Settings
from failover_operator.store import DynamoDBService, StoreError, ensure_table, keys
from failover_operator.store.calls import RetryPolicy
from failover_operator.store.errors import NotFoundError
from failover_operator.store.records import config_from_item, history_from_item
from failover_operator.store.regions import RegionalClient
from failover_operator.watchdog import LeaseKeeper, Watchdog
from failover_operator.workloads.converge import Workloads
from failover_operator.workloads.watches import ObjectCache

from ..memdynamo import MRSC, MemoryDynamoDB
from .kube import ApiFaults, SimKube
from .network import REGIONS, EndpointPath, FaultyClient, NetworkFaults, RegionalNetwork

T = TypeVar("T")
NS, NAME = "shop", "web"
LEASE_NS, LEASE_NAME = "failover-operator", "failover-operator"
LEADER_LEASE = "failover-operator-leader"
LEASE_STEP = 0.5  # how often the simulated operators renew their Lease
TABLE = "simulation"
OPERATOR_ID = "sim"
BASE_WALL = datetime(2026, 6, 1, tzinfo=UTC)
CLIENT_TIMEOUT = 2.0  # botocore's read timeout as the simulated clusters have it: how long a lost answer takes
MRSC_REFUSES_TRANSACTIONS = True
"""Whether the MRSC table of a trial with Regions refuses TransactWriteItems, as a real one does: it does (the
operator's protocol needs no transaction); off only to compare with a table that would take them."""
SLOW_FLOOR = 0.25
"""The shortest wait before a simulated cluster's client leaves a Region that does not answer (the operator's is 1 s
against a 5 s interval: a quarter interval, but never below what an MRSC write across Regions takes, or a healthy
table would send the client round its Regions; seed 1796606540373)."""
CLI_REGION = "us-east-1"
"""The Region whose endpoint the fleet CLI asks first (then the nearest others)."""


@dataclass
class Regions:
    """Where each cluster lives, for a world whose table is an MRSC global table (one endpoint per Region in
    REGIONS); `conflicts`: the probability that a write of an item meeting another Region's write of it within
    network.CONFLICT_WINDOW fails (ReplicatedWriteConflictException)."""

    homes: dict[str, str]
    conflicts: float = 0.5
    refuse_transactions: bool = MRSC_REFUSES_TRANSACTIONS

    def __str__(self) -> str:
        where = ", ".join(f"{name} in {region}" for name, region in self.homes.items())
        transactions = "refused" if self.refuse_transactions else "allowed"
        return f"{where}; conflicts {self.conflicts:g}; transactions {transactions}"


def placed(names: list[str], order: tuple[str, ...] = REGIONS, **options: Any) -> Regions:
    """Cluster i in Region order[i % 3]: the first three clusters each in a Region of their own."""
    return Regions({name: order[i % len(order)] for i, name in enumerate(names)}, **options)


class SimClock:
    """A cluster's clocks: its own offset (±1 h) and rate (±10 %) on the world's virtual time."""

    def __init__(self, world_time: Callable[[], float], offset: float, rate: float) -> None:
        self._time = world_time
        self.offset = offset
        self.rate = rate

    def monotonic(self) -> float:
        return 10_000.0 + self.offset + self.rate * self._time()

    def now(self) -> datetime:
        return BASE_WALL + timedelta(seconds=self.offset + self.rate * self._time())


@dataclass
class Event:
    time: float
    cluster: str
    kind: str  # "decision", "event", "fault", "note"
    text: str


class Recorder:
    """The operator's Reporter: events kept for the story of a failing trial, statuses kept as the last one."""

    def __init__(self, world: World, cluster: str, obj: dict[str, Any]) -> None:
        self.world = world
        self.cluster = cluster
        self.obj = obj

    def event(self, reason: str, message: str, *, warning: bool = False) -> None:
        self.world.log(self.cluster, "event", f"{reason}: {message}")

    async def patch_status(self, status: dict[str, Any]) -> None:
        self.obj["status"] = {**(self.obj.get("status") or {}), **{k: v for k, v in status.items() if v is not None}}


class Gate:
    """A paused process makes no progress: every call it makes waits here until it is resumed."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.open.set()

    async def wait(self) -> None:
        await self.open.wait()


class GatedKube:
    def __init__(self, kube: SimKube, gate: Gate) -> None:
        self.kube = kube
        self.gate = gate

    async def list(self, *args: Any) -> Any:
        await self.gate.wait()
        return await self.kube.list(*args)

    async def create_event(self, *args: Any, **kwargs: Any) -> None:
        await self.gate.wait()
        await self.kube.create_event(*args, **kwargs)

    async def get(self, *args: Any) -> Any:
        await self.gate.wait()
        return await self.kube.get(*args)

    async def patch(self, *args: Any) -> Any:
        await self.gate.wait()
        return await self.kube.patch(*args)

    async def patch_status(self, *args: Any) -> Any:
        await self.gate.wait()
        return await self.kube.patch_status(*args)

    async def list_versioned(self, *args: Any) -> Any:
        await self.gate.wait()
        return await self.kube.list_versioned(*args)

    async def watch(self, *args: Any, **kwargs: Any) -> Any:
        await self.gate.wait()
        async for event in self.kube.watch(*args, **kwargs):
            await self.gate.wait()  # a paused process reads nothing more; what comes meanwhile waits for it
            yield event

    def close(self) -> None:
        return None


class GatedClient:
    def __init__(self, client: Any, gate: Gate) -> None:
        self.client = client
        self.gate = gate

    def __getattr__(self, operation: str) -> Any:
        method = getattr(self.client, operation)

        async def call(**params: Any) -> Any:
            await self.gate.wait()
            return await method(**params)

        return call


@dataclass
class Timing:
    interval: float
    heartbeat: float
    unhealthy: float
    transitory: float

    def spec(self) -> dict[str, Any]:
        return {
            "heartbeatInterval": format_duration(self.interval),
            "timeouts": {
                "heartbeat": format_duration(self.heartbeat),
                "unhealthyPrimary": format_duration(self.unhealthy),
                "transitoryState": format_duration(self.transitory),
            },
        }


class SimOperator:
    """`failover-operator run` in one cluster: a task per group and per Failover, as kopf's daemons are. With a
    `pod` name, one of the cluster's replicas: it acts only once it leads (leadership.py), as runner.serve does."""

    def __init__(self, world: World, cluster: SimCluster, pod: str | None = None) -> None:
        self.world = world
        self.cluster = cluster
        self.pod = pod
        self.gate = Gate()
        self.regional: RegionalClient | None = None  # with Regions: this process's own client over them
        if cluster.paths:
            self.regional = RegionalClient(
                [(path.region, path) for path in cluster.paths],
                cluster.clock.monotonic,
                slow_after=max(world.timing.interval / 4, SLOW_FLOOR),
                on_move=lambda a, b, why: world.log(cluster.name, "note", f"DynamoDB: {a} -> {b} ({why})"),
            )
        client = GatedClient(self.regional or cluster.client, self.gate)
        self.watched = ObjectCache(GatedKube(cluster.kube, self.gate), [NS])  # type: ignore[arg-type]
        self.ctx = OperatorContext(
            settings=Settings(
                cluster_name=cluster.name,
                operator_id=OPERATOR_ID,
                dynamodb_table=TABLE,
                aws_region=cluster.home or "us-east-1",
                metrics_port=0,
                health_port=8080,
            ),
            store=DynamoDBService(
                client,
                TABLE,
                cluster.name,
                OPERATOR_ID,
                cluster.clock,
                retry=RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.5),
            ),
            workloads=Workloads(
                GatedKube(cluster.kube, self.gate),  # type: ignore[arg-type]
                now=cluster.clock.now,
                cache=self.watched,
            ),
            metrics=Metrics(),
            clock=cluster.clock,
            failover_poll_seconds=0.1,
        )
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        self.stops: dict[str, asyncio.Event] = {}
        self.deleted: set[str] = set()  # daemons stopped because their object was deleted
        self.terminating = False  # SIGTERM received: stopping its daemons
        self.keeper = LeaseKeeper(
            GatedKube(cluster.kube, self.gate),
            LEASE_NS,
            LEASE_NAME,
            cluster.name,
            cluster.clock,
            lambda: list(self.ctx.runners.values()),
            step=LEASE_STEP,
            maintenance=self.ctx.maintenance,
        )
        self.ctx.liveness = self.keeper
        self.leadership: Leadership | None = None
        if pod is not None:
            t = world.timing
            timing = LeaderTiming(duration=t.heartbeat / 2, renew_every=t.interval / 2)
            kube = GatedKube(cluster.kube, self.gate)
            self.leadership = Leadership(kube, LEASE_NS, LEADER_LEASE, pod, cluster.clock, timing)
        self.acting = pod is None  # it runs the operator: alone, or as the leader
        self.exited = False

    @property
    def paused(self) -> bool:
        return not self.gate.open.is_set()

    @property
    def name(self) -> str:
        return self.pod or self.cluster.name

    def start(self) -> None:
        if self.leadership is None:
            self._begin()
        else:
            self._spawn("elect", self._elect())

    async def _elect(self) -> None:
        """A replica: follow until it leads, then run the operator until it loses the Lease or is deposed, and
        exit (the kubelet starts it again, a follower)."""
        assert self.leadership is not None
        if not await self.leadership.acquire(self.stops["elect"]):
            return
        self.ctx.store.term = self.leadership.term
        self.ctx.leading = self.leadership.still_leading
        self.acting = True
        self.world.log(self.cluster.name, "fault", f"{self.pod} leads (term {self.leadership.term})")
        self.world.terms.append((self.world.time(), self.cluster.name, self.pod))
        self._begin()
        lost = asyncio.Event()
        keeping = asyncio.ensure_future(self.leadership.keep(lost))
        waits = [asyncio.ensure_future(flag.wait()) for flag in (lost, self.ctx.deposed)]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (keeping, *waits):
                task.cancel()
        self.world.log(self.cluster.name, "fault", f"{self.pod} steps down and exits")
        await self._stop_daemons()
        self.world.exited(self)

    def _begin(self) -> None:
        """What the operator starts: the Lease keeper (which first recalls what its predecessor held in
        maintenance), then what kopf starts: a daemon per group and per Failover."""
        self._spawn("lease", self._keep_lease())

    async def _keep_lease(self) -> None:
        self.ctx.maintenance.recall(await self.keeper.recall())
        self._daemons()
        await self.keeper.run(asyncio.Event())

    def _daemons(self) -> None:
        group = self.cluster.group
        if group is not None and (group.get("metadata") or {}).get("deletionTimestamp"):
            self._spawn("deletion", self.delete_group())  # kopf: a deletion that waited for our finalizer
        elif group is not None:
            self._spawn("group", self._group(group))
        for name, obj in self.cluster.failovers.items():
            if not _terminal(obj):
                self.start_failover(name)

    def start_failover(self, name: str) -> None:
        self._spawn(f"failover/{name}", self._failover(name))

    def _spawn(self, key: str, coro: Awaitable[Any]) -> None:
        self.stops[key] = asyncio.Event()
        self.tasks[key] = asyncio.ensure_future(coro)

    def crash(self) -> None:
        current = asyncio.current_task()
        for task in self.tasks.values():
            if task is not current:
                task.cancel()
        self.tasks.clear()
        self.watched.stop()
        self.acting = False
        self.exited = True

    async def stop_daemon(self, key: str, *, deleted: bool = False) -> None:
        """As kopf does when the object is deleted or the operator stops: set the daemon's stop flag (and say
        why), wait for it to return."""
        stop, task = self.stops.get(key), self.tasks.get(key)
        if stop is None or task is None:
            return
        if deleted:
            self.deleted.add(key)
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(asyncio.shield(task), timeout=10)
        task.cancel()
        self.tasks.pop(key, None)

    # --- the handlers' work ---------------------------------------------------------------------------------

    async def _plan(self) -> GroupPlan | None:
        group = self.cluster.group
        if group is None:
            return None
        try:
            return plan_of(group)
        except ValueError:
            return None

    async def _group(self, group: dict[str, Any]) -> None:
        """on_create/on_resume (register, retried while it fails) and the daemon (the runner), as kopf runs
        them: the daemon is spawned before the changing handlers and does not wait for them."""
        plan = plan_of(group)
        life = GroupLifecycle(self.ctx, NS, NAME)

        async def create() -> None:
            while True:
                try:
                    await life.create(plan)
                    return
                except StoreError:
                    await asyncio.sleep(1.0)  # kopf's TemporaryError delay, shortened

        registering = asyncio.ensure_future(create())
        try:
            await life.run(self._plan, Recorder(self.world, self.cluster.name, group), self.stops["group"])
        finally:
            registering.cancel()

    async def _failover(self, name: str) -> None:
        obj = self.cluster.failovers[name]
        spec = FailoverSpec.model_validate(obj["spec"])
        raw = obj.get("status")
        status = FailoverStatus.model_validate(raw) if raw else None
        created = self.cluster.clock.now()
        await FailoverExecutor(self.ctx).run(
            NS,
            name,
            spec,
            status,
            Recorder(self.world, self.cluster.name, obj),
            self.stops[f"failover/{name}"],
            1,
            created,
            deleted=lambda: f"failover/{name}" in self.deleted,
        )

    async def edit_timeouts(self, timing: Timing) -> None:
        """on_update of a timeouts edit: written to DynamoDB, the runner woken."""
        plan = await self._plan()
        group = self.cluster.group
        if plan is None or group is None:
            return
        with contextlib.suppress(StoreError):
            recorder = Recorder(self.world, self.cluster.name, group)
            await GroupLifecycle(self.ctx, NS, NAME).update(plan, {("spec", "timeouts")}, recorder)

    async def delete_group(self) -> None:
        """on_delete: the daemon stops, then this cluster leaves the group."""
        await self.stop_daemon("group")
        plan = await self._plan()
        group = self.cluster.group
        if group is None:
            return
        await GroupLifecycle(self.ctx, NS, NAME).delete(plan, Recorder(self.world, self.cluster.name, group))
        self.cluster.group = None

    async def terminate(self) -> None:
        """SIGTERM (runner._lead): everything that acts stops, then the watchdog's Lease stops being renewed, then
        a leader releases its Lease; the process exits."""
        if "elect" in self.stops:
            self.stops["elect"].set()
        await self._stop_daemons()
        if self.leadership is not None:
            keeping = self.tasks.pop("lease", None)
            if keeping is not None:
                keeping.cancel()
                await asyncio.gather(keeping, return_exceptions=True)
            await self.leadership.release()
        self.crash()

    async def _stop_daemons(self) -> None:
        await asyncio.gather(*(self.stop_daemon(key) for key in list(self.tasks) if key not in ("lease", "elect")))


@dataclass
class SimCluster:
    name: str
    clock: SimClock
    kube: SimKube
    network: NetworkFaults
    client: FaultyClient
    failovers: dict[str, dict[str, Any]] = field(default_factory=dict)
    pods: tuple[str, ...] = ()  # the operator's replicas (their pod names); none: one process, no election
    processes: dict[str, SimOperator] = field(default_factory=dict)  # by pod (or the cluster's name)
    watchdog: asyncio.Task[Any] | None = None
    started: dict[tuple[str, str, str], float] = field(default_factory=dict)  # controller's scale-up clocks
    home: str | None = None  # with Regions: the cluster's Region
    paths: list[EndpointPath] = field(default_factory=list)  # with Regions: to every endpoint, its own first

    @property
    def operator(self) -> SimOperator | None:
        """The process that acts for the cluster: the only one, or the replica that leads (None: none does)."""
        return next((p for p in self.processes.values() if p.acting), None)

    @property
    def group(self) -> dict[str, Any] | None:
        """The FailoverGroup object, as stored in the cluster's API (the watchdog lists it there)."""
        return self.kube.objects.get(("failovergroups", NS, NAME))

    @group.setter
    def group(self, obj: dict[str, Any] | None) -> None:
        if obj is None:
            self.kube.objects.pop(("failovergroups", NS, NAME), None)
        else:
            self.kube.objects[("failovergroups", NS, NAME)] = obj  # by reference: status patches land in it


class World:
    """Everything of one trial. `log` keeps the story; `ownership` every change of the group's owner."""

    def __init__(
        self,
        seed: int,
        names: list[str],
        timing: Timing,
        *,
        startup: float = 0.5,
        replicas: int = 1,
        regions: Regions | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.loop = asyncio.get_running_loop()
        self.timing = timing
        self.startup = startup
        self.story: list[Event] = []
        self.ownership: list[tuple[float, str, int]] = []  # (time, owner, epoch)
        self.terms: list[tuple[float, str, str]] = []  # (time, cluster, pod): a replica starts to lead
        self.transitions: list[tuple[float, dict[str, Any] | None]] = []  # (time, the config's transition)
        self.held_down: dict[str, bool] = {}  # a crash or SIGTERM fault is in effect: not started again yet
        self.reports: list[tuple[float, str, bool, int | None]] = []
        """(time, cluster, its status says it serves healthily, at which epoch) at every write of a status."""
        self.regions = regions
        mrsc = MRSC(REGIONS, refuse_transactions=regions.refuse_transactions) if regions is not None else None
        self.db = MemoryDynamoDB(self.time, mrsc=mrsc)
        self.clusters: dict[str, SimCluster] = {}
        for name in names:
            clock = SimClock(self.time, offset=self.rng.uniform(-3600, 3600), rate=self.rng.uniform(0.9, 1.1))
            network = NetworkFaults()
            client = FaultyClient(self.db.client(), network, self.rng, timeout=CLIENT_TIMEOUT)
            kube = SimKube(name, self.time, ApiFaults())
            pods = tuple(f"{name}-{i}" for i in range(replicas)) if replicas > 1 else ()
            self.clusters[name] = SimCluster(name, clock, kube, network, client, pods=pods)
        self._watch_config()
        self.network: RegionalNetwork | None = None
        self.trouble: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        """With Regions: when each cluster's requests failed because of an endpoint (lost, cut off from it)."""
        if regions is not None:
            clients = {region: self.db.client(region) for region in REGIONS}
            self.network = RegionalNetwork(clients, self.rng, conflicts=regions.conflicts, timeout=CLIENT_TIMEOUT)
            self.network.on_trouble = self._troubled
            for name, cluster in self.clusters.items():
                cluster.home = regions.homes[name]
                cluster.paths = self.network.paths(name, cluster.home, cluster.network)
            self.cli_paths = self.network.paths("fleet-cli", CLI_REGION, NetworkFaults())

    def time(self) -> float:
        return self.loop.time()

    def log(self, cluster: str, kind: str, text: str) -> None:
        self.story.append(Event(self.time(), cluster, kind, text))

    def _troubled(self, cluster: str, start: float, end: float) -> None:
        spans = self.trouble.setdefault(cluster, [])
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))

    def _watch_config(self) -> None:
        """Note every change of the config's owner/epoch and transition, as it happens (memdynamo's hook)."""
        original = self.db.client

        def client(*args: Any, **kwargs: Any) -> Any:
            inner = original(*args, **kwargs)
            store = inner._store

            def observed(table: Any, key: tuple[str, str], item: Any) -> None:
                store(table, key, item)
                if key[1] == "CONFIG" and item is not None:
                    config = config_from_item(item)
                    if not self.ownership or self.ownership[-1][1:] != (config.owner, config.epoch):
                        self.ownership.append((self.time(), config.owner, config.epoch))
                        self.log(config.owner, "owner", f"owns {NS}/{NAME} at epoch {config.epoch}")
                    t = config.transition.model_dump(mode="json") if config.transition else None
                    if not self.transitions or self.transitions[-1][1] != t:
                        self.transitions.append((self.time(), t))
                elif key[1].startswith(keys.CLUSTER_PREFIX) and key[0].startswith(keys.GROUP_PREFIX) and item:
                    ready = item.get("state", {}).get("S") == "PRIMARY" and item.get("health", {}).get("S") == "OK"
                    epoch = item.get("observedEpoch", {}).get("N")
                    self.reports.append(
                        (self.time(), key[1][len(keys.CLUSTER_PREFIX) :], ready, int(epoch) if epoch else None)
                    )

            inner._store = observed  # type: ignore[method-assign]
            return inner

        self.db.client = client  # type: ignore[method-assign]
        for cluster in getattr(self, "clusters", {}).values():
            cluster.client.inner = self.db.client()

    # --- set-up ---------------------------------------------------------------------------------------------

    async def setup(self, owner: str, priority: list[str] | None = None) -> None:
        await ensure_table(self.db.client(), TABLE)
        spec: dict[str, Any] = {
            **self.timing.spec(),
            "initialPrimary": owner,
            "workloads": [{"kind": "Deployment", "name": NAME}],
        }
        if priority:
            spec["clusterPriority"] = priority
        for cluster in self.clusters.values():
            cluster.client.inner = self.db.client()
            cluster.kube.create(_deployment(primary=cluster.name == owner))
            for lease in (LEASE_NAME, LEADER_LEASE):  # the chart creates both
                cluster.kube.create(
                    {
                        "apiVersion": "coordination.k8s.io/v1",
                        "kind": "Lease",
                        "metadata": {"name": lease, "namespace": LEASE_NS},
                        "spec": {},
                    }
                )
            cluster.group = {
                "apiVersion": "failover.dev/v1alpha1",
                "kind": "FailoverGroup",
                "metadata": {"name": NAME, "namespace": NS, "generation": 1},
                "spec": spec,
            }
        self.loop.create_task(self._controllers())

    async def _controllers(self) -> None:
        while True:
            for cluster in self.clusters.values():
                cluster.kube.controller_step(self.startup, cluster.started)
            await asyncio.sleep(0.1)

    # --- what happens to clusters -------------------------------------------------------------------------

    def start(self, name: str) -> None:
        """Every process of the cluster that is not running is started (a replica, as a follower)."""
        cluster = self.clusters[name]
        for pod in cluster.pods or (None,):
            slot = pod or name
            if slot in cluster.processes:
                continue
            process = cluster.processes[slot] = SimOperator(self, cluster, pod)
            process.start()
            self.log(name, "fault", f"operator started{f' ({pod})' if pod else ''}")

    def exited(self, process: SimOperator) -> None:
        """A process ended by itself (a replica that stepped down): the kubelet starts it again a second later."""
        cluster = process.cluster
        if cluster.processes.get(process.name) is process:
            del cluster.processes[process.name]
            process.crash()

        async def restart() -> None:
            await asyncio.sleep(1.0)
            if not self.held_down.get(cluster.name):
                self.start(cluster.name)

        self.loop.create_task(restart())

    def _target(self, name: str) -> SimOperator | None:
        """The process a fault of the operator hits: the one that acts (the leader), else any."""
        cluster = self.clusters[name]
        return cluster.operator or next(iter(cluster.processes.values()), None)

    def start_watchdog(self, name: str) -> None:
        """`failover-operator watchdog` in that cluster: its own process (never paused with the operator)."""
        cluster = self.clusters[name]
        dog = Watchdog(
            cluster.kube,
            Workloads(cluster.kube, now=cluster.clock.now),
            cluster.clock,
            LEASE_NS,
            LEASE_NAME,
            [NS],
            poll=0.1,
        )  # type: ignore[arg-type]
        cluster.watchdog = self.loop.create_task(dog.run(asyncio.Event()))

    def crash(self, name: str) -> None:
        """SIGKILL of the process that acts (the leader, or the only one)."""
        cluster = self.clusters[name]
        process = self._target(name)
        if process is None:
            return
        process.crash()
        cluster.processes.pop(process.name, None)
        self.log(name, "fault", f"operator killed (SIGKILL){f' ({process.pod})' if process.pod else ''}")

    async def terminate(self, name: str) -> None:
        """SIGTERM of the process that acts: it stops its daemons as kopf does (a leader releases its Lease), then
        exits; its pods keep running. A paused process handles it once it is resumed (or is killed after the
        grace period). It is started again once it has exited, unless something still holds it down."""
        cluster = self.clusters[name]
        process = self._target(name)
        if process is None or process.terminating:
            return
        process.terminating = True
        self.log(name, "fault", f"operator terminated (SIGTERM){f' ({process.pod})' if process.pod else ''}")
        await process.terminate()
        if cluster.processes.get(process.name) is process:
            del cluster.processes[process.name]
            self.log(name, "fault", "operator exited")
        if not self.held_down.get(name):
            self.start(name)

    def pause(self, name: str) -> None:
        process = self._target(name)
        if process is not None and not process.paused:
            process.gate.open.clear()
            self.log(name, "fault", "operator paused (SIGSTOP)")

    def resume(self, name: str) -> None:
        for process in self.clusters[name].processes.values():
            if process.paused:
                process.gate.open.set()
                self.log(name, "fault", "operator resumed (SIGCONT)")

    def apply_failover(self, name: str, where: str, target: str, mode: str, force: bool) -> None:
        cluster = self.clusters[where]
        obj = {
            "apiVersion": "failover.dev/v1alpha1",
            "kind": "Failover",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"targetCluster": target, "failoverGroups": [{"name": NAME}], "mode": mode, "force": force},
        }
        cluster.failovers[name] = obj
        self.log(where, "fault", f"Failover {name} applied: to {target}, {mode}{', force' if force else ''}")
        if cluster.operator is not None:
            cluster.operator.start_failover(name)

    async def delete_failover(self, name: str, where: str) -> None:
        cluster = self.clusters[where]
        if name not in cluster.failovers:
            return
        self.log(where, "fault", f"Failover {name} deleted")
        if cluster.operator is not None:
            await cluster.operator.stop_daemon(f"failover/{name}", deleted=True)
        cluster.failovers.pop(name, None)

    async def edit_timeouts(self, timing: Timing) -> None:
        self.log("*", "fault", f"timeouts edited: heartbeat {timing.heartbeat:g}s, interval {timing.interval:g}s")
        self.timing = timing
        for cluster in self.clusters.values():
            group = cluster.group
            if group is not None:
                group["spec"] = {**group["spec"], **timing.spec()}
        await asyncio.gather(  # every cluster's operator handles the edit of its own copy, at the same time
            *(
                cluster.operator.edit_timeouts(timing)
                for cluster in self.clusters.values()
                if cluster.operator is not None and not cluster.operator.paused and cluster.group is not None
            )
        )

    async def delete_group(self, where: str) -> None:
        """kubectl delete: the operator's finalizer holds the object (deletionTimestamp set) until the operator
        has retired the group — at once if it runs, when it is back if it is dead (and meanwhile the watchdog
        still sees the group and fences it)."""
        cluster = self.clusters[where]
        self.log(where, "fault", "FailoverGroup deleted")
        group = cluster.group
        if group is None:
            return
        group["metadata"]["deletionTimestamp"] = cluster.clock.now().isoformat()
        if cluster.operator is not None:
            await cluster.operator.delete_group()

    def admin(self) -> DynamoDBService:
        """The fleet CLI's view of the table: DynamoDB only, from outside every cluster, never faulted itself (with
        Regions: through CLI_REGION's endpoint first, then the nearest others, whose faults it meets)."""
        clock = SimClock(self.time, 0.0, 1.0)
        client: Any = self.db.client()
        if self.network is not None:
            client = RegionalClient([(path.region, path) for path in self.cli_paths], clock.monotonic)
        return DynamoDBService(client, TABLE, "fleet-cli", OPERATOR_ID, clock)

    async def _cli(self, what: str, command: Callable[[DynamoDBService], Awaitable[T]]) -> T:
        """A fleet CLI command, run again a second later while DynamoDB cannot be reached (as a person would; it
        can only happen with Regions: otherwise the CLI's table is never faulted)."""
        while True:
            admin = self.admin()
            try:
                result = await command(admin)
                await Publisher(admin)()
                return result
            except StoreError as exc:
                if type(exc) is not StoreError or self.network is None:
                    raise  # an answer (not found, refused), or a table that cannot fail
                self.log("*", "fault", f"fleet CLI: {what} failed ({exc}); run again in 1s")
                await asyncio.sleep(1.0)

    @staticmethod
    async def publish(admin: DynamoDBService) -> None:
        """As the fleet CLI does after a write: the operators hear of it with their read of the fleet's liveness."""
        await Publisher(admin)()

    async def suspend(self, suspended: bool) -> None:
        """`failover-operator suspend` / `resume` of the group, from outside every cluster (DynamoDB only)."""
        self.log("*", "fault", "group suspended (maintenance)" if suspended else "group resumed")

        async def command(admin: DynamoDBService) -> None:
            await admin.operations.update_suspension(NS, NAME, suspended, "maintenance" if suspended else None)

        try:
            await self._cli("suspend" if suspended else "resume", command)
        except NotFoundError:  # the group was deleted everywhere first: the CLI says so and nothing changes
            self.log("*", "fault", "no such group: nothing to suspend or resume")

    async def schedule_switchover(self, target: str, at: float, mode: str = "CONSISTENCY") -> str:
        """`failover-operator switchover --to TARGET --at TIME` from outside every cluster (DynamoDB only): TIME is
        when the target's own clock reads world time `at` (the clock its operator goes by). Its name."""

        async def command(admin: DynamoDBService) -> str:
            config = await admin.state.get_group_config(NS, NAME)
            assert config is not None
            clock = self.clusters[target].clock
            schedule = ScheduledSwitchover(
                name=f"scheduled-{int(at * 1000)}",
                source_cluster=config.owner,
                target_cluster=target,
                mode=FailoverMode(mode),
                at=BASE_WALL + timedelta(seconds=clock.offset + clock.rate * at),
                requested_by="fleet-cli",
                requested_at=admin.clock.now(),
                reason="scheduled in the simulation",
            )
            self.log("*", "fault", f"switchover {schedule.name} to {target} ({mode}) scheduled for {at:g}s")
            await admin.schedules.schedule(NS, NAME, schedule)
            return schedule.name  # the CLI publishes it: the operators hear of it with the fleet's liveness

        return await self._cli("switchover", command)

    async def unschedule(self, name: str) -> bool:
        """`failover-operator cancel` of a scheduled switchover: True if it was still scheduled."""

        async def command(admin: DynamoDBService) -> bool:
            withdrawn = await admin.schedules.unschedule(NS, NAME, name)
            self.log("*", "fault", f"switchover {name} {'cancelled' if withdrawn else 'no longer scheduled'}")
            return withdrawn

        return await self._cli("cancel", command)

    async def fence(self, cluster: str, reason: str | None) -> None:
        """`failover-operator fence` of one cluster's copy (`reason` given) or `unfence` (None), from outside every
        cluster (DynamoDB only), published as the CLI does."""
        self.log(cluster, "fault", f"fenced by hand ({reason})" if reason else "unfenced")

        async def command(admin: DynamoDBService) -> None:
            if reason:
                await admin.fences.fence(NS, NAME, cluster, reason)
            else:
                await admin.fences.unfence(NS, NAME, cluster)

        try:
            await self._cli("fence" if reason else "unfence", command)
        except NotFoundError:  # the group was deleted everywhere first: the CLI says so and nothing changes
            self.log(cluster, "fault", "no such group: nothing to fence or unfence")

    # --- what the checker reads -----------------------------------------------------------------------------

    def history(self) -> list[Any]:
        table = self.db.tables[TABLE]
        return [history_from_item(item) for (_, sk), item in sorted(table.items.items()) if sk.startswith("HISTORY#")]

    def config_exists(self) -> bool:
        return any(sk == "CONFIG" for (_, sk) in self.db.tables[TABLE].items)


def _terminal(obj: dict[str, Any]) -> bool:
    return (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _deployment(*, primary: bool) -> dict[str, Any]:
    """The group's Deployment as the operator leaves it after bootstrap: 2 replicas on the owner, 0 with the
    count recorded on a standby (so that a promotion knows what to restore)."""
    annotations = {
        "failover.dev/group": f"{NS}/{NAME}",
        "failover.dev/epoch": "1",
        "failover.dev/role": "PRIMARY" if primary else "STANDBY",
    }
    if not primary:
        annotations["failover.dev/replicas"] = "2"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NS, "labels": {"app": NAME}, "annotations": annotations},
        "spec": {"replicas": 2 if primary else 0, "selector": {"matchLabels": {"app": NAME}}, "template": {}},
    }
