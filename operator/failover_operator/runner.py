"""`failover-operator run` (settings, DynamoDB, Kubernetes, kopf and the watchdog's Lease, wired together) and
`failover-operator watchdog` (the Lease watched, nothing else), both in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable
from typing import Any
from wsgiref.simple_server import WSGIServer

import kopf
from aiohttp import web
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from . import __version__, logs
from .clock import EventLoopClock
from .handlers import build_registry
from .health import DEFAULT_API_LIMIT, Probes
from .health import serve as serve_health
from .leadership import Leadership, LeaderTiming
from .metrics import Metrics, WatchdogMetrics
from .reconciler.context import OperatorContext
from .reconciler.plan import plan_of
from .settings import Settings, StoreSettings, explain, load
from .store import DynamoDBService
from .store.connect import BULK_CONCURRENCY, open_regions
from .store.regions import RegionalClient, unavailable
from .store.table import TableTopology, TopologyError, check_topology, topology_of
from .waits import first_of, wait_set
from .watchdog import LeaseKeeper, Watchdog
from .workloads.converge import Workloads
from .workloads.kinds import FAILOVER_GROUP, managed_kind
from .workloads.kube import KubeClient, KubeError, api_client_from_environment
from .workloads.watches import ObjectCache

log = logging.getLogger("failover_operator")

LEASE_STEP_SECONDS = 1.0  # how often the watchdog's Lease is renewed
HANDOVER_SECONDS = 5.0
"""SIGTERM to the leader: how long its group runners, failover executors and deletions may take to stop acting
before it releases the leader Lease (they stop within milliseconds; past this, the Lease is left to expire)."""
STOPPED = "stopped"  # _lead: by a signal or the stop flag (Stop says which)


class StartupError(Exception):
    """The operator cannot start; the message says what to fix."""


def run() -> int:
    try:
        settings = load()
    except ValidationError as exc:
        print(f"failover-operator: {explain(exc)}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format, settings.log_level)
    try:
        asyncio.run(serve(settings))
    except StartupError as exc:
        print(f"failover-operator: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


async def check_table(client: Any, settings: StoreSettings) -> TableTopology:
    """The start-up check: the table exists, and what kind it is (DescribeTable, once, in the first Region that
    answers) can be used as configured (store.table.check_topology: an MRSC table only once the protocol needs no
    transaction; only its replica Regions; several Regions only for an MRSC table). Logs the topology."""
    regions = settings.regions
    try:
        description = await _describe(client, settings.dynamodb_table, len(regions))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise StartupError(
                f"DynamoDB table {settings.dynamodb_table} does not exist in {_answering(client, settings)}; create "
                f"it with `failover-operator setup-table --table {settings.dynamodb_table}`"
            ) from None
        raise StartupError(f"cannot use DynamoDB table {settings.dynamodb_table}: {exc}") from None
    except (BotoCoreError, OSError) as exc:
        raise StartupError(f"cannot reach DynamoDB ({settings.region_names}): {exc}") from None
    topology = topology_of(description, _answering(client, settings))
    try:
        check_topology(topology, [r.name for r in regions])
    except TopologyError as exc:
        raise StartupError(str(exc)) from None
    return topology


def _table_is(topology: TableTopology, settings: StoreSettings) -> None:
    """The line after the start line: what kind of table it is, and the Regions we use, in order."""
    names = [r.name for r in settings.regions]
    log.info(
        "DynamoDB table %s: %s; requests go to %s",
        settings.dynamodb_table,
        topology.describe(),
        f"the first of {', '.join(names)} that answers" if len(names) > 1 else names[0],
        extra={
            "table": settings.dynamodb_table,
            "mrsc": topology.mrsc,
            "replicas": list(topology.replicas),
            "witnesses": list(topology.witnesses),
            "regions": names,
        },
    )


async def _describe(client: Any, table: str, regions: int) -> dict[str, Any]:
    """DescribeTable in the first Region that answers: a Region that cannot answer moves the regional client to
    the next, which is asked in turn (each Region once)."""
    for left in range(regions, 0, -1):
        try:
            description: dict[str, Any] = (await client.describe_table(TableName=table))["Table"]
            return description
        except Exception as exc:
            if left == 1 or not unavailable(exc):
                raise
    raise AssertionError("unreachable")  # pragma: no cover - the last attempt returns or raises


def _answering(client: Any, settings: StoreSettings) -> str:
    """The Region whose answer we have: the regional client's current one, or the one Region."""
    return client.region if isinstance(client, RegionalClient) else settings.regions[0].name


