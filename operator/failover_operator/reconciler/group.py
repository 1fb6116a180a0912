"""One FailoverGroup in this cluster: heartbeat, read, decide, converge, report — every tick.

The tick's order matters for safety:
1. write our heartbeat (what our resources are right now) — proves we are alive and, for an owner, is the
   write that fencing is measured against;
2. read the group's config and statuses (strongly consistent);
3. decide (a pure function, see decide.py);
4. act: converge local resources, take over, or resume;
5. report a changed state at once (so a planned failover waits one round trip, not one tick).
On the very first tick nothing is written or changed before the config has been read (or registered).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..api import FailoverGroupStatus
from ..store import (
    ConflictError,
    GroupConfig,
    GroupState,
    LockHeldError,
    NotFoundError,
    PreconditionError,
    StoreError,
)
from ..store.observe import ChangeObserver
from ..store.records import ClusterState, Health
from ..workloads.kube import KubeError
from ..workloads.roles import Role
from .context import OperatorContext, Reporter
from .decide import Action, Decision, LocalRole, Situation, decide
from .plan import GroupPlan
from .status import group_status

log = logging.getLogger("failover_operator.group")

_EVENTS = {
    Action.PROMOTE: ("Promoted", False),
    Action.DEMOTE: ("Demoted", False),
    Action.FENCE: ("Fenced", True),
    Action.TAKE_OVER: ("TookOver", True),
    Action.DEMOTE_FOR_TRANSITION: ("DemotingForFailover", False),
    Action.RESUME_AFTER_TRANSITION: ("FailoverAbandoned", True),
    Action.WAIT: ("WaitingToTakeOver", True),
    Action.NONE: ("Decision", False),
}


class GroupRunner:
    def __init__(self, ctx: OperatorContext, namespace: str, name: str) -> None:
        self.ctx = ctx
        self.namespace = namespace
        self.name = name
        self.group = f"{namespace}/{name}"
        self.local_role: LocalRole | None = None
        self.reported: ClusterState | None = None
        self.config: GroupConfig | None = None
        self.last_write: float | None = None
        self.observation: Any = None  # workloads.converge.Observation of the last tick
        self._settling_since: float | None = None  # when resources started moving to a new role
        self._converge_errors: tuple[str, ...] = ()
        self._event_key: tuple[Any, ...] | None = None
        self._status: FailoverGroupStatus | None = None
        self._seen = ChangeObserver(ctx.clock)
        self._wake = asyncio.Event()

    # --- loop ---------------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def run(
        self, plan_source: Callable[[], Awaitable[GroupPlan | None]], reporter: Reporter, stop: asyncio.Event
    ) -> None:
        """Tick until `stop` is set. Never raises: a failed tick is logged and retried at the next one."""
        while not stop.is_set():
            plan = await plan_source()
            if plan is not None:
                try:
                    await self.tick(plan, reporter)
                except Exception:  # the loop must outlive any single failure
                    log.exception("%s: tick failed", self.group)
            interval = plan.heartbeat_interval if plan else 5.0
            await self._sleep(self._next_delay(interval, plan), stop)

    def _next_delay(self, interval: float, plan: GroupPlan | None) -> float:
        """Until the next tick — sooner while resources are still moving to a new role (so that a failover
        waits for facts, not for ticks), and never past an owner's fencing deadline."""
        settling_for = None if self._settling_since is None else self.ctx.clock.monotonic() - self._settling_since
        if settling_for is not None and plan is not None and settling_for < plan.timeouts.transitory_state:
            interval = max(0.1, interval / 4)
        if self.local_role != LocalRole.PRIMARY or self.last_write is None or plan is None:
            return interval
        deadline = self.last_write + self._fence_after(plan) - self.ctx.clock.monotonic()
        return max(0.05, min(interval, deadline + 0.01))

    async def _sleep(self, seconds: float, stop: asyncio.Event) -> None:
        """Sleep until the next tick, or until woken (a wake-up that came during the tick counts too)."""
        waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    # --- one tick -----------------------------------------------------------------------------------

    async def tick(self, plan: GroupPlan, reporter: Reporter) -> Decision:
        started = time.perf_counter()
        self._wake.clear()  # whatever woke us is handled by this tick; a wake-up from now on means another
        first = self.local_role is None
        budget = self._io_budget(plan)

        if not first:
            await self._heartbeat(self.reported or ClusterState.STANDBY, budget, self.observation)

        state: GroupState | None = None
        store_error: str | None = None
        try:
            async with asyncio.timeout(budget):
                state = await self._read(plan)
        except (StoreError, TimeoutError) as exc:
            store_error = str(exc) or "DynamoDB did not answer in time"
            log.warning("%s: cannot read group state: %s", self.group, store_error)
        if state is not None:
            self.config = state.config

        if state is None and first:
            await self._recall_role(plan)
        # Our own health as of the end of the last tick: one read of the resources per tick is enough.
        my_health = Health(str(self.observation.health)) if self.observation is not None else Health.UNKNOWN
        decision = decide(self._situation(plan, state, my_health))

        if decision.action == Action.TAKE_OVER and state is not None:
            decision = await self._take_over(decision, state, reporter)
        if decision.clear_transition and state is not None:
            await self._clear_transition(state.config)

        if decision.role is not None:
            epoch = self.config.epoch if self.config else 0
            result = await self.ctx.workloads.converge(
                self.namespace, plan.resources, _converge_role(decision.role), group=self.group, epoch=epoch
            )
            errors = tuple(result.errors)
            if errors != self._converge_errors:  # once per distinct problem, not every tick
                for problem in errors:
                    log.warning("%s: %s", self.group, problem)
                if errors:
                    reporter.event(
                        "ConvergeFailed",
                        f"could not make every resource {_converge_role(decision.role).value}: {'; '.join(errors)}",
                        warning=True,
                    )
                else:
                    log.info("%s: every listed resource converges again", self.group)
            self._converge_errors = errors
            if decision.role != self.local_role:
                self._settling_since = self.ctx.clock.monotonic()
            self.local_role = decision.role

        after = await self.ctx.workloads.observe(self.namespace, plan.resources, _converge_role(self.local_role))
        changed_health = self.observation is None or after.health != self.observation.health
        self.observation = after
        settled = after.all_ready if self.local_role == LocalRole.PRIMARY else after.all_down
        if settled:
            self._settling_since = None
        reported = self._reported_state(decision, after)
        # Report a change of state or health at once: a failover in progress is waiting for exactly that.
        if (first or reported != self.reported or changed_health) and self.local_role is not None:
            await self._heartbeat(reported, budget, after)
        self._report(decision, after, reporter, store_error)
        await self._patch_status(plan, state, after, decision, reporter, store_error)
        self.ctx.metrics.ticks.labels(self.namespace, self.name).observe(time.perf_counter() - started)
        return decision

    # --- pieces of a tick ---------------------------------------------------------------------------

    async def _read(self, plan: GroupPlan) -> GroupState:
        store = self.ctx.store
        try:
            return await store.state.get_group_state(self.namespace, self.name)
        except NotFoundError:
            config = await store.state.register_group(
                self.namespace, self.name, initial_owner=plan.initial_primary, timeouts=plan.timeouts
            )
            if config.owner == self.ctx.cluster and config.version == 1:
                log.info("%s: registered, %s is the bootstrap owner", self.group, config.owner)
            if plan.suspended and not config.suspended:
                await store.operations.update_suspension(
                    self.namespace, self.name, True, plan.suspension_reason or "suspended in the FailoverGroup spec"
                )
            return await store.state.get_group_state(self.namespace, self.name)

    async def _heartbeat(self, reported: ClusterState, budget: float, observation: Any) -> bool:
        """Write our heartbeat; the return value says whether it was written.

        Fencing counts from when the last written heartbeat was *sent*: it may have landed any moment before
        its answer came back, and the standbys' clocks start when it landed (the lease rule of the
        amazon-dynamodb-lock-client). Counting from the answer would let a slow answer stretch our deadline
        past the moment a standby may take over."""
        store = self.ctx.store
        metrics = self.ctx.metrics
        epoch = self.config.epoch if self.config else None
        sent = self.ctx.clock.monotonic()
        try:
            async with asyncio.timeout(budget):
                await store.state.update_cluster_status(
                    self.namespace,
                    self.name,
                    observation.health,
                    reported,
                    observation.components,
                    observed_epoch=epoch,
                    message=observation.message or None,
                )
        except (StoreError, TimeoutError) as exc:
            metrics.heartbeat_failures.labels(self.namespace, self.name).inc()
            log.warning("%s: heartbeat not written: %s", self.group, str(exc) or "timed out")
            return False
        self.last_write = sent
        self.reported = reported
        metrics.heartbeats.labels(self.namespace, self.name).inc()
        return True

    def _situation(self, plan: GroupPlan, state: GroupState | None, my_health: Health) -> Situation:
        now = self.ctx.clock.monotonic()
        since = None if self.last_write is None else now - self.last_write
        common = dict(
            me=self.ctx.cluster,
            group=self.group,
            local_role=self.local_role,
            my_health=my_health,
            since_heartbeat_write=since,
            fence_after=self._fence_after(plan),
            auto_failover=plan.auto_failover,
            priority=plan.priority,
            heartbeat_interval=plan.heartbeat_interval,
        )
        if state is None:
            return Situation(store_ok=False, **common)  # type: ignore[arg-type]
        config = state.config
        store = self.ctx.store
        stale = set(store.state.stale_clusters(self.namespace, self.name, state.clusters, config.timeouts.heartbeat))
        owner_status = state.clusters.get(config.owner)
        if owner_status is None and config.owner != self.ctx.cluster:
            # An owner that never reported counts as stale once we have seen it absent for the timeout.
            absent_for = self._seen.observe(("absent", config.owner, config.epoch), True)
            if absent_for > config.timeouts.heartbeat:
                stale.add(config.owner)
        else:
            self._seen.forget(("absent", config.owner, config.epoch))
        owner_error_for = None
        if owner_status is not None and owner_status.health == Health.ERROR:
            owner_error_for = self._seen.observe(("error", config.owner, config.epoch), True)
        else:
            self._seen.forget(("error", config.owner, config.epoch))
        transition_age = None
        if config.transition is not None:
            transition_age = self._seen.observe(("transition", config.transition.failover_name, config.epoch), True)
        takeover_ready_for = None
        if config.owner in stale or owner_error_for is not None:
            takeover_ready_for = self._seen.observe(("takeover", config.owner, config.epoch), True)
        else:
            self._seen.forget(("takeover", config.owner, config.epoch))
        for cluster in state.clusters:
            age = store.state.heartbeat_age(self.namespace, self.name, cluster)
            if age is not None and cluster != self.ctx.cluster:
                self.ctx.metrics.heartbeat_age.labels(self.namespace, self.name, cluster).set(age)
        return Situation(
            store_ok=True,
            config=config,
            clusters=state.clusters,
            stale=frozenset(stale),
            owner_error_for=owner_error_for,
            transition_age=transition_age,
            takeover_ready_for=takeover_ready_for,
            **common,  # type: ignore[arg-type]
        )

    async def _recall_role(self, plan: GroupPlan) -> None:
        """Started without being able to read DynamoDB: were we serving the group before the restart?

        Our resources carry the role we last converged them to. If that was PRIMARY, we may have been the
        owner — and standbys may be taking over right now, since our heartbeat stopped while we restarted. So
        we count as a PRIMARY that cannot prove ownership, and fence. A group we never touched (no such
        annotation) is left alone: nothing changes before the config has been read.
        """
        observation = await self.ctx.workloads.observe(self.namespace, plan.resources, Role.PRIMARY)
        roles = {c.get("managedRole") for c in observation.components.values()}
        if "PRIMARY" in roles:
            log.warning("%s: cannot read DynamoDB after a restart, and our resources were PRIMARY", self.group)
            self.local_role = LocalRole.PRIMARY
        self.observation = observation

    async def _take_over(self, decision: Decision, state: GroupState, reporter: Reporter) -> Decision:
        config = state.config
        owner_status = state.clusters.get(config.owner)
        seq = owner_status.heartbeat_seq if owner_status is not None else 0
        name = f"auto-{self.ctx.cluster}-epoch-{config.epoch + 1}"
        try:
            record = await self.ctx.store.operations.execute_failover(
                self.namespace,
                self.name,
                name,
                self.ctx.cluster,
                decision.reason,
                expected_epoch=decision.takeover_epoch,
                automatic=True,
                owner_heartbeat_seq=seq if decision.takeover_cause == "stale" else None,
                owner_health=Health.ERROR if decision.takeover_cause == "unhealthy" else None,
                lease_seconds=self.ctx.settings.lock_lease_seconds,
            )
        except (ConflictError, LockHeldError, PreconditionError, StoreError) as exc:
            log.info("%s: takeover did not happen: %s", self.group, exc)
            return Decision(
                Action.NONE, LocalRole.STANDBY, ClusterState.STANDBY, f"no action: takeover did not happen: {exc}"
            )
        self.config = config.model_copy(
            update={"owner": self.ctx.cluster, "previous_owner": config.owner, "epoch": record.epoch}
        )
        self.ctx.metrics.failovers.labels(self.namespace, self.name, record.mode.value, "true", "SUCCEEDED").inc()
        reporter.event(
            "AutomaticFailover",
            f"{self.ctx.cluster} took over {self.group} from {config.owner} at epoch {record.epoch}: {decision.reason}",
            warning=True,
        )
        return decision

    async def _clear_transition(self, config: GroupConfig) -> None:
        """Best effort: a transition nobody needs any more is harmless, only untidy."""
        try:
            self.config = await self.ctx.store.state.update_group_config(config.model_copy(update={"transition": None}))
        except (ConflictError, NotFoundError, StoreError) as exc:
            log.info("%s: could not clear the finished transition: %s", self.group, exc)

    def _reported_state(self, decision: Decision, observation: Any) -> ClusterState:
        """Demotion for a planned failover is reported only once our workloads are really down."""
        if decision.state == ClusterState.FAILOVER and not observation.all_down:
            return ClusterState.PRIMARY
        return decision.state

    def _report(self, decision: Decision, observation: Any, reporter: Reporter, store_error: str | None) -> None:
        """Log the decision every tick (at INFO when it acts or changes), post an event when it changes."""
        metrics = self.ctx.metrics
        config = self.config
        key = (
            decision.action,
            decision.role,
            config.owner if config else None,
            config.epoch if config else None,
            store_error is None,
        )
        changed = key != self._event_key
        level = logging.INFO if changed or decision.action != Action.NONE else logging.DEBUG
        log.log(level, "%s: %s", self.group, decision.reason)
        if changed:
            self._event_key = key
            reason, warning = _EVENTS[decision.action]
            if store_error is not None and decision.action == Action.NONE:
                reason, warning = "DynamoDBUnreachable", True
            reporter.event(reason, decision.reason, warning=warning)
        metrics.decisions.labels(self.namespace, self.name, decision.action.value).inc()
        metrics.is_primary.labels(self.namespace, self.name).set(1 if self.local_role == LocalRole.PRIMARY else 0)
        metrics.fenced.labels(self.namespace, self.name).set(1 if self.local_role == LocalRole.FENCED else 0)
        if config is not None:
            metrics.epoch.labels(self.namespace, self.name).set(config.epoch)
        metrics.set_health(self.namespace, self.name, str(observation.health))
        metrics.store_requests.set(self.ctx.store.call.calls)
        metrics.store_retries.set(self.ctx.store.call.retries)

    async def _patch_status(
        self,
        plan: GroupPlan,
        state: GroupState | None,
        observation: Any,
        decision: Decision,
        reporter: Reporter,
        store_error: str | None,
    ) -> None:
        status = group_status(
            me=self.ctx.cluster,
            config=self.config,
            state=state,
            local_role=self.local_role,
            observation=observation,
            decision=decision,
            heartbeat_age=lambda c: self.ctx.store.state.heartbeat_age(self.namespace, self.name, c),
            heartbeat_interval=plan.heartbeat_interval,
            generation=plan.generation,
            store_error=store_error,
            previous=self._status,
            now=self.ctx.clock.now(),
            spec_error=plan.spec_error,
        )
        if status != self._status:
            try:
                await reporter.patch_status(status.to_merge_patch())
            except KubeError as exc:  # the API server is the one thing we cannot report this to
                log.warning("%s: cannot update the FailoverGroup's status: %s", self.group, exc)
                return
            self._status = status

    # --- helpers ------------------------------------------------------------------------------------

    def _fence_after(self, plan: GroupPlan) -> float:
        timeouts = self.config.timeouts if self.config else plan.timeouts
        return self.ctx.settings.self_fence_fraction * timeouts.heartbeat

    def _io_budget(self, plan: GroupPlan) -> float:
        """Store calls of one tick may not outlast the interval, nor run past an owner's fencing deadline."""
        budget = max(plan.heartbeat_interval, 2.0)
        if self.local_role == LocalRole.PRIMARY and self.last_write is not None:
            remaining = self.last_write + self._fence_after(plan) - self.ctx.clock.monotonic()
            budget = min(budget, max(remaining, 0.2))
        return budget


def _converge_role(role: LocalRole | None) -> Role:
    return Role.PRIMARY if role == LocalRole.PRIMARY else Role.STANDBY
