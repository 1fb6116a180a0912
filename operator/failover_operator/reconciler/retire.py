"""A FailoverGroup deleted in this cluster: hand ownership to a healthy peer first, then leave the group.

An owner that leaves stops serving first — its resources scaled down and confirmed down — and only then
moves ownership to a peer, whose own tick proves ownership and scales up: the hand-over never overlaps. If no
peer can take the group, it stays owned by the leaving cluster (now serving nothing) and the others take it
over automatically once they see its status gone. The last cluster leaves its resources as they are and
removes every record of the group.

Until it has left, the cluster keeps heartbeating (it may still serve), retries what fails (DynamoDB, an API
server that cannot confirm the scale-down) and, when its heartbeat is older than the group's fence limit,
scales its copy down as a runner would fence: nobody ever takes over from a leaving owner that still serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..model import Health
from ..store import ConflictError, GroupState, LockHeldError, NotFoundError, PreconditionError, StoreError
from ..workloads.roles import Role
from .context import OperatorContext, Reporter
from .decide import takeover_order
from .plan import GroupPlan

log = logging.getLogger("failover_operator.group")


class StillServing(Exception):
    """Our copy of the group could not be confirmed down: leaving now would let a peer take over while it serves.
    The deletion is retried later (the finalizer stays); meanwhile we keep heartbeating and owning it."""


async def retire_group(
    ctx: OperatorContext,
    namespace: str,
    name: str,
    plan: GroupPlan | None,
    reporter: Reporter,
) -> None:
    async with ctx.heartbeat.attached():  # we may serve until we have scaled down: we must not look dead
        delay = 0.25
        while True:
            try:
                await _retire(ctx, namespace, name, plan, reporter)
                return
            except (StoreError, TimeoutError, StillServing) as exc:
                log.warning("%s/%s: leaving the group, retrying: %s", namespace, name, exc)
            if plan is not None:
                await _fence_if_due(ctx, namespace, name, plan)
                delay = min(2 * delay, plan.heartbeat_interval)
            await asyncio.sleep(delay)


async def _fence_if_due(ctx: OperatorContext, namespace: str, name: str, plan: GroupPlan) -> None:
    """Past the fence limit without a written heartbeat, our copy goes down, as a runner's would."""
    sent = ctx.heartbeat.sent_ok
    limit = plan.timeouts.heartbeat * ctx.settings.self_fence_fraction
    if sent is None or ctx.clock.monotonic() - sent > limit:
        group = f"{namespace}/{name}"
        with contextlib.suppress(Exception):  # best effort, retried on the next round
            await ctx.workloads.converge(namespace, plan.resources, Role.STANDBY, group=group, epoch=0)


async def _retire(ctx: OperatorContext, namespace: str, name: str, plan: GroupPlan | None, reporter: Reporter) -> None:
    store = ctx.store
    me = ctx.cluster
    group = f"{namespace}/{name}"
    try:
        state = await store.state.get_group_state(namespace, name)
    except NotFoundError:
        return
    config = state.config
    peers = {c: s for c, s in state.clusters.items() if c != me}
    if config.owner == me and peers:
        if plan is not None and not await _stopped_serving(ctx, namespace, name, plan, config.epoch):
            text = (
                f"{me} could not confirm its copy of {group} stopped serving; it keeps the group (and its "
                f"heartbeat) and tries again, so that no peer takes over while it may still serve"
            )
            reporter.event("NoHandover", text, warning=True)
            raise StillServing(text)
        handed_to = await _hand_over(ctx, namespace, name, state, plan)
        if handed_to is None:
            reporter.event(
                "NoHandover",
                f"no live peer could take {group}; {me} leaves it owned by itself (serving nothing), and the "
                f"others take it over once they see it gone",
                warning=True,
            )
        else:
            reporter.event("HandedOver", f"{me} stopped serving {group} and handed it to {handed_to}")
    await store.state.delete_cluster_status(namespace, name)
    remaining = await store.state.get_all_cluster_statuses(namespace, name)
    if not remaining:
        deleted = await store.state.delete_group(namespace, name)
        log.info("%s: %s was the last cluster; removed %d records of the group", group, me, deleted)
        reporter.event("GroupRemoved", f"{me} was the last cluster of {group}; its DynamoDB records are removed")
    else:
        reporter.event("LeftGroup", f"{me} left {group}; {', '.join(sorted(remaining))} remain")


async def _stopped_serving(
    ctx: OperatorContext, namespace: str, name: str, plan: GroupPlan, epoch: int, attempts: int = 20
) -> bool:
    """Scale our copy down and wait (a bounded while) until nothing of it runs."""
    group = f"{namespace}/{name}"
    for _ in range(attempts):
        result = await ctx.workloads.converge(namespace, plan.resources, Role.STANDBY, group=group, epoch=epoch)
        for problem in result.errors:
            log.warning("%s: %s", group, problem)
        seen = await ctx.workloads.observe(namespace, plan.resources, Role.STANDBY)
        if seen.all_down:
            return True
        await asyncio.sleep(max(0.1, plan.heartbeat_interval / 4))
    return False


async def _hand_over(
    ctx: OperatorContext, namespace: str, name: str, state: GroupState, plan: GroupPlan | None
) -> str | None:
    """Move ownership to the best live peer (healthy first, in priority order); who took it, or None."""
    store = ctx.store
    me = ctx.cluster
    config = state.config
    peers = {c: s for c, s in state.clusters.items() if c != me}
    stale = set(store.state.stale_clusters(namespace, name, state.clusters, config.timeouts.heartbeat))
    priority = plan.priority if plan else ()
    healthy = [c for c, s in peers.items() if c not in stale and s.health == Health.OK]
    alive = [c for c in peers if c not in stale]
    for target, forced in [
        *((c, False) for c in takeover_order(healthy, priority)),
        *((c, True) for c in takeover_order(set(alive) - set(healthy), priority)),
    ]:
        try:
            record = await store.operations.execute_failover(
                namespace,
                name,
                f"handover-{me}-epoch-{config.epoch + 1}",
                target,
                f"FailoverGroup {namespace}/{name} deleted in {me}",
                force=forced,
                expected_epoch=config.epoch,
                lease_seconds=ctx.settings.lock_lease_seconds,
            )
        except (PreconditionError, ConflictError, LockHeldError) as exc:
            log.info("%s/%s: handover to %s refused: %s", namespace, name, target, exc)
            continue
        return record.target_cluster
    return None
