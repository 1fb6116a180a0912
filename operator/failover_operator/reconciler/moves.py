"""Every move of a group, accounted for by the cluster that became its owner — whoever asked for it (a Failover,
the fleet CLI, a standby that took over, a leaving owner that handed it over): once it serves, the move's downtime
goes into its history record and the `failover_downtime_seconds` histogram, the move is counted in
`failover_failovers_total`, and an event on the FailoverGroup says so. A move that loses the group again before it
serves is counted as failed. (A Failover's own status is its executor's, wherever it runs.)

Downtime is measured on this cluster's clock, from when the old owner stopped as this cluster could tell — the
moment it last claimed to serve (an owner gone silent), its report that it had stopped (a planned move), or the
move itself (a hand-over by a leaving owner, which stops before it writes it) — each as this cluster first saw it
(at most a read late: never another machine's clock) — to the moment this cluster is ready. A forced move past an
owner that never confirmed it stopped has no downtime: it may have overlapped.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..model import FailoverMode, HistoryRecord, Outcome, Role
from ..rules import Action, Decision
from ..store import GroupState, StoreError

if TYPE_CHECKING:
    from .group import GroupRunner

log = logging.getLogger("failover_operator.group")


@dataclass
class _Landed:
    record: HistoryRecord
    previous_owner: str
    down_since: float | None  # our monotonic clock; None: not known (a forced, unconfirmed move)
    counted_as: str  # the `outcome` label once it serves: "Succeeded", or "RolledBack" for a hand-back


class Moves:
    def __init__(self, runner: GroupRunner) -> None:
        self.runner = runner
        self.pending: _Landed | None = None
        self._owned_epoch: int | None = None  # the epoch at which we last saw ourselves own the group
        self._seen = False  # a config has been seen by this process
        self._writing: set[asyncio.Task[None]] = set()

    def ours(self, decision: Decision, record: HistoryRecord, previous_owner: str, down_since: float | None) -> None:
        """A move of ours landed (acting._move): a takeover, a transfer, or a hand-back."""
        counted_as = "RolledBack" if decision.action == Action.HAND_BACK else "Succeeded"
        self.pending = _Landed(record, previous_owner, None if record.unconfirmed else down_since, counted_as)
        self._owned_epoch = record.epoch

    def check(self, state: GroupState | None) -> None:
        """After each tick: a move handed to us by someone else (a leaving owner), and whether the pending one
        now serves (or was lost)."""
        runner = self.runner
        me = runner.ctx.cluster
        config = runner.records.config
        if config is None:
            return
        first, self._seen = not self._seen, True  # (a process that starts finds its ownership: no news)
        if config.owner == me and config.epoch != self._owned_epoch:
            self._owned_epoch = config.epoch
            record = next((h for h in state.history if h.moved and h.epoch == config.epoch), None) if state else None
            if not first and record is not None and record.target_cluster == me:
                # Handed to us: its writer stopped serving before it wrote the move, which we saw at this read (at
                # most a read later: another machine's clock would be no better).
                self.pending = _Landed(record, record.source_cluster, runner.ctx.clock.monotonic(), "Succeeded")
        landed = self.pending
        if landed is None:
            return
        if config.epoch != landed.record.epoch or config.owner != me:
            self.pending = None
            self._count(landed, "Failed")  # lost before it served
            return
        acting = runner.acting
        if acting.role == Role.PRIMARY and acting.ready():
            self.pending = None
            self._served(landed)

    def _served(self, landed: _Landed) -> None:
        runner = self.runner
        clock = runner.ctx.clock
        record = landed.record
        downtime = None
        if landed.counted_as == "RolledBack":
            downtime = 0.0  # we served throughout
        elif record.mode == FailoverMode.UPTIME and not record.forced:
            downtime = 0.0  # the old owner served until we were ready
        elif landed.down_since is not None:
            downtime = round(max(0.0, clock.monotonic() - landed.down_since), 3)
        self._count(landed, landed.counted_as)
        me, group = runner.ctx.cluster, runner.group
        moved = f"{group}: {landed.previous_owner} -> {me} at epoch {record.epoch}"
        if landed.counted_as == "RolledBack":
            text = f"{group}: {me} took the group back at epoch {record.epoch} and serves (it served throughout)"
        elif downtime is None:
            text = f"{moved}, {me} serves; the old owner never confirmed it stopped: the downtime is unknown"
        else:
            text = f"{moved}, {me} serves; downtime {downtime:.2f}s"
        asked = f" ({record.reason})" if record.reason and landed.counted_as == "Succeeded" else ""
        runner.reporter.event("MoveCompleted", f"{text}{asked}", warning=downtime is None)
        log.info("%s", text, extra={"epoch": record.epoch})
        if downtime is None:
            return
        runner.ctx.metrics.downtime.observe(downtime)
        if record.outcome == Outcome.SUCCEEDED and record.record_id:
            task = asyncio.ensure_future(self._record(record, downtime))
            self._writing.add(task)
            task.add_done_callback(self._writing.discard)

    def _count(self, landed: _Landed, outcome: str) -> None:
        runner = self.runner
        record = landed.record
        labels = (runner.namespace, runner.name, record.mode.value, "true" if record.automatic else "false", outcome)
        runner.ctx.metrics.failovers.labels(*labels).inc()

    async def _record(self, record: HistoryRecord, downtime: float) -> None:
        runner = self.runner
        try:
            await runner.ctx.store.state.record_downtime(runner.namespace, runner.name, record.record_id, downtime)
        except (StoreError, TimeoutError) as exc:
            log.warning("%s: could not record the downtime of epoch %d: %s", runner.group, record.epoch, exc)