async def serve(
    settings: Settings,
    *,
    api_client: Any = None,
    login: bool = True,
    ready_flag: asyncio.Event | None = None,
    stop_flag: asyncio.Event | None = None,
) -> None:
    """Run until stopped (SIGTERM/SIGINT, or `stop_flag`)."""
    metrics = Metrics()
    metrics.identify(settings.cluster_name, settings.operator_id, __version__)
    if api_client is None:
        try:
            api_client = api_client_from_environment()
        except Exception as exc:  # the kubernetes client raises several unrelated types here
            raise StartupError(f"no Kubernetes configuration (in-cluster or KUBECONFIG): {exc}") from None
    server = _serve_metrics(metrics.serve, settings.metrics_port)
    clock = EventLoopClock()
    regions = settings.regions
    async with open_regions(
        regions,
        request_timeout=settings.dynamodb_timeout_seconds,
        monotonic=clock.monotonic,
        on_move=metrics.region_moved,
    ) as client:
        metrics.regions([r.name for r in regions], regions[0].name)
        topology = await check_table(client, settings)
        store = DynamoDBService(
            client,
            settings.dynamodb_table,
            settings.cluster_name,
            settings.operator_id,
            clock,
            concurrency=BULK_CONCURRENCY,
        )
        store.observe_requests(metrics.request_done)
        kube = KubeClient(api_client)
        watched = ObjectCache(kube, settings.namespaces)
        workloads = Workloads(kube, cache=watched)
        ctx = OperatorContext(settings=settings, store=store, workloads=workloads, metrics=metrics, clock=clock)
        health = ctx.health = Probes(
            now=clock.monotonic,
            carrying=lambda: ctx.heartbeat.users,  # the beats run while any group (or retirement) is attached
            serving=lambda: any(r.may_serve() for r in list(ctx.runners.values())),
            api_limit=lambda: min(
                (r.plan.timeouts.heartbeat for r in list(ctx.runners.values()) if r.plan is not None),
                default=DEFAULT_API_LIMIT,
            ),
        )
        kube.observe = lambda answered, error: health.api_answered() if answered else health.api_failed(error)
        try:
            probes = await serve_health(health, settings.health_port)
        except OSError as exc:
            raise StartupError(f"cannot serve /healthz on port {settings.health_port}: {exc}") from None
        started = ready_flag or asyncio.Event()
        namespaces = settings.namespaces
        leadership = _leadership(settings, kube, clock)
        if leadership is None:
            mode = ("alone", "alone (POD_NAME unset: no leader election)")
        else:
            mode = (
                "leader election",
                f"leader election (replica {settings.pod_name}, Lease {leadership.namespace}/{leadership.name})",
            )
        _starts("failover-operator", settings, mode, ", ".join(namespaces) if namespaces else "all namespaces")
        _table_is(topology, settings)
        stop = Stop(stop_flag)
        stop.listen()
        try:
            if leadership is not None:
                health.mode = "follower"
                health.started = True  # ready: a follower is what a rollout waits for
                if not await _follow(leadership, ctx, client, settings, stop.flag):
                    _stops("failover-operator", settings, stop.why(), f" (replica {settings.pod_name} never led)")
                    return
                store.term = leadership.term
                ctx.leading = leadership.still_leading
                health.mode = "leader"
                health.started = False
            why = await _lead(ctx, kube, settings, leadership, login=login, started=started, stop=stop)
            if leadership is not None and why == STOPPED:
                await leadership.release()
            if why == STOPPED:
                why = stop.why() if stop.flag.is_set() else "received SIGTERM or SIGINT while starting"
            _stops("failover-operator", settings, why, "; the workloads stay as they are")
        except Exception as exc:
            _stops("failover-operator", settings, f"failed: {exc!r}", level=logging.ERROR)
            raise
        finally:
            await watched.close()
            await probes.cleanup()
            kube.close()
            if server is not None:
                await asyncio.to_thread(_close, server)


