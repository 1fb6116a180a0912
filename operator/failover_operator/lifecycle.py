"""A FailoverGroup's life in one cluster, without kopf: created (registered), run (its runner's loops),
updated (edits the whole fleet must see go to DynamoDB once), deleted (this cluster leaves the group).

The kopf handlers (handlers/failovergroups.py) and the fault simulation (harness/simulation) both drive
groups through this one class, so the simulation proves what runs in a cluster.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Set

from . import logs
from .reconciler.context import OperatorContext, Reporter
from .reconciler.edits import write_timeouts
from .reconciler.group import GroupRunner
from .reconciler.leave import leave_group
from .reconciler.plan import GroupPlan
from .store import NotFoundError

log = logging.getLogger("failover_operator.lifecycle")

SUSPENSION_FIELDS = frozenset({("spec", "suspended"), ("spec", "suspensionReason"), ("spec",)})


class GroupLifecycle:
    def __init__(self, ctx: OperatorContext, namespace: str, name: str) -> None:
        self.ctx = ctx
        self.namespace = namespace
        self.name = name

    @property
    def runner(self) -> GroupRunner:
        """The group's runner in this operator (one per group, kept across its daemon's restarts)."""
        key = (self.namespace, self.name)
        runner = self.ctx.runners.get(key)
        if runner is None:
            runner = self.ctx.runners[key] = GroupRunner(self.ctx, self.namespace, self.name)
        return runner

    async def create(self, plan: GroupPlan) -> None:
        """Register the group (the first cluster becomes owner unless initialPrimary says otherwise); a spec that
        suspends it suspends it in DynamoDB too. Raises StoreError (the caller retries)."""
        store = self.ctx.store
        config = await store.state.register_group(
            self.namespace, self.name, initial_owner=plan.initial_primary, timeouts=plan.timeouts
        )
        if plan.suspended and not config.suspended:
            await store.operations.update_suspension(
                self.namespace, self.name, True, plan.suspension_reason or "suspended in the FailoverGroup spec"
            )

    async def update(self, plan: GroupPlan, fields: Set[tuple[str, ...]], reporter: Reporter) -> None:
        """Edits made in this cluster's spec go to DynamoDB once, when they are made (never every tick: clusters
        whose copies differ would otherwise undo each other for ever). Raises StoreError (the caller retries)."""
        store = self.ctx.store
        try:
            if SUSPENSION_FIELDS & fields:
                config = await store.operations.update_suspension(
                    self.namespace, self.name, plan.suspended, plan.suspension_reason if plan.suspended else None
                )
                reporter.event(
                    "Suspended" if config.suspended else "Resumed",
                    f"automatic failover of {self.namespace}/{self.name} is "
                    + (f"suspended: {config.suspension_reason}" if config.suspended else "enabled again"),
                )
            if any(f[:2] == ("spec", "timeouts") or f == ("spec",) for f in fields):
                await write_timeouts(store, self.namespace, self.name, plan.timeouts)
        except NotFoundError:
            pass  # not registered yet: the first tick registers it with the current spec
        self.runner.wake()

    def _bind(self) -> None:
        """Every line of the group's runner and of its deletion carries its `group` (and our `cluster`)."""
        logs.bind(group=f"{self.namespace}/{self.name}", cluster=self.ctx.cluster)

    async def run(
        self, plan_source: Callable[[], Awaitable[GroupPlan | None]], reporter: Reporter, stop: asyncio.Event
    ) -> None:
        """The group's runner, until `stop` is set (the daemon's life)."""
        self._bind()
        await self.runner.run(plan_source, reporter, stop)

    async def delete(self, plan: GroupPlan | None, reporter: Reporter) -> None:
        """This cluster leaves the group (reconciler/leave.py); returns once it has. Its runner is forgotten.
        Raises StoppingError when this replica hands over first (the next leader leaves the group)."""
        self._bind()
        with self.ctx.acting_for_the_cluster():  # raises StoppingError while this replica hands over
            await leave_group(self.runner, plan, reporter)
        self.ctx.runners.pop((self.namespace, self.name), None)
        if self.ctx.claims is not None:
            self.ctx.claims.forget(f"{self.namespace}/{self.name}")
        self.ctx.metrics.forget_group(self.namespace, self.name)
