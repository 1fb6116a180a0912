"""A FailoverGroup deleted in this cluster: leave the group, step by step as the rulebook says (rules/leave.py),
reading afresh before each step.

Until it has left, the cluster keeps heartbeating (its copy may serve) and the group's fence loop keeps
running: an owner whose heartbeat cannot be written fences its copy at its deadline (the effective one, from
the config as read), and a copy being stopped is scaled down again until that is confirmed — so nobody takes
over from a leaving cluster while it may still serve, and no cluster leaves while its copy may serve a group
that another cluster owns.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .. import logs
from ..model import Role
from ..rules import Leave, Leaving, Step, leave
from ..store import ConflictError, GroupState, LockHeldError, NotFoundError, PreconditionError, StoreError
from ..waits import wait_set
from .context import Reporter, StoppingError
from .plan import GroupPlan

if TYPE_CHECKING:
    from .group import GroupRunner

log = logging.getLogger("failover_operator.group")

FIRST_RETRY = 0.25  # seconds; doubling up to one heartbeat interval while a step cannot be taken


async def leave_group(runner: GroupRunner, plan: GroupPlan | None, reporter: Reporter) -> None:
    """Leave the group in this cluster; returns once this cluster's part of it is gone from DynamoDB. Never
    gives up: a step that fails is retried (DynamoDB, an API server that cannot confirm the scale-down)."""
    ctx = runner.ctx
    logs.bind(group=runner.group, cluster=ctx.cluster)
    if plan is not None:
        runner.take(plan)
    async with ctx.heartbeat.attached(), runner.fencing(reporter):
        delay = FIRST_RETRY
        said: str | None = None
        marked = False
        while True:
            if ctx.stopping.is_set():
                raise StoppingError(f"{ctx.cluster} hands over to another replica: it leaves {runner.group} next")
            try:
                if not marked:  # first of all: nobody hands the group to a cluster that is leaving it
                    runner.maintenance.leave()  # (an owner that held it fences itself again, first)
                    runner.leaving = True  # and our status writes say so from now on
                    await ctx.store.state.mark_leaving(runner.namespace, runner.name)
                    marked = True
                step = await _step(runner, plan, reporter)
            except (StoreError, TimeoutError) as exc:
                text = str(exc) or "DynamoDB did not answer in time"
                if text != said:
                    log.warning("%s: leaving the group, retrying: %s", runner.group, text)
                said = text
            else:
                if step is None:
                    return
                if step.reason != said:
                    log.info("%s: %s", runner.group, step.reason)
                said = step.reason
            interval = plan.heartbeat_interval if plan is not None else 5.0
            await wait_set(ctx.stopping, delay)
            delay = min(2 * delay, interval)


async def _step(runner: GroupRunner, plan: GroupPlan | None, reporter: Reporter) -> Leave | None:
    """One step; None once this cluster has left."""
    ctx = runner.ctx
    store = ctx.store
    acting = runner.acting
    if not acting.recalled:
        await acting.recall()
    try:
        state: GroupState | None = await store.state.get_group_state(runner.namespace, runner.name)
    except NotFoundError:
        state = None
    if state is not None:
        runner.records.config = state.config  # the fence deadline follows the config's timeouts (an edit)
    down: bool | None = True
    if plan is not None:
        seen = await runner.workloads.observe(runner.namespace, plan.resources, Role.STANDBY, foreign=runner.claimed)
        down = None if seen.any_unknown else seen.all_down
    timing = runner.measure.timing()
    stale = frozenset(
        store.state.stale_clusters(runner.namespace, runner.name, state.clusters, timing.heartbeat) if state else ()
    )
    step = leave(
        Leaving(
            me=ctx.cluster,
            group=runner.group,
            config=state.config if state else None,
            clusters=state.clusters if state else {},
            stale=stale,
            down=down,
            priority=plan.priority if plan else (),
        )
    )
    if step.step == Step.STOP:
        if acting.role != Role.STANDBY:
            reporter.event("StoppingToLeave", step.reason)
        await acting.converge(Role.STANDBY, reporter)  # the fence loop retries it until confirmed down
        return step
    if step.step == Step.HAND_OVER and state is not None:
        handed_to = await _hand_over(runner, state, step)
        if handed_to is not None:
            reporter.event("HandedOver", f"{ctx.cluster} stopped serving {runner.group} and handed it to {handed_to}")
            return step  # the next step reads the move and leaves
        reporter.event(
            "NoHandover",
            f"no live peer could take {runner.group}; {ctx.cluster} leaves it owned by itself (serving nothing), "
            f"and the others take it over once they see it gone",
            warning=True,
        )
    if step.step == Step.DONE:
        return None
    config = state.config if state is not None else None
    if config is not None and config.owner == ctx.cluster and config.serving and down:
        # We leave it owned by us, serving nothing: say so on the config, where a takeover of an owner "not
        # serving" is conditioned (our status, which says it too, goes with us).
        proof = max(config.proof_seq, store.state.proofs.get(runner.pk, 0))
        if not await store.state.stop_serving(runner.namespace, runner.name, config.epoch, proof):
            return step  # moved meanwhile, or a proof of ours landed since: the next step reads what is there
    writing = runner.reports.writing  # sent before we said we leave, it could land after the delete
    if writing is not None and not writing.done():
        await asyncio.wait([writing])
    await store.state.delete_cluster_status(runner.namespace, runner.name)
    remaining = await store.state.get_all_cluster_statuses(runner.namespace, runner.name)
    if step.step == Step.REMOVE and not remaining:
        deleted = await store.state.delete_group(runner.namespace, runner.name)
        log.info("%s: %s was the last cluster; removed %d records of the group", runner.group, ctx.cluster, deleted)
        reporter.event(
            "GroupRemoved", f"{ctx.cluster} was the last cluster of {runner.group}; its DynamoDB records are removed"
        )
    else:
        others = ", ".join(sorted(remaining)) or "no cluster"
        reporter.event("LeftGroup", f"{ctx.cluster} left {runner.group}; {others} remain")
        # The others read our status gone at once: our heartbeat, which would tell them, may have stopped with
        # the last group we ran (and they would go on deciding on the status they last read, our word included).
        await ctx.announce(runner.namespace, runner.name)
    return None


async def _hand_over(runner: GroupRunner, state: GroupState, step: Leave) -> str | None:
    """Move ownership to the first of the step's targets that takes it; who took it, or None."""
    ctx = runner.ctx
    config = state.config
    for target, forced in step.targets:
        try:
            record = await ctx.store.operations.execute_failover(
                runner.namespace,
                runner.name,
                f"handover-{ctx.cluster}-epoch-{config.epoch + 1}",
                target,
                f"FailoverGroup {runner.group} deleted in {ctx.cluster}",
                force=forced,
                expected_epoch=config.epoch,
                lease_seconds=ctx.settings.lock_lease_seconds,
            )
        except (PreconditionError, ConflictError, LockHeldError) as exc:
            log.info("%s: hand-over to %s refused: %s", runner.group, target, exc)
            continue
        return record.target_cluster
    return None
