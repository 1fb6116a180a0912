"""What a decision does: its write to DynamoDB first (a move, a request to drain, a withdrawal, a proof of
ownership), then this cluster's resources.

Nothing is scaled up without a proof of ownership sent within the fence limit (`promote`), and every object
scaled up carries the epoch it was scaled up for (the workloads layer refuses an older one). A process that
starts recalls what its resources were converged to before it decides anything: resources it finds serving
are PRIMARY but not proved (rules.Timing.unproved_allowance).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from ..model import ClusterState, FailoverMode, GroupConfig, Health, Outcome, Role, ScheduledSwitchover, Transition
from ..rules import Action, Decision, Move, draining, recalled_role, reported_state
from ..store import (
    ConflictError,
    DeposedError,
    GroupState,
    LockHeldError,
    NotFoundError,
    PreconditionError,
    StoreError,
)
from ..workloads.converge import Observation
from ..workloads.kube import KubeError
from .context import Reporter

if TYPE_CHECKING:
    from .context import OperatorContext
    from .group import GroupRunner

log = logging.getLogger("failover_operator.group")

KNOWN_FOR = 0.5
"""Seconds for which what a converge read or wrote stands for an observation (taken right after it, in the
same tick), instead of reading every resource again."""


class Acting:
    def __init__(self, runner: GroupRunner) -> None:
        self.runner = runner
        self.ctx: OperatorContext = runner.ctx
        self.role: Role | None = None
        self.proved = True
        """Our PRIMARY role was proved by this process (False: recalled from resources found serving)."""
        self.vouched = False
        """Not proved, but a read after one of our heartbeats vouched for our copy (reconciler/vouching.py)."""
        self.proof_sent: float | None = None
        """When our last proof of ownership that landed was sent: like a heartbeat, it moves this group's fence
        deadline (a takeover of us as silent is conditioned on the proof number it saw), not our other groups'."""
        self.started_at = self.ctx.clock.monotonic()
        self.recalled = False
        self.observation: Observation | None = None
        self.observed_as: Role | None = None  # the role the last observation was graded for
        self.reported = ClusterState.STANDBY
        self.settling_since: float | None = None
        self._converge_errors: tuple[str, ...] = ()
        self._lock = asyncio.Lock()  # one change of local resources at a time
        self._known: tuple[float, Role | None, dict[str, dict[str, Any]]] = (0.0, None, {})
        """When the last converge ran, to which role, and the objects it read or wrote (for the observation)."""

    @property
    def on_heartbeats(self) -> bool:
        """Our heartbeats move our fence deadline: our role was proved, or vouched for, by this process."""
        return self.proved or self.vouched

    @property
    def health(self) -> Health:
        return self.observation.health if self.observation is not None else Health.UNKNOWN

    def become(self, role: Role, *, proved: bool = True) -> None:
        if role != self.role:
            self.settling_since = self.ctx.clock.monotonic()
            self.role = role
            self.runner.fence_moved()
        self.proved = proved
        self.vouched = False

    # --- one decision -------------------------------------------------------------------------------

    async def carry_out(self, decision: Decision, state: GroupState | None, reporter: Reporter) -> Decision:
        """The decision's writes, then the local resources. Returns what was finally decided."""
        runner = self.runner
        action = decision.action
        config = runner.records.config
        if decision.schedule is not None and action in (Action.START_SCHEDULED, Action.DROP_SCHEDULED):
            decision = await self._schedule(decision, decision.schedule, state)  # then our role, as for any decision
        if decision.move is not None and state is not None:
            taken = await self._move(decision, decision.move, state, reporter)
            if taken is None:
                return Decision(Action.NONE, self.role, f"no action: {action.value} did not happen")
            return await self.promote(Decision(action, Role.PRIMARY, decision.reason), taken, reporter)
        if action == Action.ASK_TO_DRAIN and config is not None:
            await self._ask_to_drain(config, decision)
            await self.converge(Role.STANDBY, reporter)
            return decision
        if action == Action.ABANDON and decision.transition is not None and config is not None:
            return await self._abandon(decision, decision.transition, config, reporter)
        if action == Action.HAND_OFF and decision.transition is not None:
            # The new owner is ready: stop serving at once, and remove the hand-off meanwhile (a slow table must
            # not keep two clusters serving).
            t = decision.transition
            ops = self.ctx.store.operations
            clearing = asyncio.ensure_future(
                ops.clear_transition(runner.namespace, runner.name, t.failover_name, t.epoch)
            )
            try:
                await self.converge(Role.STANDBY, reporter)
            finally:
                with contextlib.suppress(StoreError, TimeoutError):
                    await clearing
                runner.records.changed()
            return decision
        if action == Action.HOLD:
            return decision  # maintenance: whatever a person made of our resources stays as it is
        if decision.role == Role.PRIMARY and config is not None and config.owner == self.ctx.cluster:
            if action == Action.PROMOTE or not self.shaped():
                return await self.promote(decision, config.epoch, reporter)
            return decision  # scaled up as it should (pods may still start): nothing to scale, nothing to prove
        if decision.role == Role.PRIMARY:
            return decision  # an UPTIME source serving on: it keeps what it has, and scales nothing up
        if decision.role is not None and (decision.role != self.role or not self.shaped()):
            # A standby already down is left alone (its resources are still observed every tick, and its fence
            # loop converges them again the moment they are not)
            await self.converge(decision.role, reporter)
        return decision

    def writes(self, decision: Decision) -> bool:
        """The decision writes to DynamoDB (a move, a request, a proof of ownership)."""
        if decision.action == Action.HOLD:
            return False
        if decision.action not in (Action.NONE, Action.WAIT, Action.DEMOTE, Action.FENCE, Action.FENCED_BY_HAND):
            return True
        return decision.role == Role.PRIMARY and not self.shaped()

    async def _abandon(self, decision: Decision, t: Transition, config: GroupConfig, reporter: Reporter) -> Decision:
        runner = self.runner
        try:
            limit = runner.measure.timing().transitory
            withdrawn = await self.ctx.store.operations.withdraw_transition(
                runner.namespace,
                runner.name,
                t,
                f"{self.ctx.cluster} gave up waiting for {t.target_cluster} to take over after {limit:g}s and "
                f"serves again",
            )
            runner.records.changed()  # our own write: the next tick reads what it left
        except StoreError as exc:
            return Decision(
                Action.NONE, Role.STANDBY, f"no action: could not withdraw failover {t.failover_name}: {exc}"
            )
        if not withdrawn:  # it transferred after all (or was undone elsewhere): the next read says which
            runner.hurry()
            return Decision(
                Action.NONE,
                Role.STANDBY,
                f"no action: failover {t.failover_name} is no longer withdrawable; reading again",
            )
        runner.records.config = config.model_copy(update={"transition": None})
        return await self.promote(decision, config.epoch, reporter)

    async def promote(self, decision: Decision, epoch: int, reporter: Reporter) -> Decision:
        """Prove ownership at `epoch`, then scale up — only if the proof was sent within the fence limit."""
        runner = self.runner
        store = self.ctx.store
        clock = self.ctx.clock
        if runner.leaving:
            return Decision(Action.NONE, Role.STANDBY, f"no action: {self.ctx.cluster} leaves {runner.group}")
        timing = runner.measure.timing()
        plan = runner.plan
        if plan is not None and (self.observation is None or self.observed_as != Role.PRIMARY):
            # The proof says what our resources are as a PRIMARY's: a standby's scaled-down Deployment is "OK"
            # for a standby, but not serving — a proof saying PRIMARY and OK would read as ready to the Failover
            # that waits for it (downtime under-measured) and to an UPTIME source (which would stop too soon).
            # On a first tick, it is also the true status, not written again (a cold start's thousand groups).
            with contextlib.suppress(KubeError):
                self.observation = await runner.workloads.observe(
                    runner.namespace, plan.resources, Role.PRIMARY, foreign=runner.claimed
                )
                self.observed_as = Role.PRIMARY
        sent = clock.monotonic()
        health, components, message = self._report_now()
        if self.observed_as != Role.PRIMARY and health == Health.OK:
            health = Health.DEGRADED  # could not look again: not known to serve yet, whatever it was as a standby
        reports = runner.reports
        maintenance = runner.maintenance.declared
        try:
            # A proof answered after the fence limit is not acted on, so it is not waited for (nor retried) past
            # it either: its PRIMARY may have landed, and the true status must follow it at once, or a takeover of
            # us as "not serving" is refused for as long as the retries last.
            reports.proving = True
            async with asyncio.timeout(timing.fence_after):
                await store.state.prove_ownership(
                    runner.namespace, runner.name, epoch, health, components, message=message, maintenance=maintenance
                )
        except DeposedError as exc:
            self.ctx.depose(str(exc))
            return Decision(Action.NONE, self.role, f"no action: {exc}")
        except ConflictError as exc:
            runner.records.changed()  # our own write (the move) or a peer's: the next tick reads what they left
            runner.records.moved = None
            runner.hurry()
            return Decision(Action.NONE, Role.STANDBY, f"no action: not promoting: {exc}")
        except (StoreError, TimeoutError) as exc:
            runner.records.changed()  # our own writes, landed or not: the next tick reads what they left
            runner.records.moved = None
            reports.written_key = None  # it may have landed, saying PRIMARY: say again what is true
            return Decision(
                Action.NONE,
                self.role,
                f"no action: could not prove ownership of {runner.group}: {exc or 'DynamoDB did not answer in time'}",
            )
        finally:
            reports.proving = False
        proof = store.state.proofs.get(runner.pk, 0)
        if self.proof_sent is None or sent > self.proof_sent:
            self.proof_sent = sent
            runner.fence_moved()
        if not runner.records.kept_proof(epoch, health, components, message, maintenance, proof_seq=proof):
            runner.records.changed()  # our own writes, but not what our copy expected: the next tick reads them
        # The proof moves the group's own proof number, not our liveness: it does not move the fence deadline of
        # our other groups (each takeover of those is conditioned on their own numbers).
        reports.proved(ClusterState.PRIMARY, health, epoch, components, message, maintenance)
        if clock.monotonic() - sent > timing.fence_after:
            reports.written_key = None  # it says PRIMARY, but we do not act on it: say again what is true
            return Decision(
                Action.NONE,
                self.role,
                f"no action: the proof of ownership of {runner.group} took "
                f"longer than {timing.fence_after:g}s; not promoting on it",
            )
        if runner.leaving:
            # The group was deleted here while the proof was in flight: the leaving path stops our copy and may
            # hand the group over at any moment (seed 1796608898599: it did, then this scaled up): nothing scales up.
            runner.records.changed()
            return Decision(Action.NONE, Role.STANDBY, f"no action: {self.ctx.cluster} leaves {runner.group}")
        self.reported = ClusterState.PRIMARY
        if decision.action != Action.PROMOTE and self.role != Role.PRIMARY:
            reporter.event("Promoted", f"promoting: {self.ctx.cluster} owns {runner.group} at epoch {epoch}")
        if self.ctx.liveness is not None and (self.role != Role.PRIMARY or not self.proved):
            # The watchdog must know we are about to serve before we do: frozen after the scale-up and before
            # the next renewal, we would otherwise never be fenced.
            self.proved = True
            await self.ctx.liveness.renew(also=runner.fence_left())
        await self.converge(Role.PRIMARY, reporter, epoch=epoch, proved_at=sent)
        return decision

    async def _move(self, decision: Decision, move: Move, state: GroupState, reporter: Reporter) -> int | None:
        """The takeover, transfer or hand-back: one conditional write; the new epoch, or None if it did not
        happen."""
        runner = self.runner
        config = state.config
        ops = self.ctx.store.operations
        me = self.ctx.cluster
        t = move.transition
        checks = dict(move.checks)
        owner_check = checks.pop(config.owner, None)
        kwargs: dict[str, Any] = {
            "expected_epoch": move.epoch,
            "lease_seconds": self.ctx.settings.lock_lease_seconds,
            "state": state,  # read (strongly consistent) in this tick, and decided on
            "owner_check": owner_check,
            "other_checks": checks or None,
        }
        if decision.action == Action.TAKE_OVER:
            name, reason = f"auto-{me}-epoch-{config.epoch + 1}", decision.reason
            kwargs.update(automatic=True)
        elif decision.action == Action.TRANSFER and t is not None:
            name, reason = t.failover_name, t.reason or f"Failover {runner.namespace}/{t.failover_name}"
            kwargs.update(
                transition=t,
                mode=t.mode,
                automatic=t.automatic,
                force=t.force,
                unconfirmed=move.unconfirmed,
                started_at=t.requested_at,
            )
        elif decision.action == Action.HAND_BACK and t is not None:
            name, reason = t.failover_name, decision.reason
            kwargs.update(transition=t, mode=FailoverMode.UPTIME, outcome=Outcome.ROLLED_BACK, skip_checks=True)
        else:
            return None
        try:
            record = await ops.execute_failover(runner.namespace, runner.name, name, me, reason, **kwargs)
        except (ConflictError, LockHeldError, PreconditionError, StoreError) as exc:
            if runner.reports.repeats.news("move", str(exc)):
                fields = {"action": decision.action.value, "epoch": config.epoch}
                log.info("%s: %s did not happen: %s", runner.group, decision.action.value, exc, extra=fields)
            runner.records.changed()  # read it all again (a lock may have been taken: only a full read shows it)
            runner.hurry()
            return None
        moved = config.model_copy(
            update={
                "owner": me,
                "previous_owner": config.owner,
                "epoch": record.epoch,
                "transition": None,
                "serving": False,
                "lock_token": None,
                "last_record": record.model_dump_json(),
            }
        )
        runner.records.config = moved
        # Our own write: the proof that follows it keeps both in our copy of the group when it lands (else the
        # next tick reads what they left).
        handed_off = record.mode == FailoverMode.UPTIME and record.outcome == Outcome.SUCCEEDED
        runner.records.moved = (
            None  # it left a hand-off in the config, which our copy does not have: read it
            if handed_off
            else (
                moved.model_copy(
                    update={
                        "version": config.version + 1,
                        "last_failover": record.finished_at,
                        "last_move": record.record_id,
                    }
                ),
                record,
            )
        )
        runner.reports.moved(decision, record, config.owner)
        runner.moves.ours(decision, record, config.owner, runner.measure.stopped_since(decision, state))
        return record.epoch

    async def _ask_to_drain(self, config: GroupConfig, decision: Decision) -> None:
        runner = self.runner
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
            runner.records.config = await self.ctx.store.operations.request_transition(
                runner.namespace, runner.name, transition
            )
        except (ConflictError, NotFoundError, StoreError) as exc:
            log.info("%s: could not ask %s to drain: %s", runner.group, config.owner, exc)
        runner.records.changed()  # our own write (or attempt): the next tick reads what it left

    async def _schedule(self, decision: Decision, sw: ScheduledSwitchover, state: GroupState | None) -> Decision:
        """START_SCHEDULED: the move request a Failover writes, in one conditional write that removes the schedule;
        DROP_SCHEDULED: remove it. A write that did not happen is said instead (the next read shows why)."""
        runner = self.runner
        schedules = self.ctx.store.schedules
        try:
            if state is None:
                raise ConflictError("the group's records were not read in this tick")
            config = state.config
            if decision.action == Action.START_SCHEDULED:
                transition = Transition(
                    failover_name=sw.name,
                    source_cluster=config.owner,
                    target_cluster=self.ctx.cluster,
                    mode=sw.mode,
                    requested_by=sw.requested_by,
                    requested_at=self.ctx.clock.now(),
                    epoch=config.epoch,
                    reason=sw.reason,
                )
                runner.records.config = await schedules.start(runner.namespace, runner.name, transition)
            elif not await schedules.unschedule(runner.namespace, runner.name, sw.name):
                raise ConflictError(f"the switchover {sw.name} was no longer scheduled")
        except (StoreError, TimeoutError) as exc:
            said = str(exc) or "DynamoDB did not answer in time"
            log.info("%s: %s did not happen: %s", runner.group, decision.action.value, said)
            runner.hurry()
            return Decision(Action.NONE, decision.role, f"no action: {decision.action.value} did not happen: {said}")
        finally:
            runner.records.changed()  # our own write (or attempt): the next tick reads what it left
        return decision

    def _report_now(self) -> tuple[Health, dict[str, Any], str | None]:
        """What a proof of ownership says of our resources: the last observation."""
        o = self.observation
        if o is None:
            return Health.UNKNOWN, {}, None
        return o.health, dict(o.components), o.message or None

    # --- local resources ----------------------------------------------------------------------------

    async def converge(
        self, role: Role, reporter: Reporter, *, epoch: int | None = None, proved_at: float | None = None
    ) -> None:
        """Converge our resources to `role`. PRIMARY only with a proof (`proved_at`) still within the limit."""
        runner = self.runner
        if self.ctx.deposed.is_set():
            return  # another replica leads: it acts for the cluster now
        async with self._lock:
            if role == Role.PRIMARY:
                timing = runner.measure.timing()
                if proved_at is None or self.ctx.clock.monotonic() - proved_at > timing.fence_after:
                    return
            self.become(role)
            plan = runner.plan
            if plan is None:
                return
            config = runner.records.config
            at = epoch if epoch is not None else (config.epoch if config else 0)
            result = await runner.workloads.converge(
                runner.namespace, runner.resources(), role, group=runner.group, epoch=at
            )
            self._known = (self.ctx.clock.monotonic(), role, result.objects)
        errors = tuple(result.errors)
        if errors != self._converge_errors:  # once per distinct problem, not every tick
            for problem in errors:
                log.warning("%s: %s", runner.group, problem)
            if errors:
                reporter.event(
                    "ConvergeFailed",
                    f"could not make every resource {role.shape.value}: {'; '.join(errors)}",
                    warning=True,
                )
            else:
                log.info("%s: every listed resource converges again", runner.group)
        self._converge_errors = errors

    async def observe(self) -> None:
        runner = self.runner
        plan = runner.plan
        if plan is None:
            return
        local = self.role or Role.STANDBY
        # What the converge just read or wrote is graded as it is: one read per resource per tick, not two.
        when, converged, known = self._known
        self._known = (0.0, None, {})
        if converged != local or self.ctx.clock.monotonic() - when > KNOWN_FOR:
            known = {}
        try:
            self.observation = await runner.workloads.observe(
                runner.namespace, plan.resources, local, known=known, previous=self.observation, foreign=runner.claimed
            )
            self.observed_as = local
        except KubeError as exc:  # observe grades errors itself; this is a safety net
            if runner.reports.repeats.news("observe", str(exc)):
                log.warning("%s: cannot observe resources: %s", runner.group, exc)
            return
        self.observation = self._able(self.observation)
        config = runner.records.config
        draining_me = config is not None and draining(config) and config.owner == self.ctx.cluster
        scaled_down = self.observation.all_scaled_down
        self.reported = reported_state(self.role, draining_me, self.down(), self.reported, scaled_down)
        if self.settled():
            self.settling_since = None

    async def recall(self) -> None:
        """A process that starts: what its resources were converged to, before it decides anything (see
        rules.recalled_role). Resources found serving are PRIMARY, not proved: they fence after the unproved
        allowance unless this process proves ownership first. Nothing of ours on them: nothing is touched
        before the config has been read."""
        runner = self.runner
        plan = runner.plan
        if self.recalled or plan is None:
            return
        if self.role is not None:
            self.recalled = True  # a decision got there first: what it converged to is known
            return
        try:
            observation = await runner.workloads.observe(
                runner.namespace, plan.resources, Role.PRIMARY, foreign=runner.claimed
            )
        except KubeError:
            return
        recalled = recalled_role(c.get("managedRole") for c in observation.components.values())
        if recalled is None and observation.any_unknown:
            return  # its API server did not answer: nothing learned yet, asked again on the next tick
        self.recalled = True
        self.started_at = self.ctx.clock.monotonic()
        self.observation, self.observed_as = observation, Role.PRIMARY
        if recalled is not None and self.role is None:
            if recalled == Role.PRIMARY:
                log.info(
                    "%s: found serving when %s started; it proves ownership within %gs or fences",
                    runner.group,
                    self.ctx.cluster,
                    runner.measure.timing().unproved_allowance,
                )
            self.become(recalled, proved=recalled != Role.PRIMARY)
            if recalled == Role.PRIMARY:
                runner.vouch_found_serving()

    def _able(self, observation: Observation) -> Observation:
        """The observation, UNKNOWN while the local API server takes no write (the Lease's renewal says so): a
        cluster that can see its resources but not change them cannot act on them either (rules.able_to_act)."""
        liveness = self.ctx.liveness
        refused = liveness.refused if liveness is not None else None
        if refused is None or observation.health == Health.UNKNOWN:
            return observation
        message = f"cannot change its resources: the API server does not take writes ({refused})"
        return dataclasses.replace(observation, health=Health.UNKNOWN, message=message, graded=None)

    def may_serve(self) -> bool:
        """Our resources for the group may be up: we serve it, or have not seen them confirmed down."""
        return self.role == Role.PRIMARY or (self.role is not None and self.down() is not True)

    def down(self) -> bool | None:
        """Every listed workload confirmed down; None when they could not all be observed."""
        o = self.observation
        if o is None or o.any_unknown:
            return None
        return o.all_down

    def ready(self) -> bool:
        return self.observation is not None and self.observation.all_ready

    def shaped(self) -> bool:
        """The last observation found nothing to scale up, resume or publish for the current role."""
        return self.observation is not None and self.observation.all_shaped

    def settled(self) -> bool:
        return self.ready() if self.role == Role.PRIMARY else bool(self.down())
