"""The steady state at fleet scale: DynamoDB requests and their monthly cost, CPU and memory, per cluster.

Two clusters (east owns every group, west stands by), N groups each with one small Deployment, heartbeatInterval
h (default 5 s). Each cluster's operator is the real reconciler (GroupRunner per group, the cluster's heartbeat,
the fleet's reads) in this process, against an in-memory Kubernetes API (the simulation's, with its Deployment
controller) and a local DynamoDB over HTTP in its own process (the simulation's in-memory one, which passes the
store's contract suite; `--dynamodb moto` for moto, whose Query reads the whole table and becomes the limit
from a few hundred groups), behind one counting proxy per cluster, so what is counted is what each operator
sent. After every group has settled (a warm-up), requests are counted over a
window of whole intervals, with no fault and no change.

Cost, at on-demand prices ($0.625 per million write request units, $0.125 per million read units): every item
the operator writes or reads in the steady state is well under 1 KB (4 KB for a read), so a write costs one
unit, a strongly consistent read one unit, a transaction's item two; a write of an item carrying the GSI1 keys
(a group's status) costs one more unit for the index. Per cluster per month (2,592,000 s); "per 1,000 groups"
scales the per-group part of it to 1,000 groups and keeps the fixed part (one heartbeat and one read per
interval, whatever the number of groups): measure with `--groups 1000` to see it directly.

Also: CPU of each operator's process (the operator and its in-memory API server; the proxy runs apart); RSS
growth per group; how long until every group of both clusters had its first status written; fencings and role
changes during the window (there must be none); status patches of the FailoverGroups per interval.

Then, with every group still carried (`--no-moves` skips this): a planned failover (CONSISTENCY) of one group
to west, applied in west, timed from its start to Succeeded (bound: 2h plus the workload's scale time); and
the owner's operator killed (its process exits at once, as with SIGKILL): how long until west serves every
other group (bound: the heartbeat timeout T = 3 h, plus 2 h).

Prints one JSON object per line: {"figure", "value", "unit", "groups", ...}. `python -m bench.scale`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import inspect
import json
import logging
import math
import multiprocessing
import os
import pstats
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kopf

from failover_operator.api import FailoverSpec
from failover_operator.clock import EventLoopClock
from failover_operator.handlers.failovergroups import GroupHandlers
from failover_operator.metrics import Metrics
from failover_operator.model import Role
from failover_operator.reconciler.context import OperatorContext
from failover_operator.reconciler.failover import FailoverExecutor
from failover_operator.reconciler.group import GroupRunner
from failover_operator.reconciler.plan import GroupPlan
from failover_operator.settings import Settings
from failover_operator.store import DynamoDBService, ensure_table, keys
from failover_operator.store.changes import KEEP_SECONDS
from failover_operator.store.connect import BULK_CONCURRENCY, MAX_POOL
from failover_operator.workloads.converge import Workloads
from failover_operator.workloads.watches import ObjectCache
from harness.dynamo import dynamodb_client, moto_process
from harness.faults import RecordedRequest, start_proxy
from harness.memdynamo_server import memdynamo_process
from harness.simulation.kube import SimKube, replicas

TABLE = "bench-scale"
NS = "shop"
MONTH = 30 * 24 * 3600
WRITE_PRICE = 0.625e-6
READ_PRICE = 0.125e-6
CLUSTERS = ("east", "west")
SCALE_TIME = 0.1 + 0.25  # the fake Deployment controller: ready 0.1 s after a scale-up, looked at every 0.25 s


class TimedRunner(GroupRunner):
    """A GroupRunner that notes how late each tick comes after the one before (into LATENESS, shared: the
    bench's own memory must not grow with the ticks it measures, it is counted in the operator's RSS), and what
    each decided (with why it ticked then: on its cadence, or sooner)."""

    decided: Counter[str]

    async def tick(self, plan: GroupPlan, reporter: Any) -> Any:
        now = asyncio.get_running_loop().time()
        LATENESS.note(self.__dict__.get("last_start"), now, plan.heartbeat_interval)
        self.__dict__["last_start"] = now
        decision = await super().tick(plan, reporter)
        self.__dict__.setdefault("decided", Counter())[decision.action.value] += 1
        return decision


@dataclass
class Lateness:
    """How late each tick came after the one before, beyond the interval, for ticks after `since` (ticks
    sooner than the interval, while resources settle, are not late): whole milliseconds (rounded up) -> ticks."""

    since: float = math.inf
    ms: Counter[int] = field(default_factory=Counter)
    worst: float = 0.0

    def note(self, before: float | None, now: float, interval: float) -> None:
        if before is None or before < self.since or now - before <= 0.9 * interval:
            return
        late = max(0.0, now - before - interval)
        self.ms[math.ceil(late * 1000)] += 1
        self.worst = max(self.worst, late)

    @property
    def ticks(self) -> int:
        return sum(self.ms.values())

    def p99(self) -> float:
        """The 99th percentile, to the millisecond (rounded up)."""
        rank, seen = int(0.99 * self.ticks), 0
        for ms in sorted(self.ms):
            seen += self.ms[ms]
            if seen > rank:
                return ms / 1000
        return self.worst


LATENESS = Lateness()  # one per operator process


@dataclass
class Reporter:
    """Counts what the runners report to Kubernetes (events by reason, status patches)."""

    patches: int = 0
    events: Counter[str] = field(default_factory=Counter)

    def event(self, reason: str, message: str, *, warning: bool = False) -> None:
        self.events[reason] += 1

    async def patch_status(self, status: dict[str, Any]) -> None:
        self.patches += 1


class CountingProxy:
    """The fault proxy (harness/faults.py) in its own process, counting what one operator sends while asked to."""

    def __init__(self, upstream: str, *, keep_alive: bool) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, theirs = ctx.Pipe()
        self._process = ctx.Process(target=_proxy_main, args=(upstream, keep_alive, theirs), daemon=True)
        self._process.start()
        self.endpoint: str = self._conn.recv()

    async def record(self) -> None:
        await asyncio.to_thread(self._ask, "record")

    async def take(self) -> list[RecordedRequest]:
        """What was sent since `record`; counting stops."""
        return await asyncio.to_thread(self._ask, "take")

    async def count(self) -> Counter[str]:
        """How many requests of each operation were sent since `record` (not the requests: the operator's
        memory is measured meanwhile); counting stops."""
        return await asyncio.to_thread(self._ask, "count")

    def _ask(self, command: str) -> Any:
        self._conn.send(command)
        return self._conn.recv()

    def stop(self) -> None:
        self._process.kill()
        self._process.join(5)


def _proxy_main(upstream: str, keep_alive: bool, conn: Any) -> None:
    async def serve() -> None:
        proxy = await start_proxy(upstream, recording=False, keep_alive=keep_alive)
        conn.send(proxy.endpoint)
        while True:
            command = await asyncio.to_thread(conn.recv)
            if command == "record":
                proxy.requests.clear()
                proxy.recording = True
                conn.send(None)
            elif command == "take":
                proxy.recording = False
                conn.send(list(proxy.requests))
                proxy.requests.clear()
            elif command == "count":
                proxy.recording = False
                conn.send(Counter(r.operation for r in proxy.requests))
                proxy.requests.clear()

    asyncio.run(serve())


def _deployment(name: str, primary: bool) -> dict[str, Any]:
    annotations = {"failover.dev/group": f"{NS}/{name}", "failover.dev/epoch": "1"}
    annotations["failover.dev/role"] = "PRIMARY" if primary else "STANDBY"
    if not primary:
        annotations["failover.dev/replicas"] = "1"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": name}, "annotations": annotations},
        "spec": {"replicas": 1 if primary else 0, "selector": {"matchLabels": {"app": name}}, "template": {}},
    }


def _group(name: str, interval: float) -> dict[str, Any]:
    return {
        "apiVersion": "failover.dev/v1alpha1",
        "kind": "FailoverGroup",
        "metadata": {"name": name, "namespace": NS, "generation": 1},
        "spec": {
            "heartbeatInterval": f"{interval:g}s",
            "timeouts": {"heartbeat": f"{3 * interval:g}s"},
            "initialPrimary": "east",
            "workloads": [{"kind": "Deployment", "name": name}],
        },
    }


def units(requests: list[RecordedRequest]) -> tuple[float, float]:
    """(write units, read units) of these requests, by the rules in the module's docstring."""
    write = read = 0.0
    for r in requests:
        body = r.body
        if r.operation in ("Query", "GetItem", "Scan"):
            read += 1.0
        elif r.operation == "TransactWriteItems":
            write += 2.0 * len(body.get("TransactItems", []))
            write += sum(_indexed(a) for item in body.get("TransactItems", []) for a in item.values())
        elif r.operation in ("PutItem", "UpdateItem", "DeleteItem"):
            write += 1.0 + _indexed(body)
    return write, read


