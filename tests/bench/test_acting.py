"""A dead owner of many groups: the standby takes every one over, a few at a time (ACTING_CONCURRENCY), each
on a proof that lands within its fence limit. Before the limit, a thousand takeovers queued behind each other
in the store's request slots until their proofs missed the fence limit and were sent again (the bench's
standby served 0 of 999 groups in 85 s). Real processes' worth of DynamoDB (the in-memory one over HTTP) and
two operators in this process, on short timeouts; the waits are bounded by the groups' own timeouts."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from bench.scale import NS, TABLE, Reporter, _deployment, _group

from failover_operator.clock import EventLoopClock
from failover_operator.metrics import Metrics
from failover_operator.model import Role
from failover_operator.reconciler.context import OperatorContext
from failover_operator.reconciler.group import GroupRunner
from failover_operator.reconciler.plan import GroupPlan, plan_of
from failover_operator.settings import Settings
from failover_operator.store import DynamoDBService, ensure_table, keys
from failover_operator.workloads.converge import Workloads
from harness.dynamo import dynamodb_client
from harness.faults import RecordedRequest, start_proxy
from harness.memdynamo_server import memdynamo_process
from harness.simulation.kube import SimKube, replicas

GROUPS = 24
SLOTS = 3
INTERVAL = 1.0  # heartbeatInterval; timeouts.heartbeat is 3 intervals (bench.scale._group)


class CountingSlots(asyncio.Semaphore):
    """The acting slots, counting how many groups hold one at once."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.holding = self.most = 0

    async def acquire(self) -> bool:
        await super().acquire()
        self.holding += 1
        self.most = max(self.most, self.holding)
        return True

    def release(self) -> None:
        self.holding -= 1
        super().release()


async def _cluster(
    client: Any, name: str, stop: asyncio.Event, tasks: list[asyncio.Task[Any]], groups: int = GROUPS
) -> tuple[OperatorContext, SimKube, Reporter]:
    """One cluster's operator in this process (its GroupRunners, on an in-memory API server with a Deployment
    controller), owning or standing by for `groups` groups g00, g01, ... (east owns them)."""
    loop = asyncio.get_running_loop()
    kube = SimKube(name, loop.time)
    clock = EventLoopClock()
    settings = Settings(cluster_name=name, operator_id="acting", dynamodb_table=TABLE, aws_region="us-east-1")
    ctx = OperatorContext(
        settings=settings,
        store=DynamoDBService(client, TABLE, name, "acting", clock),
        workloads=Workloads(kube),  # type: ignore[arg-type]
        metrics=Metrics(),
        clock=clock,
    )
    reporter = Reporter()
    for i in range(groups):
        group = f"g{i:02d}"
        kube.create(_deployment(group, name == "east"))
        plan = plan_of(_group(group, INTERVAL))

        async def source(plan: GroupPlan = plan) -> GroupPlan:
            return plan

        runner = ctx.runners.setdefault((NS, group), GroupRunner(ctx, NS, group))
        tasks.append(asyncio.ensure_future(runner.run(source, reporter, stop)))

    async def controller() -> None:
        started: dict[tuple[str, str, str], float] = {}
        while True:
            kube.controller_step(0.1, started)
            await asyncio.sleep(0.1)

    tasks.append(asyncio.ensure_future(controller()))
    return ctx, kube, reporter


async def _until(what: Any, budget: float) -> bool:
    deadline = asyncio.get_running_loop().time() + budget
    while not what():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


TAKEOVER_BUDGET = 3 * INTERVAL + 2 * INTERVAL + 20.0
"""T + 2h for the last group, plus a generous allowance for the takeovers themselves."""


@dataclass
class Pair:
    """east owning every group, west standing by: two operators in this process (see `_cluster`)."""

    east: OperatorContext
    west: OperatorContext
    east_kube: SimKube
    west_kube: SimKube
    west_reporter: Reporter
    east_tasks: list[asyncio.Task[Any]]

    def settled(self, *, written: bool = False) -> bool:
        """east serves every group, west stands by for each (and, `written`, has written its status)."""
        return all(r.local_role == Role.PRIMARY for r in self.east.runners.values()) and all(
            r.local_role == Role.STANDBY and (not written or r.reports.written_key is not None)
            for r in self.west.runners.values()
        )

    async def kill_east(self) -> None:
        """east's operator dies: nothing stops gracefully."""
        for task in self.east_tasks:
            task.cancel()
        await asyncio.gather(*self.east_tasks, return_exceptions=True)

    def served(self) -> bool:
        """west is PRIMARY of every group, and its Deployment is scaled up."""
        return all(
            r.local_role == Role.PRIMARY and serves(self.west_kube, name) for (_, name), r in self.west.runners.items()
        )


