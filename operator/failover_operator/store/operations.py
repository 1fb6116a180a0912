"""OperationsManager: the group lock (a lease), failover as one conditional write of the config, suspension,
problems."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..model import ClusterState, ClusterStatus, FailoverMode, GroupConfig, Health, HistoryRecord, Outcome, Transition
from ..rules import StatusCheck, refusal
from . import fences, keys
from .context import StoreContext, coerce
from .errors import ConflictError, CorruptRecordError, LockHeldError, NotFoundError, PreconditionError
from .expr import Expr, update_expression
from .problems import Problem, ProblemKind, find_problems
from .records import (
    Lease,
    LockInfo,
    b,
    config_from_item,
    lease_to_item,
    lock_from_item,
    n,
    raw,
    s,
    transition_to_attr,
    ts,
)
from .state import GroupState, StateManager

log = logging.getLogger("failover_operator.store")

DEFAULT_LEASE_SECONDS = 30.0
_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c1f0e-3d1b-4c55-9d5e-5b8f0b7c2a10")


def failover_refusal(
    state: GroupState,
    target: str,
    stale: set[str],
    *,
    check_suspension: bool = True,
    check_health: bool = True,
) -> str | None:
    """Why a failover of `state`'s group to `target` must not happen, or None (the rulebook's `refusal`)."""
    return refusal(
        state.config,
        state.clusters,
        target,
        stale,
        check_suspension=check_suspension,
        check_health=check_health,
    )


class OperationsManager:
    def __init__(self, ctx: StoreContext, state: StateManager) -> None:
        self._ctx = ctx
        self._state = state

    # --- lock -----------------------------------------------------------------------------------------

    async def acquire_lock(
        self, namespace: str, name: str, reason: str, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> Lease:
        """Take the group's lock, or raise LockHeldError at once: this never waits.

        Another holder's lease is live until we have seen its record unchanged (same token and renewal
        count) for longer than the lease it recorded, on our own monotonic clock; then it is taken over
        with a write conditioned on that very record.
        """
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        if not lease_seconds > 0:
            raise ValueError(f"lease_seconds must be positive, got {lease_seconds}")
        lease = Lease(
            token=uuid.uuid4().hex,
            holder=ctx.cluster_name,
            namespace=namespace,
            name=name,
            reason=reason,
            acquired_at=ctx.clock.now(),
            lease_seconds=float(lease_seconds),
        )
        blocking: dict[str, Any] | None = None  # the record that stopped our last attempt
        for _ in range(4):
            e = Expr()
            if blocking is None:
                condition = f"attribute_not_exists({e.n(keys.PK)})"
            else:
                condition = _unchanged_condition(e, blocking)
            blocking = await self._put_lock(pk, lease, condition, e)
            if blocking is None:
                await self._mark_lock(pk, lease.token)
                return lease
            if not blocking:  # it vanished between our write and our look: simply try to create it
                blocking = None
                continue
            if raw(blocking, "token", "S") == lease.token:
                return lease  # a retried write that had in fact succeeded
            holder, age, live_for = self._judge(pk, blocking)
            if age <= live_for:
                raise LockHeldError(
                    holder,
                    f"{namespace}/{name} is locked by {holder} "
                    f"({raw(blocking, 'reason', 'S') or 'no reason given'}); its lease of {live_for:g}s is live "
                    f"(unchanged for {age:.1f}s as seen by {ctx.cluster_name})",
                )
            log.warning(
                "taking over the expired lock on %s/%s from %s (unchanged for %.1fs)", namespace, name, holder, age
            )
        raise LockHeldError("unknown", f"{namespace}/{name}: the lock kept changing while we tried to take it")

    async def renew_lock(self, namespace: str, name: str, lease: Lease) -> Lease:
        """Extend our lease (renewal count + 1, same token); LockHeldError/ConflictError if it was lost."""
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        result, old = await ctx.write_if(
            "update_item",
            Key=ctx.key(pk, keys.LOCK_SK),
            UpdateExpression="SET #r = #r + :one",
            ConditionExpression="#t = :t",
            ExpressionAttributeNames={"#r": "renewals", "#t": "token"},
            ExpressionAttributeValues={":one": n(1), ":t": s(lease.token)},
            ReturnValues="ALL_NEW",
        )
        if result is None:
            if not old:
                raise ConflictError(f"lease on {namespace}/{name} was lost: the lock no longer exists")
            holder = raw(old, "holder", "S") or "unknown"
            raise LockHeldError(holder, f"lease on {namespace}/{name} was lost: now held by {holder}")
        renewals = int(result["Attributes"]["renewals"]["N"])
        return lease.model_copy(update={"renewals": renewals})

    async def release_lock(self, namespace: str, name: str, lease: Lease) -> bool:
        """Delete the lock if this lease still holds it. Never raises for a lost lease (returns False)."""
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        await self._mark_lock(pk, lease.token, held=False)
        result, _ = await ctx.write_if(
            "delete_item",
            Key=ctx.key(pk, keys.LOCK_SK),
            ConditionExpression="#t = :t",
            ExpressionAttributeNames={"#t": "token"},
            ExpressionAttributeValues={":t": s(lease.token)},
            ReturnValuesOnConditionCheckFailure="NONE",
        )
        if result is None:
            return False
        ctx.locks.forget(pk)
        return True

    async def is_locked(self, namespace: str, name: str) -> LockInfo | None:
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        result = await ctx.call("get_item", TableName=ctx.table, Key=ctx.key(pk, keys.LOCK_SK), ConsistentRead=True)
        item = result.get("Item")
        if not item:
            return None
        self._judge(pk, item)
        try:
            return lock_from_item(item)
        except CorruptRecordError as error:
            ctx.report_corrupt(error)
            return _salvaged_lock(item)

    def lock_age(self, namespace: str, name: str) -> float | None:
        """Seconds we have seen the lock record unchanged (None if never seen)."""
        return self._ctx.locks.age(self._ctx.pk(namespace, name))

    async def _mark_lock(self, pk: str, token: str, *, held: bool = True) -> None:
        """The lock's token on the group's config, where a move that does not hold the lock is conditioned on its
        absence (no transaction can check the LOCK record with the move). Set once the LOCK record is ours
        (over whatever token an expired lease left); removed, before the LOCK record, only if it is ours. A group
        with no config yet has nothing to move: nothing to mark."""
        ctx = self._ctx
        e = Expr()
        token_attr = e.n("lockToken")
        if held:
            update = f"SET {token_attr} = {e.v(s(token))}"
            condition = f"attribute_exists({e.n(keys.PK)})"
        else:
            update = f"REMOVE {token_attr}"
            condition = f"{token_attr} = {e.v(s(token))}"
        await ctx.write_if(
            "update_item",
            Key=ctx.key(pk, keys.CONFIG_SK),
            UpdateExpression=update,
            ConditionExpression=condition,
            ReturnValuesOnConditionCheckFailure="NONE",
            **e.params(),
        )

    async def _put_lock(self, pk: str, lease: Lease, condition: str, e: Expr) -> dict[str, Any] | None:
        """Conditional put of our lock record: None on success, else the record that blocked it ({} if the
        blocking record was gone by the time we looked)."""
        ctx = self._ctx
        result, old = await ctx.write_if(
            "put_item", Item=lease_to_item(pk, lease), ConditionExpression=condition, **e.params()
        )
        if result is None:
            if not old:  # no old item returned: it was deleted in between (or the service did not say). Look.
                got = await ctx.call(
                    "get_item", TableName=ctx.table, Key=ctx.key(pk, keys.LOCK_SK), ConsistentRead=True
                )
                old = dict(got.get("Item") or {})
            return old
        ctx.locks.forget(pk)
        return None

    def _judge(self, pk: str, item: dict[str, Any]) -> tuple[str, float, float]:
        """(holder, seconds seen unchanged, lease length) of a lock record — readable or not."""
        token = raw(item, "token", "S")
        renewals = raw(item, "renewals", "N")
        age = self._ctx.locks.observe(pk, (token, renewals))
        return _lock_holder(item), age, _lease_seconds(item)

    # --- failover -----------------------------------------------------------------------------------

    async def validate_failover_preconditions(
        self, namespace: str, name: str, target_cluster: str, skip_health_check: bool = False, *, force: bool = False
    ) -> GroupState:
        """Raise PreconditionError if a failover to `target_cluster` must not happen; else the state read.
        `force`: judge a forced failover (suspension and health are not checked)."""
        keys.check_part(target_cluster, "target cluster")
        state = await self._read_for_failover(namespace, name)
        stale = set(self._state.stale_clusters(namespace, name, state.clusters, state.config.timeouts.heartbeat))
        refusal = failover_refusal(
            state, target_cluster, stale, check_suspension=not force, check_health=not (skip_health_check or force)
        )
        if refusal:
            raise PreconditionError(refusal)
        return state

    async def execute_failover(
        self,
        namespace: str,
        name: str,
        failover_name: str,
        target_cluster: str,
        reason: str,
        force: bool = False,
        expected_epoch: int | None = None,
        *,
        mode: FailoverMode | str = FailoverMode.CONSISTENCY,
        automatic: bool = False,
        started_at: datetime | None = None,
        lease: Lease | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        owner_heartbeat_seq: int | None = None,
        owner_health: Health | str | None = None,
        owner_check: OwnerCheck | None = None,
        transition: Transition | None = None,
        outcome: Outcome = Outcome.SUCCEEDED,
        skip_checks: bool = False,
        other_checks: Mapping[str, OwnerCheck] | None = None,
        state: GroupState | None = None,
        unconfirmed: bool = False,
    ) -> HistoryRecord:
        """Move ownership to `target_cluster` in one conditional write of the config (epoch + 1, the history
        record with it, the lock's token removed); then the history record itself, and the LOCK record released.

        `expected_epoch` makes it conditional on the epoch still being the one the caller decided on (what
        automatic failover uses, so racing standbys cannot steal from the winner). `force` skips only the
        suspension, health and staleness checks. `lease`: a lock the caller already holds (else one is taken).

        `owner_check` (or `owner_heartbeat_seq` / `owner_health`) makes it conditional on what the current
        owner's status record says: still the heartbeat the taker judged stale, not serving at this epoch,
        drained (FAILOVER at this epoch), or not ready — so an owner that reported otherwise in between cancels
        it. `transition`: the move a failover asked for; the write is conditioned on it still being in
        the config (a source that gave up removed it first), and an UPTIME one stays, at the new epoch, as the
        hand-off. `outcome`: ROLLED_BACK for an UPTIME hand-off that returns ownership to its source.
        `skip_checks`: what `force` skips, without being recorded as forced (a rollback is the operator's own).
        `other_checks`: the same kind of condition on other clusters' statuses (an UPTIME hand-off's source).
        `state`: a strongly consistent read of the group the caller made just now and decided on (else it is read
        here). If it shows no lock and no `lease` is given, no lock is taken: the write is conditioned on
        there still being none (what taking and releasing it would have guarded, in one request instead of two).
        `unconfirmed`: forced, and the owner never confirmed it stopped serving (the history record says so).
        """
        keys.check_part(target_cluster, "target cluster")
        if not failover_name:
            raise ValueError("failover_name must be a non-empty string")
        mode = coerce(FailoverMode, mode)
        if owner_check is None:
            owner_check = OwnerCheck(
                heartbeat_seq=owner_heartbeat_seq, health=coerce(Health, owner_health) if owner_health else None
            )
        if state is None:
            state = await self._read_for_failover(namespace, name)
        config = state.config
        if expected_epoch is not None and config.epoch != expected_epoch:
            raise ConflictError(
                f"{namespace}/{name} is at epoch {config.epoch} (owner {config.owner}), not the expected "
                f"{expected_epoch}: another failover got there first"
            )
        stale = set(self._state.stale_clusters(namespace, name, state.clusters, config.timeouts.heartbeat))
        checked = not (force or skip_checks)
        refusal = failover_refusal(state, target_cluster, stale, check_suspension=checked, check_health=checked)
        if refusal:
            raise PreconditionError(refusal)
        own_lease = lease is None and state.lock is not None
        if lease is None and state.lock is not None:
            lease = await self.acquire_lock(
                namespace, name, f"failover {failover_name}: {config.owner} -> {target_cluster}", lease_seconds
            )
        try:
            return await self._transfer(
                config,
                lease,
                failover_name=failover_name,
                target=target_cluster,
                reason=reason,
                force=force,
                mode=mode,
                automatic=automatic,
                started_at=started_at,
                checks={config.owner: owner_check, **(other_checks or {})},
                transition=transition,
                outcome=outcome,
                check_suspension=checked,
                unconfirmed=unconfirmed,
            )
        except BaseException:
            if own_lease and lease is not None:
                await _quietly(self.release_lock(namespace, name, lease))
            raise

    async def _transfer(
        self,
        config: GroupConfig,
        lease: Lease | None,
        *,
        failover_name: str,
        target: str,
        reason: str,
        force: bool,
        mode: FailoverMode,
        automatic: bool,
        started_at: datetime | None,
        checks: Mapping[str, OwnerCheck],
        transition: Transition | None,
        outcome: Outcome,
        check_suspension: bool,
        unconfirmed: bool = False,
    ) -> HistoryRecord:
        ctx = self._ctx
        pk = ctx.pk(config.namespace, config.name)
        now = ctx.clock.now()
        if config.last_failover is not None and now <= config.last_failover:
            now = config.last_failover + timedelta(microseconds=1)  # history order must equal epoch order
        new_epoch = config.epoch + 1
        attempt = lease.token if lease is not None else uuid.uuid4().hex  # names the record and the retries
        record = HistoryRecord(
            failover_name=failover_name,
            source_cluster=config.owner,
            target_cluster=target,
            reason=reason,
            forced=force,
            automatic=automatic,
            mode=mode,
            started_at=started_at or now,
            finished_at=now,
            outcome=outcome,
            epoch=new_epoch,
            unconfirmed=unconfirmed,
            record_id=keys.history_sk(now, attempt[:12]),
        )
        cfg = Expr()
        sets = [
            f"{cfg.n('owner')} = {cfg.v(s(target))}",
            f"{cfg.n('previousOwner')} = {cfg.v(s(config.owner))}",
            f"{cfg.n('epoch')} = {cfg.v(n(new_epoch))}",
            f"{cfg.n('version')} = {cfg.n('version')} + {cfg.v(n(1))}",
            f"{cfg.n('lastFailover')} = {cfg.v(ts(now))}",
            f"{cfg.n('lastMove')} = {cfg.v(s(record.record_id))}",
            f"{cfg.n('lastRecord')} = {cfg.v(s(record.model_dump_json()))}",
            f"{cfg.n('updatedAt')} = {cfg.v(ts(now))}",
        ]
        removes = [cfg.n("transition"), cfg.n("serving"), cfg.n("lockToken")]  # the new owner serves once it proves
        if mode == FailoverMode.UPTIME and outcome == Outcome.SUCCEEDED:
            # The old owner keeps serving until the new one reports ready: record the hand-off it waits for.
            handoff = Transition(
                failover_name=failover_name,
                source_cluster=config.owner,
                target_cluster=target,
                mode=FailoverMode.UPTIME,
                requested_by=transition.requested_by if transition else ctx.cluster_name,
                requested_at=transition.requested_at if transition else now,
                epoch=new_epoch,
                reason=reason,
            )
            sets.append(f"{cfg.n('transition')} = {cfg.v(transition_to_attr(handoff))}")
            removes.remove(cfg.n("transition"))
        condition = f"{cfg.n('owner')} = {cfg.v(s(config.owner))} AND {cfg.n('epoch')} = {cfg.v(n(config.epoch))}"
        t = cfg.n("transition")
        if transition is not None:
            condition += (
                f" AND {t}.{cfg.n('failoverName')} = {cfg.v(s(transition.failover_name))}"
                f" AND {t}.{cfg.n('epoch')} = {cfg.v(n(transition.epoch))}"
            )
        if check_suspension:
            suspended = cfg.n("suspended")
            condition += f" AND (attribute_not_exists({suspended}) OR {suspended} = {cfg.v(b(False))})"
        # Fenced by hand (store/fences.py): nothing moves to a fenced cluster, forced or not, and nothing moves
        # automatically (a takeover, a drain a standby asked for) away from a fenced owner.
        condition += f" AND attribute_not_exists({fences.member(cfg, target)})"
        if automatic:
            condition += f" AND attribute_not_exists({fences.member(cfg, config.owner)})"
        # The group's lock: a move that holds it names it; one that does not requires that nobody holds it.
        lock_token = cfg.n("lockToken")
        condition += f" AND attribute_not_exists({lock_token})" if lease is None else ""
        if lease is not None:
            condition += f" AND ({lock_token} = {cfg.v(s(lease.token))} OR attribute_not_exists({lock_token}))"
        # What the move requires of the owner, on the config itself (the old owner's proof and stop write it).
        owner_check = checks.get(config.owner, OwnerCheck())
        if owner_check.silent:
            proof = cfg.n("proofSeq")
            # Judged stale: it has not proved ownership again since the number we saw stand still.
            if config.proof_seq:
                condition += f" AND {proof} = {cfg.v(n(config.proof_seq))}"
            else:
                condition += f" AND attribute_not_exists({proof})"
        if owner_check.not_serving or owner_check.drained:
            serving = cfg.n("serving")
            condition += f" AND (attribute_not_exists({serving}) OR {serving} = {cfg.v(b(False))})"
        if owner_check.following is not None:
            condition += f" AND {t}.{cfg.n('following')} = {cfg.v(b(True))}"
        if owner_check.not_ready:
            condition += f" AND attribute_not_exists({t}.{cfg.n('ready')})"
        await self._verify_reports(config, checks)
        pk_attr = ctx.key(pk, keys.CONFIG_SK)
        result, old = await ctx.write_if(
            "update_item",
            Key=pk_attr,
            UpdateExpression=update_expression(sets, removes),
            ConditionExpression=condition,
            ReturnValues="NONE",
            **cfg.params(),
        )
        if result is None:
            if not _already_applied(old, record):
                raise self._explain_refusal(old, config, record, lockless=lease is None)
            log.info("failover %s: a retried write had already been applied", failover_name)
        await self._state.write_history(config.namespace, config.name, record)
        if lease is not None:
            await _quietly(self._delete_lock_item(pk, lease))
        ctx.locks.forget(pk)
        log.info(
            "failover %s of %s/%s: %s -> %s at epoch %d",
            failover_name,
            config.namespace,
            config.name,
            config.owner,
            target,
            new_epoch,
        )
        return record

    async def _verify_reports(self, config: GroupConfig, checks: Mapping[str, StatusCheck]) -> None:
        """What a move requires of clusters' own records (their status, their liveness), read right before its
        write, strongly consistent: what the config cannot carry. Raises ConflictError if a cluster reported
        again. Safety does not rest on it: the write's own condition on the config does (the proof number, the
        serving flag); a record that moves after this read was sent by a cluster whose fence deadline had
        passed, or it would have moved before (see docs/design.md, "Without transactions")."""
        ctx = self._ctx
        pk = ctx.pk(config.namespace, config.name)
        wanted = {c: check for c, check in checks.items() if check.reads}
        if not wanted:
            return
        statuses = await self._state.read_statuses(config.namespace, config.name, wanted)
        for cluster, check in wanted.items():
            status, live = statuses.get(cluster, (None, None))
            if not _holds(check, status, live, config.epoch):
                now = (
                    f"status #{status.heartbeat_seq} {status.state.value} at epoch {status.observed_epoch}, "
                    f"health {status.health.value}"
                    if status is not None
                    else "no status"
                )
                raise ConflictError(
                    f"{cluster} reported again while {config.namespace}/{config.name} was being taken over ({now}, "
                    f"liveness #{live or 0}; required {check}); nothing was written"
                )
        del pk

    def _explain_refusal(
        self, old: Mapping[str, Any] | None, config: GroupConfig, record: HistoryRecord, *, lockless: bool
    ) -> Exception:
        group = f"{config.namespace}/{config.name}"
        if not old:
            return ConflictError(f"{group} no longer exists; nothing was written")
        try:
            now = config_from_item(old)
        except CorruptRecordError as error:
            return ConflictError(f"{group} changed during failover and is now unreadable: {error}")
        if now.owner != config.owner or now.epoch != config.epoch:
            return ConflictError(
                f"{group} changed during failover: owner {now.owner} at epoch {now.epoch} "
                f"(read {config.owner} at epoch {config.epoch})"
            )
        if record.target_cluster in now.fences:
            return ConflictError(
                f"{record.target_cluster} was fenced by hand during the failover of {group}; nothing was written"
            )
        if record.automatic and now.owner in now.fences:
            return ConflictError(
                f"{now.owner} was fenced by hand during the failover of {group}: nobody takes it over "
                f"automatically; nothing was written"
            )
        if now.suspended:
            return ConflictError(f"{group} was suspended during failover; nothing was written")
        if now.lock_token is not None:
            if lockless:
                return LockHeldError("unknown", f"{group} was locked by someone else during failover; nothing written")
            return ConflictError(f"lost the lock on {group} before the transfer; nothing was written")
        if now.proof_seq != config.proof_seq:
            return ConflictError(f"{now.owner} proved ownership of {group} again; nothing was written")
        if now.serving:
            return ConflictError(f"{now.owner} may serve {group} (it has not said it stopped); nothing was written")
        t = now.transition
        if t is not None and t.failover_name == record.failover_name and t.epoch == config.epoch:
            return ConflictError(
                f"{now.owner} has not confirmed failover {record.failover_name} of {group} (it cannot act, or has "
                f"not seen it yet); nothing was written"
            )
        return ConflictError(
            f"failover {record.failover_name} of {group} is no longer in progress (its source gave up, or it was "
            f"undone), or its owner changed what it says; nothing was written"
        )

    async def _delete_lock_item(self, pk: str, lease: Lease) -> None:
        ctx = self._ctx
        await ctx.write_if(
            "delete_item",
            Key=ctx.key(pk, keys.LOCK_SK),
            ConditionExpression="#t = :t",
            ExpressionAttributeNames={"#t": "token"},
            ExpressionAttributeValues={":t": s(lease.token)},
            ReturnValuesOnConditionCheckFailure="NONE",
        )

    async def request_transition(self, namespace: str, name: str, transition: Transition) -> GroupConfig:
        """Ask for a move of ownership: write `transition` into the config, if its source still owns the group
        at its epoch and no other move is in progress. Raises ConflictError (saying what is in the way) or
        NotFoundError. The clusters' ticks carry it out (see Transition)."""
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        e = Expr()
        sets = [
            f"{e.n('transition')} = {e.v(transition_to_attr(transition))}",
            f"{e.n('version')} = {e.n('version')} + {e.v(n(1))}",
            f"{e.n('updatedAt')} = {e.v(ts(ctx.clock.now()))}",
        ]
        condition = (
            f"{e.n('owner')} = {e.v(s(transition.source_cluster))} AND {e.n('epoch')} = {e.v(n(transition.epoch))}"
            f" AND attribute_not_exists({e.n('transition')})"
        )
        result, old = await ctx.write_if(
            "update_item",
            Key=ctx.key(pk, keys.CONFIG_SK),
            UpdateExpression=update_expression(sets),
            ConditionExpression=condition,
            ReturnValues="ALL_NEW",
            **e.params(),
        )
        if result is not None:
            return config_from_item(result["Attributes"])
        if not old:
            raise NotFoundError(f"group {namespace}/{name} does not exist")
        now = config_from_item(old)
        if now.transition is not None:
            t = now.transition
            raise ConflictError(
                f"failover {t.failover_name} ({t.source_cluster} -> {t.target_cluster}, {t.mode.value}) of "
                f"{namespace}/{name} is in progress"
            )
        raise ConflictError(
            f"{namespace}/{name} changed: {now.owner} owns it at epoch {now.epoch} "
            f"(not {transition.source_cluster} at {transition.epoch})"
        )

    async def clear_transition(self, namespace: str, name: str, failover_name: str, epoch: int) -> bool:
        """Remove the transition `failover_name` at `epoch` from the config — only that one: True if removed,
        False if it was not there (already done, undone, or replaced). Once it returns True, no transfer
        conditioned on it can land any more."""
        return await self._remove_transition(namespace, name, failover_name, epoch)

    async def withdraw_transition(self, namespace: str, name: str, t: Transition, why: str) -> bool:
        """Withdraw the move request `t` (only that one, at its epoch) and say so in the group's history: True if
        withdrawn, False if it was not there (already transferred, undone or replaced). Once it returns True, no
        transfer of it can land. The record (outcome WITHDRAWN, at the current epoch) goes with the config write,
        then into the history (StateManager.write_history); it moves nothing: readers of the owner's story skip it
        (HistoryRecord.moved)."""
        ctx = self._ctx
        now = ctx.clock.now()
        attempt = uuid.uuid4().hex
        record = HistoryRecord(
            failover_name=t.failover_name,
            source_cluster=t.source_cluster,
            target_cluster=t.target_cluster,
            reason=f"{why} (asked: {t.reason})" if t.reason else why,
            forced=t.force,
            automatic=t.automatic,
            mode=t.mode,
            started_at=t.requested_at,
            finished_at=now,
            outcome=Outcome.WITHDRAWN,
            epoch=t.epoch,
            record_id=keys.history_sk(now, attempt[:12]),
        )
        removed = await self._remove_transition(
            namespace, name, t.failover_name, t.epoch, record=record.model_dump_json(), now=now
        )
        if not removed:
            return False  # a retry of ours that had landed reads the same as one withdrawn by someone else
        await self._state.write_history(namespace, name, record)
        log.info("failover %s of %s/%s withdrawn: %s", t.failover_name, namespace, name, why)
        return True

    async def _remove_transition(
        self,
        namespace: str,
        name: str,
        failover_name: str,
        epoch: int,
        *,
        record: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Remove the transition `failover_name` at `epoch` from the config (and, `record`, carry a history record
        with it: `lastRecord`): True if removed, False if it was not there."""
        ctx = self._ctx
        e = Expr()
        tr = e.n("transition")
        sets = [
            f"{e.n('version')} = {e.n('version')} + {e.v(n(1))}",
            f"{e.n('updatedAt')} = {e.v(ts(now or ctx.clock.now()))}",
        ]
        if record is not None:
            sets.append(f"{e.n('lastRecord')} = {e.v(s(record))}")
        result, _ = await ctx.write_if(
            "update_item",
            Key=ctx.key(ctx.pk(namespace, name), keys.CONFIG_SK),
            UpdateExpression=update_expression(sets, [tr]),
            ConditionExpression=(
                f"{tr}.{e.n('failoverName')} = {e.v(s(failover_name))} AND {tr}.{e.n('epoch')} = {e.v(n(epoch))}"
            ),
            ReturnValuesOnConditionCheckFailure="NONE",
            **e.params(),
        )
        return result is not None

    async def execute_failback(
        self, namespace: str, name: str, reason: str, failover_name: str | None = None
    ) -> HistoryRecord:
        """Fail over to the previous owner.

        Seed API, kept for its contract tests and for tooling that has stopped every operator of the fleet; the
        operators and the fleet CLI never call it: it does not wait for the owner to drain, so with operators
        running the old owner may serve until its next tick. A move of a live fleet is a transition (a Failover,
        or `failover-operator switchover`)."""
        config = await self._state.get_group_config(namespace, name)
        if config is None:
            raise PreconditionError(f"group {namespace}/{name} does not exist")
        if not config.previous_owner:
            raise PreconditionError(f"{namespace}/{name} has never failed over: there is no previous owner")
        if failover_name is None:
            failover_name = f"failback-{self._ctx.clock.now():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
        return await self.execute_failover(namespace, name, failover_name, config.previous_owner, reason)

    async def update_suspension(self, namespace: str, name: str, suspended: bool, reason: str | None) -> GroupConfig:
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        e = Expr()
        sets = [
            f"{e.n('suspended')} = {e.v(b(bool(suspended)))}",
            f"{e.n('version')} = {e.n('version')} + {e.v(n(1))}",
            f"{e.n('updatedAt')} = {e.v(ts(ctx.clock.now()))}",
        ]
        removes = []
        if suspended and reason:
            sets.append(f"{e.n('suspensionReason')} = {e.v(s(reason))}")
        else:
            removes.append(e.n("suspensionReason"))
        result, _ = await ctx.write_if(
            "update_item",
            Key=ctx.key(pk, keys.CONFIG_SK),
            UpdateExpression=update_expression(sets, removes),
            ConditionExpression=f"attribute_exists({e.n(keys.PK)})",
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="NONE",
            **e.params(),
        )
        if result is None:
            raise NotFoundError(f"group {namespace}/{name} does not exist")
        return config_from_item(result["Attributes"])

    async def detect_and_report_problems(self, namespace: str, name: str) -> list[Problem]:
        """Everything wrong with the group as this cluster sees it; each problem is also logged."""
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        try:
            state = await self._state.get_group_state(namespace, name)
        except CorruptRecordError as error:
            problems = [Problem(kind=ProblemKind.CORRUPT_RECORD, cluster=None, message=str(error))]
        else:
            stale = self._state.stale_clusters(namespace, name, state.clusters, state.config.timeouts.heartbeat)
            problems = find_problems(
                state.config,
                state.clusters,
                stale=stale,
                lock=state.lock,
                lock_age=ctx.locks.age(pk) if state.lock else None,
                corrupt=state.corrupt,
            )
        for problem in problems:
            log.warning("%s/%s: %s: %s", namespace, name, problem.kind.value, problem.message)
        return problems

    async def _read_for_failover(self, namespace: str, name: str) -> GroupState:
        try:
            return await self._state.get_group_state(namespace, name)
        except NotFoundError:
            raise PreconditionError(f"group {namespace}/{name} does not exist in DynamoDB") from None
        except CorruptRecordError as error:
            raise PreconditionError(f"the config record of {namespace}/{name} is unreadable: {error.detail}") from None


OwnerCheck = StatusCheck
"""What a transfer requires of a cluster's records (the rulebook's StatusCheck), by its seed API name."""


def _holds(check: StatusCheck, status: ClusterStatus | None, liveness_seq: int | None, epoch: int) -> bool:
    """Does what a move requires of a cluster's own records (`StatusCheck.reads`) still hold, as read just now?"""

    def at(state: ClusterState) -> bool:
        return status is not None and status.state == state and status.observed_epoch == epoch

    if check.heartbeat_seq is not None and (status.heartbeat_seq if status else 0) != check.heartbeat_seq:
        return False
    if check.liveness_seq is not None and (liveness_seq or 0) != check.liveness_seq:
        return False
    if check.health is not None and (status is None or status.health != check.health):
        return False
    if check.able and status is not None and status.health == Health.UNKNOWN:
        return False
    if check.not_serving and at(ClusterState.PRIMARY):
        return False
    if check.drained and not at(ClusterState.FAILOVER):
        return False
    return not (check.not_ready and at(ClusterState.PRIMARY) and status is not None and status.health == Health.OK)