def _indexed(action: Mapping[str, Any]) -> float:
    """One more unit when the write touches an item of the GSI1 index (a group's config or status)."""
    key = action.get("Key") or action.get("Item") or {}
    pk, sk = (key.get(keys.PK) or {}).get("S", ""), (key.get(keys.SK) or {}).get("S", "")
    return 1.0 if pk.startswith(keys.GROUP_PREFIX) and (sk == keys.CONFIG_SK or sk.startswith("CLUSTER#")) else 0.0


@dataclass(frozen=True)
class Scenario:
    groups: int
    interval: float = 5.0
    window: int = 6  # intervals counted after the warm-up
    dynamodb: str = "memory"  # or "moto"
    moves: bool = True  # then a planned failover, then the owner's death
    profile: bool = False  # profile the steady state and the takeovers (top functions to stderr)
    tracemalloc: bool = False  # what each group holds in memory, by line (to stderr; slows everything)
    log: str | None = None  # each operator's INFO log to LOG.<cluster>
    requests: str | None = None  # the standby's requests during the takeovers, one JSON line each
    settle: float | None = None  # seconds between every group reporting and the window (default: see _operate)


def run(scenario: Scenario) -> None:
    """Each cluster's operator in its own process (as in production), the local DynamoDB in a third; both
    operators count over the same window, which starts once both have settled."""
    ctx = multiprocessing.get_context("spawn")
    local = memdynamo_process if scenario.dynamodb == "memory" else moto_process
    with local() as endpoint:
        asyncio.run(_create_table(endpoint))
        settled = ctx.Barrier(len(CLUSTERS))
        results = ctx.Queue()
        workers = [ctx.Process(target=_operator, args=(c, endpoint, scenario, settled, results)) for c in CLUSTERS]
        for worker in workers:
            worker.start()
        lines = [results.get(timeout=900 + scenario.groups) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
    for cluster_lines in sorted(lines, key=lambda ls: ls[0].get("cluster", "")):
        for line in cluster_lines:
            print(json.dumps(line), flush=True)


async def _create_table(endpoint: str) -> None:
    async with dynamodb_client(endpoint) as client:
        await ensure_table(client, TABLE)


def _operator(cluster: str, endpoint: str, scenario: Scenario, settled: Any, results: Any) -> None:
    if scenario.log:
        logging.basicConfig(
            filename=f"{scenario.log}.{cluster}", level=logging.INFO, format="%(relativeCreated)d %(name)s %(message)s"
        )
    try:
        results.put(asyncio.run(_operate(cluster, endpoint, scenario, settled, results)))
    except BaseException as exc:  # the parent must hear of it rather than wait
        results.put([{"figure": "error", "value": 0, "unit": "", "cluster": cluster, "error": repr(exc)}])
        raise


async def _operate(cluster: str, endpoint: str, scenario: Scenario, settled: Any, results: Any) -> list[dict[str, Any]]:
    groups, interval, window_intervals = scenario.groups, scenario.interval, scenario.window
    started_wall = time.monotonic()
    out: list[dict[str, Any]] = []
    extra = {"groups": groups, "cluster": cluster, "interval": interval}

    def emit(figure: str, value: float, unit: str, **more: Any) -> None:
        out.append({"figure": figure, "value": round(value, 4), "unit": unit, **extra, **more})

    # The counting proxy runs in a process of its own (in production there is none: its CPU and memory are not
    # the operator's); connections to the in-memory DynamoDB are reused, as a client's to DynamoDB are.
    proxy = CountingProxy(endpoint, keep_alive=scenario.dynamodb == "memory")
    stop = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []
    loop = asyncio.get_running_loop()
    kube = SimKube(cluster, loop.time)
    watched = ObjectCache(kube)  # as the operator's own process does: quiet ticks read no object
    reporter = Reporter()
    try:
        async with dynamodb_client(proxy.endpoint, max_pool=MAX_POOL, parameter_validation=False) as client:
            bodies = {f"g{i:04d}": _group(f"g{i:04d}", interval) for i in range(groups)}
            for name in bodies:  # the API server's objects are not the operator's memory
                kube.create(_deployment(name, cluster == "east"))
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before the groups' runners
            traced = _traced(scenario.tracemalloc)
            clock = EventLoopClock()
            settings = Settings(cluster_name=cluster, operator_id="bench", dynamodb_table=TABLE, aws_region="us-east-1")
            ctx = OperatorContext(
                settings=settings,
                store=_service(client, cluster, clock),
                workloads=Workloads(kube, cache=watched),  # type: ignore[arg-type]
                metrics=Metrics(),
                clock=clock,
            )
            await proxy.record()
            with _profiled(scenario.profile, f"the cold start, {cluster}"):
                handlers = GroupHandlers(ctx, kube)  # type: ignore[arg-type]
                for name, raw in bodies.items():
                    body = kopf.Body(raw)

                    async def source(body: kopf.Body = body, key: tuple[str, str] = (NS, name)) -> GroupPlan | None:
                        return await handlers.valid_plan(body, key)  # as the operator's daemons ask, every tick

                    runner = ctx.runners.setdefault((NS, name), TimedRunner(ctx, NS, name))
                    tasks.append(asyncio.ensure_future(runner.run(source, reporter, stop)))
                tasks.append(asyncio.ensure_future(_controller(kube, stop)))
                settled_at = await _settled(ctx, groups)
            started = await proxy.count()
            emit("all_groups_reporting_after", settled_at - started_wall, "s")
            emit("cold_start_requests", sum(started.values()), "requests", by_operation=dict(started))
            await asyncio.to_thread(settled.wait, 600)
            # The cold start's writes stay published for KEEP_SECONDS (each peer re-reads what they name): the
            # steady state starts when they are gone.
            await asyncio.sleep(KEEP_SECONDS + 2 * interval if scenario.settle is None else scenario.settle)
            roles = {k: r.local_role for k, r in ctx.runners.items()}
            await proxy.record()
            patches, fenced = reporter.patches, reporter.events["Fenced"]
            events_before = Counter(reporter.events)
            window = window_intervals * interval
            print(f"{cluster}: measuring the steady state for {window:g} s", file=sys.stderr, flush=True)
            cpu0, wall0 = time.process_time(), time.monotonic()
            LATENESS.since = loop.time()
            kube_reads0 = kube.reads
            with _profiled(scenario.profile, f"the steady state, {cluster}"):
                await asyncio.sleep(window)
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            _print_traced(traced, f"memory held per group, {cluster}", groups)
            per = wall / interval
            requests = await proxy.take()
            write, read = units(requests)
            by_operation = dict(Counter(r.operation for r in requests))
            emit("dynamodb_requests_per_interval", len(requests) / per, "requests", by_operation=by_operation)
            emit("dynamodb_write_units_per_interval", write / per, "WRU")
            emit("dynamodb_read_units_per_interval", read / per, "RRU")
            emit("dynamodb_monthly_cost", (write * WRITE_PRICE + read * READ_PRICE) / wall * MONTH, "USD")
            emit("status_patches_per_interval", (reporter.patches - patches) / per, "patches")
            emit(
                "kubernetes_reads_per_interval",
                (kube.reads - kube_reads0) / per,
                "GETs",
                note="of listed resources (the watches deliver what changes)",
            )
            emit("role_changes", sum(1 for k, r in ctx.runners.items() if r.local_role != roles.get(k)), "groups")
            emit("fencings", reporter.events["Fenced"] - fenced, "events")
            during = reporter.events - events_before
            emit("events", sum(during.values()), "events", by_reason=dict(during))
            emit("cpu", 100 * cpu / wall, "% of a core", note="the operator and its in-memory API server")
            emit("rss_growth_per_group", (rss - rss0) / groups, "KiB")
            if LATENESS.ticks:
                emit("tick_lateness_p99", LATENESS.p99(), "s", ticks=LATENESS.ticks)
                emit("tick_lateness_max", LATENESS.worst, "s")
            if not scenario.moves:
                return out
            await asyncio.to_thread(settled.wait, 600)
            first = next(iter(bodies))
            if cluster == "west":
                await _planned(ctx, reporter, kube, first, interval, emit)
            await asyncio.to_thread(settled.wait, 600)
            if cluster == "east":  # dies at once, as with SIGKILL: nothing stops, nothing is cleaned up
                results.put(out)
                results.close()
                results.join_thread()
                os._exit(0)
            await proxy.record()
            with _profiled(scenario.profile, f"the takeovers, {cluster}"):
                await _detection(ctx, kube, [n for n in bodies if n != first], interval, emit)
            sent = await proxy.take()
            emit("detection_requests", len(sent), "requests", by_operation=dict(Counter(r.operation for r in sent)))
            if scenario.requests:
                lines = (json.dumps({"operation": r.operation, "body": r.body}, default=str) for r in sent)
                await asyncio.to_thread(Path(scenario.requests).write_text, "".join(f"{line}\n" for line in lines))
            return out
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await watched.close()
        proxy.stop()


def _traced(enabled: bool) -> Any:
    """A tracemalloc snapshot before the runners start (None: not asked for)."""
    if not enabled:
        return None
    import tracemalloc

    tracemalloc.start()
    return tracemalloc.take_snapshot()


def _print_traced(before: Any, what: str, groups: int) -> None:
    """What was allocated since `before` and is still held, by line, per group (to stderr)."""
    if before is None:
        return
    import tracemalloc

    diff = tracemalloc.take_snapshot().compare_to(before, "lineno")
    print(f"--- {what}: {sum(d.size_diff for d in diff) / groups / 1024:.1f} KiB ---", file=sys.stderr)
    for d in diff[:40]:
        line = f"{d.size_diff / groups:8.0f} B/group  {d.count_diff / groups:6.1f} objects  {d.traceback}"
        print(line, file=sys.stderr)


@contextlib.contextmanager
def _profiled(enabled: bool, what: str) -> Iterator[None]:
    """Profile this process while in the block; the top functions to stderr."""
    if not enabled:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        print(f"--- profile: {what} ---", file=sys.stderr)
        if os.environ.get("BENCH_PROFILE_DIR"):  # the whole profile, for pstats
            name = "".join(c if c.isalnum() else "-" for c in what)
            profiler.dump_stats(os.path.join(os.environ["BENCH_PROFILE_DIR"], f"{name}.pstats"))
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(50)


async def _planned(
    ctx: OperatorContext, reporter: Reporter, kube: SimKube, name: str, interval: float, emit: Any
) -> None:
    """A planned failover of one group to this cluster, applied here, while every group is carried."""
    spec = FailoverSpec.model_validate(
        {"targetCluster": ctx.cluster, "failoverGroups": [{"name": name}], "mode": "CONSISTENCY"}
    )
    started = time.monotonic()
    status = await FailoverExecutor(ctx).run(NS, f"move-{name}", spec, None, reporter, asyncio.Event(), 1, None)
    took = time.monotonic() - started
    serving = _serving(kube, name)
    emit(
        "planned_failover_seconds",
        took,
        "s",
        phase=str(status.phase.value if status.phase else None),
        serving=serving,
        bound=2 * interval + SCALE_TIME,
    )


async def _detection(ctx: OperatorContext, kube: SimKube, names: list[str], interval: float, emit: Any) -> None:
    """The owner's operator died just now: when does this cluster serve each of its groups?"""
    died = time.monotonic()
    cpu0, machine0 = time.process_time(), _machine_cpu()
    decided0 = {name: Counter(getattr(r, "decided", Counter())) for name, r in ctx.runners.items()}
    bound = 3 * interval + 2 * interval  # T + 2h, T = 3h in these groups
    served: dict[str, float] = {}
    waiting = set(names)
    while waiting and time.monotonic() - died < bound + 60:
        for name in list(waiting):
            runner = ctx.runners.get((NS, name))
            if runner is not None and runner.local_role == Role.PRIMARY and _serving(kube, name):
                served[name] = time.monotonic() - died
                waiting.discard(name)
        await asyncio.sleep(0.1)
    wall = time.monotonic() - died
    busy, total = (b - a for a, b in zip(machine0, _machine_cpu(), strict=True))
    decided: Counter[str] = Counter()
    for name, runner in ctx.runners.items():
        decided += Counter(getattr(runner, "decided", Counter())) - decided0.get(name, Counter())
    emit("detection_ticks_per_group", sum(decided.values()) / len(names), "ticks", by_action=dict(decided))
    # Who had the CPU meanwhile: this operator, and the machine as a whole (the rest is the local DynamoDB, the
    # counting proxy, the dead owner's leftovers): a takeover rate limited by the machine shows here.
    emit("detection_operator_cpu", 100 * (time.process_time() - cpu0) / wall, "% of a core")
    emit("detection_machine_busy", 100 * busy / total if total else 0.0, "% of all cores", cores=os.cpu_count())
    times = sorted(served.values())
    if times:
        emit("detection_first", times[0], "s", bound=bound)
        emit("detection_p50", times[len(times) // 2], "s", bound=bound, groups_served=len(times))
        emit("detection_p90", times[int(len(times) * 0.9)], "s", bound=bound)
        emit("detection_max", times[-1], "s", bound=bound, groups_served=len(times), of=len(names))
    else:
        emit("detection_max", float("inf"), "s", bound=bound, groups_served=0, of=len(names))


def _machine_cpu() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot (Linux /proc/stat; zeros elsewhere)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def _serving(kube: SimKube, name: str) -> bool:
    """Looked at in place (not through the API, which copies): the bench must not eat the operator's CPU."""
    obj = kube.objects.get(("deployments", NS, name))
    return obj is not None and replicas(obj) > 0


async def _controller(kube: SimKube, stop: asyncio.Event) -> None:
    started: dict[tuple[str, str, str], float] = {}
    while not stop.is_set():
        kube.controller_step(0.1, started)
        await asyncio.sleep(0.25)


async def _settled(ctx: OperatorContext, groups: int) -> float:
    """When every group knows its role and has written its status."""
    limit = max(120.0, groups * 0.2)
    deadline = time.monotonic() + limit
    known = (Role.PRIMARY, Role.STANDBY)
    done = 0
    while time.monotonic() < deadline:
        done = sum(1 for r in ctx.runners.values() if r.local_role in known and _reported(r))
        if done == groups:
            return time.monotonic()
        await asyncio.sleep(0.25)
    states = Counter((str(r.local_role), _reported(r)) for r in ctx.runners.values())
    raise SystemExit(f"{ctx.cluster}: only {done} of {groups} groups settled within {limit:.0f}s: {dict(states)}")


def _service(client: Any, cluster: str, clock: EventLoopClock) -> DynamoDBService:
    """The store as the operator opens it (its bulk traffic bounded below its pool, when that exists: a
    baseline from before it is run as it was)."""
    if "concurrency" in inspect.signature(DynamoDBService).parameters:
        return DynamoDBService(client, TABLE, cluster, "bench", clock, concurrency=BULK_CONCURRENCY)
    return DynamoDBService(client, TABLE, cluster, "bench", clock)


def _reported(runner: GroupRunner) -> bool:
    """The runner wrote its status at least once."""
    return runner.reports.written_key is not None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, nargs="+", default=[100])
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--window", type=int, default=6, help="intervals counted after the warm-up")
    parser.add_argument(
        "--dynamodb",
        choices=["memory", "moto"],
        default="memory",
        help="the local DynamoDB: the simulation's in-memory one served over HTTP (default), or moto, whose "
        "Query reads the whole table and limits the measurement from a few hundred groups",
    )
    parser.add_argument("--no-moves", action="store_true", help="skip the planned failover and the owner's death")
    parser.add_argument(
        "--profile", action="store_true", help="profile the steady state and the standby's takeovers (to stderr)"
    )
    parser.add_argument(
        "--tracemalloc", action="store_true", help="the memory each group holds, by line (to stderr; slow)"
    )
    parser.add_argument("--log", metavar="FILE", help="each operator's INFO log, to FILE.<cluster>")
    parser.add_argument(
        "--requests", metavar="FILE", help="the standby's DynamoDB requests during the takeovers, to FILE (JSON lines)"
    )
    parser.add_argument(
        "--settle", type=float, help="seconds from every group reporting to the window (default: 30 s + 2 intervals)"
    )
    args = parser.parse_args(argv)
    for n in args.groups:
        moves = not args.no_moves
        run(
            Scenario(
                n,
                args.interval,
                args.window,
                args.dynamodb,
                moves=moves,
                profile=args.profile,
                tracemalloc=args.tracemalloc,
                log=args.log,
                requests=args.requests,
                settle=args.settle,
            )
        )


if __name__ == "__main__":
    main()
