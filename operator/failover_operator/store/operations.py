"""OperationsManager: the group lock (a lease), failover as one transaction, suspension, problems."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ..model import ClusterState, FailoverMode, GroupConfig, Health, HistoryRecord, Outcome, Transition
from ..rules import StatusCheck, refusal
from . import fences, keys
from .calls import TRANSACTION_CANCELED, cancellation_codes, error_code, unexpected
from .context import StoreContext, coerce
from .errors import ConflictError, CorruptRecordError, LockHeldError, NotFoundError, PreconditionError
from .expr import Expr, update_expression
from .problems import Problem, ProblemKind, find_problems
from .records import (
    Lease,
    LockInfo,
    b,
    config_from_item,
    history_to_item,
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
        """Move ownership to `target_cluster` in one transaction: config (epoch + 1), history, lock release.

        `expected_epoch` makes it conditional on the epoch still being the one the caller decided on (what
        automatic failover uses, so racing standbys cannot steal from the winner). `force` skips only the
        suspension, health and staleness checks. `lease`: a lock the caller already holds (else one is taken).

        `owner_check` (or `owner_heartbeat_seq` / `owner_health`) makes it conditional on what the current
        owner's status record says: still the heartbeat the taker judged stale, not serving at this epoch,
        drained (FAILOVER at this epoch), or not ready — so an owner that reported otherwise in between cancels
        it. `transition`: the move a failover asked for; the transaction is conditioned on it still being in
        the config (a source that gave up removed it first), and an UPTIME one stays, at the new epoch, as the
        hand-off. `outcome`: ROLLED_BACK for an UPTIME hand-off that returns ownership to its source.
        `skip_checks`: what `force` skips, without being recorded as forced (a rollback is the operator's own).
        `other_checks`: the same kind of condition on other clusters' statuses (an UPTIME hand-off's source).
        `state`: a strongly consistent read of the group the caller made just now and decided on (else it is read
        here). If it shows no lock and no `lease` is given, no lock is taken: the transaction is conditioned on
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
            f"{cfg.n('updatedAt')} = {cfg.v(ts(now))}",
        ]
        removes = [cfg.n("transition")]
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
            removes = []
        condition = f"{cfg.n('owner')} = {cfg.v(s(config.owner))} AND {cfg.n('epoch')} = {cfg.v(n(config.epoch))}"
        if transition is not None:
            t = cfg.n("transition")
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
        lock = Expr()
        items = [
            {
                "Update": {
                    "TableName": ctx.table,
                    "Key": ctx.key(pk, keys.CONFIG_SK),
                    "UpdateExpression": update_expression(sets, removes),
                    "ConditionExpression": condition,
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    **cfg.params(),
                }
            },
            {
                "Put": {
                    "TableName": ctx.table,
                    "Item": history_to_item(pk, record),
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": keys.PK},
                }
            },
            {
                "Delete": {
                    "TableName": ctx.table,
                    "Key": ctx.key(pk, keys.LOCK_SK),
                    "ConditionExpression": f"{lock.n('token')} = {lock.v(s(lease.token))}",
                    **lock.params(),
                }
            }
            if lease is not None
            else {
                "ConditionCheck": {
                    "TableName": ctx.table,
                    "Key": ctx.key(pk, keys.LOCK_SK),
                    "ConditionExpression": f"attribute_not_exists({lock.n(keys.PK)})",
                    **lock.params(),
                }
            },
        ]
        checked: list[str] = []  # whose status or liveness each ConditionCheck after the lock's is about
        for cluster, cluster_check in checks.items():
            check = _check_item(cluster_check, ctx.table, ctx.key(pk, keys.cluster_sk(cluster)), config.epoch)
            if check is not None:
                items.append(check)
                checked.append(cluster)
            if cluster_check.liveness_seq is not None:
                items.append(self._state.liveness.unchanged(cluster, cluster_check.liveness_seq))
                checked.append(cluster)
        token = str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{attempt}:{config.epoch}"))
        try:
            await ctx.transact(items, token)
        except ClientError as exc:
            if error_code(exc) != TRANSACTION_CANCELED:
                raise unexpected("TransactWriteItems", exc) from exc
            if not _already_applied(exc, record):
                raise self._explain_cancellation(exc, config, record, checked, lockless=lease is None) from None
            log.info("failover %s: a retried transaction had already been applied", failover_name)
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

    def _explain_cancellation(
        self, exc: ClientError, config: GroupConfig, record: HistoryRecord, checked: list[str], *, lockless: bool
    ) -> Exception:
        group = f"{config.namespace}/{config.name}"
        codes = cancellation_codes(exc)
        reasons = exc.response.get("CancellationReasons") or []
        if codes and codes[0] == "ConditionalCheckFailed":
            old_item = reasons[0].get("Item") if reasons else None
            if old_item:
                try:
                    now = config_from_item(old_item)
                except CorruptRecordError as error:
                    return ConflictError(f"{group} changed during failover and is now unreadable: {error}")
                if now.owner != config.owner or now.epoch != config.epoch:
                    return ConflictError(
                        f"{group} changed during failover: owner {now.owner} at epoch {now.epoch} "
                        f"(read {config.owner} at epoch {config.epoch})"
                    )
                if record.target_cluster in now.fences:
                    return ConflictError(
                        f"{record.target_cluster} was fenced by hand during the failover of {group}; nothing was "
                        f"written"
                    )
                if record.automatic and now.owner in now.fences:
                    return ConflictError(
                        f"{now.owner} was fenced by hand during the failover of {group}: nobody takes it over "
                        f"automatically; nothing was written"
                    )
                if now.suspended:
                    return ConflictError(f"{group} was suspended during failover; nothing was written")
                if now.transition is None or now.transition.failover_name != record.failover_name:
                    return ConflictError(
                        f"failover {record.failover_name} of {group} is no longer in progress (its source gave up, "
                        f"or it was undone); nothing was written"
                    )
            return ConflictError(f"{group} changed during failover; nothing was written")
        if len(codes) > 2 and codes[2] == "ConditionalCheckFailed":  # the lock: checked free, or ours released
            if lockless:
                return LockHeldError(
                    "unknown", f"{group} was locked by someone else during failover; nothing was written"
                )
            return ConflictError(f"lost the lock on {group} before the transfer; nothing was written")
        for cluster, code in zip(checked, codes[3:], strict=False):
            if code == "ConditionalCheckFailed":
                return ConflictError(
                    f"{cluster} reported again while {group} was being taken over; nothing was written"
                )
        return ConflictError(f"failover of {group} was cancelled ({', '.join(codes)}); nothing was written")

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
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        e = Expr()
        t = e.n("transition")
        result, _ = await ctx.write_if(
            "update_item",
            Key=ctx.key(pk, keys.CONFIG_SK),
            UpdateExpression=update_expression(
                [
                    f"{e.n('version')} = {e.n('version')} + {e.v(n(1))}",
                    f"{e.n('updatedAt')} = {e.v(ts(ctx.clock.now()))}",
                ],
                [t],
            ),
            ConditionExpression=(
                f"{t}.{e.n('failoverName')} = {e.v(s(failover_name))} AND {t}.{e.n('epoch')} = {e.v(n(epoch))}"
            ),
            ReturnValuesOnConditionCheckFailure="NONE",
            **e.params(),
        )
        return result is not None

    async def withdraw_transition(self, namespace: str, name: str, t: Transition, why: str) -> bool:
        """Withdraw the move request `t` (only that one, at its epoch) and say so in the group's history, in one
        transaction: True if withdrawn, False if it was not there (already transferred, undone or replaced).
        Once it returns True, no transfer of it can land. The record (outcome WITHDRAWN, at the current epoch)
        moves nothing: readers of the owner's story skip it (HistoryRecord.moved)."""
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
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
        e = Expr()
        tr = e.n("transition")
        items = [
            {
                "Update": {
                    "TableName": ctx.table,
                    "Key": ctx.key(pk, keys.CONFIG_SK),
                    "UpdateExpression": update_expression(
                        [f"{e.n('version')} = {e.n('version')} + {e.v(n(1))}", f"{e.n('updatedAt')} = {e.v(ts(now))}"],
                        [tr],
                    ),
                    "ConditionExpression": (
                        f"{tr}.{e.n('failoverName')} = {e.v(s(t.failover_name))} AND {tr}.{e.n('epoch')} = "
                        f"{e.v(n(t.epoch))}"
                    ),
                    **e.params(),
                }
            },
            {
                "Put": {
                    "TableName": ctx.table,
                    "Item": history_to_item(pk, record),
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": keys.PK},
                }
            },
        ]
        try:
            await ctx.transact(items, attempt)  # a retry of one that landed answers "done" (the same token)
        except ClientError as exc:
            if error_code(exc) != TRANSACTION_CANCELED:
                raise unexpected("TransactWriteItems", exc) from exc
            if cancellation_codes(exc)[:1] == ["ConditionalCheckFailed"]:
                return False
            raise unexpected("TransactWriteItems", exc) from exc
        log.info("failover %s of %s/%s withdrawn: %s", t.failover_name, namespace, name, why)
        return True

    async def execute_failback(
        self, namespace: str, name: str, reason: str, failover_name: str | None = None
    ) -> HistoryRecord:
        """Fail over to the previous owner, in one transaction.

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


def _check_item(check: StatusCheck, table: str, key: dict[str, Any], epoch: int) -> dict[str, Any] | None:
    """The ConditionCheck of a transaction that requires `check` of a cluster's status record (None: nothing to
    require of the status; a liveness number is checked on the liveness record, see LivenessManager.unchanged)."""
    e = Expr()
    parts = []

    def absent() -> str:
        return f"attribute_not_exists({e.n(keys.PK)})"

    def at(state: ClusterState) -> str:
        return f"{e.n('state')} = {e.v(s(state.value))} AND {e.n('observedEpoch')} = {e.v(n(epoch))}"

    if check.heartbeat_seq == 0:
        parts.append(absent())
    elif check.heartbeat_seq is not None:
        parts.append(f"{e.n('heartbeatSeq')} = {e.v(n(check.heartbeat_seq))}")
    if check.health is not None:
        parts.append(f"{e.n('health')} = {e.v(s(check.health.value))}")
    if check.not_serving:
        parts.append(f"({absent()} OR NOT ({at(ClusterState.PRIMARY)}))")
    if check.drained:
        parts.append(at(ClusterState.FAILOVER))
    if check.not_ready:
        ok = f"{e.n('health')} = {e.v(s(Health.OK.value))}"
        parts.append(f"({absent()} OR NOT ({at(ClusterState.PRIMARY)} AND {ok}))")
    if check.able:
        parts.append(f"{e.n('health')} <> {e.v(s(Health.UNKNOWN.value))}")
    if check.following is not None:
        parts.append(f"{e.n('following')} = {e.v(s(check.following))}")
    if not parts:
        return None
    return {
        "ConditionCheck": {"TableName": table, "Key": key, "ConditionExpression": " AND ".join(parts), **e.params()}
    }


def _already_applied(exc: ClientError, record: HistoryRecord) -> bool:
    """Did a retry of our own transaction fail only because its first attempt had succeeded?

    The config's old image then carries exactly what we wrote: our target, our epoch, our history record (a
    move of someone else's, even one stamped at the same instant, names its own).
    Real DynamoDB answers such a retry from its ClientRequestToken cache; this covers the cases where
    that cache cannot (token expired after 10 minutes, or a store without idempotency, like moto).
    """
    reasons = exc.response.get("CancellationReasons") or []
    item = reasons[0].get("Item") if reasons else None
    if not item:
        return False
    try:
        now = config_from_item(item)
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