def _already_applied(old: Mapping[str, Any] | None, record: HistoryRecord) -> bool:
    """Did a retry of our own move fail only because its first attempt had succeeded? The config then carries
    exactly what we wrote: our target, our epoch, our history record (a move of someone else's, even one stamped
    at the same instant, names its own)."""
    if not old:
        return False
    try:
        now = config_from_item(old)
    except CorruptRecordError:
        return False
    return now.owner == record.target_cluster and now.epoch == record.epoch and now.last_move == record.record_id


def _unchanged_condition(e: Expr, item: dict[str, Any]) -> str:
    """Condition: the lock record still is exactly the one we judged expired (its token and renewals)."""
    parts = []
    for attribute in ("token", "renewals"):
        value = item.get(attribute)
        if value is None:
            parts.append(f"attribute_not_exists({e.n(attribute)})")
        else:
            parts.append(f"{e.n(attribute)} = {e.v(value)}")
    return f"attribute_exists({e.n(keys.PK)}) AND " + " AND ".join(parts)


def _lock_holder(item: dict[str, Any]) -> str:
    return raw(item, "holder", "S") or "unknown (unreadable lock record)"


def _lease_seconds(item: dict[str, Any]) -> float:
    """The lease a lock record asks for, readable or not (a default when it cannot be read)."""
    try:
        return float(raw(item, "leaseSeconds", "N") or DEFAULT_LEASE_SECONDS)
    except ValueError:
        return DEFAULT_LEASE_SECONDS


def _salvaged_lock(item: dict[str, Any]) -> LockInfo:
    return LockInfo(
        holder=_lock_holder(item),
        reason="unreadable lock record",
        acquired_at=datetime.fromtimestamp(0, UTC),
        lease_seconds=_lease_seconds(item),
        token=raw(item, "token", "S") or "",
    )


async def _quietly(coro: Awaitable[object]) -> None:
    """Best-effort cleanup that must neither mask the original error nor be cut short by cancellation."""
    try:
        await asyncio.shield(coro)
    except Exception as exc:
        log.warning("cleanup failed: %s", exc)
    except asyncio.CancelledError:
        pass
