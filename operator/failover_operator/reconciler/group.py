"""One FailoverGroup in this cluster: two loops that share what this cluster knows and does.

- **Ticks** (every heartbeatInterval, sooner while resources settle): read the group (`reading.py`), measure
  the situation (`measure.py`), decide (the rulebook, `rules/`), act — writes first (a move, a proof of
  ownership), then the local resources (`acting.py`) — and report (`reporting.py`).
- **Fencing and scale-down** on their own schedule, independent of DynamoDB: an owner whose fence deadline
  passes goes down (FENCED), and a cluster that must not serve retries its scale-down every step until it is
  confirmed, even while its DynamoDB calls hang.

The runner keeps the loops and the tick; the parts keep their own state. On its first tick nothing is written
or changed before this process has recalled what its resources were converged to and read (or registered)
the config.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from ..model import GroupConfig, Role
from ..rules import Decision, Timing, decide
from ..store import GroupState, StoreError, keys
from ..store.changes import writing_for
from ..waits import Flag, wait_set
from ..workloads.converge import Observation, ResourceRef, Workloads
from .acting import Acting
from .context import OperatorContext, Reporter
from .maintenance import Maintenance
from .measure import STARTING_LIMIT, Measure
from .moves import Moves
from .plan import GroupPlan
from .reading import GroupRecords
from .reporting import Reports
from .status import claimed_text
from .vouching import vouch_found_serving

log = logging.getLogger("failover_operator.group")


class _Unset:
    """A reporter for the moments before the daemon gives one (nothing reported then is lost)."""

    def event(self, reason: str, message: str, *, warning: bool = False) -> None:
        log.debug("%s: %s (not reported: no FailoverGroup object yet)", reason, message)

    async def patch_status(self, status: dict[str, object]) -> None:
        return None


class GroupRunner:
    def __init__(self, ctx: OperatorContext, namespace: str, name: str) -> None:
        self.ctx = ctx
        self.namespace = namespace
        self.name = name
        self.group = f"{namespace}/{name}"
        self.pk = keys.group_pk(ctx.store.operator_id, namespace, name)  # the group's partition, checked once
        self.plan: GroupPlan | None = None
        self.workloads: Workloads = ctx.workloads
        self.metrics = ctx.metrics.group(namespace, name)
        self.reporter: Reporter = _Unset()
        self.records = GroupRecords(ctx, namespace, name)
        self.acting = Acting(self)
        self.measure = Measure(self)
        self.reports = Reports(self)
        self.maintenance = Maintenance(self)
        self.moves = Moves(self)
        self.leaving = False  # its FailoverGroup is deleted here: this cluster leaves the group (reconciler/leave.py)
        self.claimed: dict[str, str] = {}
        """Resources this group lists that another group of this cluster manages ("Kind/name" -> group)."""
        self._wake = Flag()
        self._fence = Flag()  # the role or the fence deadline moved: the fence loop looks again
        self._hurried = False
        self._started_at: float | None = None
        self._fence_timing: Timing | None = None  # the timing the fence loop last saw
        self._vouching: asyncio.Task[None] | None = None

    # --- what others ask of it ------------------------------------------------------------------------

    @property
    def local_role(self) -> Role | None:
        return self.acting.role

    @property
    def observation(self) -> Observation | None:
        return self.acting.observation

    @property
    def config(self) -> GroupConfig | None:
        return self.records.config

    def wake(self) -> None:
        self.changed(wake=True)

    def changed(self, *, wake: bool) -> None:
        """The group's records were (or may have been) written: the next tick reads them afresh."""
        self.records.changed()
        if wake:
            self._wake.set()

    def fence_moved(self) -> None:
        """The role (or the fence deadline) changed: the fence loop looks again."""
        self._fence.set()

    def hurry(self) -> None:
        """An action did not happen (a conflict, a held lock, an error): read again soon, but not at once — a
        refusal that answers without delay must not become a loop hammering the table."""
        self._hurried = True

    def fence_left(self) -> float:
        """Seconds until this cluster must have stopped serving the group (the watchdog's Lease carries it)."""
        return self.measure.fence_left()

    def may_serve(self) -> bool:
        return self.acting.may_serve()

    def vouch_found_serving(self) -> None:
        """Resources found serving as this process started: vouch for them in the background (vouching.py)."""
        if self._vouching is None or self._vouching.done():
            self._vouching = asyncio.ensure_future(vouch_found_serving(self))

    async def _stop_vouching(self) -> None:
        task, self._vouching = self._vouching, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def starting(self) -> bool:
        """Started, but our status for the group not yet written (for at most STARTING_LIMIT seconds): a cold
        start of a thousand groups takes a while, and a peer should not take over from us meanwhile."""
        if self.reports.reported_once or self._started_at is None:
            return False
        return self.ctx.clock.monotonic() - self._started_at < STARTING_LIMIT

    def busy(self) -> bool:
        """Every acting slot is taken: groups queue to act (a dead owner's thousand groups)."""
        return self.ctx.acting.locked()

    def resources(self) -> tuple[ResourceRef, ...]:
        """The resources this group manages: those it lists, but for any another group of this cluster claims."""
        plan = self.plan
        if plan is None:
            return ()
        if not self.claimed:
            return plan.resources
        return tuple(r for r in plan.resources if _key(r) not in self.claimed)

    # --- loops ---------------------------------------------------------------------------------------

    async def run(
        self, plan_source: Callable[[], Awaitable[GroupPlan | None]], reporter: Reporter, stop: asyncio.Event
    ) -> None:
        """The two loops, until `stop` is set. Never raises: a failed step is logged and retried."""
        self._started_at = self.ctx.clock.monotonic()
        self.reporter = reporter
        writing_for.set(frozenset({self.pk}))  # our tasks (created below, copying it) write for this group
        async with self.ctx.heartbeat.attached():
            loops = [
                asyncio.ensure_future(self._ticks(plan_source, reporter, stop)),
                asyncio.ensure_future(self._fencing(reporter)),
            ]
            try:
                await stop.wait()
            finally:
                writing = self.reports.writing
                if writing is not None:
                    loops.append(writing)
                for task in loops:
                    task.cancel()
                await asyncio.gather(*loops, return_exceptions=True)
                await self._stop_vouching()

    @contextlib.asynccontextmanager
    async def fencing(self, reporter: Reporter) -> AsyncIterator[None]:
        """The fence loop alone, while something else decides (a deletion: reconciler/leave.py)."""
        self.reporter = reporter
        loop = asyncio.ensure_future(self._fencing(reporter))
        try:
            yield
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await loop
            await self._stop_vouching()

    async def _ticks(
        self, plan_source: Callable[[], Awaitable[GroupPlan | None]], reporter: Reporter, stop: asyncio.Event
    ) -> None:
        clock = self.ctx.clock
        first = await plan_source()
        if first is not None:
            self.take(first)  # what it lists is known at once (another group may list the same resource)
        await asyncio.sleep(self._spread())
        next_tick = clock.monotonic()
        extra = False
        while not stop.is_set():
            plan = await plan_source()
            if plan is not None:
                self.take(plan)
                try:
                    await self.tick(plan, reporter)
                except Exception:  # the loop must outlive any single failure
                    log.exception("%s: tick failed", self.group)
            now = clock.monotonic()
            if not extra:
                interval = self._tick_interval(plan)
                next_tick = max(next_tick + interval, now)  # a fixed cadence; no catching up
            # One tick more, off the cadence, when the owner's silence reaches the heartbeat timeout: a takeover
            # waits for the timeout, not for the timeout and then up to an interval more.
            due = self.measure.silence_due
            extra = due is not None and now < due < next_tick
            await wait_set(self._wake, (due if extra and due is not None else next_tick) - now)

    def take(self, plan: GroupPlan) -> None:
        """The group's spec as this cluster's FailoverGroup says it now (the last valid one)."""
        if self.plan is None or plan.heartbeat_interval != self.plan.heartbeat_interval:
            self.ctx.heartbeat.retime()
        self.plan = plan
        claimed = self.ctx.claims.claimed(self, plan) if self.ctx.claims is not None else {}
        if claimed != self.claimed:
            text = claimed_text(claimed)
            if text is not None:
                self.reports.action("ResourceClaimed", f"{self.group}: {text}", self.reporter)
            else:
                log.info("%s: every listed resource is managed by this group again", self.group)
            self.claimed = claimed

    async def _fencing(self, reporter: Reporter) -> None:
        """Fence at the deadline, and retry a scale-down that is not confirmed, without waiting for DynamoDB."""
        acting = self.acting
        while True:
            self._fence.clear()
            timing = self.measure.timing()
            interval = timing.interval
            if acting.role is None and not acting.recalled and self.plan is not None:
                # What our resources were converged to, learned here too: a tick may be stuck on DynamoDB for
                # a long while, and resources found serving must not wait for it to start their fence deadline.
                await acting.recall()
                if acting.role is None:
                    await wait_set(self._fence, min(interval / 2, 0.5))
                    continue
            if self.ctx.deposed.is_set():
                await self.ctx.deposed.wait()  # (set: returns at once) another replica leads: it fences if need be
                await asyncio.sleep(interval)
                continue
            if acting.role == Role.PRIMARY:
                left = self.fence_left()
                if math.isinf(left):  # held in maintenance: no deadline (rules.fence_left)
                    await wait_set(self._fence, interval)
                    continue
                if left <= 0 and self.ctx.leading is not None and not await self.ctx.leading():
                    self.ctx.depose("another replica took the leader Lease while this one could not renew it")
                    continue
                if left <= 0:
                    if self.measure.handing_off():  # (asked while it still serves)
                        why = f"could not read the UPTIME hand-off of {self.group} within {timing.fence_after:g}s"
                    elif acting.on_heartbeats:
                        why = f"has not written its heartbeat for {self.group} within {timing.fence_after:g}s"
                    else:
                        why = f"could not prove it owns {self.group} within {timing.unproved_allowance:g}s of starting"
                    acting.become(Role.FENCED)
                    self.ctx.heartbeat.soon()  # our peers should know at once (our status may not land)
                    self.reports.action("Fenced", f"fencing: {self.ctx.cluster} {why}", reporter)
                    continue
                await wait_set(self._fence, left + 0.001)  # until the deadline, or until it moves
            elif acting.role in (Role.STANDBY, Role.FENCED) and not acting.down():
                await acting.converge(acting.role, reporter)
                await acting.observe()
                self.reports.in_background()  # this loop never waits on DynamoDB
                await asyncio.sleep(min(interval / 2, 0.5))
            elif acting.role == Role.FENCED and self.reports.changed():
                # Until our status stops saying PRIMARY, a standby cannot take over from us "as not serving":
                # it is retried here, not only by ticks (which may be stuck on reads that fail).
                self.reports.in_background()
                await wait_set(self._fence, min(interval / 2, 0.5))
            else:
                await wait_set(self._fence, interval)

    # --- one tick -----------------------------------------------------------------------------------

    async def tick(self, plan: GroupPlan, reporter: Reporter) -> Decision:
        started = time.perf_counter()
        self._wake.clear()  # whatever woke us is handled by this tick; a wake-up from now on means another
        self.plan = plan
        acting = self.acting
        if not acting.recalled:
            await acting.recall()  # before anything is decided: what our resources were converged to
        if acting.role is None:
            self.records.changed()  # read every tick until our role is known
        state, cached, store_error = await self._read(plan)
        if state is not None:
            self.maintenance.update(state.config, state.clusters.get(self.ctx.cluster))
        if state is not None and self.measure.timing() != self._fence_timing:
            self._fence_timing = self.measure.timing()
            self.fence_moved()  # a timeout edit may bring the fence deadline nearer: the fence loop looks again

        decision = decide(self.measure.situation(plan, state))
        writes = acting.writes(decision)
        # A group about to act waits for one of the operator's few acting slots: when an owner of a thousand
        # groups dies, each takeover then finishes in a few requests' time, instead of all of them queueing
        # behind each other until their proofs of ownership miss the fence limit and are sent again.
        queued = writes and self.busy()
        async with self.ctx.acting if writes else contextlib.nullcontext():
            if writes and (cached or queued):  # about to act on a read from an earlier tick: read afresh first
                state, _, store_error = await self._read(plan, fresh=True)
                if state is not None:
                    self.maintenance.update(state.config, state.clusters.get(self.ctx.cluster))
                decision = decide(self.measure.situation(plan, state))
            decision = await acting.carry_out(decision, state, reporter)
            await acting.observe()
            self.moves.check(state)
            self.reports.decision(decision, reporter, store_error)
            if self.reports.changed():
                await self.reports.write()  # a change is reported at once: a failover in progress waits for it
        await self.reports.patch_status(plan, state, decision, reporter, store_error)
        self.ctx.metrics.ticks.observe(time.perf_counter() - started)
        return decision

    async def _read(self, plan: GroupPlan, *, fresh: bool = False) -> tuple[GroupState | None, bool, str | None]:
        """(the group's state or None, whether it is an earlier read, the error that kept us from reading)."""
        moving = self.records.config is not None and self.records.config.transition is not None
        try:
            state, cached = await self.records.read(plan, moving=moving, fresh=fresh)
        except (StoreError, TimeoutError) as exc:
            error = str(exc) or "DynamoDB did not answer in time"
            if self.reports.repeats.news("read", error):
                log.warning("%s: cannot read group state: %s", self.group, error)
            return None, False, error
        return state, cached, None

    # --- timing -------------------------------------------------------------------------------------

    def _spread(self) -> float:
        """A random start within up to one interval, longer the more groups start together (20 ms each): a
        thousand groups do not all read and register at once."""
        interval = self.plan.heartbeat_interval if self.plan else 5.0
        return random.uniform(0.0, min(interval, 0.02 * len(self.ctx.runners)))

    def _tick_interval(self, plan: GroupPlan | None) -> float:
        """Every interval; 4 times as often while a move is in progress or resources settle into a new role (a
        failover waits for facts, not for ticks), or after an action did not happen."""
        interval = plan.heartbeat_interval if plan else 5.0
        since = self.acting.settling_since
        hurried, self._hurried = self._hurried, False
        config = self.records.config
        moving = config is not None and config.transition is not None
        settling = (
            since is not None
            and plan is not None
            and self.ctx.clock.monotonic() - since < plan.timeouts.transitory_state
        )
        if hurried or moving or settling:
            interval = max(0.05, interval / 4)
        return interval


def _key(ref: ResourceRef) -> str:
    return f"{ref.kind}/{ref.name}"
