"""Executing a Failover: move each listed group to the target cluster, step by step, and measure it.

CONSISTENCY: mark the group transitioning (the owner demotes and reports FAILOVER), then transfer ownership
(epoch + 1) in one transaction, then wait for the target to report itself ready. UPTIME: transfer first; the
target promotes, then the old owner demotes. `force`: transfer at once, even if the owner is silent.

A Failover is often applied in every cluster. Whoever gets the group's lock executes; the others watch the
same records and report the same outcome. The history record (named after the Failover) is the proof that
it happened, so a restart, a second cluster or a re-run never moves a group twice.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..api import FailoverSpec, FailoverStatus, GroupProgress, Phase, make_condition, merge_conditions
from ..store import (
    ConflictError,
    GroupState,
    HistoryRecord,
    Lease,
    LockHeldError,
    NotFoundError,
    PreconditionError,
    StoreError,
    Transition,
    failover_refusal,
)
from ..store.records import ClusterState, FailoverMode
from .context import OperatorContext, Reporter
from .decide import serving

log = logging.getLogger("failover_operator.failover")

_ORDER = [Phase.PENDING, Phase.VALIDATING, Phase.DEMOTING, Phase.TRANSFERRING, Phase.PROMOTING]


class _Failed(Exception):
    """A group cannot be moved; the message is for people."""


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


# A history record named like this Failover proves it ran only if it is not much older than the Failover
# object: the same manifest applied in several clusters (minutes apart, clocks a little apart) is one failover,
# but a Failover re-created under an old name days later is a new request.
SAME_REQUEST_WINDOW = timedelta(minutes=15)


class FailoverExecutor:
    def __init__(self, ctx: OperatorContext) -> None:
        self.ctx = ctx

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
    ) -> FailoverStatus:
        """Drive the Failover to Succeeded or Failed (or until `stop`); returns the last status."""
        if status is not None and status.phase is not None and status.phase.terminal:
            return status
        clock = self.ctx.clock
        start = (status.start_time if status and status.start_time else None) or _second(clock.now())
        started_mono = clock.monotonic()
        run = _Run(namespace, name, spec, reporter, stop, generation, created)
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
        reporter.event(
            "FailoverStarted",
            f"moving {', '.join(f'{ns}/{n}' for ns, n in keys)} to {spec.target_cluster} "
            f"({spec.mode.value}{', forced' if spec.force else ''})",
        )
        try:
            await asyncio.gather(*(self._group(run, board, key) for key in keys))
        except _Stopped:
            log.info("failover %s/%s stopped before it finished", namespace, name)
            return board.status(Phase.PENDING)
        return await self._finish(run, list(board.progress.values()), start, started_mono, None)

    async def _finish(
        self,
        run: _Run,
        groups: list[GroupProgress],
        start: datetime,
        started_mono: float,
        error: str | None,
    ) -> FailoverStatus:
        clock = self.ctx.clock
        failed = [g for g in groups if g.phase == Phase.FAILED]
        ok = error is None and not failed and all(g.phase == Phase.SUCCEEDED for g in groups)
        if error is not None:
            message = error
        elif failed:
            message = "; ".join(f"{g.namespace}/{g.name}: {g.message}" for g in failed)
        else:
            message = "; ".join(f"{g.namespace}/{g.name}: {g.message}" for g in groups)
        downtimes = [g.downtime_seconds for g in groups if g.downtime_seconds is not None]
        duration = round(clock.monotonic() - started_mono, 3)
        phase = Phase.SUCCEEDED if ok else Phase.FAILED
        status = FailoverStatus(
            phase=phase,
            groups=groups,
            start_time=start,
            completion_time=_second(clock.now()),
            duration_seconds=duration,
            measured_downtime_seconds=max(downtimes) if downtimes else None,
            message=message,
            executed_by=self.ctx.cluster,
            conditions=merge_conditions(
                [],
                [
                    make_condition(
                        "Complete", True, phase.value, message, now=clock.now(), observed_generation=run.generation
                    )
                ],
            ),
            observed_generation=run.generation,
        )
        await run.reporter.patch_status(status.to_merge_patch())
        self.ctx.metrics.failover_duration.observe(duration)
        for d in downtimes:
            self.ctx.metrics.downtime.observe(d)
        for g in groups:
            self.ctx.metrics.failovers.labels(g.namespace, g.name, run.spec.mode.value, "false", g.phase.value).inc()
        if ok:
            run.reporter.event("FailoverSucceeded", f"{message} ({duration:.1f}s)")
        else:
            run.reporter.event("FailoverFailed", message, warning=True)
        return status

    # --- one group ------------------------------------------------------------------------------------

    async def _group(self, run: _Run, board: _Board, key: tuple[str, str]) -> None:
        try:
            await self._move(run, board, key)
        except _Done:
            return
        except _Failed as exc:
            await board.update(key, phase=Phase.FAILED, message=str(exc), completion_time=_second(self.ctx.clock.now()))
        except StoreError as exc:
            await board.update(
                key, phase=Phase.FAILED, message=f"DynamoDB: {exc}", completion_time=_second(self.ctx.clock.now())
            )

    async def _move(self, run: _Run, board: _Board, key: tuple[str, str]) -> None:
        ns, group = key
        spec = run.spec
        store = self.ctx.store
        target = spec.target_cluster
        now = self.ctx.clock.now
        await board.update(key, phase=Phase.VALIDATING, start_time=_second(now()))
        done = await self._in_history(ns, group, run)
        if done is not None:
            await self._record_done(board, key, done, observed=True)
            return
        state = await self._state(ns, group)
        config = state.config
        if config.owner == target and (config.transition is None or config.transition.failover_name != run.name):
            await board.update(
                key,
                phase=Phase.SUCCEEDED,
                source_cluster=config.owner,
                epoch=config.epoch,
                message=f"{target} already owns {ns}/{group} at epoch {config.epoch}; nothing to do",
                completion_time=_second(now()),
            )
            return
        t = config.transition
        if t is not None and t.failover_name == run.name and t.requested_by != self.ctx.cluster:
            await self._watch(run, board, key)
            return
        resuming = t is not None and t.failover_name == run.name
        await board.update(key, source_cluster=config.owner)
        if not resuming:
            stale = set(store.state.stale_clusters(ns, group, state.clusters, config.timeouts.heartbeat))
            refusal = failover_refusal(
                state, target, stale, check_suspension=not spec.force, check_health=not spec.force
            )
            if refusal:
                raise _Failed(refusal)

        if spec.force or spec.mode == FailoverMode.UPTIME:
            record = await self._transfer(run, board, key, state, lease=None)
            await self._promote(run, board, key, record, state, down_at=None)
        else:
            lease = await self._lock(run, board, key, state)
            if lease is None:
                return  # another cluster executes it: watched to the end
            try:
                state, down_at = await self._demote(run, board, key, lease)
                record = await self._transfer(run, board, key, state, lease=lease)
            except BaseException:
                # Shielded: when kopf gives up waiting and cancels us, the undo still completes.
                await asyncio.shield(self._abandon(ns, group, run.name, lease))
                raise
            await self._promote(run, board, key, record, state, down_at=down_at)

    async def _lock(self, run: _Run, board: _Board, key: tuple[str, str], state: GroupState) -> Lease | None:
        """Take the group's lock for a CONSISTENCY failover, or watch whoever executes this same Failover."""
        ns, group = key
        ops = self.ctx.store.operations
        reason = f"failover {run.name}: {state.config.owner} -> {run.spec.target_cluster} (CONSISTENCY)"
        deadline = self.ctx.clock.monotonic() + state.config.timeouts.transitory_state
        while True:
            try:
                lease = await ops.acquire_lock(ns, group, reason, self.ctx.settings.lock_lease_seconds)
                break
            except LockHeldError as exc:
                lock = await ops.is_locked(ns, group)
                if lock is not None and f"failover {run.name}:" in lock.reason and lock.holder != self.ctx.cluster:
                    await self._watch(run, board, key)
                    return None
                if self.ctx.clock.monotonic() > deadline:
                    raise _Failed(f"{ns}/{group} stayed locked: {exc}") from None
                await board.update(key, message=f"waiting for the lock: {exc}")
                await self._pause(run)
        done = await self._in_history(ns, group, run)
        if done is not None:
            await ops.release_lock(ns, group, lease)
            await self._record_done(board, key, done, observed=True)
            return None
        return lease

    async def _demote(self, run: _Run, board: _Board, key: tuple[str, str], lease: Lease) -> tuple[GroupState, float]:
        """Ask the owner to stop, and wait until it says it has. Returns the state and when it was down."""
        ns, group = key
        store = self.ctx.store
        clock = self.ctx.clock
        state = await self._state(ns, group)
        config = state.config
        source = config.owner
        if config.transition is None or config.transition.failover_name != run.name:
            transition = Transition(
                failover_name=run.name,
                source_cluster=source,
                target_cluster=run.spec.target_cluster,
                mode=FailoverMode.CONSISTENCY,
                requested_by=self.ctx.cluster,
                requested_at=clock.now(),
                epoch=config.epoch,
            )
            try:
                config = await store.state.update_group_config(config.model_copy(update={"transition": transition}))
            except ConflictError as exc:
                raise _Failed(f"{ns}/{group} changed while the failover started: {exc}") from None
        await board.update(key, phase=Phase.DEMOTING, message=f"waiting for {source} to stop serving")
        run.reporter.event("Demoting", f"{ns}/{group}: asked {source} to stop serving (epoch {config.epoch})")
        self.ctx.wake(ns, group)
        limit = config.timeouts.transitory_state
        began = clock.monotonic()
        renewed = began
        while True:
            state = await self._state(ns, group)
            now_cfg = state.config
            if now_cfg.owner != source or now_cfg.epoch != config.epoch:
                raise _Failed(
                    f"ownership of {ns}/{group} changed while {source} was demoting: now {now_cfg.owner} "
                    f"at epoch {now_cfg.epoch}"
                )
            if now_cfg.transition is None or now_cfg.transition.failover_name != run.name:
                raise _Failed(f"{source} abandoned the failover of {ns}/{group} (its transitory state timed out)")
            status = state.clusters.get(source)
            if status is not None and status.state == ClusterState.FAILOVER and status.observed_epoch == config.epoch:
                down_at = clock.monotonic()
                await board.update(key, demoted_time=_second(clock.now()), message=f"{source} has stopped serving")
                return state, down_at
            elapsed = clock.monotonic() - began
            if elapsed > limit:
                raise _Failed(
                    f"{source} did not confirm it had stopped serving {ns}/{group} within {limit:g}s; nothing moved "
                    f"and {source} stays the owner. Check {source}'s operator, or use force: true"
                )
            if clock.monotonic() - renewed > lease.lease_seconds / 3:
                try:
                    lease = await store.operations.renew_lock(ns, group, lease)
                except (LockHeldError, ConflictError) as exc:
                    raise _Failed(f"lost the lock on {ns}/{group} while waiting: {exc}") from None
                renewed = clock.monotonic()
            await self._pause(run)

    async def _transfer(
        self, run: _Run, board: _Board, key: tuple[str, str], state: GroupState, lease: Lease | None
    ) -> HistoryRecord:
        ns, group = key
        spec = run.spec
        await board.update(key, phase=Phase.TRANSFERRING)
        reason = spec.reason or f"Failover {run.namespace}/{run.name}"
        deadline = self.ctx.clock.monotonic() + state.config.timeouts.transitory_state
        while True:
            try:
                record = await self.ctx.store.operations.execute_failover(
                    ns,
                    group,
                    run.name,
                    spec.target_cluster,
                    reason,
                    force=spec.force,
                    expected_epoch=state.config.epoch,
                    mode=spec.mode,
                    started_at=board.progress[key].start_time,
                    lease=lease,
                    lease_seconds=self.ctx.settings.lock_lease_seconds,
                )
                break
            except LockHeldError as exc:
                lock = await self.ctx.store.operations.is_locked(ns, group)
                if lock is not None and f"failover {run.name}:" in lock.reason:
                    await self._watch(run, board, key)
                    raise _Done() from None
                if lease is not None or self.ctx.clock.monotonic() > deadline:
                    raise _Failed(f"{ns}/{group} is locked: {exc}") from None
                await self._pause(run)
            except (ConflictError, PreconditionError) as exc:
                done = await self._in_history(ns, group, run)
                if done is not None:
                    await self._record_done(board, key, done, observed=True)
                    raise _Done() from None
                raise _Failed(str(exc)) from None
        await board.update(
            key,
            epoch=record.epoch,
            transferred_time=_second(record.finished_at),
            message=f"ownership moved to {spec.target_cluster} at epoch {record.epoch}",
        )
        run.reporter.event(
            "Transferred", f"{ns}/{group}: {record.source_cluster} -> {record.target_cluster} at epoch {record.epoch}"
        )
        self.ctx.wake(ns, group)
        return record

    async def _promote(
        self,
        run: _Run,
        board: _Board,
        key: tuple[str, str],
        record: HistoryRecord,
        state: GroupState,
        down_at: float | None,
    ) -> None:
        """Wait for the target to report itself PRIMARY and healthy; measure the downtime on our clock.

        Downtime is the time nobody served: CONSISTENCY, from the old owner's report that it stopped to the
        new owner's report that it is ready; UPTIME, how long the old owner was down before the new one was
        ready (usually zero); forced, from the transfer (the old owner may be silent, so it cannot say).
        """
        ns, group = key
        clock = self.ctx.clock
        target, source = record.target_cluster, record.source_cluster
        transferred_at = clock.monotonic()
        overlap = not run.spec.force and run.spec.mode == FailoverMode.UPTIME
        await board.update(key, phase=Phase.PROMOTING, message=f"waiting for {target} to report ready")
        limit = state.config.timeouts.transitory_state
        ready_at: float | None = None
        while True:
            current = await self._state(ns, group)
            if current.config.epoch != record.epoch:
                raise _Failed(
                    f"ownership of {ns}/{group} moved again (to {current.config.owner} at epoch "
                    f"{current.config.epoch}) before {target} reported ready"
                )
            if overlap and down_at is None:
                old = current.clusters.get(source)
                if old is None or old.state != ClusterState.PRIMARY or source in self._stale(current):
                    down_at = clock.monotonic()
            new = current.clusters.get(target)
            if ready_at is None and serving(new, record.epoch):
                ready_at = clock.monotonic()
                await board.update(key, promoted_time=_second(clock.now()))
                run.reporter.event("Promoted", f"{ns}/{group}: {target} reports ready at epoch {record.epoch}")
            waited = clock.monotonic() - transferred_at
            if ready_at is None and waited > limit:
                raise _Failed(
                    f"ownership of {ns}/{group} moved to {target} at epoch {record.epoch}, but {target} has not "
                    f"reported its resources ready within {limit:g}s"
                )
            if ready_at is not None and (not overlap or down_at is not None or waited > limit):
                break
            await self._pause(run)
        note = ""
        if overlap and down_at is None:
            down_at, note = ready_at, f"; {source} has not reported itself down yet"
        elif down_at is None:
            down_at, note = transferred_at, " (measured from the transfer)"
        downtime = round(max(0.0, ready_at - down_at), 3)
        try:
            await self.ctx.store.state.record_downtime(ns, group, record.record_id, downtime)
        except StoreError as exc:
            log.warning("%s/%s: could not record downtime: %s", ns, group, exc)
        await board.update(
            key,
            phase=Phase.SUCCEEDED,
            downtime_seconds=downtime,
            completion_time=_second(clock.now()),
            message=f"{source} -> {target} at epoch {record.epoch}, downtime {downtime:.2f}s{note}",
        )

    async def _watch(self, run: _Run, board: _Board, key: tuple[str, str]) -> None:
        """Another cluster executes this Failover: follow the records until its history entry appears."""
        ns, group = key
        await board.update(key, message="executed by another cluster; following its progress")
        clock = self.ctx.clock
        began = clock.monotonic()
        state = await self._state(ns, group)
        limit = 2 * state.config.timeouts.transitory_state
        quiet = 0
        while True:
            # State first, history second: a failover that completes between the two reads is in the history.
            state = await self._state(ns, group)
            done = await self._in_history(ns, group, run)
            if done is not None:
                await self._record_done(board, key, done, observed=True)
                return
            t = state.config.transition
            lock = state.lock
            if t is not None and t.failover_name == run.name:
                quiet = 0
                await board.update(key, phase=Phase.DEMOTING, source_cluster=t.source_cluster)
            elif lock is not None and f"failover {run.name}:" in lock.reason:
                quiet = 0
            else:
                quiet += 1
                if quiet >= 2:
                    raise _Failed(f"the cluster executing this Failover stopped before moving {ns}/{group}")
            if clock.monotonic() - began > limit:
                raise _Failed(f"gave up following the failover of {ns}/{group} after {limit:g}s")
            await self._pause(run)

    # --- helpers --------------------------------------------------------------------------------------

    async def _record_done(self, board: _Board, key: tuple[str, str], record: HistoryRecord, observed: bool) -> None:
        downtime = record.downtime_seconds
        await board.update(
            key,
            phase=Phase.SUCCEEDED,
            source_cluster=record.source_cluster,
            epoch=record.epoch,
            transferred_time=_second(record.finished_at),
            downtime_seconds=downtime,
            completion_time=_second(self.ctx.clock.now()),
            message=f"{record.source_cluster} -> {record.target_cluster} at epoch {record.epoch}"
            + (" (executed by another cluster)" if observed else ""),
        )

    async def _in_history(self, ns: str, group: str, run: _Run) -> HistoryRecord | None:
        """The history record of this very Failover, if any cluster has executed it already."""
        try:
            history = await self.ctx.store.state.get_failover_history(ns, group, limit=50)
        except NotFoundError:
            return None
        oldest = run.created - SAME_REQUEST_WINDOW if run.created is not None else None
        return next(
            (h for h in history if h.failover_name == run.name and (oldest is None or h.finished_at >= oldest)),
            None,
        )

    async def _state(self, ns: str, group: str) -> GroupState:
        try:
            return await self.ctx.store.state.get_group_state(ns, group)
        except NotFoundError:
            raise _Failed(
                f"FailoverGroup {ns}/{group} is not registered in DynamoDB: is it applied in a cluster whose "
                f"operator is running?"
            ) from None

    def _stale(self, state: GroupState) -> set[str]:
        c = state.config
        return set(self.ctx.store.state.stale_clusters(c.namespace, c.name, state.clusters, c.timeouts.heartbeat))

    async def _abandon(self, ns: str, group: str, name: str, lease: Lease) -> None:
        """Undo a half-started CONSISTENCY failover: clear our transition (the owner resumes), free the lock."""
        try:
            config = await self.ctx.store.state.get_group_config(ns, group)
            if config is not None and config.transition is not None and config.transition.failover_name == name:
                await self.ctx.store.state.update_group_config(config.model_copy(update={"transition": None}))
            await self.ctx.store.operations.release_lock(ns, group, lease)
        except StoreError as exc:
            log.warning(
                "%s/%s: could not undo failover %s: %s (the owner resumes after its transitory timeout)",
                ns,
                group,
                name,
                exc,
            )
        self.ctx.wake(ns, group)

    async def _pause(self, run: _Run) -> None:
        try:
            await asyncio.wait_for(run.stop.wait(), timeout=self.ctx.failover_poll_seconds)
        except TimeoutError:
            return
        raise _Stopped()


class _Done(Exception):
    """The group turned out to be moved already (by this same Failover, elsewhere); progress is recorded."""


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


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)
