"""A Failover: ask for each listed group to move (a transition in its config), then follow and report it.

The move itself is carried out by the clusters' own ticks (see decide.py and Transition): the source drains
and reports it, the target transfers ownership and promotes. This module never moves anything: it validates,
writes the request, watches the records and says what happened, step by step, with the measured downtime.

A Failover is often applied in every cluster. The first to write the transition owns the request; the others
find the same transition (or its history record) and report the same outcome. The history record (named
after the Failover) is the proof that it happened, so a restart, a second cluster or a re-run never moves a
group twice. A Failover deleted before its group moved withdraws the request (the source serves on).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from .. import logs
from ..api import FailoverSpec, FailoverStatus, GroupProgress, Phase, make_condition, merge_conditions
from ..clock import Clock
from ..metrics import Metrics
from ..model import ClusterState, FailoverMode, Outcome
from ..rules import drained, refusal, serving
from ..store import (
    ClusterStatus,
    ConflictError,
    DynamoDBService,
    GroupState,
    HistoryRecord,
    NotFoundError,
    StoreError,
    Transition,
)
from ..waits import wait_set
from .context import Reporter
from .preflight import preflight

log = logging.getLogger("failover_operator.failover")

_ORDER = [Phase.PENDING, Phase.VALIDATING, Phase.DEMOTING, Phase.TRANSFERRING, Phase.PROMOTING]

# A history record named like this Failover proves it ran only if it is not much older than the Failover
# object: the same manifest applied in several clusters (minutes apart, clocks a little apart) is one failover,
# but a Failover re-created under an old name days later is a new request.
SAME_REQUEST_WINDOW = timedelta(minutes=15)


class _Failed(Exception):
    """A group cannot be moved; the message is for people."""


class FailoverRefused(Exception):
    """A move was refused before it started (`FailoverExecutor.request`); the message is the Failover's own."""


class ExecutorContext(Protocol):
    """What following a Failover takes: an operator's context, or the fleet CLI's (which has no cluster)."""

    store: DynamoDBService
    clock: Clock
    metrics: Metrics
    failover_poll_seconds: float

    @property
    def cluster(self) -> str: ...

    def wake(self, namespace: str, name: str) -> None: ...

    async def announce(self, namespace: str, name: str) -> None:
        """We wrote the group's records (a request, a withdrawal): the operators must hear of it now — a forced
        move's wait assumes the owner learns of the request within an interval."""


class _Stopped(Exception):
    """The Failover was deleted or the operator is stopping."""


@dataclass
class _Run:
    namespace: str
    name: str
    spec: FailoverSpec
    reporter: Reporter
    stop: asyncio.Event
    generation: int | None
    created: datetime | None = None
    deleted: Callable[[], bool] = lambda: True


