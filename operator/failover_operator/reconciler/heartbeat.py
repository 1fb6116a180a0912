"""The cluster's heartbeat: one liveness write per interval for every group this operator runs.

On a fixed cadence (the smallest heartbeatInterval among the groups), whatever the groups' ticks are doing: a
slow DynamoDB delays the answers but not the next beat (a few may be in flight), so a slow but working table
never makes an owner fence; only a beat that could not be written before a group's deadline does. A beat
counts from when it was *sent*: it may have landed any moment before its answer came back, and the standbys'
clocks start when it landed (the lease rule of the amazon-dynamodb-lock-client).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from ..model import Role
from ..store import DeposedError, StoreError
from ..waits import wait_set

if TYPE_CHECKING:
    from .context import OperatorContext

log = logging.getLogger("failover_operator.heartbeat")

MAX_IN_FLIGHT = 3
MIN_WAIT = 0.001  # seconds: the shortest wait of the beat loop
BEAT_PATIENCE = 0.5  # a beat not answered within this fraction of an interval: the next one is sent at once
URGENT_FRACTION = 0.1  # news is beaten at most this often (a fraction of the interval)
DEFAULT_INTERVAL = 5.0


class ClusterHeartbeat:
    def __init__(self, ctx: OperatorContext) -> None:
        self.ctx = ctx
        self.sent_ok: float | None = None  # when our latest *written* beat was sent (monotonic)
        self._in_flight = 0
        self._last_error: str | None = None
        self._users = 0
        self._retimed = asyncio.Event()
        self._urgent = False
        self._task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def attached(self) -> AsyncIterator[None]:
        """Beat while anyone is attached: every group's runner, and a group being retired (its owner serves
        until it has scaled down, so it must not look dead before). The last one out stops the beats, so an
        operator whose tasks are all gone (killed) looks dead, as it is."""
        self._users += 1
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self.run(asyncio.Event()))
        try:
            yield
        finally:
            self._users -= 1
            if self._users == 0 and self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task
                self._task = None

    @property
    def users(self) -> int:
        """How many are attached (the beats run while any is)."""
        return self._users

    def interval(self) -> float:
        """The smallest heartbeatInterval among our groups: each group's staleness is judged on its own
        timeouts.heartbeat, which must be at least twice its interval (the spec says so)."""
        intervals = [r.plan.heartbeat_interval for r in list(self.ctx.runners.values()) if r.plan is not None]
        return min(intervals, default=DEFAULT_INTERVAL)

    def retime(self) -> None:
        """A group's heartbeatInterval is known or changed: the next beat is due by the new smallest one."""
        self._retimed.set()

    def soon(self) -> None:
        """We wrote something our peers should know of: beat soon (within a tenth of an interval, between two regular
        beats, which stay where they are), so they learn it with their next read instead of an interval later."""
        if not self._urgent:  # already due: the loop knows when (each write waking it again would be quadratic)
            self._urgent = True
            self._retimed.set()

    async def run(self, stop: asyncio.Event) -> None:
        clock = self.ctx.clock
        last = sent = clock.monotonic()
        pending: set[asyncio.Task[bool]] = set()
        try:
            while not stop.is_set():
                self._retimed.clear()
                interval = self.interval()
                if self.ctx.health is not None:
                    self.ctx.health.loop_turned(interval)
                due, now = last + interval, clock.monotonic()
                # News does not wait behind stuck beats, nor for the next regular beat; but it is sent at most
                # every tenth of an interval (peers read once per interval): a thousand groups starting, each
                # writing, make ten beats per interval, not one per write.
                soonest = sent + interval * URGENT_FRACTION
                urgent = self._urgent and self._in_flight < MAX_IN_FLIGHT and now >= soonest
                if now < due and not urgent:
                    wake_at = min(due, soonest) if self._urgent and now < soonest else due
                    # or woken: a shorter interval, news. At least a millisecond: a clock that runs slower than the
                    # loop's would otherwise wait ever shorter remainders, never reaching `wake_at`.
                    await wait_set(self._retimed, max(MIN_WAIT, wake_at - now))
                    continue
                if now >= due:
                    last = due if now - due < interval else now  # a fixed cadence; no catching up
                sent = now
                if not self._known() or self._in_flight >= MAX_IN_FLIGHT:
                    # Nothing known to vouch for yet, or the table is that slow: no pile-up. News waits for the next
                    # try (a proof of ownership written before any group knew its role is announced once one does).
                    if self._urgent:
                        await wait_set(self._retimed, interval * URGENT_FRACTION)
                    continue
                self._urgent = False
                task = asyncio.ensure_future(self.beat(interval))
                pending.add(task)
                task.add_done_callback(pending.discard)
        finally:
            for task in pending:
                task.cancel()

    def _fenced(self) -> list[str]:
        return [r.pk for r in list(self.ctx.runners.values()) if r.local_role == Role.FENCED]

    def _starting(self) -> int:
        return sum(1 for r in list(self.ctx.runners.values()) if r.starting())

    def _known(self) -> bool:
        """Some group knows its role: a restarted operator says it is alive only once it knows what it serves."""
        return any(r.local_role is not None for r in list(self.ctx.runners.values()))

    async def beat(self, interval: float | None = None) -> bool:
        metrics = self.ctx.metrics
        sent = self.ctx.clock.monotonic()
        self._in_flight += 1
        interval = self.interval() if interval is None else interval
        try:
            writing = asyncio.ensure_future(self.ctx.store.liveness.beat(interval, self._fenced(), self._starting()))
            try:
                done, _ = await asyncio.wait({writing}, timeout=interval * BEAT_PATIENCE)
                if not done:
                    # Unanswered for half an interval: the next beat goes now (to another of the table's Regions if
                    # this one stopped answering), while this one may still land.
                    self.soon()
                await writing
            finally:
                writing.cancel()
        except DeposedError as exc:
            self.ctx.depose(str(exc))
            return False
        except (StoreError, TimeoutError) as exc:
            metrics.heartbeat_failures.inc()
            text = str(exc) or "timed out"
            if text != self._last_error:
                log.warning("%s: heartbeat not written: %s", self.ctx.cluster, text)
            self._last_error = text
            # Again soon, not an interval later: the fence limit (T/2) may be shorter than two intervals, and the
            # next try may go elsewhere (the client moved to another of the table's Regions: store/regions.py).
            self.soon()
            return False
        finally:
            self._in_flight -= 1
            if self._urgent:
                self._retimed.set()  # news came while this beat was in flight: the loop sends another
        back = self._last_error is not None
        if back:
            log.info("%s: heartbeats are written again", self.ctx.cluster)
        self._last_error = None
        self.written(sent)
        if back:
            # DynamoDB answers again: every group looks now (a fenced owner proves ownership again at once, not
            # at its next tick — within an interval of the store's return, before anyone counts it silent).
            self.ctx.fleet.touched(None, wake=True)
        metrics.heartbeats.inc()
        if self.ctx.health is not None:
            self.ctx.health.beat_written()
        return True

    def written(self, sent: float) -> None:
        """A beat (or a proof of ownership, which moves our liveness too) sent at `sent` was written."""
        if self.sent_ok is None or sent > self.sent_ok:
            # Deadlines only move later: no fence loop is woken for it (each looks again at its old deadline).
            # Waking every group's loop on every write made a mass takeover quadratic (1,000 proofs x 1,000 loops).
            self.sent_ok = sent
            if self.ctx.liveness is not None:
                self.ctx.liveness.poke()