def serves(kube: SimKube, name: str) -> bool:
    """The cluster's Deployment of the group is scaled up."""
    return replicas(kube.objects[("deployments", NS, name)]) > 0


@contextlib.asynccontextmanager
async def two_clusters(east_client: Any, west_client: Any, groups: int = GROUPS) -> AsyncIterator[Pair]:
    """Both operators running until the block ends (then stopped, whatever happened)."""
    stop = asyncio.Event()
    east_tasks: list[asyncio.Task[Any]] = []
    west_tasks: list[asyncio.Task[Any]] = []
    try:
        east, east_kube, _ = await _cluster(east_client, "east", stop, east_tasks, groups)
        west, west_kube, west_reporter = await _cluster(west_client, "west", stop, west_tasks, groups)
        yield Pair(east, west, east_kube, west_kube, west_reporter, east_tasks)
    finally:
        stop.set()
        for task in east_tasks + west_tasks:
            task.cancel()
        await asyncio.gather(*east_tasks, *west_tasks, return_exceptions=True)


async def test_a_dead_owners_groups_are_taken_over_a_few_at_a_time() -> None:
    with memdynamo_process() as endpoint:
        async with dynamodb_client(endpoint, parameter_validation=False) as client:
            await ensure_table(client, TABLE)
            async with two_clusters(client, client) as pair:
                west = pair.west
                slots = west.acting = CountingSlots(SLOTS)
                assert await _until(lambda: pair.settled(written=True), 60.0), "the groups did not settle"
                patched_while_queued: list[bool] = []
                patch = pair.west_reporter.patch_status

                async def noted(status: dict[str, Any]) -> None:
                    patched_while_queued.append(slots.locked())
                    await patch(status)

                pair.west_reporter.patch_status = noted  # type: ignore[method-assign]
                await pair.kill_east()
                assert await _until(pair.served, TAKEOVER_BUDGET), {
                    name: r.local_role for (_, name), r in west.runners.items()
                }
                assert 1 <= slots.most <= SLOTS
                assert pair.west_reporter.events["AutomaticFailover"] == GROUPS
                # While groups queued to act, no FailoverGroup status was rebuilt: they served first, and each
                # shows PRIMARY (and its status record says ready) once the queue is gone.
                assert patched_while_queued.count(True) == 0, patched_while_queued

                def reported() -> bool:
                    return all(
                        r.reports.status is not None
                        and r.reports.status.role is not None
                        and r.reports.status.role.value == "PRIMARY"
                        and r.reports.written_key is not None
                        and r.reports.written_key[1] == "OK"
                        for r in west.runners.values()
                    )

                assert await _until(reported, 4 * INTERVAL), "west did not report every group it serves"