class FailoverExecutor:
    def __init__(self, ctx: ExecutorContext) -> None:
        self.ctx = ctx

    async def request(
        self, failover_name: str, namespace: str, group: str, spec: FailoverSpec, reporter: Reporter
    ) -> Transition | None:
        """Only validate and write the request of one group's move (the operators carry it out, as they do a
        Failover's); None when the target owns the group already (nothing to do, as a Failover says);
        raises FailoverRefused with the sentence a Failover's status would show."""
        run = _Run(namespace, failover_name, spec, reporter, asyncio.Event(), None)
        try:
            state = await self._state(namespace, group)
            if state.config.owner == spec.target_cluster and state.config.transition is None:
                return None
            return await self._request(run, (namespace, group), state)
        except _Failed as exc:
            raise FailoverRefused(str(exc)) from None

    async def run(
        self,
        namespace: str,
        name: str,
        spec: FailoverSpec,
        status: FailoverStatus | None,
        reporter: Reporter,
        stop: asyncio.Event,
        generation: int | None = None,
        created: datetime | None = None,
        *,
        deleted: Callable[[], bool] = lambda: True,
    ) -> FailoverStatus:
        """Follow the Failover to Succeeded or Failed (or until `stop`); returns the last status.

        `deleted` says, once `stop` is set, whether the Failover was deleted (its request is withdrawn: the source
        serves on) or only this process stops (the request stays: the operators carry it out without us, and
        the next leader follows it again; a withdrawal would have a drained source serve again in between)."""
        if status is not None and status.phase is not None and status.phase.terminal:
            return status
        clock = self.ctx.clock
        logs.bind(failover=f"{namespace}/{name}", cluster=self.ctx.cluster)
        start = (status.start_time if status and status.start_time else None) or _second(clock.now())
        started_mono = clock.monotonic()
        run = _Run(namespace, name, spec, reporter, stop, generation, created, deleted)
        try:
            keys = spec.group_keys(namespace)
        except ValueError as exc:
            return await self._finish(run, [], start, started_mono, str(exc))
        progress = {
            key: GroupProgress(namespace=key[0], name=key[1], phase=Phase.PENDING, target_cluster=spec.target_cluster)
            for key in keys
        }
        board = _Board(self, run, progress, start)
        await board.publish(Phase.VALIDATING)
        if spec.dry_run:
            for key in keys:
                await self._dry_run(run, board, key)
            return await self._finish(run, list(board.progress.values()), start, started_mono, None)
        reporter.event(
            "FailoverStarted",
            f"moving {', '.join(f'{ns}/{n}' for ns, n in keys)} to {spec.target_cluster} "
            f"({spec.mode.value}{', forced' if spec.force else ''})",
        )
        try:
            await asyncio.gather(*(self._group(run, board, key) for key in keys))
        except _Stopped:
            if run.deleted():
                log.info("failover %s/%s deleted before it finished; its request is withdrawn", namespace, name)
            else:
                log.info("failover %s/%s: this process stops; the request stays for the next one", namespace, name)
            return board.status(Phase.PENDING)
        return await self._finish(run, list(board.progress.values()), start, started_mono, None)

    async def _dry_run(self, run: _Run, board: _Board, key: tuple[str, str]) -> None:
        """What the move of one group would meet (reconciler/preflight.py); nothing is written."""
        ns, group = key
        spec = run.spec
        now = _second(self.ctx.clock.now())
        try:
            state = await self._state(ns, group)
        except (_Failed, StoreError) as exc:
            await board.update(key, phase=Phase.FAILED, message=str(exc), completion_time=now)
            return
        stale = set(self.ctx.store.state.stale_clusters(ns, group, state.clusters, state.config.timeouts.heartbeat))
        verdict = preflight(state, spec.target_cluster, spec.mode, stale, force=spec.force)
        if verdict.ok:
            message = "would start: " + "; ".join(f"{i}. {step}" for i, step in enumerate(verdict.steps, 1))
        else:
            failing = [c.message for c in verdict.checks if not c.ok]
            message = "; ".join(([verdict.refusal] if verdict.refusal else []) + failing)
        await board.update(
            key,
            phase=Phase.VALIDATED if verdict.ok else Phase.FAILED,
            source_cluster=state.config.owner,
            epoch=state.config.epoch,
            message=message,
            completion_time=now,
        )

    async def _finish(
        self, run: _Run, groups: list[GroupProgress], start: datetime, started_mono: float, error: str | None
    ) -> FailoverStatus:
        clock = self.ctx.clock
        failed = [g for g in groups if g.phase == Phase.FAILED]
        done = Phase.VALIDATED if run.spec.dry_run else Phase.SUCCEEDED
        ok = error is None and not failed and all(g.phase == done for g in groups)
        if error is not None:
            message = error
        elif failed:
            message = "; ".join(f"{g.namespace}/{g.name}: {g.message}" for g in failed)
        else:
            message = "; ".join(f"{g.namespace}/{g.name}: {g.message}" for g in groups)
        downtimes = [g.downtime_seconds for g in groups if g.downtime_seconds is not None]
        duration = round(clock.monotonic() - started_mono, 3)
        phase = done if ok else Phase.FAILED
        # Conditions `kubectl wait` can use honestly: Succeeded (or, for a dry run, Validated) and Failed say
        # which; Complete only that it is over.
        said = [("Complete", True), (done.value, ok), ("Failed", not ok)]
        status = FailoverStatus(
            phase=phase,
            groups=groups,
            start_time=start,
            completion_time=_second(clock.now()),
            duration_seconds=duration,
            duration=duration_text(duration),
            measured_downtime_seconds=max(downtimes) if downtimes else None,
            message=message,
            executed_by=self.ctx.cluster,
            conditions=merge_conditions(
                [],
                [
                    make_condition(
                        kind, value, phase.value, message, now=clock.now(), observed_generation=run.generation
                    )
                    for kind, value in said
                ],
            ),
            observed_generation=run.generation,
        )
        await run.reporter.patch_status(status.to_merge_patch())
        if not run.spec.dry_run:  # a dry run moved nothing: it is no failover
            self.ctx.metrics.failover_duration.observe(duration)
            # A move is counted, and its downtime observed, by the cluster that became the owner (moves.py),
            # whoever asked for it; here only the requests that moved nothing.
            for g in groups:
                if g.phase == Phase.FAILED and g.epoch is None:
                    labels = (g.namespace, g.name, run.spec.mode.value, "false", g.phase.value)
                    self.ctx.metrics.failovers.labels(*labels).inc()
        if ok:
            overlap = any(g.overlap_unknown for g in groups)
            run.reporter.event(f"Failover{done.value}", f"{message} ({duration:.1f}s)", warning=overlap)
            log.info("failover %s/%s %s: %s", run.namespace, run.name, done.value.lower(), message)
        else:
            run.reporter.event("FailoverFailed", message, warning=True)
            log.warning("failover %s/%s failed: %s", run.namespace, run.name, message)
        return status

    # --- one group ------------------------------------------------------------------------------------

    async def _group(self, run: _Run, board: _Board, key: tuple[str, str]) -> None:
        try:
            await self._move(run, board, key)
        except _Failed as exc:
            await board.update(key, phase=Phase.FAILED, message=str(exc), completion_time=_second(self.ctx.clock.now()))
        except StoreError as exc:
            await board.update(
                key, phase=Phase.FAILED, message=f"DynamoDB: {exc}", completion_time=_second(self.ctx.clock.now())
            )

    async def _move(self, run: _Run, board: _Board, key: tuple[str, str]) -> None:
        ns, group = key
        spec = run.spec
        target = spec.target_cluster
        now = self.ctx.clock.now
        await board.update(key, phase=Phase.VALIDATING, start_time=_second(now()))
        done = await self._in_history(ns, group, run)
        if done is not None:
            await self._record_done(board, key, done)
            return
        state = await self._state(ns, group)
        config = state.config
        t = config.transition
        if t is None or t.failover_name != run.name:
            if config.owner == target:
                await board.update(
                    key,
                    phase=Phase.SUCCEEDED,
                    source_cluster=config.owner,
                    epoch=config.epoch,
                    message=f"{target} already owns {ns}/{group} at epoch {config.epoch}; nothing to do",
                    completion_time=_second(now()),
                )
                return
            t = await self._request(run, key, state)
        await board.update(key, source_cluster=t.source_cluster)
        try:
            await self._follow(run, board, key, t)
        except _Stopped:
            # Deleted before it moved: withdraw the request, so the source serves on. Shielded: kopf may
            # cancel us after it has waited long enough, and the undo must still complete.
            if run.deleted():
                await asyncio.shield(self._withdraw(ns, group, t, f"Failover {run.namespace}/{run.name} deleted"))
            raise

    async def _request(self, run: _Run, key: tuple[str, str], state: GroupState) -> Transition:
        """Validate, then write the transition; a racing copy of this Failover may have written it first."""
        ns, group = key
        spec = run.spec
        config = state.config
        stale = set(self.ctx.store.state.stale_clusters(ns, group, state.clusters, config.timeouts.heartbeat))
        refused = refusal(
            config,
            state.clusters,
            spec.target_cluster,
            stale,
            check_suspension=not spec.force,
            check_health=not spec.force,
        )
        if refused:
            raise _Failed(refused)
        transition = Transition(
            failover_name=run.name,
            source_cluster=config.owner,
            target_cluster=spec.target_cluster,
            mode=spec.mode,
            requested_by=self.ctx.cluster,
            requested_at=self.ctx.clock.now(),
            epoch=config.epoch,
            force=spec.force,
            reason=spec.reason or f"Failover {run.namespace}/{run.name}",
        )
        try:
            config = await self.ctx.store.operations.request_transition(ns, group, transition)
        except ConflictError as exc:
            current = (await self._state(ns, group)).config.transition
            if current is not None and current.failover_name == run.name:
                return current  # the same Failover, applied in another cluster, asked first
            raise _Failed(f"cannot start: {exc}") from None
        except NotFoundError:
            raise _Failed(_not_registered(ns, group)) from None
        run.reporter.event(
            "Demoting" if spec.mode == FailoverMode.CONSISTENCY else "Transferring",
            f"{ns}/{group}: asked {transition.source_cluster} to hand over to {spec.target_cluster} "
            f"({spec.mode.value}, epoch {transition.epoch})",
        )
        await self.ctx.announce(ns, group)
        return config.transition or transition

    async def _follow(self, run: _Run, board: _Board, key: tuple[str, str], t: Transition) -> None:
        """Watch the records until the group moved and its new owner serves, or the move ended otherwise.

        Downtime is the time nobody served, measured on our clock from what the clusters report: CONSISTENCY,
        from the source's report that it stopped to the target's report that it is ready; UPTIME, how long the
        source was down before the target was ready (usually zero); a forced move whose source never said it
        stopped, from the transfer. Each report is dated by when it was written, never earlier than our previous
        read (which did not see it yet), so the figure does not depend on how often or how late we poll; a
        CONSISTENCY source's FAILOVER report that came and went between two reads (the transfer required it) is
        dated by the last read that did not see it."""
        ns, group = key
        clock = self.ctx.clock
        source, target = t.source_cluster, t.target_cluster
        began = clock.monotonic()
        polled_at = began
        down_at: float | None = None
        transferred_at: float | None = None
        record: HistoryRecord | None = None
        while True:
            # State first, history second: a transfer that lands between the two reads is in the history.
            read_after = polled_at
            polled_at = clock.monotonic()
            state = await self._state(ns, group)
            config = state.config
            limit = config.timeouts.transitory_state
            if record is None:
                record = await self._in_history(ns, group, run, t)
            rolled_back = [h for h in state.history if h.failover_name == run.name and h.outcome == Outcome.ROLLED_BACK]
            if rolled_back:
                back = rolled_back[0]
                raise _Failed(
                    f"{target} did not report ready within {limit:g}s of the UPTIME hand-off; ownership of "
                    f"{ns}/{group} returned to {source} at epoch {back.epoch} ({source} served throughout)"
                )
            old = state.clusters.get(source)
            if down_at is None and drained(old, t.epoch):
                down_at = self._reported_at(old, read_after)
                stopped = min(clock.now(), old.last_heartbeat) if old is not None else clock.now()  # when it said so
                await board.update(key, demoted_time=_second(stopped), message=f"{source} has stopped serving")
            if record is None:
                current = config.transition
                if current is None or current.failover_name != run.name:
                    raise _Failed(self._abandoned(ns, group, t, config.owner, config.epoch, limit, down_at))
                if clock.monotonic() - began > limit and await self._withdrawn(ns, group, t, limit, down_at):
                    raise _Failed(self._timed_out(ns, group, t, limit, down_at))
                phase = Phase.TRANSFERRING if (down_at is not None or t.mode == FailoverMode.UPTIME) else Phase.DEMOTING
                waiting = (
                    f"waiting for {source} to stop serving" if phase == Phase.DEMOTING else f"waiting for {target}"
                )
                await board.update(key, phase=phase, message=waiting)
            else:
                if down_at is None and t.mode == FailoverMode.CONSISTENCY and not record.forced:
                    # The transfer required the source drained, but its FAILOVER report came and went between
                    # two of our reads (a fast move): it stopped after our last read that did not see it.
                    down_at = read_after
                    seen = clock.now() - timedelta(seconds=clock.monotonic() - read_after)
                    stopped = min(seen, record.finished_at)
                    await board.update(key, demoted_time=_second(stopped), message=f"{source} has stopped serving")
                if transferred_at is None:
                    transferred_at = clock.monotonic()
                    await board.update(
                        key,
                        phase=Phase.PROMOTING,
                        epoch=record.epoch,
                        transferred_time=_second(record.finished_at),
                        message=f"ownership moved to {target} at epoch {record.epoch}; waiting for it to be ready",
                    )
                if config.epoch > record.epoch:
                    raise _Failed(
                        f"ownership of {ns}/{group} moved again (to {config.owner} at epoch {config.epoch}) before "
                        f"{target} reported ready"
                    )
                if (
                    t.mode == FailoverMode.UPTIME
                    and down_at is None
                    and (old is None or old.state != ClusterState.PRIMARY)
                ):
                    down_at = self._reported_at(old, read_after)  # the source stopped before the target was ready
                ready = state.clusters.get(target)
                if serving(ready, record.epoch):
                    ready_at = self._reported_at(ready, read_after)
                    await self._succeeded(run, board, key, record, t, down_at, transferred_at, ready_at)
                    return
            if clock.monotonic() - began > 2 * limit + 2 * config.timeouts.heartbeat:
                raise _Failed(f"{ns}/{group} did not move to {target} within {2 * limit:g}s")
            await self._pause(run)

    async def _succeeded(
        self,
        run: _Run,
        board: _Board,
        key: tuple[str, str],
        record: HistoryRecord,
        t: Transition,
        down_at: float | None,
        transferred_at: float,
        ready_at: float,
    ) -> None:
        ns, group = key
        clock = self.ctx.clock
        run.reporter.event("Promoted", f"{ns}/{group}: {t.target_cluster} reports ready at epoch {record.epoch}")
        moved = f"{record.source_cluster} -> {record.target_cluster} at epoch {record.epoch}"
        downtime: float | None = None
        if record.unconfirmed:
            # Forced past an owner that never said it stopped: it may have served on beside the new owner, for a
            # time nobody measured. No downtime is claimed for it (it would hide the overlap).
            self.ctx.metrics.unconfirmed_moves.labels(ns, group).inc()
            message = f"{moved}, forced: {unconfirmed_text(record.source_cluster)}"
        else:
            note = ""
            if down_at is None:
                if t.mode == FailoverMode.UPTIME:
                    down_at = ready_at
                else:
                    down_at, note = transferred_at, " (measured from the transfer)"
            downtime = round(max(0.0, ready_at - down_at), 3)
            if t.requested_by == self.ctx.cluster:
                try:
                    await self.ctx.store.state.record_downtime(ns, group, record.record_id, downtime)
                except StoreError as exc:
                    log.warning("%s/%s: could not record downtime: %s", ns, group, exc)
            message = f"{moved}, downtime {downtime:.2f}s{note}"
        await board.update(
            key,
            phase=Phase.SUCCEEDED,
            epoch=record.epoch,
            promoted_time=_second(clock.now()),
            downtime_seconds=downtime,
            overlap_unknown=True if record.unconfirmed else None,
            completion_time=_second(clock.now()),
            message=message,
        )

    async def _withdrawn(self, ns: str, group: str, t: Transition, limit: float, down_at: float | None) -> bool:
        """Withdraw a request that did not move in time (only if it is still there, untransferred)."""
        why = f"timed out: {self._timed_out(ns, group, t, limit, down_at)}"
        try:
            return await self.ctx.store.operations.withdraw_transition(ns, group, t, why)
        except StoreError as exc:
            log.warning("%s/%s: could not withdraw failover %s: %s", ns, group, t.failover_name, exc)
            return False

    @staticmethod
    def _timed_out(ns: str, group: str, t: Transition, limit: float, down_at: float | None) -> str:
        source, target = t.source_cluster, t.target_cluster
        if down_at is None and t.mode == FailoverMode.CONSISTENCY:
            return (
                f"{source} did not confirm it had stopped serving {ns}/{group} within {limit:g}s; nothing moved and "
                f"{source} stays the owner. Check {source}'s operator, or use force: true"
            )
        return (
            f"{target} did not take over {ns}/{group} within {limit:g}s; nothing moved and {source} stays the owner "
            f"(it serves again). Check {target}'s operator"
        )

    @staticmethod
    def _abandoned(
        ns: str, group: str, t: Transition, owner: str, epoch: int, limit: float, down_at: float | None
    ) -> str:
        if owner == t.source_cluster and epoch == t.epoch:
            return (
                f"{t.source_cluster} gave up waiting for {t.target_cluster} to take over {ns}/{group} after "
                f"{limit:g}s and serves again; nothing moved"
                if down_at is not None
                else f"the failover of {ns}/{group} was withdrawn before {t.source_cluster} stopped serving"
            )
        return f"the failover of {ns}/{group} was overtaken: {owner} owns it at epoch {epoch}"

    # --- helpers --------------------------------------------------------------------------------------

    async def _record_done(self, board: _Board, key: tuple[str, str], record: HistoryRecord) -> None:
        await board.update(
            key,
            phase=Phase.SUCCEEDED if record.outcome == Outcome.SUCCEEDED else Phase.FAILED,
            source_cluster=record.source_cluster,
            epoch=record.epoch,
            transferred_time=_second(record.finished_at),
            downtime_seconds=record.downtime_seconds,
            completion_time=_second(self.ctx.clock.now()),
            message=f"{record.source_cluster} -> {record.target_cluster} at epoch {record.epoch}",
        )

    async def _in_history(
        self, ns: str, group: str, run: _Run, request: Transition | None = None
    ) -> HistoryRecord | None:
        """The transfer of this very Failover, if it happened already: of the `request` we follow (its record
        starts when the request was written), or, resuming with no request left to follow, one of its name that
        finished after the Failover was created (give or take the clocks of the clusters)."""
        try:
            history = await self.ctx.store.state.get_failover_history(ns, group, limit=50)
        except NotFoundError:
            return None
        oldest = run.created - SAME_REQUEST_WINDOW if run.created is not None else None
        return next(
            (
                h
                for h in history
                if h.failover_name == run.name
                and h.outcome == Outcome.SUCCEEDED
                and (
                    h.started_at == request.requested_at
                    if request is not None
                    else oldest is None or h.finished_at >= oldest
                )
            ),
            None,
        )

    def _reported_at(self, status: ClusterStatus | None, not_before: float) -> float:
        """When a report we just read was written, on our monotonic clock: its heartbeat time, but no earlier
        than `not_before` (a read that did not see it), so a clock apart from ours moves it by one poll at most."""
        now = self.ctx.clock.monotonic()
        if status is None:
            return now
        age = (self.ctx.clock.now() - status.last_heartbeat).total_seconds()
        return min(now, max(not_before, now - age))

    async def _state(self, ns: str, group: str) -> GroupState:
        try:
            return await self.ctx.store.state.get_group_state(ns, group)
        except NotFoundError:
            raise _Failed(_not_registered(ns, group)) from None

    async def _withdraw(self, ns: str, group: str, t: Transition, why: str) -> None:
        try:
            await self.ctx.store.operations.withdraw_transition(ns, group, t, why)
        except StoreError as exc:
            log.warning(
                "%s/%s: could not withdraw failover %s: %s (its source resumes after its transitory timeout)",
                ns,
                group,
                t.failover_name,
                exc,
            )
        await self.ctx.announce(ns, group)

    async def _pause(self, run: _Run) -> None:
        if await wait_set(run.stop, self.ctx.failover_poll_seconds):
            raise _Stopped()