class Stop:
    """Why the process stops: SIGTERM or SIGINT (remembered), or the caller's flag; `flag` is set either way."""

    def __init__(self, flag: asyncio.Event | None = None) -> None:
        self.flag = flag or asyncio.Event()
        self.signal: str | None = None

    def listen(self) -> None:
        """SIGTERM and SIGINT set the flag. Again once kopf has started: it installs handlers of its own."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
                loop.add_signal_handler(signum, self.received, signum)

    def received(self, signum: int) -> None:
        first = self.signal is None
        self.signal = signal.Signals(signum).name
        if first:
            log.info("received %s: stopping (the workloads stay as they are)", self.signal)
        self.flag.set()

    def why(self) -> str:
        return f"received {self.signal}" if self.signal else "asked to stop"


def _starts(process: str, settings: Settings, mode: tuple[str, str], watching: str) -> None:
    """The first line of `run` and `watchdog`: who it is, where its fleet is, how it runs."""
    fields = {
        "cluster": settings.cluster_name,
        "operator_id": settings.operator_id,
        "table": settings.dynamodb_table,
        "region": settings.region_names,
        "version": __version__,
        "mode": mode[0],
    }
    log.info(
        "%s %s starts: cluster %s, operator ID %s, table %s, %s %s, mode %s; watching %s",
        process,
        __version__,
        settings.cluster_name,
        settings.operator_id,
        settings.dynamodb_table,
        "regions" if len(settings.regions) > 1 else "region",
        settings.region_names,
        mode[1],
        watching,
        extra=fields,
    )


def _stops(process: str, settings: Settings, why: str, note: str = "", *, level: int = logging.INFO) -> None:
    """The last line of `run` and `watchdog`: why it stops (the `reason` field of a JSON line)."""
    log.log(level, "%s stops: %s%s", process, why, note, extra={"cluster": settings.cluster_name, "reason": why})


def _close(server: WSGIServer) -> None:
    server.shutdown()
    server.server_close()


def _leadership(settings: Settings, kube: KubeClient, clock: EventLoopClock) -> Leadership | None:
    """The leader election of this cluster's replicas (None: POD_NAME unset, the process runs alone)."""
    if not settings.pod_name:
        return None
    timing = LeaderTiming(duration=settings.leader_lease_seconds, renew_every=settings.leader_renew_seconds)
    namespace = settings.pod_namespace or settings.lease_namespace
    return Leadership(kube, namespace, settings.leader_lease_name, settings.pod_name, clock, timing)


async def _follow(
    leadership: Leadership, ctx: OperatorContext, client: Any, settings: Settings, stop: asyncio.Event
) -> bool:
    """Wait to lead (True), or until stopped (False): SIGTERM and SIGINT stop a follower at once (they set `stop`:
    see Stop). Meanwhile the watches of what the groups list are kept synced, and the DynamoDB client warm, to
    take over without a gap."""
    log.info(
        "replica %s follows: it leads once the Lease %s/%s is released or expires",
        settings.pod_name,
        leadership.namespace,
        leadership.name,
    )
    warming = asyncio.create_task(_warm(ctx, client, settings, stop))
    try:
        return await leadership.acquire(stop)
    finally:
        warming.cancel()
        await asyncio.gather(warming, return_exceptions=True)


WARM_EVERY_SECONDS = 30.0


async def _warm(ctx: OperatorContext, client: Any, settings: Settings, stop: asyncio.Event) -> None:
    """What a follower keeps ready: a watch of every kind the FailoverGroups list, and its DynamoDB client."""
    cache = ctx.workloads.cache
    while not stop.is_set():
        with contextlib.suppress(Exception):  # best effort: the leader does it all anyway
            await client.describe_table(TableName=settings.dynamodb_table)
        scopes: list[str | None] = list(settings.namespaces) or [None]
        for namespace in scopes:
            try:
                groups = await ctx.workloads.kube.list(FAILOVER_GROUP, namespace)
            except KubeError:
                continue
            for body in groups:
                with contextlib.suppress(Exception):
                    plan = plan_of(body)
                    group_namespace = (body.get("metadata") or {}).get("namespace") or ""
                    for ref in plan.resources:
                        if cache is not None:
                            cache.get(managed_kind(ref.kind), group_namespace, ref.name)
        await wait_set(stop, WARM_EVERY_SECONDS)


