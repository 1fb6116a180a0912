"""StateManager: group config, per-cluster status and history reads (with the clusters' liveness)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from ..model import ClusterState, ClusterStatus, GroupConfig, Health, HistoryRecord, Timeouts, Transition, evolved
from . import fences, keys
from .batch import ItemBatches
from .calls import CONDITION_FAILED, error_code, unexpected
from .context import StoreContext, coerce, sk_of
from .errors import ConflictError, CorruptRecordError, DeposedError, NotFoundError, StoreError, SupersededError
from .expr import Expr, update_expression
from .liveness import LivenessManager
from .records import (
    Liveness,
    LockInfo,
    b,
    cluster_status_from_item,
    components_json,
    config_from_item,
    config_to_item,
    history_from_item,
    history_to_item,
    lock_from_item,
    n,
    raw,
    s,
    timeouts_to_attr,
    transition_to_attr,
    ts,
)

log = logging.getLogger("failover_operator.store")

STATE_HISTORY_LIMIT = 10


class GroupState(BaseModel):
    """One read of a group: its config, every cluster's status, the lock and the newest history."""

    model_config = ConfigDict(frozen=True)

    config: GroupConfig
    clusters: dict[str, ClusterStatus]
    lock: LockInfo | None
    history: list[HistoryRecord]
    corrupt: list[str] = []
    """Descriptions of records that could not be parsed and were skipped."""


