"""What the rules look at, measured: a group's Situation from one read of its records, on this cluster's
monotonic clock (never another machine's timestamps), and the timing that applies right now.

Silence is dated by the fleet read that first saw a cluster's last liveness number, not by when this group's
tick came to look; the moment the owner's silence will reach the timeout is kept (`silence_due`), so the
runner ticks once more, off its cadence, right then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import ClusterStatus, GroupConfig, Health, Role
from ..rules import (
    Action,
    Decision,
    Situation,
    Timing,
    claims_serving,
    drained,
    effective_timing,
    fence_left,
    handing_off,
    uptime_party,
)
from ..store import GroupState
from ..store.observe import ChangeObserver
from ..store.state import stale_among
from .plan import GroupPlan

if TYPE_CHECKING:
    from .context import OperatorContext
    from .group import GroupRunner

SILENCE_MARGIN = 0.05
"""Seconds past the heartbeat timeout at which the extra tick looks (the rule is "silent for over" it)."""
STARTING_LIMIT = 120.0
"""Seconds after its start for which a group whose status we have not yet written counts as starting."""


class Measure:
    def __init__(self, runner: GroupRunner) -> None:
        self.runner = runner
        self.ctx: OperatorContext = runner.ctx
        self.seen = ChangeObserver(self.ctx.clock)
        self.ages: dict[str, float | None] = {}  # the peers' heartbeat ages, as the last tick measured them
        self.silence_due: float | None = None  # when the owner's silence, as last seen, reaches the timeout
        # (owner, epoch) -> (sequence numbers of its latest claim to serve, when we first saw that claim)
        self._serving_seen: dict[tuple[str, int], tuple[tuple[int, int | None, int] | None, float]] = {}
        self._timing_of: tuple[GroupConfig | None, GroupPlan | None, Timing] | None = None
        self._hand_fenced = False  # our copy was fenced by hand, and has not served since (Situation.unfenced)

    def timing(self) -> Timing:
        """The group's durations as they apply now (effective_timing: a timeout edit shortens nobody's wait)."""
        plan = self.runner.plan
        config = self.runner.records.config
        change_seen = None
        if config is not None and config.timeouts_before is not None:
            change_seen = self.seen.observe(("timeouts", config.timeouts, config.timeouts_before), True)
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
        """Seconds until this cluster must have stopped serving the group, unless it writes a heartbeat (or, for
        resources found serving when it started, proves ownership)."""
        acting = self.runner.acting
        maintenance = self.runner.maintenance
        return fence_left(
            self.ctx.clock.monotonic(),
            self.timing(),
            heartbeat_sent=_latest(self.ctx.heartbeat.sent_ok, acting.proof_sent),
            proved=acting.role != Role.PRIMARY or acting.on_heartbeats,
            started=max(acting.started_at, maintenance.left_at or acting.started_at),
            following=self.runner.records.read_at if self.handing_off() else None,
            held=maintenance.held,
        )

    def handing_off(self) -> bool:
        """We serve while an UPTIME move away from us is asked for or under way (as the config was last read):
        the target takes the group and starts beside us without waiting for us, so we may serve only while we
        follow the move (rules.fence_left: `following`). Its target, too, serves beside the source until it is
        ready — and the source takes the group back if it is not ready in time — so it too serves only while it
        follows the hand-off."""
        return self.runner.acting.role == Role.PRIMARY and uptime_party(self.runner.records.config, self.ctx.cluster)

    def situation(self, plan: GroupPlan, state: GroupState | None) -> Situation:
        runner = self.runner
        acting = runner.acting
        me = self.ctx.cluster
        now = self.ctx.clock.monotonic()
        timing = self.timing()
        sent = self.ctx.heartbeat.sent_ok
        common = dict(
            me=me,
            group=runner.group,
            local_role=acting.role,
            my_health=acting.health,
            since_heartbeat_write=None if sent is None else now - sent,
            timing=timing,
            fence_left=self.fence_left(),
            proved=acting.proved,
            auto_failover=plan.auto_failover,
            priority=plan.priority,
            maintenance=runner.maintenance.held,
        )
        if state is None:
            read_at = runner.records.read_at
            return Situation(
                store_ok=False,
                known_config=runner.records.config,
                read_age=None if read_at is None else now - read_at,
                **common,  # type: ignore[arg-type]
            )
        config = state.config
        store = self.ctx.store
        ages = self.ages = store.state.heartbeat_ages(runner.namespace, runner.name, state.clusters)
        stale = stale_among(ages, timing.heartbeat)
        owner_status = state.clusters.get(config.owner)
        key = (config.owner, config.epoch)
        silent_for = None
        self.silence_due = None
        if config.owner != me:
            silent_for = self._silent_for(config.owner, owner_status, config.epoch, held=config.owner in config.fences)
            if silent_for <= timing.heartbeat:
                self.silence_due = now + timing.heartbeat - silent_for + SILENCE_MARGIN
        source_silent_for = None
        t = config.transition
        if t is not None and handing_off(config) and t.source_cluster != me:
            source = t.source_cluster
            source_silent_for = self._silent_for(source, state.clusters.get(source), config.epoch)
        if drained(owner_status, config.epoch):  # when we first saw it say it stopped (moves.py: the downtime)
            self.seen.observe(("drained", config.owner, config.epoch), True)
        owner_error_for = None
        if owner_status is not None and owner_status.health == Health.ERROR:
            owner_error_for = self.seen.observe(("error", *key), True)
            sighted = self.ctx.fleet.sighted_at
            if sighted is not None and now - owner_error_for < sighted:
                # Seen ERROR before a blind spell of ours: what it said meanwhile we did not see (its pods coming up
                # again after a DynamoDB outage say ERROR for a moment); the unhealthyPrimary wait starts afresh.
                self.seen.forget(("error", *key))
                owner_error_for = self.seen.observe(("error", *key), True)
        else:
            self.seen.forget(("error", *key))
        transition_age = None
        if t is None:
            self.seen.forget("transition")
        else:
            # The request as written, not its name: one withdrawn and written again (a Failover deleted and
            # applied again, its executor restarted) is a new request, and its waits start over.
            transition_age = self.seen.observe("transition", (t.failover_name, t.epoch, t.requested_at, t.force))
        caused = (silent_for or 0) > timing.heartbeat or (owner_error_for or 0) > timing.unhealthy
        takeover_ready_for = None
        if caused:
            takeover_ready_for = self.seen.observe(("takeover", *key), True)
        else:
            self.seen.forget(("takeover", *key))
        self._note_ages(config, ages)
        if me in config.fences:
            self._hand_fenced = True
        elif acting.role != Role.FENCED:
            self._hand_fenced = False
        return Situation(
            store_ok=True,
            config=config,
            clusters=state.clusters,
            stale=stale,
            owner_silent_for=silent_for,
            owner_fenced=config.owner != me and self._fenced_by(config.owner),
            source_silent_for=source_silent_for,
            owner_error_for=owner_error_for,
            transition_age=transition_age,
            takeover_ready_for=takeover_ready_for,
            unfenced=self._hand_fenced and me not in config.fences,
            schedule_late=self.schedule_late(config),
            **common,  # type: ignore[arg-type]
        )

    def schedule_late(self, config: GroupConfig) -> float | None:
        """Seconds since the config's scheduled switchover was due, on this cluster's wall clock (None: none is
        scheduled, or not yet due). From the config as known: noticing the time reads nothing."""
        sw = config.schedule
        if sw is None:
            return None
        late = (self.ctx.clock.now() - sw.at).total_seconds()
        return late if late >= 0 else None

    def _note_ages(self, config: GroupConfig, ages: dict[str, float | None]) -> None:
        metrics = self.runner.metrics
        for cluster, age in ages.items():
            if age is not None:
                metrics.heartbeat_age(cluster, age)
        if config.owner == self.ctx.cluster:
            owner_age: float | None = 0.0
        elif config.owner in ages:
            owner_age = ages[config.owner]
        else:
            owner_age = self.age(config.owner)
        if owner_age is not None:
            metrics.owner_heartbeat_age.set(owner_age)

    def stopped_since(self, decision: Decision, state: GroupState) -> float | None:
        """When the owner we just moved the group from stopped serving, as we can tell, on our clock (moves.py):
        for a takeover, when we last saw it claim afresh to serve; for a transfer, when we first saw its report that
        it had stopped (no other machine's clock: at most a read later than it stopped); None when we cannot tell
        (an UPTIME move: it served until we were ready)."""
        config = state.config
        now = self.ctx.clock.monotonic()
        if decision.action == Action.TAKE_OVER:
            seen = self._serving_seen.get((config.owner, config.epoch))
            return seen[1] if seen is not None else None
        if decision.action != Action.TRANSFER:
            return None
        age = self.seen.age(("drained", config.owner, config.epoch))
        return None if age is None else now - age

    def age(self, cluster: str) -> float | None:
        """`cluster`'s heartbeat age as this tick measured it (measured now if it did not)."""
        if cluster in self.ages:
            return self.ages[cluster]
        return self.ctx.store.state.heartbeat_age(self.runner.namespace, self.runner.name, cluster)

    def _fenced_by(self, cluster: str) -> bool:
        """`cluster`'s heartbeat says it has fenced this group: it does not serve it, whatever its status says."""
        live = self.ctx.fleet.of(cluster)
        return live is not None and self.runner.pk in live.fenced

    def _silent_for(self, cluster: str, status: ClusterStatus | None, epoch: int, *, held: bool = False) -> float:
        """How long since we saw `cluster` claim, afresh, to serve at `epoch` (its status says PRIMARY at the
        epoch, and its status or its liveness moved since), or since we first looked; nothing else counts.
        `held`: it is fenced by hand (it does not serve, by a person's decision): its silence counts from when it
        is unfenced, so that it has the whole timeout to prove ownership again before anyone may take over."""
        key = (cluster, epoch)
        if held:
            self._serving_seen[key] = (None, self.ctx.clock.monotonic())
            return 0.0
        fresh = None
        config = self.runner.records.config
        if status is not None and claims_serving(status, epoch) and not self._fenced_by(cluster):
            # A proof of ownership moves the config's proof number before the status says PRIMARY: a number
            # seen moving is a sign of life, and a takeover judged on a silence is conditioned on the one seen.
            fresh = (status.heartbeat_seq, status.liveness_seq, config.proof_seq if config is not None else 0)
        last = self._serving_seen.get(key)
        now = self.ctx.clock.monotonic()
        sighted = self.ctx.fleet.sighted_at
        if last is not None and sighted is not None and last[1] < sighted:
            # We could not read for a while (a DynamoDB outage, ours or everyone's): what we did not see, we did not
            # see standing still. Its silence counts from when we could look again (static stability).
            last = self._serving_seen[key] = (last[0], sighted)
        live = self.ctx.fleet.of(cluster)
        namespace, name = self.runner.namespace, self.runner.name
        if status is None and live is not None and live.starting > 0:
            # It has never reported, but its operator says groups of its are still starting, and its liveness
            # moves: its silence counts from when it stops saying so (or stops moving).
            age = self.ctx.store.state.heartbeat_age(namespace, name, cluster)
            if age is not None and age <= self.timing().heartbeat:
                self._serving_seen[key] = (None, now)
                return 0.0
        if last is None:
            self._serving_seen[key] = (fresh, now)
        elif fresh is not None and fresh != last[0]:
            # Dated by when this operator first saw the newer number (the fleet's liveness is read for every
            # group at once), not by when this group's tick came to look: up to an interval earlier, never
            # earlier than our last look, and never before the cluster wrote it (we read it).
            age = self.ctx.store.state.heartbeat_age(namespace, name, cluster) or 0.0
            self._serving_seen[key] = (fresh, max(last[1], now - age))
        return now - self._serving_seen[key][1]


def _latest(*times: float | None) -> float | None:
    """The latest of these times (None: none known)."""
    known = [t for t in times if t is not None]
    return max(known) if known else None
