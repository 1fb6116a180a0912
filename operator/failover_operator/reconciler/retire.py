"""A FailoverGroup deleted in this cluster: hand ownership to a healthy peer first, then leave the group.

The last cluster to leave removes every record of the group. Local resources of a cluster that handed its
ownership over are demoted (the new owner serves); the last cluster leaves its resources as they are.
"""

from __future__ import annotations

import logging

from ..store import ConflictError, LockHeldError, NotFoundError, PreconditionError
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
        stale = set(store.state.stale_clusters(namespace, name, state.clusters, config.timeouts.heartbeat))
        priority = plan.priority if plan else ()
        healthy = [c for c, s in peers.items() if c not in stale and s.health == Health.OK]
        alive = [c for c in peers if c not in stale]
        handed_to = None
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
                    f"FailoverGroup {group} deleted in {me}",
                    force=forced,
                    expected_epoch=config.epoch,
                    lease_seconds=ctx.settings.lock_lease_seconds,
                )
            except (PreconditionError, ConflictError, LockHeldError) as exc:
                log.info("%s: handover to %s refused: %s", group, target, exc)
                continue
            handed_to = record.target_cluster
            reporter.event("HandedOver", f"{me} handed {group} to {handed_to} at epoch {record.epoch} before leaving")
            break
        if handed_to is None:
            reporter.event(
                "NoHandover",
                f"no live peer could take {group}; {me} leaves it owned by itself, and the others will take over "
                f"automatically once they see it gone",
                warning=True,
            )
        elif plan is not None:
            result = await ctx.workloads.converge(
                namespace, plan.resources, Role.STANDBY, group=group, epoch=config.epoch + 1
            )
            for problem in result.errors:
                log.warning("%s: %s", group, problem)
    await store.state.delete_cluster_status(namespace, name)
    remaining = await store.state.get_all_cluster_statuses(namespace, name)
    if not remaining:
        deleted = await store.state.delete_group(namespace, name)
        log.info("%s: %s was the last cluster; removed %d records of the group", group, me, deleted)
        reporter.event("GroupRemoved", f"{me} was the last cluster of {group}; its DynamoDB records are removed")
    else:
        reporter.event("LeftGroup", f"{me} left {group}; {', '.join(sorted(remaining))} remain")
