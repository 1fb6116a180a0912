"""A group's records as this cluster knows them: read afresh when something says they changed, while a move is
in progress, before any decision that writes and every `full_read_seconds` (spread); otherwise the copy kept
from the last read, with every cluster's liveness read once per interval for all groups (reconciler/fleet.py).

A runner's own writes do not send it to read again: its status writes are kept as they landed, and a move
with the proof that followed it (what the proof was conditioned on). Safety never rests on this copy: every
action re-reads consistently and is conditioned in DynamoDB.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..model import ClusterState, ClusterStatus, GroupConfig, Health, HistoryRecord
from ..store import GroupState, Liveness, NotFoundError
from .plan import GroupPlan

if TYPE_CHECKING:
    from .context import OperatorContext

log = logging.getLogger("failover_operator.group")


class GroupRecords:
    def __init__(self, ctx: OperatorContext, namespace: str, name: str) -> None:
        self.ctx = ctx
        self.namespace = namespace
        self.name = name
        self.config: GroupConfig | None = None
        self.cached: GroupState | None = None
        self.was_read = False  # the config has been read (or registered) at least once
        self.read_at: float | None = None  # when the group's records were last read (or found unchanged)
        self.moved: tuple[GroupConfig, HistoryRecord] | None = None  # our last move, until its proof lands
        self._dirty = True  # something may have changed since our last full read of the group
        self._merged: tuple[GroupState, Mapping[str, Liveness]] | None = None  # (our copy, the read) merged last
        self._full_at: float | None = None
        self._full_every = ctx.settings.full_read_seconds * random.uniform(0.75, 1.25)  # spread over time

    def changed(self) -> None:
        """The group's records were (or may have been) written: the next read reads them afresh."""
        self._dirty = True

    async def read(self, plan: GroupPlan, *, moving: bool, fresh: bool = False) -> tuple[GroupState, bool]:
        """The group with every cluster's liveness, and whether the group part is an earlier read."""
        store = self.ctx.store
        # While a move is in progress, each step waits on a peer's news: the fleet's liveness (which names what
        # the peers wrote) is read every quarter interval instead of every interval.
        live = await self.ctx.fleet.liveness(max_age=plan.heartbeat_interval * (0.25 if moving else 0.9))
        cached = self.cached
        if not fresh and cached is not None and not self._must_read(cached):
            # The same copy with the same liveness read (most quiet ticks): already merged, and noted for staleness.
            # The merged copy replaces ours (merging again only overwrites the liveness): no second copy is kept.
            merged = self._merged
            if merged is None or merged[0] is not cached or merged[1] is not live:
                cached = self.cached = store.state.refreshed(cached, live)
                self._merged = (cached, live)  # references to what we hold anyway (the liveness read is shared)
            return self._read(cached), True
        now = self.ctx.clock.monotonic()
        # The whole partition now and then (a status of a cluster named nowhere, a history record edited);
        # otherwise the keys the group is known to have, read together with other groups' (store.reread).
        full = not fresh and cached is not None and self._full_at is not None and now - self._full_at > self._full_every
        if not fresh:
            self._dirty = False  # before the read: a change noted while it runs is read again next time
        try:
            try:
                if full:
                    state = await store.state.get_group_state(self.namespace, self.name, liveness=live)
                    self._full_at = now
                else:
                    state = await store.state.reread(self.namespace, self.name, liveness=live, recent=cached)
            except NotFoundError:
                state = await self._register(plan, live)
        except BaseException:
            self._dirty = True  # not read: what was noted as changed is still to be read (seed 1796592913104)
            raise
        self.cached = state
        if self._full_at is None:
            self._full_at = now
        return self._read(state), False

    def _read(self, state: GroupState) -> GroupState:
        self.config = state.config
        self.was_read = True
        self.read_at = self.ctx.clock.monotonic()
        return state

    async def _register(self, plan: GroupPlan, live: Mapping[str, Liveness]) -> GroupState:
        """Not in DynamoDB yet: register it with this cluster's spec (its suspension included)."""
        store = self.ctx.store
        config, created = await store.state.register(
            self.namespace, self.name, initial_owner=plan.initial_primary, timeouts=plan.timeouts
        )
        if config.owner == self.ctx.cluster and config.version == 1:
            log.info("%s/%s: registered, %s is the bootstrap owner", self.namespace, self.name, config.owner)
        if plan.suspended and not config.suspended:
            created = False
            await store.operations.update_suspension(
                self.namespace, self.name, True, plan.suspension_reason or "suspended in the FailoverGroup spec"
            )
        if created:  # nothing else of the group exists yet
            return GroupState(config=config, clusters={}, lock=None, history=[])
        return await store.state.reread(self.namespace, self.name, liveness=live)

    def _must_read(self, cached: GroupState) -> bool:
        full_at = self._full_at
        return (
            self._dirty
            or full_at is None
            or self.ctx.clock.monotonic() - full_at > self._full_every
            or cached.config.transition is not None  # a move in progress is followed read by read
            or cached.lock is not None
        )

    def keep(self, status: ClusterStatus) -> None:
        """Our own status write, as it landed, into our copy of the group (a write of ours does not send us to
        read the group again: see store.changes.writing_for)."""
        cached = self.cached
        if cached is None:
            return
        before = cached.clusters.get(self.ctx.cluster)
        if before is not None:
            status = status.model_copy(update={"liveness_seq": before.liveness_seq, "alive_at": before.alive_at})
        self.cached = cached.model_copy(update={"clusters": {**cached.clusters, self.ctx.cluster: status}})

    def kept_proof(
        self,
        epoch: int,
        health: Health,
        components: dict[str, Any],
        message: str | None,
        maintenance: bool = False,
        *,
        proof_seq: int = 0,
    ) -> bool:
        """A proof of ownership that landed, after the move that gave us the group (if any), into our copy of
        the group: both are our own writes, and a mass takeover should not re-read a thousand groups for them.
        False when our copy does not lead to what the proof was conditioned on (it is then read again)."""
        moved, self.moved = self.moved, None
        cached = self.cached
        if cached is None:
            return False
        config, history = cached.config, cached.history
        if moved is not None:
            config, record = moved
            history = [record, *history]
        if config.owner != self.ctx.cluster or config.epoch != epoch or config.transition is not None:
            return False
        if proof_seq <= config.proof_seq:
            return False  # not the proof that follows what our copy says: read what is there
        config = config.model_copy(update={"proof_seq": proof_seq, "serving": True, "lock_token": None})
        before = cached.clusters.get(self.ctx.cluster)
        status = ClusterStatus(
            cluster_name=self.ctx.cluster,
            health=health,
            state=ClusterState.PRIMARY,
            heartbeat_seq=(before.heartbeat_seq if before else 0) + 1,
            last_heartbeat=self.ctx.clock.now(),
            observed_epoch=epoch,
            components=components,
            message=message,
            maintenance=maintenance,
            liveness_seq=before.liveness_seq if before else None,
            alive_at=before.alive_at if before else None,
        )
        clusters = {**cached.clusters, self.ctx.cluster: status}
        update = {"config": config, "clusters": clusters, "history": history, "lock": None}
        self.cached = cached.model_copy(update=update)
        return True