async def test_a_takeover_reads_the_group_once_and_writes_its_status_at_most_twice() -> None:
    """What a takeover costs, request by request: one consistent read before acting (by key, shared with the
    other groups acting then), the takeover (a look at the owner's numbers, shared likewise, the config's write and
    its history record), the proof of ownership (the config, then our status), and our status
    as it changes (the workload coming up, then ready). Our own writes are kept in our
    copy of the group (they do not send us to read it again, as they did: 2 more reads per takeover), nor does the
    scale-up (while resources settle, only what a peer wrote is read), and replicas coming up one by one are not
    written step by step."""
    with memdynamo_process() as endpoint:
        proxy = await start_proxy(endpoint, recording=False, keep_alive=True)
        try:
            async with (
                dynamodb_client(endpoint, parameter_validation=False) as client,
                dynamodb_client(proxy.endpoint, parameter_validation=False) as counted,
            ):
                await ensure_table(client, TABLE)
                async with two_clusters(client, counted) as pair:
                    west = pair.west
                    assert await _until(lambda: pair.settled(written=True), 60.0), "the groups did not settle"
                    proxy.recording = True
                    proxy.requests.clear()
                    await pair.kill_east()

                    def served() -> bool:
                        return all(
                            r.local_role == Role.PRIMARY
                            and r.observation is not None
                            and r.observation.all_ready
                            and r.reports.written_key is not None
                            and r.reports.written_key[1] == "OK"
                            for r in west.runners.values()
                        )

                    assert await _until(served, TAKEOVER_BUDGET), "west did not serve every group"
                    # What each group's next ticks (4 an interval while its resources settle) would have read
                    stop_at = asyncio.get_running_loop().time() + 3 * INTERVAL
                    await _until(lambda: asyncio.get_running_loop().time() > stop_at, 4 * INTERVAL)
                    sent = list(proxy.requests)
        finally:
            await proxy.stop()
    per_group: dict[str, list[str]] = {}
    for request in sent:
        for name in _groups_of(request):
            per_group.setdefault(name, []).append(request.operation)
    assert set(per_group) == {name for _, name in west.runners}
    for name, ops in per_group.items():
        # No transaction: the move (the config), its history record, the proof (the config, then our status), then
        # our status as it changes (coming up, then ready). What was read before depends on east's last words.
        after = ops[ops.index("PutItem") - 1 :]
        assert Counter(after) == Counter(PutItem=1, UpdateItem=after.count("UpdateItem")), (name, ops)
        assert 3 <= after.count("UpdateItem") <= 5, (name, ops)
        assert "Query" not in ops and "TransactWriteItems" not in ops, (name, ops)  # read by key; no transaction
    # Groups acting at the same moment share their reads (the one before acting, and the move's look at the owner's
    # numbers): never more requests than groups each. How many share depends on how many act within the same few
    # milliseconds, which a loaded machine changes (a figure of bench/, not a verdict of a test).
    operations = Counter(r.operation for r in sent)
    assert operations["BatchGetItem"] <= 2 * GROUPS and operations["TransactWriteItems"] == 0, operations


def _groups_of(request: RecordedRequest) -> set[str]:
    """The groups a request reads or writes (by the partition keys it names); none for the fleet's liveness."""
    body = request.body
    if request.operation == "Query":
        values = [v.get("S", "") for v in body.get("ExpressionAttributeValues", {}).values()]
    elif request.operation == "BatchGetItem":
        values = [k[keys.PK]["S"] for spec in body["RequestItems"].values() for k in spec["Keys"]]
    else:
        values = [(body.get("Key") or body.get("Item") or {}).get(keys.PK, {}).get("S", "")]
    return {keys.parse_group_pk(v)[2] for v in values if v.startswith("GROUP#")}


async def test_a_proof_of_ownership_never_says_ready_before_the_workload_is_up() -> None:
    """The proof writes our status PRIMARY at the new epoch: it must grade our resources as a PRIMARY's. It
    reported the standby's grade ("scaled down": OK) — PRIMARY and OK, what a Failover and an UPTIME source take
    for "ready", before a single pod ran (the e2e downtime came out 0.2 s for pods that take 0.3 s)."""
    with memdynamo_process() as endpoint:
        async with dynamodb_client(endpoint, parameter_validation=False) as client:
            await ensure_table(client, TABLE)
            async with two_clusters(client, client, groups=2) as pair:
                west, west_kube = pair.west, pair.west_kube
                proofs: list[tuple[str, int]] = []  # (health said, replicas ready then)
                prove = west.store.state.prove_ownership

                async def recorded(namespace: str, name: str, epoch: int, health: Any, *args: Any, **kw: Any) -> None:
                    ready = west_kube.objects[("deployments", NS, name)].get("status", {}).get("readyReplicas") or 0
                    proofs.append((str(health), ready))
                    await prove(namespace, name, epoch, health, *args, **kw)

                west.store.state.prove_ownership = recorded  # type: ignore[method-assign]
                assert await _until(pair.settled, 60.0), "the groups did not settle"
                await pair.kill_east()
                assert await _until(pair.served, TAKEOVER_BUDGET), "west did not take over"
    assert proofs and all(ready == 0 for _, ready in proofs), proofs
    assert all(health != "OK" for health, _ in proofs), proofs
