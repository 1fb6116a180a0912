"""A dead owner of many groups: the standby takes every one over, a few at a time (ACTING_CONCURRENCY), each
on a proof that lands within its fence limit. Before the limit, a thousand takeovers queued behind each other
in the store's request slots until their proofs missed the fence limit and were sent again (the bench's
standby served 0 of 999 groups in 85 s). Real processes' worth of DynamoDB (the in-memory one over HTTP) and
two operators in this process, on short timeouts; the waits are bounded by the groups' own timeouts."""

from __future__ import annotations

import asyncio
from typing import Any

from bench.scale import NS, TABLE, Reporter, _deployment, _group

from failover_operator.clock import EventLoopClock
from failover_operator.metrics import Metrics
from failover_operator.reconciler.context import OperatorContext
from failover_operator.reconciler.decide import LocalRole
from failover_operator.reconciler.group import GroupRunner
from failover_operator.reconciler.plan import GroupPlan, plan_of
from failover_operator.settings import Settings
from failover_operator.store import DynamoDBService, ensure_table
from failover_operator.workloads.converge import Workloads
from harness.dynamo import dynamodb_client
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
    client: Any, name: str, stop: asyncio.Event, tasks: list[asyncio.Task[Any]]
) -> tuple[OperatorContext, SimKube, Reporter]:
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
    for i in range(GROUPS):
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


async def test_a_dead_owners_groups_are_taken_over_a_few_at_a_time() -> None:
    with memdynamo_process() as endpoint:
        async with dynamodb_client(endpoint, parameter_validation=False) as client:
            await ensure_table(client, TABLE)
            east_stop, west_stop = asyncio.Event(), asyncio.Event()
            east_tasks: list[asyncio.Task[Any]] = []
            west_tasks: list[asyncio.Task[Any]] = []
            try:
                east, _, _ = await _cluster(client, "east", east_stop, east_tasks)
                west, west_kube, west_reporter = await _cluster(client, "west", west_stop, west_tasks)
                slots = west.acting = CountingSlots(SLOTS)

                def settled() -> bool:
                    return all(r.local_role == LocalRole.PRIMARY for r in east.runners.values()) and all(
                        r.local_role == LocalRole.STANDBY for r in west.runners.values()
                    )

                assert await _until(settled, 60.0), "the groups did not settle"
                for task in east_tasks:  # east's operator dies: nothing stops gracefully
                    task.cancel()
                await asyncio.gather(*east_tasks, return_exceptions=True)

                def served() -> bool:
                    return all(
                        r.local_role == LocalRole.PRIMARY and replicas(west_kube.objects[("deployments", NS, name)]) > 0
                        for (_, name), r in west.runners.items()
                    )

                # T + 2h for the last group, plus a generous allowance for the takeovers themselves
                assert await _until(served, 3 * INTERVAL + 2 * INTERVAL + 20.0), {
                    name: r.local_role for (_, name), r in west.runners.items()
                }
                assert 1 <= slots.most <= SLOTS
                assert west_reporter.events["AutomaticFailover"] == GROUPS
            finally:
                east_stop.set()
                west_stop.set()
                for task in east_tasks + west_tasks:
                    task.cancel()
                await asyncio.gather(*east_tasks, *west_tasks, return_exceptions=True)