class StateManager:
    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx
        self.liveness = LivenessManager(ctx)
        self._items = ItemBatches(ctx.call, ctx.table)
        self.proofs: dict[str, int] = {}
        """By group partition: the proof number our last proof of ownership landed as."""

    # --- group config -------------------------------------------------------------------------------

    async def register_group(
        self,
        namespace: str,
        name: str,
        initial_owner: str | None = None,
        timeouts: Timeouts | Mapping[str, Any] | None = None,
    ) -> GroupConfig:
        """Create the group's config if absent. The first registration wins; later ones get it unchanged."""
        config, _ = await self.register(namespace, name, initial_owner, timeouts)
        return config

    async def register(
        self,
        namespace: str,
        name: str,
        initial_owner: str | None = None,
        timeouts: Timeouts | Mapping[str, Any] | None = None,
    ) -> tuple[GroupConfig, bool]:
        """`register_group`, also saying whether this call created the config (then there is nothing else to
        read: a cold start of a thousand groups saves a read of each)."""
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        owner = ctx.cluster_name if initial_owner is None else keys.check_part(initial_owner, "initial owner")
        config = GroupConfig(
            namespace=namespace,
            name=name,
            operator_id=ctx.operator_id,
            owner=owner,
            epoch=1,
            version=1,
            timeouts=_timeouts(timeouts),
            updated_at=ctx.clock.now(),
        )
        _, old = await ctx.write_if(
            "put_item",
            Item=config_to_item(config),
            ConditionExpression="attribute_not_exists(#pk)",
            ExpressionAttributeNames={"#pk": keys.PK},
        )
        if old is None:
            return config, True
        existing = old or await self._get_config_item(pk)
        if existing is None:  # deleted between our put and our read: try once more
            return await self.register(namespace, name, initial_owner, timeouts)
        return config_from_item(existing), False

    async def get_group_config(self, namespace: str, name: str) -> GroupConfig | None:
        """The group's config (strongly consistent), or None if it does not exist or cannot be read."""
        item = await self._get_config_item(self._ctx.pk(namespace, name))
        if item is None:
            return None
        try:
            return config_from_item(item)
        except CorruptRecordError as error:
            self._ctx.report_corrupt(error)
            return None

    async def update_group_config(self, config: GroupConfig) -> GroupConfig:
        """Write the settable parts of `config` if nobody changed the record since `config.version`.

        Owner, previous owner, epoch and last failover are not settable here: only a failover moves them.
        """
        ctx = self._ctx
        if config.operator_id != ctx.operator_id:
            raise ValueError(f"config belongs to operator ID {config.operator_id!r}, not {ctx.operator_id!r}")
        pk = ctx.pk(config.namespace, config.name)
        e = Expr()
        sets = [
            f"{e.n('suspended')} = {e.v(b(config.suspended))}",
            f"{e.n('timeouts')} = {e.v(timeouts_to_attr(config.timeouts))}",
            f"{e.n('version')} = {e.v(n(config.version + 1))}",
            f"{e.n('updatedAt')} = {e.v(ts(ctx.clock.now()))}",
        ]
        removes = []
        if config.suspension_reason:
            sets.append(f"{e.n('suspensionReason')} = {e.v(s(config.suspension_reason))}")
        else:
            removes.append(e.n("suspensionReason"))
        if config.transition is not None:
            sets.append(f"{e.n('transition')} = {e.v(transition_to_attr(config.transition))}")
        else:
            removes.append(e.n("transition"))
        if config.timeouts_before is not None:
            sets.append(f"{e.n('timeoutsBefore')} = {e.v(timeouts_to_attr(config.timeouts_before))}")
        else:
            removes.append(e.n("timeoutsBefore"))
        condition = f"attribute_exists({e.n(keys.PK)}) AND {e.n('version')} = {e.v(n(config.version))}"
        result, old = await ctx.write_if(
            "update_item",
            Key=ctx.key(pk, keys.CONFIG_SK),
            UpdateExpression=update_expression(sets, removes),
            ConditionExpression=condition,
            ReturnValues="ALL_NEW",
            **e.params(),
        )
        if result is None:
            if not old:
                raise NotFoundError(f"group {config.namespace}/{config.name} does not exist")
            stored = old.get("version", {}).get("N", "?")
            raise ConflictError(
                f"group {config.namespace}/{config.name} changed: version {config.version} was read, {stored} is stored"
            )
        return config_from_item(result["Attributes"])

    async def get_group_state(
        self,
        namespace: str,
        name: str,
        *,
        liveness: Mapping[str, Liveness] | None = None,
        recent: GroupState | None = None,
    ) -> GroupState:
        """Config, all cluster statuses, the lock and the newest history records, in two concurrent queries
        (three, with the clusters' liveness, unless `liveness` is a read the caller just made). `recent`: an
        earlier read whose lock and history are kept, so that only the config and the statuses are read (one
        query): what a decision about to act needs — its transaction re-checks the lock.

        Sort keys below HISTORY# (statuses and config) are bounded by the number of clusters; history is
        unbounded, so it is read newest-first with a limit, together with the LOCK item that sorts after it.
        The queries are each strongly consistent but are not one snapshot. Each status carries its cluster's
        liveness (`liveness_seq`, `alive_at`).
        """
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        live_read = self.liveness.read() if liveness is None else _given(liveness)
        small, newest, live = await asyncio.gather(
            ctx.query_all(
                KeyConditionExpression="#pk = :pk AND #sk < :history",
                ExpressionAttributeNames={"#pk": keys.PK, "#sk": keys.SK},
                ExpressionAttributeValues={":pk": s(pk), ":history": s(keys.HISTORY_PREFIX)},
                ConsistentRead=True,
            ),
            _nothing() if recent is not None else self._newest(pk),
            live_read,
        )
        corrupt: list[str] = []
        config, clusters = self._config_and_statuses(namespace, name, small, live, corrupt)
        if recent is not None:
            return GroupState(
                config=config, clusters=clusters, lock=recent.lock, history=recent.history, corrupt=corrupt
            )
        lock, history = self._lock_and_history(pk, newest, corrupt)
        history = await self._complete_history(config, history)
        return GroupState(config=config, clusters=clusters, lock=lock, history=history, corrupt=corrupt)

    async def reread(
        self,
        namespace: str,
        name: str,
        *,
        liveness: Mapping[str, Liveness],
        recent: GroupState | None = None,
    ) -> GroupState:
        """The group afresh (strongly consistent), by the keys it is known to have: the config, the lock and
        the statuses of the clusters `liveness` or `recent` names — read in one BatchGetItem with other groups'
        asked meanwhile (a thousand groups read in forty requests, not a thousand queries). The history is
        `recent`'s unless the config says a move landed since (then it is read). A status of a cluster named
        nowhere is missed: the periodic full read (get_group_state) finds it."""
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        clusters = {*liveness, *(recent.clusters if recent is not None else ()), ctx.cluster_name}
        if recent is not None:
            clusters.add(recent.config.owner)
        wanted = [(pk, keys.CONFIG_SK), *((pk, keys.cluster_sk(c)) for c in sorted(clusters)), (pk, keys.LOCK_SK)]
        items = await self._items.get(wanted)
        owner = next((raw(item, "owner", "S") for item in items if sk_of(item) == keys.CONFIG_SK), None)
        if owner and owner not in clusters:
            # An owner named nowhere else (it died before its first heartbeat): what it said is what a takeover
            # is judged on
            items += await self._items.get([(pk, keys.cluster_sk(owner))])
        corrupt: list[str] = []
        config, statuses = self._config_and_statuses(namespace, name, items, liveness, corrupt)
        locks = [item for item in items if sk_of(item) == keys.LOCK_SK]
        if recent is not None and (recent.config.last_failover, recent.config.last_move) == (
            config.last_failover,
            config.last_move,
        ):
            lock, _ = self._lock_and_history(pk, locks, corrupt)
            history = recent.history
        elif config.last_failover is None:
            lock, history = self._lock_and_history(pk, locks, corrupt)
        else:
            newest = await self._newest(pk)
            lock, history = self._lock_and_history(pk, [*newest, *locks], corrupt)
            history = await self._complete_history(config, history)
        return GroupState(config=config, clusters=statuses, lock=lock, history=history, corrupt=corrupt)

    async def read_statuses(
        self, namespace: str, name: str, clusters: Iterable[str]
    ) -> dict[str, tuple[ClusterStatus | None, int | None]]:
        """These clusters' status for the group and liveness number, strongly consistent, in one BatchGetItem
        with other groups' asked meanwhile: what a move checks of them right before its write."""
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        fleet = keys.fleet_pk(ctx.operator_id)
        names = sorted(set(clusters))
        wanted = [*((pk, keys.cluster_sk(c)) for c in names), *((fleet, keys.cluster_sk(c)) for c in names)]
        items = await self._items.get(wanted)
        found: dict[str, tuple[ClusterStatus | None, int | None]] = {c: (None, None) for c in names}
        for item in items:
            sk = sk_of(item)
            if not sk.startswith(keys.CLUSTER_PREFIX):
                continue
            cluster = sk[len(keys.CLUSTER_PREFIX) :]
            if cluster not in found:
                continue
            status, seq = found[cluster]
            if raw(item, keys.PK, "S") == fleet:
                seq = int(raw(item, "seq", "N") or 0)
            else:
                try:
                    status = cluster_status_from_item(item)
                except CorruptRecordError as error:
                    ctx.report_corrupt(error)
                    continue
            found[cluster] = (status, seq)
        return found

    async def _complete_history(self, config: GroupConfig, history: list[HistoryRecord]) -> list[HistoryRecord]:
        """The newest history, with the record the config carries (`lastRecord`) if it is not there yet: its writer
        may have stopped between the config's write and the history's (no transaction holds them together). It is
        written now, idempotently, so the history loses nothing."""
        record = _last_record(config)
        if record is None or any(h.record_id == record.record_id for h in history):
            return history
        if history and history[0].record_id > record.record_id:
            return history  # older than the newest one read: it was written long ago (and may have been pruned)
        await self.write_history(config.namespace, config.name, record)
        return [record, *history][:STATE_HISTORY_LIMIT]

    async def write_history(self, namespace: str, name: str, record: HistoryRecord) -> bool:
        """Put a history record written about in the config (`lastRecord`) — idempotent: a record already there
        (ours, retried; or written by someone who found it missing) is left as it is. False if it could not be
        written now (DynamoDB failed): whoever reads the config next finds it missing and writes it."""
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        try:
            await ctx.write_if(
                "put_item",
                Item=history_to_item(pk, record),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": keys.PK},
                ReturnValuesOnConditionCheckFailure="NONE",
            )
        except StoreError as exc:
            log.warning("%s/%s: history record %s not written yet: %s", namespace, name, record.record_id, exc)
            return False
        return True

    async def ownership(self, namespace: str, name: str) -> tuple[GroupConfig | None, ClusterStatus | None]:
        """The group's config and our status for it, strongly consistent, read in one BatchGetItem with other
        groups' asked meanwhile (what vouches for resources found serving at a start: rules/vouch.py)."""
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        mine = keys.cluster_sk(ctx.cluster_name)
        items = await self._items.get([(pk, keys.CONFIG_SK), (pk, mine)])
        config = next((config_from_item(i) for i in items if sk_of(i) == keys.CONFIG_SK), None)
        status = next((cluster_status_from_item(i) for i in items if sk_of(i) == mine), None)
        return config, status

    async def _newest(self, pk: str) -> list[dict[str, Any]]:
        """The newest history records of a group (and its lock, which sorts after them)."""
        ctx = self._ctx
        result = await ctx.call(
            "query",
            TableName=ctx.table,
            KeyConditionExpression="#pk = :pk AND #sk > :history",
            ExpressionAttributeNames={"#pk": keys.PK, "#sk": keys.SK},
            ExpressionAttributeValues={":pk": s(pk), ":history": s(keys.HISTORY_PREFIX)},
            ConsistentRead=True,
            ScanIndexForward=False,
            Limit=STATE_HISTORY_LIMIT + 1,
        )
        return list(result.get("Items", []))

    def _config_and_statuses(
        self,
        namespace: str,
        name: str,
        items: list[dict[str, Any]],
        live: Mapping[str, Liveness],
        corrupt: list[str],
    ) -> tuple[GroupConfig, dict[str, ClusterStatus]]:
        config_item = next((item for item in items if sk_of(item) == keys.CONFIG_SK), None)
        if config_item is None:
            raise NotFoundError(f"group {namespace}/{name} does not exist")
        config = config_from_item(config_item)  # a corrupt config leaves nothing to decide on: raise
        pk = self._ctx.pk(namespace, name)
        return config, self._with_liveness(self._parse_statuses(pk, items, corrupt), live)

    def _lock_and_history(
        self, pk: str, items: list[dict[str, Any]], corrupt: list[str]
    ) -> tuple[LockInfo | None, list[HistoryRecord]]:
        ctx = self._ctx
        lock = None
        history: list[HistoryRecord] = []
        for item in items:
            try:
                if sk_of(item) == keys.LOCK_SK:
                    lock = lock_from_item(item)
                elif sk_of(item).startswith(keys.HISTORY_PREFIX):
                    history.append(history_from_item(item))
            except CorruptRecordError as error:
                ctx.report_corrupt(error)
                corrupt.append(str(error))
        if lock is not None:
            ctx.locks.observe(pk, (lock.token, lock.renewals))
        return lock, history[:STATE_HISTORY_LIMIT]

    # --- cluster status ------------------------------------------------------------------------------

    async def update_cluster_status(
        self,
        namespace: str,
        name: str,
        health: Health | str,
        state: ClusterState | str,
        components: Mapping[str, Any],
        observed_epoch: int | None = None,
        *,
        message: str | None = None,
        retry: bool = True,
        ordered: bool = False,
        following: str | None = None,
        leaving: bool = False,
        maintenance: bool = False,
    ) -> ClusterStatus:
        """This cluster's heartbeat: bump the sequence number atomically and record what we see.

        `retry=False`: one attempt only. A periodic heartbeat is retried by the next one, which says what is
        true *then*: a retried old one would land late saying what was true before.
        `ordered`: refuse to land after a write of ours that was sent later (SupersededError). The operator's
        heartbeats overlap when the table is slow; without this, an old one saying FENCED could overwrite the
        proof of ownership sent after it, and let a takeover "of an owner not serving" succeed while it serves.
        `following`: the UPTIME move of the group this cluster, its source, has seen (ClusterStatus.following).
        `leaving`: this cluster is leaving the group (ClusterStatus.leaving).
        `maintenance`: this cluster, the owner, holds the group in maintenance (ClusterStatus.maintenance)."""
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        health = coerce(Health, health)
        state = coerce(ClusterState, state)
        if observed_epoch is None:
            config = await self.get_group_config(namespace, name)
            if config is None:
                raise NotFoundError(f"group {namespace}/{name} does not exist")
            observed_epoch = config.epoch
        e = Expr()
        write = ctx.next_write() if ordered else None
        sets, removes, newer = self._status_update(
            e,
            namespace,
            name,
            health,
            state,
            components,
            observed_epoch,
            message,
            write,
            following,
            leaving,
            maintenance,
        )
        if leaving:  # never re-creates the record the cluster deletes as it leaves (a write that was late)
            newer = f"attribute_exists({e.n(keys.PK)}) AND {newer}"
        condition = {"ConditionExpression": newer, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
        try:
            result = await (ctx.call if retry else ctx.call_once)(
                "update_item",
                TableName=ctx.table,
                Key=ctx.key(pk, keys.cluster_sk(ctx.cluster_name)),
                UpdateExpression=update_expression(sets, removes),
                ReturnValues="ALL_NEW",
                **condition,
                **e.params(),
            )
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise unexpected("UpdateItem", exc) from exc
            old = dict(exc.response.get("Item") or {})
            if write is not None and self._mine(old, write):  # a retry of this very write, whose first landed
                return cluster_status_from_item(old)
            if ctx.deposed(old):
                raise DeposedError(
                    f"{ctx.cluster_name}'s status for {namespace}/{name} was written by a later leader term: another "
                    f"replica of this cluster's operator leads now"
                ) from None
            raise SupersededError(
                f"{ctx.cluster_name}'s status for {namespace}/{name}: a newer write of ours landed first"
            ) from None
        return cluster_status_from_item(result["Attributes"])

    def _mine(self, item: Mapping[str, Any], write: int) -> bool:
        """The stored status is exactly write number `write` of this process."""
        ctx = self._ctx
        return raw(item, "writer", "S") == ctx.writer and raw(item, "writeSeq", "N") == str(write)

    async def prove_ownership(
        self,
        namespace: str,
        name: str,
        epoch: int,
        health: Health | str,
        components: Mapping[str, Any],
        *,
        message: str | None = None,
        maintenance: bool = False,
    ) -> None:
        """Report this cluster PRIMARY at `epoch` — if, and only if, it still owns the group at that epoch.

        Two single-item writes, no transaction (an MRSC global table refuses them): first the config, conditioned
        on naming us owner at `epoch` (and not fenced by hand), bumps its proof number and says we may serve;
        then our status says PRIMARY at `epoch`. The first is the proof: every takeover of an owner judged gone
        is conditioned on the config's proof number it saw (stale) or on `serving` being clear (not serving), so
        the proof and such a takeover can never both succeed. The status write carries our leader term: a
        deposed leader learns it here, before it acts on the proof. Raises ConflictError if we no longer own the
        group at `epoch` (nothing written), DeposedError if another replica of our operator leads now."""
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        c = Expr()
        check = f"{c.n('owner')} = {c.v(s(ctx.cluster_name))} AND {c.n('epoch')} = {c.v(n(epoch))}"
        check += f" AND attribute_not_exists({fences.member(c, ctx.cluster_name)})"  # not fenced by hand
        proof = c.n("proofSeq")
        sets = [f"{proof} = if_not_exists({proof}, {c.v(n(0))}) + {c.v(n(1))}", f"{c.n('serving')} = {c.v(b(True))}"]
        result, _ = await ctx.write_if(
            "update_item",
            Key=ctx.key(pk, keys.CONFIG_SK),
            UpdateExpression=update_expression(sets),
            ConditionExpression=check,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="NONE",
            **c.params(),
        )
        if result is None:
            raise ConflictError(
                f"{ctx.cluster_name} no longer owns {namespace}/{name} at epoch {epoch}, or is fenced by hand there; "
                f"nothing was written"
            )
        self.proofs[pk] = int(result["Attributes"]["proofSeq"]["N"])
        if ctx.term:
            await self.liveness.still_leading()  # a deposed leader must not act on it (its status may be gone)
        await self.update_cluster_status(
            namespace,
            name,
            health,
            ClusterState.PRIMARY,
            components,
            epoch,
            message=message,
            ordered=True,
            maintenance=maintenance,
        )

    async def stop_serving(self, namespace: str, name: str, epoch: int, proof_seq: int) -> bool:
        """Say on the config that we, its owner at `epoch`, no longer serve: our resources are down, and we scale
        nothing up again without a new proof. Conditioned on the proof number being `proof_seq`, the last one we
        know of: a proof of ours that landed since (sent before this, answered after) makes this fail, so
        `serving` is always what our last landed write said. True if written (or already clear), False if we do
        not own the group at `epoch` or a newer proof landed (read again, then stop again if still so)."""
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        e = Expr()
        proof = e.n("proofSeq")
        known = f"attribute_not_exists({proof})" if proof_seq == 0 else f"{proof} = {e.v(n(proof_seq))}"
        result, _ = await ctx.write_if(
            "update_item",
            Key=ctx.key(pk, keys.CONFIG_SK),
            UpdateExpression=f"REMOVE {e.n('serving')}",
            ConditionExpression=(
                f"{e.n('owner')} = {e.v(s(ctx.cluster_name))} AND {e.n('epoch')} = {e.v(n(epoch))} AND {known}"
            ),
            ReturnValuesOnConditionCheckFailure="NONE",
            **e.params(),
        )
        return result is not None

    async def mark_transition(
        self, namespace: str, name: str, t: Transition, *, following: bool | None = None, ready: bool | None = None
    ) -> bool:
        """Set or clear `following` (the UPTIME source, owner at t.epoch, can act and follows the move) or `ready`
        (the hand-off's new owner, owner at t.epoch, reported ready) on the config's transition `t`: what a
        transfer and a hand-back are conditioned on. True if written, False if `t` is not there any more (or the
        writer no longer owns the group at its epoch)."""
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        e = Expr()
        tr = e.n("transition")
        sets = [f"{e.n('version')} = {e.n('version')} + {e.v(n(1))}"]
        removes = []
        for attribute, value in (("following", following), ("ready", ready)):
            if value is True:
                sets.append(f"{tr}.{e.n(attribute)} = {e.v(b(True))}")
            elif value is False:
                removes.append(f"{tr}.{e.n(attribute)}")
        condition = (
            f"{e.n('owner')} = {e.v(s(ctx.cluster_name))} AND {e.n('epoch')} = {e.v(n(t.epoch))}"
            f" AND {tr}.{e.n('failoverName')} = {e.v(s(t.failover_name))} AND {tr}.{e.n('epoch')} = {e.v(n(t.epoch))}"
        )
        result, _ = await ctx.write_if(
            "update_item",
            Key=ctx.key(pk, keys.CONFIG_SK),
            UpdateExpression=update_expression(sets, removes),
            ConditionExpression=condition,
            ReturnValuesOnConditionCheckFailure="NONE",
            **e.params(),
        )
        return result is not None

    def _status_update(
        self,
        e: Expr,
        namespace: str,
        name: str,
        health: Health,
        state: ClusterState,
        components: Mapping[str, Any],
        observed_epoch: int,
        message: str | None,
        write: int | None,
        following: str | None = None,
        leaving: bool = False,
        maintenance: bool = False,
    ) -> tuple[list[str], list[str], str]:
        """SET and REMOVE clauses of a heartbeat (the sequence number moves, the rest says what we see), and its
        condition: no later leader term has written it and, for write number `write`, no write of ours sent after
        it has landed (numbers grow as writes are sent)."""
        ctx = self._ctx
        seq = e.n("heartbeatSeq")
        in_term, term = ctx.in_term(e)
        sets = [term]
        newer = in_term
        if write is not None:
            writer, number = e.n("writer"), e.n("writeSeq")
            me, this = e.v(s(ctx.writer)), e.v(n(write))
            newer += f" AND (attribute_not_exists({number}) OR {writer} <> {me} OR {number} < {this})"
            sets += [f"{writer} = {me}", f"{number} = {this}"]
        sets += [
            f"{seq} = if_not_exists({seq}, {e.v(n(0))}) + {e.v(n(1))}",
            f"{e.n('lastHeartbeat')} = {e.v(ts(ctx.clock.now()))}",
            f"{e.n('health')} = {e.v(s(health.value))}",
            f"{e.n('state')} = {e.v(s(state.value))}",
            f"{e.n('observedEpoch')} = {e.v(n(observed_epoch))}",
            f"{e.n('components')} = {e.v(s(components_json(components)))}",
            f"{e.n(keys.GSI1PK)} = {e.v(s(keys.cluster_gsi1pk(ctx.cluster_name)))}",
            f"{e.n(keys.GSI1SK)} = {e.v(s(keys.group_gsi1sk(namespace, name)))}",
            f"{e.n('recordType')} = {e.v(s('CLUSTER'))}",
        ]
        removes: list[str] = []
        if message:
            sets.append(f"{e.n('message')} = {e.v(s(message))}")
        else:
            removes.append(e.n("message"))
        if following:
            sets.append(f"{e.n('following')} = {e.v(s(following))}")
        else:
            removes.append(e.n("following"))
        if leaving:
            sets.append(f"{e.n('leaving')} = {e.v(b(True))}")
        else:
            removes.append(e.n("leaving"))
        if maintenance:
            sets.append(f"{e.n('maintenance')} = {e.v(b(True))}")
        else:
            removes.append(e.n("maintenance"))
        return sets, removes, newer

    async def get_cluster_status(
        self, namespace: str, name: str, cluster_name: str | None = None
    ) -> ClusterStatus | None:
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        cluster = ctx.cluster_name if cluster_name is None else keys.check_part(cluster_name, "cluster name")
        result = await ctx.call(
            "get_item", TableName=ctx.table, Key=ctx.key(pk, keys.cluster_sk(cluster)), ConsistentRead=True
        )
        item = result.get("Item")
        if not item:
            return None
        statuses = self._with_liveness(self._parse_statuses(pk, [item], []), await self.liveness.read())
        return statuses.get(cluster)

    async def get_all_cluster_statuses(self, namespace: str, name: str) -> dict[str, ClusterStatus]:
        """Every cluster's status record for this group (unreadable records skipped and logged)."""
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        items, live = await asyncio.gather(
            ctx.query_all(
                KeyConditionExpression="#pk = :pk AND begins_with(#sk, :prefix)",
                ExpressionAttributeNames={"#pk": keys.PK, "#sk": keys.SK},
                ExpressionAttributeValues={":pk": s(pk), ":prefix": s(keys.CLUSTER_PREFIX)},
                ConsistentRead=True,
            ),
            self.liveness.read(),
        )
        return self._with_liveness(self._parse_statuses(pk, items, []), live)

    async def detect_stale_heartbeats(self, namespace: str, name: str, timeout_seconds: float) -> list[str]:
        """Other clusters with a status for the group whose liveness sequence we have seen unchanged for
        longer than the timeout.

        Measured on this service's monotonic clock from the moment the value was first seen; wall-clock
        timestamps written by other clusters are never compared, so clock skew cannot cause or hide it.
        """
        statuses = await self.get_all_cluster_statuses(namespace, name)
        return self.stale_clusters(namespace, name, statuses, timeout_seconds)

    def stale_clusters(
        self, namespace: str, name: str, statuses: Mapping[str, ClusterStatus], timeout_seconds: float
    ) -> list[str]:
        """Staleness verdicts from observations already made (no I/O)."""
        return sorted(stale_among(self.heartbeat_ages(namespace, name, statuses), timeout_seconds))

    def heartbeat_ages(self, namespace: str, name: str, clusters: Iterable[str]) -> dict[str, float | None]:
        """Each of these clusters' heartbeat age for the group (see heartbeat_age), ours left out."""
        return {c: self.heartbeat_age(namespace, name, c) for c in clusters if c != self._ctx.cluster_name}

    def date_by_timestamps(self, state: GroupState) -> None:
        """For a one-shot reader (the fleet CLI), which has watched no number move: date each cluster's numbers
        in `state` by the times written with them, so that heartbeat ages and staleness mean something. Those
        are other machines' clocks: for people, never for the operators' decisions."""
        ctx = self._ctx
        pk = ctx.pk(state.config.namespace, state.config.name)
        now = ctx.clock.now()
        for cluster, status in state.clusters.items():
            reported = (now - status.last_heartbeat).total_seconds()
            ctx.heartbeats.backdate((pk, cluster), status.heartbeat_seq, reported)
            if status.alive_at is not None and status.liveness_seq is not None:
                ctx.heartbeats.backdate(cluster, status.liveness_seq, (now - status.alive_at).total_seconds())
            elif status.liveness_seq is not None:
                # No liveness record (read with none: the cluster never heartbeated). Its absence, just noted,
                # would look like a heartbeat seen this instant: it vouches for nothing newer than the status.
                ctx.heartbeats.backdate(cluster, None, reported)

    def heartbeat_age(self, namespace: str, name: str, cluster_name: str) -> float | None:
        """Seconds this service has seen both `cluster_name`'s status for the group and its liveness unchanged
        (None: neither ever seen): either moving is a sign of life."""
        heartbeats = self._ctx.heartbeats
        ages = (heartbeats.age((self._ctx.pk(namespace, name), cluster_name)), heartbeats.age(cluster_name))
        known = [a for a in ages if a is not None]
        return min(known) if known else None

    async def mark_leaving(self, namespace: str, name: str) -> None:
        """Say in our status for the group that we are leaving it (ClusterStatus.leaving); nothing if we have no
        status for it."""
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        await ctx.write_if(
            "update_item",
            Key=ctx.key(pk, keys.cluster_sk(ctx.cluster_name)),
            UpdateExpression="SET #l = :t",
            ConditionExpression="attribute_exists(#pk)",
            ExpressionAttributeNames={"#l": "leaving", "#pk": keys.PK},
            ExpressionAttributeValues={":t": b(True)},
            ReturnValuesOnConditionCheckFailure="NONE",
        )

    async def delete_cluster_status(self, namespace: str, name: str, cluster_name: str | None = None) -> None:
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        cluster = ctx.cluster_name if cluster_name is None else keys.check_part(cluster_name, "cluster name")
        await ctx.call("delete_item", TableName=ctx.table, Key=ctx.key(pk, keys.cluster_sk(cluster)))
        ctx.heartbeats.forget((pk, cluster))

    async def delete_group(self, namespace: str, name: str) -> int:
        """Remove every record of the group (config, statuses, lock, history); returns how many."""
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        items = await ctx.query_all(
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": keys.PK, "#sk": keys.SK},
            ExpressionAttributeValues={":pk": s(pk)},
            ProjectionExpression="#pk, #sk",
            ConsistentRead=True,
        )
        # Config last: until it goes, the group still exists and nobody re-registers it half-deleted.
        items.sort(key=lambda item: sk_of(item) == keys.CONFIG_SK)
        for item in items:
            await ctx.call("delete_item", TableName=ctx.table, Key=ctx.key(pk, sk_of(item)))
        return len(items)

    # --- history -------------------------------------------------------------------------------------

    async def get_failover_history(self, namespace: str, name: str, limit: int = 50) -> list[HistoryRecord]:
        """Newest first, at most `limit` records (the one the config carries included: `_complete_history`)."""
        records = await self._history(namespace, name, limit)
        config = await self.get_group_config(namespace, name)
        if config is None:
            return records
        return (await self._complete_history(config, records))[:limit]

    async def _history(self, namespace: str, name: str, limit: int) -> list[HistoryRecord]:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        params: dict[str, Any] = {
            "TableName": ctx.table,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": keys.PK, "#sk": keys.SK},
            "ExpressionAttributeValues": {":pk": s(pk), ":prefix": s(keys.HISTORY_PREFIX)},
            "ConsistentRead": True,
            "ScanIndexForward": False,
        }
        records: list[HistoryRecord] = []
        while len(records) < limit:
            page = await ctx.call("query", Limit=limit - len(records), **params)
            for item in page.get("Items", []):
                try:
                    records.append(history_from_item(item))
                except CorruptRecordError as error:
                    ctx.report_corrupt(error)
            if not page.get("LastEvaluatedKey"):
                break
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return records[:limit]

    async def record_downtime(self, namespace: str, name: str, record_id: str, downtime_seconds: float) -> None:
        """Add the measured downtime to a history record once the new owner is serving."""
        ctx = self._ctx
        pk = ctx.pk(namespace, name)
        if not record_id.startswith(keys.HISTORY_PREFIX):
            raise ValueError(f"not a history record id: {record_id!r}")
        result, _ = await ctx.write_if(
            "update_item",
            Key=ctx.key(pk, record_id),
            UpdateExpression="SET #d = :d",
            ConditionExpression="attribute_exists(#pk)",
            ExpressionAttributeNames={"#d": "downtimeSeconds", "#pk": keys.PK},
            ExpressionAttributeValues={":d": n(round(float(downtime_seconds), 3))},
        )
        if result is None:
            raise NotFoundError(f"history record {record_id} of {namespace}/{name} does not exist")

    # --- listing (GSI1) ------------------------------------------------------------------------------

    async def list_groups(self) -> list[GroupConfig]:
        """Every group of this operator ID, from GSI1.

        GSI reads are eventually consistent on real DynamoDB: a group registered a moment ago may be missing.
        """
        ctx = self._ctx
        items = await ctx.query_all(
            IndexName=keys.GSI1,
            KeyConditionExpression="#g = :g",
            ExpressionAttributeNames={"#g": keys.GSI1PK},
            ExpressionAttributeValues={":g": s(keys.operator_gsi1pk(ctx.operator_id))},
        )
        groups = []
        for item in items:
            try:
                groups.append(config_from_item(item))
            except CorruptRecordError as error:
                ctx.report_corrupt(error)
        return sorted(groups, key=lambda g: (g.namespace, g.name))

    # --- helpers -------------------------------------------------------------------------------------

    async def _get_config_item(self, pk: str) -> dict[str, Any] | None:
        ctx = self._ctx
        result = await ctx.call("get_item", TableName=ctx.table, Key=ctx.key(pk, keys.CONFIG_SK), ConsistentRead=True)
        return result.get("Item") or None

    def _parse_statuses(self, pk: str, items: list[dict[str, Any]], corrupt: list[str]) -> dict[str, ClusterStatus]:
        """Parse status items, skipping unreadable ones, and note each heartbeat for staleness."""
        ctx = self._ctx
        statuses: dict[str, ClusterStatus] = {}
        for item in items:
            if not sk_of(item).startswith(keys.CLUSTER_PREFIX):
                continue
            try:
                status = cluster_status_from_item(item)
            except CorruptRecordError as error:
                ctx.report_corrupt(error)
                corrupt.append(str(error))
                continue
            statuses[status.cluster_name] = status
            ctx.heartbeats.observe((pk, status.cluster_name), status.heartbeat_seq)
        return statuses

    def refreshed(self, state: GroupState, live: Mapping[str, Liveness]) -> GroupState:
        """A group read earlier, with the clusters' liveness read now (noted for staleness)."""
        return evolved(state, clusters=self._with_liveness(state.clusters, live))

    def _with_liveness(
        self, statuses: dict[str, ClusterStatus], live: Mapping[str, Liveness]
    ) -> dict[str, ClusterStatus]:
        """Each status with its cluster's liveness (0: none), both noted for staleness."""
        self.liveness.note(live, also=statuses)
        merged = {}
        for cluster, status in statuses.items():
            beat = live.get(cluster)
            seq = 0 if beat is None else beat.seq
            merged[cluster] = evolved(status, liveness_seq=seq, alive_at=beat.at if beat else None)
        return merged


def stale_among(ages: Mapping[str, float | None], timeout_seconds: float) -> frozenset[str]:
    """The clusters whose heartbeat age (None: never seen) is past the timeout: stale."""
    return frozenset(c for c, age in ages.items() if age is not None and age > timeout_seconds)


async def _given(liveness: Mapping[str, Liveness]) -> Mapping[str, Liveness]:
    return liveness


async def _nothing() -> list[dict[str, Any]]:
    return []


def _timeouts(value: Timeouts | Mapping[str, Any] | None) -> Timeouts:
    if value is None:
        return Timeouts()
    if isinstance(value, Timeouts):
        return value
    return Timeouts.model_validate(dict(value))


def _last_record(config: GroupConfig) -> HistoryRecord | None:
    """The history record the config carries (`lastRecord`), or None (none, or unreadable)."""
    if not config.last_record:
        return None
    try:
        return HistoryRecord.model_validate_json(config.last_record)
    except ValueError:
        log.warning("%s/%s: the config's last history record is unreadable", config.namespace, config.name)
        return None