async def _lead(
    ctx: OperatorContext,
    kube: KubeClient,
    settings: Settings,
    leadership: Leadership | None,
    *,
    login: bool,
    started: asyncio.Event,
    stop: Stop,
) -> str:
    """Run the operator (kopf and the watchdog's Lease) until stopped; why it stopped: STOPPED (SIGTERM, SIGINT
    or the stop flag), "lost the leader Lease: ...", or "deposed: ..." (another replica leads)."""
    health = ctx.health
    assert health is not None
    registry = build_registry(ctx, kube, login=login)
    keeper = LeaseKeeper(
        kube,
        settings.lease_namespace,
        settings.lease_name,
        settings.cluster_name,
        ctx.clock,
        lambda: list(ctx.runners.values()),
        step=LEASE_STEP_SECONDS,
        maintenance=ctx.maintenance,
    )
    ctx.liveness = keeper
    ctx.maintenance.recall(await keeper.recall())  # before any group starts: what our predecessor held
    keeping = asyncio.Event()
    lost = asyncio.Event()
    kopf_stop = asyncio.Event()
    keeping_task = asyncio.create_task(keeper.run(keeping))
    tasks = [keeping_task]

    async def when_started() -> None:
        await started.wait()
        health.started = True
        stop.listen()  # kopf's own handlers would stop it without telling us which signal it was

    async def hand_over(leader: Leadership, keeping_leader: asyncio.Task[None]) -> None:
        """SIGTERM to the leader: stop acting, stop renewing both Leases, then release the leader Lease — at
        once, not after kopf's own stop (which may take seconds): the next replica leads within its next look,
        while the fence deadlines of our last heartbeats still run (its heartbeats and a read vouch for what we
        served: reconciler/vouching.py). Never released while anything of ours may still act."""
        if not await ctx.stop_acting(HANDOVER_SECONDS):
            log.warning(
                "%s: not everything stopped acting within %gs; the leader Lease is left to expire",
                settings.pod_name,
                HANDOVER_SECONDS,
            )
            return
        keeping.set()
        for task in (keeping_task, keeping_leader):
            task.cancel()
        await asyncio.gather(keeping_task, keeping_leader, return_exceptions=True)
        await leader.release()

    async def stopping(keeping_leader: asyncio.Task[None] | None) -> None:  # whichever comes first stops kopf
        await first_of(stop.flag.wait(), lost.wait(), ctx.deposed.wait())
        if stop.flag.is_set() and leadership is not None and keeping_leader is not None:
            await hand_over(leadership, keeping_leader)
        kopf_stop.set()

    keeping_leader = asyncio.create_task(leadership.keep(lost)) if leadership is not None else None
    tasks += [asyncio.create_task(when_started()), asyncio.create_task(stopping(keeping_leader))]
    if keeping_leader is not None:
        tasks.append(keeping_leader)
    namespaces = settings.namespaces
    try:
        await kopf.operator(
            registry=registry,
            standalone=True,
            clusterwide=not namespaces,
            namespaces=namespaces,
            ready_flag=started,
            stop_flag=kopf_stop,
        )
    finally:
        keeping.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if ctx.deposed.is_set():
        return "deposed: another replica of this cluster's operator leads"
    if lost.is_set():
        return "lost the leader Lease: another replica leads"
    return STOPPED


def _serve_metrics(serve: Callable[[int], WSGIServer | None], port: int) -> WSGIServer | None:
    try:
        return serve(port)
    except OSError as exc:
        raise StartupError(f"cannot serve metrics on port {port}: {exc}") from None


def watch() -> int:
    """`failover-operator watchdog`: the Lease watched, PRIMARY resources fenced when it goes quiet."""
    try:
        settings = load()
    except ValidationError as exc:
        print(f"failover-operator watchdog: {explain(exc)}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format, settings.log_level)
    try:
        asyncio.run(watchdog(settings))
    except StartupError as exc:
        print(f"failover-operator watchdog: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


async def watchdog(settings: Settings, *, api_client: Any = None, stop: asyncio.Event | None = None) -> None:
    """Run the watchdog until SIGTERM/SIGINT (or `stop`), with /healthz on HEALTH_PORT and its own metrics
    (failover_watchdog_*) on METRICS_PORT."""
    if api_client is None:
        try:
            api_client = api_client_from_environment()
        except Exception as exc:  # the kubernetes client raises several unrelated types here
            raise StartupError(f"no Kubernetes configuration (in-cluster or KUBECONFIG): {exc}") from None
    stopping = Stop(stop)
    stopping.listen()
    metrics = WatchdogMetrics()
    metrics.identify(settings.cluster_name, settings.operator_id, __version__)
    server = _serve_metrics(metrics.serve, settings.metrics_port)
    kube = KubeClient(api_client)
    dog = Watchdog(
        kube,
        Workloads(kube),
        EventLoopClock(),
        settings.lease_namespace,
        settings.lease_name,
        settings.namespaces,
        metrics=metrics,
    )
    try:
        health = await _health_server(settings.health_port)
    except StartupError:
        if server is not None:
            await asyncio.to_thread(_close, server)
        kube.close()
        raise
    _starts(
        "failover-operator watchdog",
        settings,
        ("alone", "alone (one watchdog per cluster: no leader election)"),
        f"the Lease {settings.lease_namespace}/{settings.lease_name}, "
        + (", ".join(settings.namespaces) or "all namespaces"),
    )
    try:
        await dog.run(stopping.flag)
        _stops("failover-operator watchdog", settings, stopping.why())
    except Exception as exc:
        _stops("failover-operator watchdog", settings, f"failed: {exc!r}", level=logging.ERROR)
        raise
    finally:
        await health.cleanup()
        kube.close()
        if server is not None:
            await asyncio.to_thread(_close, server)


async def _health_server(port: int) -> web.AppRunner:
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "0.0.0.0", port).start()
    except OSError as exc:
        await runner.cleanup()
        raise StartupError(f"cannot serve /healthz on port {port}: {exc}") from None
    return runner