def unconfirmed_text(source: str) -> str:
    """What a forced move past an owner that never confirmed it stopped gives up, in one phrase."""
    return (
        f"{source} never confirmed it stopped serving, so it may have served beside the new owner for a time nobody "
        f"measured; the downtime is unknown"
    )


def _not_registered(ns: str, group: str) -> str:
    return (
        f"FailoverGroup {ns}/{group} is not registered in DynamoDB: is it applied in a cluster whose operator is "
        f"running?"
    )


class _Board:
    """The Failover's status, republished whenever a group's progress changes."""

    def __init__(
        self, executor: FailoverExecutor, run: _Run, progress: dict[tuple[str, str], GroupProgress], start: datetime
    ) -> None:
        self.executor = executor
        self.run = run
        self.progress = progress
        self.start = start
        self._published: FailoverStatus | None = None

    def status(self, phase: Phase | None = None) -> FailoverStatus:
        groups = list(self.progress.values())
        if phase is None:
            phase = min((g.phase for g in groups if not g.phase.terminal), key=_ORDER.index)
        return FailoverStatus(
            phase=phase,
            groups=groups,
            start_time=self.start,
            executed_by=self.executor.ctx.cluster,
            message=None,
            observed_generation=self.run.generation,
        )

    async def publish(self, phase: Phase | None = None) -> None:
        if phase is None and all(g.phase.terminal for g in self.progress.values()):
            return  # every group has an outcome: the Failover's own (Succeeded or Failed) is _finish's to say
        status = self.status(phase)
        if status != self._published:
            await self.run.reporter.patch_status(status.to_merge_patch())
            self._published = status

    async def update(self, key: tuple[str, str], **changes: object) -> None:
        self.progress[key] = self.progress[key].model_copy(update=changes)
        await self.publish()


def duration_text(seconds: float) -> str:
    """As kubectl shows ages: 6.1s, 1m05s, 2h03m."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)
