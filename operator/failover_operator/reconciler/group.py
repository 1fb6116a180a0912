"""One FailoverGroup in this cluster: two loops that share what this cluster knows and does.

- **Ticks** (every heartbeatInterval, sooner while resources settle): read the group, decide (decide.py),
  act — transactions first (a takeover, a transfer, a proof of ownership), then the local resources — and
  write our status for the group when what it says changes (never just because time passed).
- **Fencing and scale-down** on their own schedule, independent of DynamoDB: an owner whose last good
  heartbeat (the cluster's, heartbeat.py) was *sent* more than the fence limit ago goes down (FENCED), and a
  cluster that must not serve retries its scale-down every step until it is confirmed, even while its
  DynamoDB calls hang.

Nothing is scaled up without a proof of ownership sent within the fence limit (`_promote`). On the very first
tick nothing is written or changed before the config has been read (or registered).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .. import logs
from ..api import FailoverGroupStatus
from ..model import ClusterState, ClusterStatus, FailoverMode, Health, HistoryRecord, Outcome, Role
from ..store import (
    ConflictError,
    GroupConfig,
    GroupState,
    Liveness,
    LockHeldError,
    NotFoundError,
    OwnerCheck,
    PreconditionError,
    StoreError,
    SupersededError,
    Transition,
    keys,
)
from ..store.changes import writing_for
from ..store.observe import ChangeObserver
from ..store.problems import find_problems
from ..store.records import components_json
from ..store.state import stale_among
from ..waits import Flag, wait_set
from ..workloads.converge import Observation, Workloads
from ..workloads.kube import KubeError
from .context import OperatorContext, Reporter
from .decide import (
    Action,
    Decision,
    Situation,
    Timing,
    claims_serving,
    decide,
    draining,
    effective_timing,
    handing_off,
    recalled_role,
    reported_state,
)
from .plan import GroupPlan
from .status import group_status, heartbeat_age_text, takeover_readiness

log = logging.getLogger("failover_operator.group")

STARTING_LIMIT = 120.0
"""Seconds after its start for which a group whose status we have not yet written counts as starting."""
SILENCE_MARGIN = 0.05
"""Seconds past the heartbeat timeout at which the extra tick looks (the rule is "silent for over" it)."""
KNOWN_FOR = 0.5
"""Seconds for which what a converge read or wrote stands for an observation (taken right after it, in the
same tick), instead of reading every resource again."""

_EVENTS = {
    Action.PROMOTE: ("Promoted", False),
    Action.DEMOTE: ("Demoted", False),
    Action.FENCE: ("Fenced", True),
    Action.DRAIN: ("DemotingForFailover", False),
    Action.ABANDON: ("FailoverAbandoned", True),
    Action.TRANSFER: ("Transferring", False),
    Action.HAND_BACK: ("HandedBack", True),
    Action.HAND_OFF: ("Demoted", False),
    Action.TAKE_OVER: ("TookOver", True),
    Action.ASK_TO_DRAIN: ("AskedToDrain", True),
    Action.WAIT: ("WaitingToTakeOver", True),
    Action.NONE: ("Decision", False),
}


class GroupRunner:
    def __init__(self, ctx: OperatorContext, namespace: str, name: str) -> None:
        self.ctx = ctx
        self.namespace = namespace
        self.name = name
        self.group = f"{namespace}/{name}"
        self.pk = keys.group_pk(ctx.store.operator_id, namespace, name)  # the group's partition, checked once
        self.local_role: Role | None = None
        self.reported = ClusterState.STANDBY
        self.config: GroupConfig | None = None
        self.plan: GroupPlan | None = None
        self.observation: Observation | None = None
        self.workloads: Workloads = ctx.workloads
        self.metrics = ctx.metrics.group(namespace, name)
        self._settling_since: float | None = None
        self._converge_errors: tuple[str, ...] = ()
        self._event_key: tuple[object, ...] | None = None
        self._status: FailoverGroupStatus | None = None
        self._seen = ChangeObserver(ctx.clock)
        self._wake = Flag()
        self._changed = Flag()  # the role or the fence deadline moved: the fence loop looks again
        self._was_read = False  # the config has been read (or registered) at least once
        self._act = asyncio.Lock()  # one change of local resources at a time
        self._proving = False  # a proof of ownership is in flight (no background status write may start)
        self._fence_timing: Timing | None = None  # the timing the fence loop last waited on
        self._ages: dict[str, float | None] = {}  # the peers' heartbeat ages, as the last tick measured them
        self._timing_of: tuple[GroupConfig | None, GroupPlan | None, Timing] | None = None  # (config, plan, timing)
        self._status_from: tuple[object, ...] | None = None  # what the FailoverGroup's status was last made of
        self._started_at: float | None = None
        self._reported_once = False  # our status for the group has been written since we started
        self._known: tuple[float, Role | None, dict[str, dict[str, Any]]] = (0.0, None, {})
        """When the last converge ran, to which role, and the objects it read or wrote (for the observation)."""
        self._written_key: tuple[object, ...] | None = None  # what our last confirmed status write said
        self._components: tuple[Observation, str] | None = None  # an observation and its components as written
        self._writing: asyncio.Task[None] | None = None
        self._last_status_error: str | None = None
        # (owner, epoch) -> (sequence number of its latest claim to serve, when we first saw that claim)
        self._serving_seen: dict[tuple[str, int], tuple[tuple[int, int | None] | None, float]] = {}
        self._hurried = False
        self._silence_due: float | None = None  # when the owner's silence, as last seen, reaches the timeout
        self._takeover: tuple[bool, str, str] | None = None  # ReadyToTakeOver, as of the last tick
        self._repeats = logs.Repeats(ctx.clock.monotonic)
        self._observed_as: Role | None = None  # the role the last observation was graded for
        self._dirty = True  # something may have changed since our last full read of the group
        self._cached: GroupState | None = None
        self._moved: tuple[GroupConfig, HistoryRecord] | None = None  # our last move, until its proof lands
        self._merged: tuple[GroupState, Mapping[str, Liveness]] | None = None  # (our copy, the read) merged last
        self._full_at: float | None = None
        self._full_every = ctx.settings.full_read_seconds * random.uniform(0.75, 1.25)  # spread over time

    # --- loops ---------------------------------------------------------------------------------------

    def wake(self) -> None:
        self.changed(wake=True)

    def changed(self, *, wake: bool) -> None:
        """The group's records were (or may have been) written: the next tick reads them afresh."""
        self._dirty = True
        if wake:
            self._wake.set()

    @property
    def sent_ok(self) -> float | None:
        """When the cluster's latest written heartbeat was sent (the same for every group)."""
        return self.ctx.heartbeat.sent_ok

    def starting(self) -> bool:
        """Started, but our status for the group not yet written (for at most STARTING_LIMIT seconds): a cold
        start of a thousand groups takes a while, and a peer should not take over from us meanwhile."""
        if self._reported_once or self._started_at is None:
            return False
        return self.ctx.clock.monotonic() - self._started_at < STARTING_LIMIT

    async def run(
        self, plan_source: Callable[[], Awaitable[GroupPlan | None]], reporter: Reporter, stop: asyncio.Event
    ) -> None:
        """The two loops, until `stop` is set. Never raises: a failed step is logged and retried."""
        self._started_at = self.ctx.clock.monotonic()
        writing_for.set(frozenset({self.pk}))  # our tasks (created below, copying it) write for this group
        logs.bind(group=self.group, cluster=self.ctx.cluster)  # ... and log for it
        async with self.ctx.heartbeat.attached():
            loops = [
                asyncio.ensure_future(self._ticks(plan_source, reporter, stop)),
                asyncio.ensure_future(self._fencing(reporter, stop)),
            ]
            try:
                await stop.wait()
            finally:
                if self._writing is not None:
                    loops.append(self._writing)
                for task in loops:
                    task.cancel()
                await asyncio.gather(*loops, return_exceptions=True)

    async def _ticks(
        self, plan_source: Callable[[], Awaitable[GroupPlan | None]], reporter: Reporter, stop: asyncio.Event
    ) -> None:
        clock = self.ctx.clock
        await asyncio.sleep(self._spread())
        next_tick = clock.monotonic()
        extra = False
        while not stop.is_set():
            plan = await plan_source()
            if plan is not None:
                if self.plan is None or plan.heartbeat_interval != self.plan.heartbeat_interval:
                    self.ctx.heartbeat.retime()
                self.plan = plan
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
            due = self._silence_due
            extra = due is not None and now < due < next_tick
            await self._sleep((due if extra and due is not None else next_tick) - now)

    async def _fencing(self, reporter: Reporter, stop: asyncio.Event) -> None:
        """Fence at the deadline, and retry a scale-down that is not confirmed, without waiting for DynamoDB."""
        while not stop.is_set():
            self._changed.clear()
            timing = self._fence_timing = self._timing()
            if self.local_role == Role.PRIMARY:
                left = self._fence_left(timing)
                if left <= 0:
                    self.local_role = Role.FENCED
                    self.ctx.heartbeat.soon()  # our peers should know at once (our status may not land)
                    self._report_action(
                        "Fenced",
                        f"fencing: {self.ctx.cluster} has not written its heartbeat for {self.group} within "
                        f"{timing.fence_after:g}s",
                        reporter,
                    )
                    continue
                await wait_set(self._changed, left + 0.001)  # until the deadline, or until it moves
            elif self.local_role in (Role.STANDBY, Role.FENCED) and not self._down():
                await self._converge(self.local_role, reporter)
                await self._observe()
                self._report_status()  # in the background: this loop never waits on DynamoDB
                await asyncio.sleep(min(timing.interval / 2, 0.5))
            elif self.local_role == Role.FENCED and self._report_changed():
                # Until our status stops saying PRIMARY, a standby cannot take over from us "as not serving":
                # it is retried here, not only by ticks (which may be stuck on reads that fail).
                self._report_status()
                await wait_set(self._changed, min(timing.interval / 2, 0.5))
            else:
                await wait_set(self._changed, timing.interval)

    # --- one tick -----------------------------------------------------------------------------------

    async def tick(self, plan: GroupPlan, reporter: Reporter) -> Decision:
        started = time.perf_counter()
        self._wake.clear()  # whatever woke us is handled by this tick; a wake-up from now on means another
        first = not self._was_read
        state: GroupState | None = None
        store_error: str | None = None
        cached = False
        try:
            state, cached = await self._read_state(plan)
        except (StoreError, TimeoutError) as exc:
            store_error = str(exc) or "DynamoDB did not answer in time"
            if self._repeats.news("read", store_error):
                log.warning("%s: cannot read group state: %s", self.group, store_error)
        if state is not None:
            self.config = state.config
            self._was_read = True
            if self._timing() != self._fence_timing:
                self._changed.set()  # a timeout edit may bring the fence deadline nearer: the fence loop looks again
        elif first and self.local_role is None:
            await self._recall(plan)

        decision = decide(self._situation(plan, state))
        acting = self._writes(decision)
        # A group about to act waits for one of the operator's few acting slots: when an owner of a thousand
        # groups dies, each takeover then finishes in a few requests' time, instead of all of them queueing
        # behind each other until their proofs of ownership miss the fence limit and are sent again.
        queued = acting and self.ctx.acting.locked()
        async with self.ctx.acting if acting else contextlib.nullcontext():
            if acting and (cached or queued):  # about to act on a read from an earlier tick: read afresh first
                try:
                    state, _ = await self._read_state(plan, fresh=True)
                    self.config = state.config
                except (StoreError, TimeoutError) as exc:
                    state, store_error = None, str(exc) or "DynamoDB did not answer in time"
                decision = decide(self._situation(plan, state))
            decision = await self._carry_out(decision, state, reporter)
            await self._observe()
            self._report(decision, reporter, store_error)
            if self._report_changed():
                await self._write_status()  # a change is reported at once: a failover in progress waits for it
        await self._patch_status(plan, state, decision, reporter, store_error)
        self.ctx.metrics.ticks.observe(time.perf_counter() - started)
        return decision

    async def _carry_out(self, decision: Decision, state: GroupState | None, reporter: Reporter) -> Decision:
        """The decision's transactions, then the local resources. Returns what was finally decided."""
        action = decision.action
        config = self.config
        if action in (Action.TAKE_OVER, Action.TRANSFER, Action.HAND_BACK) and state is not None:
            taken = await self._move(decision, state, reporter)
            if taken is None:
                return Decision(Action.NONE, self.local_role, f"no action: {decision.action.value} did not happen")
            decision = Decision(action, Role.PRIMARY, decision.reason)
            return await self._promote(decision, taken, reporter)
        if action == Action.ASK_TO_DRAIN and config is not None:
            await self._ask_to_drain(config, decision)
            await self._converge(Role.STANDBY, reporter)
            return decision
        if action == Action.ABANDON and decision.transition is not None and config is not None:
            t = decision.transition
            try:
                withdrawn = await self.ctx.store.operations.clear_transition(
                    self.namespace, self.name, t.failover_name, t.epoch
                )
                self.changed(wake=False)  # our own write: the next tick reads what it left
            except StoreError as exc:
                return Decision(
                    Action.NONE, Role.STANDBY, f"no action: could not withdraw failover {t.failover_name}: {exc}"
                )
            if not withdrawn:  # it transferred after all (or was undone elsewhere): the next read says which
                self._hurry()
                return Decision(
                    Action.NONE,
                    Role.STANDBY,
                    f"no action: failover {t.failover_name} is no longer withdrawable; reading again",
                )
            self.config = config.model_copy(update={"transition": None})
            return await self._promote(decision, config.epoch, reporter)
        if action == Action.HAND_OFF and decision.transition is not None:
            t = decision.transition
            with contextlib.suppress(StoreError):
                await self.ctx.store.operations.clear_transition(self.namespace, self.name, t.failover_name, t.epoch)
            self.changed(wake=False)
        if decision.role == Role.PRIMARY and config is not None and config.owner == self.ctx.cluster:
            if action == Action.PROMOTE or not self._shaped():
                return await self._promote(decision, config.epoch, reporter)
            return decision  # scaled up as it should (pods may still start): nothing to scale, nothing to prove
        if decision.role == Role.PRIMARY:
            return decision  # an UPTIME source serving on: it keeps what it has, and scales nothing up
        if decision.role is not None and (decision.role != self.local_role or not self._shaped()):
            # A standby already down is left alone (its resources are still observed every tick, and its fence
            # loop converges them again the moment they are not)
            await self._converge(decision.role, reporter)
        return decision

    async def _promote(self, decision: Decision, epoch: int, reporter: Reporter) -> Decision:
        """Prove ownership at `epoch`, then scale up — only if the proof was sent within the fence limit."""
        store = self.ctx.store
        clock = self.ctx.clock
        timing = self._timing()
        plan = self.plan
        if plan is not None and (self.observation is None or self._observed_as != Role.PRIMARY):
            # The proof says what our resources are as a PRIMARY's: a standby's scaled-down Deployment is "OK"
            # for a standby, but not serving — a proof saying PRIMARY and OK would read as ready to the Failover
            # that waits for it (downtime under-measured) and to an UPTIME source (which would stop too soon).
            # On a first tick, it is also the true status, not written again (a cold start's thousand groups).
            with contextlib.suppress(KubeError):
                self.observation = await self.workloads.observe(self.namespace, plan.resources, Role.PRIMARY)
                self._observed_as = Role.PRIMARY
        sent = clock.monotonic()
        health, components, message = self._report_now()
        if self._observed_as != Role.PRIMARY and health == Health.OK:
            health = Health.DEGRADED  # could not look again: not known to serve yet, whatever it was as a standby
        try:
            # A proof answered after the fence limit is not acted on, so it is not waited for (nor retried) past
            # it either: its PRIMARY may have landed, and the true status must follow it at once, or a takeover of
            # us as "not serving" is refused for as long as the retries last.
            self._proving = True
            async with asyncio.timeout(timing.fence_after):
                await store.state.prove_ownership(self.namespace, self.name, epoch, health, components, message=message)
        except ConflictError as exc:
            self.changed(wake=False)  # our own write (the move) or a peer's: the next tick reads what they left
            self._hurry()
            return Decision(Action.NONE, Role.STANDBY, f"no action: not promoting: {exc}")
        except (StoreError, TimeoutError) as exc:
            self.changed(wake=False)  # our own writes, landed or not: the next tick reads what they left
            self._written_key = None  # it may have landed, saying PRIMARY: say again what is true
            return Decision(
                Action.NONE,
                self.local_role,
                f"no action: could not prove ownership of {self.group}: {exc or 'DynamoDB did not answer in time'}",
            )
        finally:
            self._proving = False
            moved, self._moved = self._moved, None
        if not self._kept_proof(moved, epoch, health, components, message):
            self.changed(wake=False)  # our own writes, but not what our copy expected: the next tick reads them
        self.ctx.heartbeat.written(sent)  # the proof moved our liveness too
        self._reported_once = True  # it wrote our status (PRIMARY)
        self._written_key = (ClusterState.PRIMARY, str(health), epoch, components_json(components), message)
        if clock.monotonic() - sent > timing.fence_after:
            self._written_key = None  # it says PRIMARY, but we do not act on it: say again what is true
            return Decision(
                Action.NONE,
                self.local_role,
                f"no action: the proof of ownership of {self.group} took "
                f"longer than {timing.fence_after:g}s; not promoting on it",
            )
        self.reported = ClusterState.PRIMARY
        if decision.action != Action.PROMOTE and self.local_role != Role.PRIMARY:
            reporter.event("Promoted", f"promoting: {self.ctx.cluster} owns {self.group} at epoch {epoch}")
        if self.ctx.liveness is not None and self.local_role != Role.PRIMARY:
            # The watchdog must know we are about to serve before we do: frozen after the scale-up and before
            # the next renewal, we would otherwise never be fenced.
            await self.ctx.liveness.renew(also=self.fence_left())
        await self._converge(Role.PRIMARY, reporter, epoch=epoch, proved_at=sent)
        return decision

    async def _move(self, decision: Decision, state: GroupState, reporter: Reporter) -> int | None:
        """The takeover, transfer or hand-back transaction; the new epoch, or None if it did not happen."""
        config = state.config
        ops = self.ctx.store.operations
        me = self.ctx.cluster
        t = decision.transition
        kwargs: dict[str, object] = {
            "expected_epoch": decision.epoch,
            "lease_seconds": self.ctx.settings.lock_lease_seconds,
            "state": state,  # read (strongly consistent) in this tick, and decided on
        }
        if decision.action == Action.TAKE_OVER:
            owner_status = state.clusters.get(config.owner)
            if decision.cause == "stale" and owner_status is not None:
                check = _unchanged(owner_status)
            else:
                check = OwnerCheck(not_serving=True)
            name, reason = f"auto-{me}-epoch-{config.epoch + 1}", decision.reason
            kwargs.update(automatic=True, owner_check=check)
            if decision.source_cause is not None and config.transition is not None:
                source = config.transition.source_cluster
                source_status = state.clusters.get(source)
                if decision.source_cause == "stale" and source_status is not None:
                    kwargs["other_checks"] = {source: _unchanged(source_status)}
                else:
                    kwargs["other_checks"] = {source: OwnerCheck(not_serving=True)}
        elif decision.action == Action.TRANSFER and t is not None:
            name, reason = t.failover_name, t.reason or f"Failover {self.namespace}/{t.failover_name}"
            check = OwnerCheck() if decision.forced or t.mode == FailoverMode.UPTIME else OwnerCheck(drained=True)
            kwargs.update(
                transition=t,
                owner_check=check,
                mode=t.mode,
                automatic=t.automatic,
                force=t.force,
                started_at=t.requested_at,
            )
        elif decision.action == Action.HAND_BACK and t is not None:
            name, reason = t.failover_name, decision.reason
            kwargs.update(
                transition=t,
                owner_check=OwnerCheck(not_ready=True),
                mode=FailoverMode.UPTIME,
                outcome=Outcome.ROLLED_BACK,
                skip_checks=True,
            )
        else:
            return None
        try:
            record = await ops.execute_failover(self.namespace, self.name, name, me, reason, **kwargs)  # type: ignore[arg-type]
        except (ConflictError, LockHeldError, PreconditionError, StoreError) as exc:
            if self._repeats.news("move", str(exc)):
                fields = {"action": decision.action.value, "epoch": config.epoch}
                log.info("%s: %s did not happen: %s", self.group, decision.action.value, exc, extra=fields)
            self.changed(wake=False)  # read it all again (a lock may have been taken: only a full read shows it)
            self._hurry()
            return None
        self.config = config.model_copy(
            update={"owner": me, "previous_owner": config.owner, "epoch": record.epoch, "transition": None}
        )
        # Our own write: the proof that follows it keeps both in our copy of the group when it lands (else the
        # next tick reads what they left).
        handed_off = record.mode == FailoverMode.UPTIME and record.outcome == Outcome.SUCCEEDED
        self._moved = (
            None  # it left a hand-off in the config, which our copy does not have: read it
            if handed_off
            else (
                self.config.model_copy(update={"version": config.version + 1, "last_failover": record.finished_at}),
                record,
            )
        )
        if decision.action == Action.TAKE_OVER:
            self.ctx.metrics.failovers.labels(self.namespace, self.name, record.mode.value, "true", "Succeeded").inc()
            reporter.event(
                "AutomaticFailover",
                f"{me} took over {self.group} from {config.owner} at epoch {record.epoch}: {decision.reason}",
                warning=True,
            )
        elif decision.action == Action.HAND_BACK:
            reporter.event(
                "HandedBack", f"{me} took {self.group} back at epoch {record.epoch}: {decision.reason}", warning=True
            )
        else:
            reporter.event("Transferred", f"{self.group}: {record.source_cluster} -> {me} at epoch {record.epoch}")
        return record.epoch

    async def _ask_to_drain(self, config: GroupConfig, decision: Decision) -> None:
        transition = Transition(
            failover_name=f"auto-{self.ctx.cluster}-epoch-{config.epoch + 1}",
            source_cluster=config.owner,
            target_cluster=self.ctx.cluster,
            mode=FailoverMode.CONSISTENCY,
            requested_by=self.ctx.cluster,
            requested_at=self.ctx.clock.now(),
            epoch=config.epoch,
            automatic=True,
            reason=decision.reason,
        )
        try:
            self.config = await self.ctx.store.operations.request_transition(self.namespace, self.name, transition)
        except (ConflictError, NotFoundError, StoreError) as exc:
            log.info("%s: could not ask %s to drain: %s", self.group, config.owner, exc)
        self.changed(wake=False)  # our own write (or attempt): the next tick reads what it left

    def _report_now(self) -> tuple[Health, dict[str, Any], str | None]:
        """What a proof of ownership says of our resources: the last observation."""
        o = self.observation
        if o is None:
            return Health.UNKNOWN, {}, None
        return o.health, dict(o.components), o.message or None

    # --- local resources ----------------------------------------------------------------------------

    async def _converge(
        self, role: Role, reporter: Reporter, *, epoch: int | None = None, proved_at: float | None = None
    ) -> None:
        """Converge our resources to `role`. PRIMARY only with a proof (`proved_at`) still within the limit."""
        async with self._act:
            if role == Role.PRIMARY:
                timing = self._timing()
                if proved_at is None or self.ctx.clock.monotonic() - proved_at > timing.fence_after:
                    return
            if role != self.local_role:
                self._settling_since = self.ctx.clock.monotonic()
                self.local_role = role
                self._changed.set()
            plan = self.plan
            if plan is None:
                return
            config = self.config
            at = epoch if epoch is not None else (config.epoch if config else 0)
            result = await self.workloads.converge(self.namespace, plan.resources, role, group=self.group, epoch=at)
            self._known = (self.ctx.clock.monotonic(), role, result.objects)
        errors = tuple(result.errors)
        if errors != self._converge_errors:  # once per distinct problem, not every tick
            for problem in errors:
                log.warning("%s: %s", self.group, problem)
            if errors:
                reporter.event(
                    "ConvergeFailed",
                    f"could not make every resource {role.shape.value}: {'; '.join(errors)}",
                    warning=True,
                )
            else:
                log.info("%s: every listed resource converges again", self.group)
        self._converge_errors = errors

    async def _observe(self) -> None:
        plan = self.plan
        if plan is None:
            return
        local = self.local_role or Role.STANDBY
        # What the converge just read or wrote is graded as it is: one read per resource per tick, not two.
        when, converged, known = self._known
        self._known = (0.0, None, {})
        if converged != local or self.ctx.clock.monotonic() - when > KNOWN_FOR:
            known = {}
        try:
            self.observation = await self.workloads.observe(
                self.namespace, plan.resources, local, known=known, previous=self.observation
            )
            self._observed_as = local
        except KubeError as exc:  # observe grades errors itself; this is a safety net
            if self._repeats.news("observe", str(exc)):
                log.warning("%s: cannot observe resources: %s", self.group, exc)
            return
        draining_me = self.config is not None and draining(self.config) and self.config.owner == self.ctx.cluster
        scaled_down = self.observation.all_scaled_down
        self.reported = reported_state(self.local_role, draining_me, self._down(), self.reported, scaled_down)
        if self._settled():
            self._settling_since = None

    def may_serve(self) -> bool:
        """Our resources for the group may be up: we serve it, or have not seen them confirmed down."""
        return self.local_role == Role.PRIMARY or (self.local_role is not None and self._down() is not True)

    def _down(self) -> bool | None:
        """Every listed workload confirmed down; None when they could not all be observed."""
        o = self.observation
        if o is None or o.any_unknown:
            return None
        return o.all_down

    def _ready(self) -> bool:
        return self.observation is not None and self.observation.all_ready

    def _shaped(self) -> bool:
        """The last observation found nothing to scale up, resume or publish for the current role."""
        return self.observation is not None and self.observation.all_shaped

    def _settled(self) -> bool:
        return self._ready() if self.local_role == Role.PRIMARY else bool(self._down())

    async def _recall(self, plan: GroupPlan) -> None:
        """Started without being able to read DynamoDB: see decide.recalled_role."""
        observation = await self.workloads.observe(self.namespace, plan.resources, Role.PRIMARY)
        recalled = recalled_role(c.get("managedRole") for c in observation.components.values())
        if recalled is not None:
            log.warning("%s: cannot read DynamoDB after a restart; our resources were %s", self.group, recalled)
            self.local_role = recalled
            self._changed.set()
        self.observation, self._observed_as = observation, Role.PRIMARY

    # --- DynamoDB -----------------------------------------------------------------------------------

    async def _read_state(self, plan: GroupPlan, *, fresh: bool = False) -> tuple[GroupState, bool]:
        """The group with every cluster's liveness, and whether the group part is an earlier read: it is read
        afresh only when something says it changed, while it moves, and every `full_read_seconds`."""
        store = self.ctx.store
        # While a move is in progress, each step waits on a peer's news: the fleet's liveness (which names what
        # the peers wrote) is read every quarter interval instead of every interval.
        moving = self.config is not None and self.config.transition is not None
        live = await self.ctx.fleet.liveness(max_age=plan.heartbeat_interval * (0.25 if moving else 0.9))
        cached = self._cached
        if not fresh and cached is not None and not self._must_read(cached):
            # The same copy with the same liveness read (most quiet ticks): already merged, and noted for staleness.
            # The merged copy replaces ours (merging again only overwrites the liveness): no second copy is kept.
            merged = self._merged
            if merged is None or merged[0] is not cached or merged[1] is not live:
                cached = self._cached = store.state.refreshed(cached, live)
                self._merged = (cached, live)  # references to what we hold anyway (the liveness read is shared)
            return cached, True
        now = self.ctx.clock.monotonic()
        # The whole partition now and then (a status of a cluster named nowhere, a history record edited);
        # otherwise the keys the group is known to have, read together with other groups' (store.reread).
        full = not fresh and cached is not None and self._full_at is not None and now - self._full_at > self._full_every
        if not fresh:
            self._dirty = False  # before the read: a change noted while it runs is read again next time
        try:
            if full:
                state = await store.state.get_group_state(self.namespace, self.name, liveness=live)
                self._full_at = now
            else:
                state = await store.state.reread(self.namespace, self.name, liveness=live, recent=cached)
        except NotFoundError:
            config, created = await store.state.register(
                self.namespace, self.name, initial_owner=plan.initial_primary, timeouts=plan.timeouts
            )
            if config.owner == self.ctx.cluster and config.version == 1:
                log.info("%s: registered, %s is the bootstrap owner", self.group, config.owner)
            if plan.suspended and not config.suspended:
                created = False
                await store.operations.update_suspension(
                    self.namespace, self.name, True, plan.suspension_reason or "suspended in the FailoverGroup spec"
                )
            if created:  # nothing else of the group exists yet
                state = GroupState(config=config, clusters={}, lock=None, history=[])
            else:
                state = await store.state.reread(self.namespace, self.name, liveness=live)
        self._cached = state
        if self._full_at is None:
            self._full_at = now
        return state, False

    def _keep(self, status: ClusterStatus) -> None:
        """Our own status write, as it landed, into our copy of the group (a write of ours does not send us to
        read the group again: see store.changes.writing_for)."""
        cached = self._cached
        if cached is None:
            return
        before = cached.clusters.get(self.ctx.cluster)
        if before is not None:
            status = status.model_copy(update={"liveness_seq": before.liveness_seq, "alive_at": before.alive_at})
        self._cached = cached.model_copy(update={"clusters": {**cached.clusters, self.ctx.cluster: status}})

    def _kept_proof(
        self,
        moved: tuple[GroupConfig, HistoryRecord] | None,
        epoch: int,
        health: Health,
        components: dict[str, Any],
        message: str | None,
    ) -> bool:
        """A proof of ownership that landed, after the move that gave us the group (if any), into our copy of
        the group: both are our own writes, and a mass takeover should not re-read a thousand groups for them.
        False when our copy does not lead to what the proof was conditioned on (it is then read again)."""
        cached = self._cached
        if cached is None:
            return False
        config, history = cached.config, cached.history
        if moved is not None:
            config, record = moved
            history = [record, *history]
        if config.owner != self.ctx.cluster or config.epoch != epoch or config.transition is not None:
            return False
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
            liveness_seq=before.liveness_seq if before else None,
            alive_at=before.alive_at if before else None,
        )
        clusters = {**cached.clusters, self.ctx.cluster: status}
        update = {"config": config, "clusters": clusters, "history": history, "lock": None}
        self._cached = cached.model_copy(update=update)
        return True

    def _must_read(self, cached: GroupState) -> bool:
        full_at = self._full_at
        return (
            self._dirty
            or full_at is None
            or self.ctx.clock.monotonic() - full_at > self._full_every
            or self.local_role is None
            or cached.config.transition is not None  # a move in progress is followed read by read
            or cached.lock is not None
        )

    def _writes(self, decision: Decision) -> bool:
        """The decision writes to DynamoDB (a transaction, a request, a proof of ownership)."""
        if decision.action not in (Action.NONE, Action.WAIT, Action.DEMOTE, Action.FENCE):
            return True
        return decision.role == Role.PRIMARY and not self._shaped()

    def _busy(self) -> bool:
        """Every acting slot is taken: groups queue to act (a dead owner's thousand groups)."""
        return self.ctx.acting.locked()

    def _status_key(self) -> tuple[object, ...] | None:
        """What our status record for the group would say now; None while there is nothing to say yet."""
        o = self.observation
        if o is None or not self._was_read or self.local_role is None:
            return None
        epoch = self.config.epoch if self.config else None
        known = self._components
        if known is None or known[0] is not o:  # a quiet tick keeps its observation (Workloads.observe)
            known = self._components = (o, components_json(o.components))
        return (self.reported, str(o.health), epoch, known[1], o.message or None)

    def _report_changed(self) -> bool:
        key = self._status_key()
        if key is None or key == self._written_key:
            return False
        written, since = self._written_key, self._settling_since
        proved = written is not None and key[0] == written[0] == ClusterState.PRIMARY and key[2] == written[2]
        if proved and self._busy():
            # Serving as our proof said, only the health or details moved, while groups queue to act (a mass
            # takeover): written when the queue is gone — every group serves first, and reports next.
            return False
        if written is not None and key[:3] == written[:3] and since is not None and self.plan is not None:
            # Only the details move (replicas coming up or going down; state, health and epoch as written):
            # they are written once the resources have settled, or an interval on, not at every step.
            return self.ctx.clock.monotonic() - since >= self.plan.heartbeat_interval
        return True

    def _report_status(self) -> None:
        """Write our status in the background if it changed (one write at a time; the next sees what is new)."""
        if self._proving:
            return  # a status write numbered after the proof in flight, landing first, would cancel the proof
        if self._report_changed() and (self._writing is None or self._writing.done()):
            self._writing = asyncio.ensure_future(self._write_status())

    async def _write_status(self) -> None:
        """Our status for the group: what our resources are right now. Written when it changes and retried by
        the next tick while it does not land; ordered, so an older write never lands over a newer one."""
        observation = self.observation
        key = self._status_key()
        if observation is None or key is None:
            return
        try:
            written = await self.ctx.store.state.update_cluster_status(
                self.namespace,
                self.name,
                observation.health,
                self.reported,
                observation.components,
                observed_epoch=self.config.epoch if self.config else None,
                message=observation.message or None,
                retry=self.reported != ClusterState.PRIMARY,  # retried at once: it unblocks a takeover of us
                ordered=True,
            )
        except SupersededError:
            return  # a write sent after this one landed first: it says something newer
        except (StoreError, TimeoutError) as exc:
            text = str(exc) or "timed out"
            if text != self._last_status_error:
                log.warning("%s: status not written: %s", self.group, text)
            self._last_status_error = text
            return
        self._last_status_error = None
        self._written_key = key
        self._keep(written)
        self._reported_once = True
        self.metrics.status_writes.inc()

    # --- what the rules see -------------------------------------------------------------------------

    def _timing(self) -> Timing:
        plan = self.plan
        config = self.config
        change_seen = None
        if config is not None and config.timeouts_before is not None:
            change_seen = self._seen.observe(("timeouts", config.timeouts, config.timeouts_before), True)
        else:
            last = self._timing_of
            if last is not None and last[0] is config and last[1] is plan:
                return last[2]  # the same config and plan, no timeout change pending: the same timing (a tick asks 4x)
        timing = effective_timing(
            config,
            plan.timeouts.heartbeat if plan else 15.0,
            self.ctx.settings.self_fence_fraction,
            plan.heartbeat_interval if plan else 5.0,
            change_seen,
        )
        self._timing_of = (config, plan, timing)
        return timing

    def fence_left(self) -> float:
        """Seconds until this cluster must have stopped serving the group, unless a heartbeat is written."""
        return self._fence_left(self._timing())

    def _fence_left(self, timing: Timing) -> float:
        if self.sent_ok is None:
            return 0.0
        return self.sent_ok + timing.fence_after - self.ctx.clock.monotonic()

    def _situation(self, plan: GroupPlan, state: GroupState | None) -> Situation:
        now = self.ctx.clock.monotonic()
        timing = self._timing()
        since = None if self.sent_ok is None else now - self.sent_ok
        my_health = self.observation.health if self.observation is not None else Health.UNKNOWN
        common = dict(
            me=self.ctx.cluster,
            group=self.group,
            local_role=self.local_role,
            my_health=my_health,
            since_heartbeat_write=since,
            timing=timing,
            auto_failover=plan.auto_failover,
            priority=plan.priority,
        )
        if state is None:
            return Situation(store_ok=False, **common)  # type: ignore[arg-type]
        config = state.config
        store = self.ctx.store
        ages = self._ages = store.state.heartbeat_ages(self.namespace, self.name, state.clusters)
        stale = stale_among(ages, timing.heartbeat)
        owner_status = state.clusters.get(config.owner)
        seen = self._seen
        key = (config.owner, config.epoch)
        silent_for = None
        self._silence_due = None
        if config.owner != self.ctx.cluster:
            silent_for = self._silent_for(config.owner, owner_status, config.epoch)
            if silent_for <= timing.heartbeat:
                self._silence_due = now + timing.heartbeat - silent_for + SILENCE_MARGIN
        source_silent_for = None
        t = config.transition
        if t is not None and handing_off(config) and t.source_cluster != self.ctx.cluster:
            source = t.source_cluster
            source_silent_for = self._silent_for(source, state.clusters.get(source), config.epoch)
        owner_error_for = None
        if owner_status is not None and owner_status.health == Health.ERROR:
            owner_error_for = seen.observe(("error", *key), True)
        else:
            seen.forget(("error", *key))
        transition_age = None
        if config.transition is not None:
            t = config.transition
            transition_age = seen.observe(("transition", t.failover_name, t.epoch), True)
        caused = (silent_for or 0) > timing.heartbeat or (owner_error_for or 0) > timing.unhealthy
        takeover_ready_for = None
        if caused:
            takeover_ready_for = seen.observe(("takeover", *key), True)
        else:
            seen.forget(("takeover", *key))
        for cluster, age in ages.items():
            if age is not None:
                self.metrics.heartbeat_age(cluster, age)
        if config.owner == self.ctx.cluster:
            owner_age: float | None = 0.0
        elif config.owner in ages:
            owner_age = ages[config.owner]
        else:
            owner_age = store.state.heartbeat_age(self.namespace, self.name, config.owner)
        if owner_age is not None:
            self.metrics.owner_heartbeat_age.set(owner_age)
        return Situation(
            store_ok=True,
            config=config,
            clusters=state.clusters,
            stale=stale,
            owner_silent_for=silent_for,
            owner_fenced=config.owner != self.ctx.cluster and self._fenced_by(config.owner),
            source_silent_for=source_silent_for,
            owner_error_for=owner_error_for,
            transition_age=transition_age,
            takeover_ready_for=takeover_ready_for,
            **common,  # type: ignore[arg-type]
        )

    def _age(self, cluster: str) -> float | None:
        """`cluster`'s heartbeat age as this tick measured it (measured now if it did not)."""
        if cluster in self._ages:
            return self._ages[cluster]
        return self.ctx.store.state.heartbeat_age(self.namespace, self.name, cluster)

    def _fenced_by(self, cluster: str) -> bool:
        """`cluster`'s heartbeat says it has fenced this group: it does not serve it, whatever its status says."""
        live = self.ctx.fleet.of(cluster)
        return live is not None and self.pk in live.fenced

    def _silent_for(self, cluster: str, status: ClusterStatus | None, epoch: int) -> float:
        """How long since we saw `cluster` claim, afresh, to serve at `epoch` (its status says PRIMARY at the
        epoch, and its status or its liveness moved since), or since we first looked; nothing else counts."""
        key = (cluster, epoch)
        fresh = None
        if status is not None and claims_serving(status, epoch) and not self._fenced_by(cluster):
            fresh = (status.heartbeat_seq, status.liveness_seq)
        last = self._serving_seen.get(key)
        now = self.ctx.clock.monotonic()
        live = self.ctx.fleet.of(cluster)
        if status is None and live is not None and live.starting > 0:
            # It has never reported, but its operator says groups of its are still starting, and its liveness
            # moves: its silence counts from when it stops saying so (or stops moving).
            age = self.ctx.store.state.heartbeat_age(self.namespace, self.name, cluster)
            if age is not None and age <= self._timing().heartbeat:
                self._serving_seen[key] = (None, now)
                return 0.0
        if last is None:
            self._serving_seen[key] = (fresh, now)
        elif fresh is not None and fresh != last[0]:
            # Dated by when this operator first saw the newer number (the fleet's liveness is read for every
            # group at once), not by when this group's tick came to look: up to an interval earlier, never
            # earlier than our last look, and never before the cluster wrote it (we read it).
            age = self.ctx.store.state.heartbeat_age(self.namespace, self.name, cluster) or 0.0
            self._serving_seen[key] = (fresh, max(last[1], now - age))
        return now - self._serving_seen[key][1]

    # --- reporting ----------------------------------------------------------------------------------

    def _report_action(self, reason: str, text: str, reporter: Reporter) -> None:
        log.warning("%s: %s", self.group, text)
        reporter.event(reason, text, warning=True)
        self._event_key = None

    def _report(self, decision: Decision, reporter: Reporter, store_error: str | None) -> None:
        """Log a decision when it changes (or acts), post an event when it changes."""
        config = self.config
        key = (
            decision.action,
            decision.role,
            config.owner if config else None,
            config.epoch if config else None,
            store_error is None,
        )
        changed = key != self._event_key
        news = self._repeats.news("decision", (key, decision.reason))
        level = logging.INFO if changed or (decision.action != Action.NONE and news) else logging.DEBUG
        fields = {"action": decision.action.value, "epoch": config.epoch if config else None}
        log.log(level, "%s: %s", self.group, decision.reason, extra=fields)
        if changed:
            self._event_key = key
            reason, warning = _EVENTS[decision.action]
            if store_error is not None and decision.action == Action.NONE:
                reason, warning = "DynamoDBUnreachable", True
            reporter.event(reason, decision.reason, warning=warning)
        mine = self.metrics
        timing = self._timing()
        self._takeover = takeover_readiness(
            me=self.ctx.cluster,
            config=config,
            state=self._cached,
            local_role=self.local_role,
            health=self.observation.health if self.observation is not None else Health.UNKNOWN,
            auto_failover=self.plan.auto_failover if self.plan is not None else True,
            heartbeating=self.sent_ok is not None and self.ctx.clock.monotonic() - self.sent_ok < timing.fence_after,
            store_error=store_error,
        )
        mine.ready_to_take_over.set(1 if self._takeover[0] else 0)
        mine.heartbeat_timeout.set(timing.heartbeat)
        mine.decided(decision.action.value)
        mine.is_primary.set(1 if self.local_role == Role.PRIMARY else 0)
        mine.fenced.set(1 if self.local_role == Role.FENCED else 0)
        if config is not None:
            mine.epoch.set(config.epoch)
        if self.observation is not None:
            mine.health(str(self.observation.health))

    async def _patch_status(
        self,
        plan: GroupPlan,
        state: GroupState | None,
        decision: Decision,
        reporter: Reporter,
        store_error: str | None,
    ) -> None:
        if self._status is not None and self._busy():
            return  # groups queue to act (a mass takeover): they serve first; the next tick after shows it
        inputs = self._status_inputs(plan, state, decision, store_error)
        if inputs == self._status_from:
            return  # what the status is made of has not changed since it was last written (or found right)
        if state is not None:  # the problems the alerts watch, as this cluster reads the records (pure, cheap)
            stale = self.ctx.store.state.stale_clusters(
                self.namespace, self.name, state.clusters, state.config.timeouts.heartbeat
            )
            found = find_problems(state.config, state.clusters, stale=stale, corrupt=state.corrupt)
            self.metrics.problems(dict(Counter(p.kind.value for p in found)))
        status = group_status(
            me=self.ctx.cluster,
            config=self.config,
            state=state,
            local_role=self.local_role,
            observation=self.observation,
            decision=decision,
            heartbeat_age=lambda c: self.ctx.store.state.heartbeat_age(self.namespace, self.name, c),
            heartbeat_interval=plan.heartbeat_interval,
            generation=plan.generation,
            store_error=store_error,
            previous=self._status,
            now=self.ctx.clock.now(),
            spec_error=plan.spec_error,
            takeover=self._takeover,
        )
        if status != self._status:
            try:
                await reporter.patch_status(status.to_merge_patch())
            except KubeError as exc:  # the API server is the one thing we cannot report this to
                if self._repeats.news("status", str(exc)):
                    log.warning("%s: cannot update the FailoverGroup's status: %s", self.group, exc)
                return
            self._status = status
        self._status_from = inputs

    def _status_inputs(
        self, plan: GroupPlan, state: GroupState | None, decision: Decision, store_error: str | None
    ) -> tuple[object, ...]:
        """Everything `group_status` shows, cheaply: equal inputs make an equal status (building it is the
        dearest part of a quiet tick). Heartbeat ages as shown (whole intervals), not as measured."""
        interval = plan.heartbeat_interval
        clusters: tuple[object, ...] = ()
        history: object = None
        if state is not None:
            clusters = tuple(
                (
                    name,
                    c.state,
                    c.health,
                    c.last_heartbeat,
                    c.observed_epoch,
                    c.message,
                    None if name == self.ctx.cluster else heartbeat_age_text(self._age(name), interval),
                )
                for name, c in sorted(state.clusters.items())
            )
            history = state.history[0] if state.history else None
        return (
            self.config,
            self._takeover,
            clusters,
            history,
            state is None,
            self.local_role,
            self.observation,
            decision,
            interval,
            plan.generation,
            plan.spec_error,
            store_error,
        )

    # --- timing -------------------------------------------------------------------------------------

    def _spread(self) -> float:
        """A random start within up to one interval, longer the more groups start together (20 ms each): a
        thousand groups do not all read and register at once."""
        interval = self.plan.heartbeat_interval if self.plan else 5.0
        return random.uniform(0.0, min(interval, 0.02 * len(self.ctx.runners)))

    def _hurry(self) -> None:
        """An action did not happen (a conflict, a held lock, an error): read again soon, but not at once — a
        refusal that answers without delay must not become a loop hammering the table."""
        self._hurried = True

    def _tick_interval(self, plan: GroupPlan | None) -> float:
        """Every interval; 4 times as often while a move is in progress or resources settle into a new role (a
        failover waits for facts, not for ticks), or after an action did not happen."""
        interval = plan.heartbeat_interval if plan else 5.0
        since = self._settling_since
        hurried, self._hurried = self._hurried, False
        moving = self.config is not None and self.config.transition is not None
        if (
            hurried
            or moving
            or (
                since is not None
                and plan is not None
                and self.ctx.clock.monotonic() - since < plan.timeouts.transitory_state
            )
        ):
            interval = max(0.05, interval / 4)
        return interval

    async def _sleep(self, seconds: float) -> None:
        """Sleep until the next tick, or until woken (a wake-up that came during the tick counts too). `stop`
        needs no watching here: run() cancels the loops."""
        await wait_set(self._wake, seconds)


def _unchanged(status: ClusterStatus) -> OwnerCheck:
    """A takeover's condition on a cluster judged stale: neither its status nor its liveness moved since."""
    return OwnerCheck(heartbeat_seq=status.heartbeat_seq, liveness_seq=status.liveness_seq or 0)
