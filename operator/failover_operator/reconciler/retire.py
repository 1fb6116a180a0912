"""A FailoverGroup deleted in this cluster: hand ownership to a healthy peer first, then leave the group.

An owner that leaves stops serving first — its resources scaled down and confirmed down — and only then
moves ownership to a peer, whose own tick proves ownership and scales up: the hand-over never overlaps. If no
peer can take the group, it stays owned by the leaving cluster (now serving nothing) and the others take it
over automatically once they see its status gone. The last cluster leaves its resources as they are and
removes every record of the group.
"""

from __future__ import annotations

import asyncio
import logging

from ..store import ConflictError, GroupState, LockHeldError, NotFoundError, PreconditionError
from ..store.records import Health
from ..workloads.roles import Role
from .context import OperatorContext, Reporter
from .decide import takeover_order
from .plan import GroupPlan

log = logging.getLogger("failover_operator.group")


async def retire_group(
    ctx: OperatorContext,
    namespace: str,
    name: str,
    plan: GroupPlan | None,
    reporter: Reporter,
) -> None:
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
            reporter.event(
                "NoHandover",
                f"{me} could not confirm its copy of {group} stopped serving; it leaves the group owned by itself, "
                f"and the others take over once they see it gone",
                warning=True,
            )
        else:
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
