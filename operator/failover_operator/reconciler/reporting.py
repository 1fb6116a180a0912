"""What a group's ticks tell the others: this cluster's status record in DynamoDB (written when what it says
changes, never just because time passed), the FailoverGroup's status in Kubernetes, decisions as log lines and
events (when they change), and the group's metrics.

Serve first, report next: while groups queue to act (a dead owner's thousand groups), a group serving as its
proof said writes neither the details of its status nor its FailoverGroup status until the queue is gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import logs
from ..api import FailoverGroupStatus
from ..model import ClusterState, HistoryRecord, Role, Transition
from ..rules import Action, ConfigWord, Decision, config_word, readiness, uptime_source
from ..rules.fenced import reason_of
from ..store import DeposedError, GroupState, StoreError, SupersededError
from ..store.problems import find_problems
from ..store.records import components_json
from ..workloads.converge import Observation
from ..workloads.kube import KubeError
from .context import Reporter
from .plan import GroupPlan
from .status import group_status, silent_since

if TYPE_CHECKING:
    from .context import OperatorContext
    from .group import GroupRunner

log = logging.getLogger("failover_operator.group")

_EVENTS = {
    Action.PROMOTE: ("Promoted", False),
    Action.DEMOTE: ("Demoted", False),
    Action.FENCE: ("Fenced", True),
    Action.FENCED_BY_HAND: ("FencedByHand", True),
    Action.DRAIN: ("DemotingForFailover", False),
    Action.ABANDON: ("FailoverAbandoned", True),
    Action.TRANSFER: ("Transferring", False),
    Action.HAND_BACK: ("HandedBack", True),
    Action.HAND_OFF: ("Demoted", False),
    Action.TAKE_OVER: ("TookOver", True),
    Action.ASK_TO_DRAIN: ("AskedToDrain", True),
    Action.WAIT: ("WaitingToTakeOver", True),
    Action.NONE: ("Decision", False),
    Action.HOLD: ("Maintenance", False),
    Action.START_SCHEDULED: ("SwitchoverStarted", False),
    Action.DROP_SCHEDULED: ("SwitchoverDropped", True),
}


class StatusKey(NamedTuple):
    """What our status record for the group says (what decides whether it must be written again)."""

    state: ClusterState
    health: str
    epoch: int | None
    components: str  # as JSON
    message: str | None
    following: str | None  # the UPTIME move we are the source of, seen (ClusterStatus.following)
    maintenance: bool = False  # we hold the group in maintenance, or are about to (ClusterStatus.maintenance)


class Reports:
    def __init__(self, runner: GroupRunner) -> None:
        self.runner = runner
        self.ctx: OperatorContext = runner.ctx
        self.repeats = logs.Repeats(self.ctx.clock.monotonic)
        self.proving = False  # a proof of ownership is in flight (no background status write may start)
        self.written_key: StatusKey | None = None  # what our last confirmed status write said
        self.reported_once = False  # our status for the group has been written since we started
        self.takeover: tuple[bool, str, str] | None = None  # ReadyToTakeOver, as of the last tick
        self._event_key: tuple[object, ...] | None = None
        self._status: FailoverGroupStatus | None = None
        self._status_from: tuple[object, ...] | None = None  # what the FailoverGroup's status was last made of
        self._components: tuple[Observation, str] | None = None  # an observation and its components as written
        self._writing: asyncio.Task[None] | None = None
        self._last_status_error: str | None = None

    @property
    def writing(self) -> asyncio.Task[None] | None:
        return self._writing

    @property
    def status(self) -> FailoverGroupStatus | None:
        """The FailoverGroup's status as last written (None: not yet)."""
        return self._status

    # --- our status record in DynamoDB ---------------------------------------------------------------

    def key(self) -> StatusKey | None:
        """What our status record for the group would say now; None while there is nothing to say yet."""
        runner = self.runner
        acting = runner.acting
        o = acting.observation
        if o is None or not runner.records.was_read or acting.role is None:
            return None
        config = runner.records.config
        known = self._components
        if known is None or known[0] is not o:  # a quiet tick keeps its observation (Workloads.observe)
            known = self._components = (o, components_json(o.components))
        t = config.transition if config is not None else None
        following = t.failover_name if t is not None and uptime_source(config, self.ctx.cluster) else None
        epoch = config.epoch if config else None
        held = runner.maintenance.declared
        return StatusKey(acting.reported, str(o.health), epoch, known[1], self._message(o), following, held)

    def _message(self, o: Observation) -> str | None:
        """What our status says besides its state: why a person fenced our copy, if one did; what the resources
        say."""
        config = self.runner.records.config
        fence = config.fences.get(self.ctx.cluster) if config is not None else None
        if fence is None:
            return o.message or None
        return f"fenced by hand: {reason_of(fence)}" + (f"; {o.message}" if o.message else "")

    def config_word(self) -> ConfigWord | None:
        """What we must still say on the group's config (rules.config_word), as our copy of it shows."""
        runner = self.runner
        acting = runner.acting
        if acting.observation is None or not runner.records.was_read:
            return None
        return config_word(runner.records.config, self.ctx.cluster, acting.reported, acting.health)

    async def say_on_config(self, word: ConfigWord) -> bool:
        """Write `word` on the config; False if it could not be written now (the next status write tries again)."""
        runner = self.runner
        config = runner.records.config
        if config is None:
            return False
        state = self.ctx.store.state
        try:
            if word.stop:
                proof = max(config.proof_seq, state.proofs.get(runner.pk, 0))
                done = await state.stop_serving(runner.namespace, runner.name, config.epoch, proof)
                update: dict[str, Any] = {"serving": False}
            else:
                t = config.transition
                if t is None:
                    return True
                done = await state.mark_transition(
                    runner.namespace,
                    runner.name,
                    t,
                    following=word.following,
                    ready=True if word.ready else None,
                )
                marked: Transition = t.model_copy(
                    update={"following": t.following if word.following is None else word.following}
                    | ({"ready": True} if word.ready else {})
                )
                update = {"transition": marked, "version": config.version + 1}
        except (StoreError, TimeoutError) as exc:
            log.info("%s: could not say on the config that %s: %s", runner.group, word.reason, exc)
            return False
        if not done:
            # Not ours to say any more (moved, withdrawn), or a proof of ours landed since: read what is there.
            runner.records.changed()
            runner.hurry()
            return False
        runner.records.config = config.model_copy(update=update)
        if runner.records.cached is not None and runner.records.cached.config is config:
            runner.records.cached = runner.records.cached.model_copy(update={"config": runner.records.config})
        return True

    def changed(self) -> bool:
        if self.config_word() is not None:
            return True
        key = self.key()
        if key is None or key == self.written_key:
            return False
        written, since = self.written_key, self.runner.acting.settling_since
        if written is not None and key.following != written.following:
            return True  # the target of an UPTIME move waits for it
        if written is not None and key.maintenance != written.maintenance:
            return True  # maintenance begins (or ends) once our status says so
        proved = written is not None and key[0] == written[0] == ClusterState.PRIMARY and key[2] == written[2]
        if proved and self.runner.busy():
            # Serving as our proof said, only the health or details moved, while groups queue to act (a mass
            # takeover): written when the queue is gone — every group serves first, and reports next.
            return False
        plan = self.runner.plan
        if written is not None and key[:3] == written[:3] and since is not None and plan is not None:
            # Only the details move (replicas coming up or going down; state, health and epoch as written):
            # they are written once the resources have settled, or an interval on, not at every step.
            return self.ctx.clock.monotonic() - since >= plan.heartbeat_interval
        return True

    def in_background(self) -> None:
        """Write our status in the background if it changed (one write at a time; the next sees what is new)."""
        if self.proving:
            return  # a status write numbered after the proof in flight, landing first, would cancel the proof
        if self.changed() and (self._writing is None or self._writing.done()):
            self._writing = asyncio.ensure_future(self.write())

    async def write(self) -> None:
        """Our status for the group: what our resources are right now. Written when it changes and retried by
        the next tick while it does not land; ordered, so an older write never lands over a newer one."""
        runner = self.runner
        acting = runner.acting
        observation = acting.observation
        key = self.key()
        if observation is None or key is None:
            return
        word = self.config_word()
        saying: asyncio.Future[bool] | None = None
        if word is not None and word.stop:
            # Beside the status, which says it too (either alone only holds a move up until the other says it)
            saying = asyncio.ensure_future(self.say_on_config(word))
        elif word is not None:
            await self.say_on_config(word)  # first on the config: a status saying "following" or "ready" starts
            # what is conditioned on the config saying so
        try:
            await self._write_status(observation, key)
        finally:
            if saying is not None:
                await saying

    async def _write_status(self, observation: Observation, key: StatusKey) -> None:
        runner = self.runner
        acting = runner.acting
        config = runner.records.config
        try:
            written = await self.ctx.store.state.update_cluster_status(
                runner.namespace,
                runner.name,
                observation.health,
                acting.reported,
                observation.components,
                observed_epoch=config.epoch if config else None,
                message=key.message,
                retry=acting.reported != ClusterState.PRIMARY,  # retried at once: it unblocks a takeover of us
                ordered=True,
                following=key.following,
                leaving=runner.leaving,
                maintenance=key.maintenance,
            )
        except DeposedError as exc:
            self.ctx.depose(str(exc))
            return
        except SupersededError:
            return  # a write sent after this one landed first: it says something newer
        except (StoreError, TimeoutError) as exc:
            text = str(exc) or "timed out"
            if text != self._last_status_error:
                log.warning("%s: status not written: %s", runner.group, text)
            self._last_status_error = text
            return
        self._last_status_error = None
        self.written_key = key
        runner.records.keep(written)
        self.reported_once = True
        runner.metrics.status_writes.inc()

    def proved(
        self,
        state: ClusterState,
        health: object,
        epoch: int,
        components: dict[str, Any],
        message: str | None,
        maintenance: bool,
    ) -> None:
        """A proof of ownership wrote our status: it is what we last said."""
        self.reported_once = True
        key = StatusKey(state, str(health), epoch, components_json(components), message, None, maintenance)
        self.written_key = key

    # --- decisions: log lines, events, metrics --------------------------------------------------------

    def action(self, reason: str, text: str, reporter: Reporter) -> None:
        log.warning("%s: %s", self.runner.group, text)
        reporter.event(reason, text, warning=True)
        self._event_key = None

    def moved(self, decision: Decision, record: HistoryRecord, previous_owner: str) -> None:
        """A move of ours landed: the event says what happened (the failover's own report is the executor's)."""
        runner = self.runner
        reporter = runner.reporter
        me, group = self.ctx.cluster, runner.group
        if decision.action == Action.TAKE_OVER:
            text = f"{me} took over {group} from {previous_owner} at epoch {record.epoch}: {decision.reason}"
            reporter.event("AutomaticFailover", text, warning=True)
        elif decision.action == Action.HAND_BACK:
            text = f"{me} took {group} back at epoch {record.epoch}: {decision.reason}"
            reporter.event("HandedBack", text, warning=True)
        else:
            # A move asked with the fleet CLI has no Failover object: this event (and MoveCompleted) is what
            # `kubectl` shows of it, so it says who asked and why.
            t = decision.transition
            asked = f" for {t.failover_name}, asked by {t.requested_by}" if t is not None else ""
            why = f": {record.reason}" if record.reason else ""
            reporter.event(
                "Transferred", f"{group}: {record.source_cluster} -> {me} at epoch {record.epoch}{asked}{why}"
            )

    def decision(self, decision: Decision, reporter: Reporter, store_error: str | None) -> None:
        """Log a decision when it changes (or acts), post an event when it changes; the group's gauges."""
        runner = self.runner
        acting = runner.acting
        config = runner.records.config
        key = (
            decision.action,
            decision.role,
            config.owner if config else None,
            config.epoch if config else None,
            store_error is None,
        )
        changed = key != self._event_key
        news = self.repeats.news("decision", (key, decision.reason))
        level = logging.INFO if changed or (decision.action != Action.NONE and news) else logging.DEBUG
        fields = {"action": decision.action.value, "epoch": config.epoch if config else None}
        log.log(level, "%s: %s", runner.group, decision.reason, extra=fields)
        if changed:
            self._event_key = key
            reason, warning = _EVENTS[decision.action]
            if store_error is not None and decision.action == Action.NONE:
                reason, warning = "DynamoDBUnreachable", True
            reporter.event(reason, decision.reason, warning=warning)
        mine = runner.metrics
        timing = runner.measure.timing()
        sent = self.ctx.heartbeat.sent_ok
        cached = runner.records.cached
        self.takeover = readiness(
            me=self.ctx.cluster,
            config=config,
            mine=cached.clusters.get(self.ctx.cluster) if cached is not None else None,
            local_role=acting.role,
            health=acting.health,
            auto_failover=runner.plan.auto_failover if runner.plan is not None else True,
            heartbeating=sent is not None and self.ctx.clock.monotonic() - sent < timing.fence_after,
            store_error=store_error,
        )
        mine.ready_to_take_over.set(1 if self.takeover[0] else 0)
        mine.heartbeat_timeout.set(timing.heartbeat)
        mine.decided(decision.action.value)
        mine.is_primary.set(1 if acting.role == Role.PRIMARY else 0)
        by_hand = config is not None and self.ctx.cluster in config.fences
        mine.fenced.set(1 if acting.role == Role.FENCED and not by_hand else 0)  # (the alert's: fenced itself)
        mine.fenced_by_hand.set(1 if by_hand else 0)
        if config is not None:
            mine.epoch.set(config.epoch)
        if acting.observation is not None:
            mine.health(str(acting.observation.health))

    # --- the FailoverGroup's status in Kubernetes ------------------------------------------------------

    async def patch_status(
        self,
        plan: GroupPlan,
        state: GroupState | None,
        decision: Decision,
        reporter: Reporter,
        store_error: str | None,
    ) -> None:
        runner = self.runner
        if self._status is not None and runner.busy():
            return  # groups queue to act (a mass takeover): they serve first; the next tick after shows it
        inputs = self._status_inputs(plan, state, decision, store_error)
        if inputs == self._status_from:
            return  # what the status is made of has not changed since it was last written (or found right)
        store = self.ctx.store
        if state is not None:  # the problems the alerts watch, as this cluster reads the records (pure, cheap)
            stale = store.state.stale_clusters(
                runner.namespace, runner.name, state.clusters, state.config.timeouts.heartbeat
            )
            found = find_problems(state.config, state.clusters, stale=stale, corrupt=state.corrupt)
            runner.metrics.problems(dict(Counter(p.kind.value for p in found)))
        status = group_status(
            me=self.ctx.cluster,
            config=runner.records.config,
            state=state,
            local_role=runner.acting.role,
            observation=runner.acting.observation,
            decision=decision,
            heartbeat_age=lambda c: store.state.heartbeat_age(runner.namespace, runner.name, c),
            heartbeat_interval=plan.heartbeat_interval,
            generation=plan.generation,
            store_error=store_error,
            previous=self._status,
            now=self.ctx.clock.now(),
            spec_error=plan.spec_error,
            claimed=runner.claimed,
            takeover=self.takeover,
            spec_suspended=plan.suspended,
        )
        if status != self._status:
            try:
                await reporter.patch_status(status.to_merge_patch())
            except KubeError as exc:  # the API server is the one thing we cannot report this to
                if self.repeats.news("status", str(exc)):
                    log.warning("%s: cannot update the FailoverGroup's status: %s", runner.group, exc)
                return
            self._status = status
        self._status_from = inputs

    def _status_inputs(
        self, plan: GroupPlan, state: GroupState | None, decision: Decision, store_error: str | None
    ) -> tuple[object, ...]:
        """Everything `group_status` shows, cheaply: equal inputs make an equal status (building it is the
        dearest part of a quiet tick). Silences as shown (since when, to the second), not as measured."""
        runner = self.runner
        interval = plan.heartbeat_interval
        now = self.ctx.clock.now()
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
                    None if name == self.ctx.cluster else silent_since(runner.measure.age(name), interval, now),
                )
                for name, c in sorted(state.clusters.items())
            )
            history = next((h for h in state.history if h.moved), None)
        return (
            runner.records.config,
            self.takeover,
            clusters,
            history,
            state is None,
            runner.acting.role,
            runner.acting.observation,
            decision,
            interval,
            plan.generation,
            plan.spec_error,
            tuple(sorted(runner.claimed.items())),
            store_error,
        )
