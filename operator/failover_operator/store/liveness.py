"""LivenessManager: one record per cluster that says "this cluster's operator is alive", for all its groups.

A group's own status record is written when what it says changes; the cluster's liveness record is the
heartbeat. Staleness, self-fencing, a takeover's condition and the watchdog's Lease are all measured against
it, so the steady state costs one small write per cluster per interval however many groups there are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from botocore.exceptions import ClientError

from . import keys
from .calls import CONDITION_FAILED, error_code, unexpected
from .context import StoreContext, sk_of
from .errors import CorruptRecordError, DeposedError, StoreError
from .expr import Expr, update_expression
from .records import Liveness, liveness_from_item, n, publisher_from_item, s, ts

PUBLISHED_AT_MOST = 64
"""Entries a publisher's change list keeps (the oldest dropped first; a reader that missed one re-reads all)."""


class LivenessManager:
    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx
        self.publishers: dict[str, Liveness] = {}
        """Change lists of writers that are not operators (the fleet CLI), as last read with the liveness."""
        self._noted: Mapping[str, Liveness] | None = None  # the read noted last

    async def beat(self, interval: float, fenced: Iterable[str] = (), starting: int = 0) -> Liveness:
        """Write our liveness: the sequence number moves. One attempt: the next beat is the retry (a retried
        old one adds nothing a newer one does not). `starting`: how many of our groups are still starting."""
        ctx = self._ctx
        e = Expr()
        sets = [*self.bump(e), f"{e.n('interval')} = {e.v(n(interval))}", f"{e.n('writer')} = {e.v(s(ctx.writer))}"]
        removes = []
        fenced_pks = sorted(set(fenced))
        if fenced_pks:
            sets.append(f"{e.n('fenced')} = {e.v({'SS': fenced_pks})}")
        else:
            removes.append(e.n("fenced"))
        if starting > 0:
            sets.append(f"{e.n('starting')} = {e.v(n(starting))}")
        else:
            removes.append(e.n("starting"))
        if ctx.changes is not None:
            latest, covered_from = ctx.changes.published()
            sets += [
                f"{e.n('changeSeq')} = {e.v(n(ctx.changes.seq))}",
                f"{e.n('changesFrom')} = {e.v(n(covered_from))}",
            ]
            if latest:
                sets.append(f"{e.n('changes')} = {e.v({'M': {pk: n(number) for pk, number in latest.items()}})}")
            else:
                removes.append(e.n("changes"))
        in_term, term = ctx.in_term(e)
        sets.append(term)
        try:
            result = await ctx.call_once(
                "update_item",
                TableName=ctx.table,
                Key=self.key(ctx.cluster_name),
                UpdateExpression=update_expression(sets, removes),
                ConditionExpression=in_term,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **e.params(),
            )
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise unexpected("UpdateItem", exc) from exc
            raise DeposedError(
                f"{ctx.cluster_name}'s heartbeat was written by a later leader term: another replica of this "
                f"cluster's operator leads now"
            ) from None
        return liveness_from_item(result["Attributes"])

    async def still_leading(self) -> None:
        """Raise DeposedError if a later leader term of our operator wrote our liveness (the one record of ours
        never deleted): a proof of ownership checks it before it is acted on, since the config it bumps carries no
        term, and our status record may be gone (a deletion left the group)."""
        ctx = self._ctx
        e = Expr()
        in_term, term = ctx.in_term(e)
        result, _ = await ctx.write_if(
            "update_item",
            Key=self.key(ctx.cluster_name),
            UpdateExpression=f"SET {term}",
            ConditionExpression=in_term,
            ReturnValuesOnConditionCheckFailure="NONE",
            **e.params(),
        )
        if result is None:
            raise DeposedError(
                f"{ctx.cluster_name}'s heartbeat was written by a later leader term: another replica of this "
                f"cluster's operator leads now"
            )

    def changed(self, found: Mapping[str, Liveness]) -> set[str] | None:
        """The group partitions our peers wrote since our last look at their liveness, and those they have
        fenced; None: re-read all."""
        reader = self._ctx.change_reader
        partitions: set[str] | None = set()
        # Our peers' change lists, and those of writers with no liveness of their own (a publisher fences nothing)
        writers = [(cluster, live) for cluster, live in found.items() if cluster != self._ctx.cluster_name]
        writers += [(keys.publisher_sk(name), published) for name, published in self.publishers.items()]
        for writer, live in writers:
            changed = reader.changed(writer, live.writer, live.change_seq, live.changes_from, live.changes)
            partitions = None if changed is None or partitions is None else partitions | changed | set(live.fenced)
        return partitions

    async def read(self) -> dict[str, Liveness]:
        """Every cluster's liveness (one strongly consistent query), noted for staleness on our clock."""
        ctx = self._ctx
        items = await ctx.query_all(
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": keys.PK},
            ExpressionAttributeValues={":pk": s(keys.fleet_pk(ctx.operator_id))},
            ConsistentRead=True,
        )
        found: dict[str, Liveness] = {}
        publishers: dict[str, Liveness] = {}
        for item in items:
            sk = sk_of(item)
            if sk.startswith(keys.PUBLISHER_PREFIX):
                try:
                    publishers[sk[len(keys.PUBLISHER_PREFIX) :]] = publisher_from_item(item)
                except CorruptRecordError as error:
                    ctx.report_corrupt(error)
                continue
            if not sk.startswith(keys.CLUSTER_PREFIX):
                continue
            try:
                live = liveness_from_item(item)
            except CorruptRecordError as error:
                ctx.report_corrupt(error)
                continue
            found[live.cluster_name] = live
        self.publishers = publishers
        self.note(found)
        return found

    async def publish(self, name: str, partitions: Iterable[str]) -> None:
        """Tell the operators that these group partitions were written by `name`, a writer with no liveness of
        its own (the fleet CLI): they learn it with their next read of the fleet's liveness, as they learn their
        peers' writes. Numbered in one record per writer, read, extended and written back on condition."""
        ctx = self._ctx
        wrote = sorted(set(partitions))
        if not wrote:
            return
        key = keys.key(keys.fleet_pk(ctx.operator_id), keys.publisher_sk(name))
        for _ in range(10):  # another publisher of the same name wrote in between: read and extend again
            result = await ctx.call("get_item", TableName=ctx.table, Key=key, ConsistentRead=True)
            item = result.get("Item")
            before = publisher_from_item(item) if item else None
            seq = before.change_seq if before else 0
            latest = dict(before.changes) if before else {}
            covered_from = before.changes_from if before else 1
            for pk in wrote:
                seq += 1
                latest[pk] = seq
            while len(latest) > PUBLISHED_AT_MOST:  # the oldest go; readers that missed them re-read all
                oldest = min(latest, key=latest.__getitem__)
                covered_from = max(covered_from, latest.pop(oldest) + 1)
            e = Expr()
            condition = (
                f"{e.n('changeSeq')} = {e.v(n(before.change_seq))}"
                if before
                else f"attribute_not_exists({e.n(keys.PK)})"
            )
            record = {
                **key,
                "recordType": s("PUBLISHER"),
                "writer": s(name),
                "at": s(keys.format_timestamp(ctx.clock.now())),
                "changeSeq": n(seq),
                "changesFrom": n(covered_from),
                "changes": {"M": {pk: n(number) for pk, number in latest.items()}},
            }
            try:
                await ctx.call(
                    "put_item", TableName=ctx.table, Item=record, ConditionExpression=condition, **e.params()
                )
                return
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise unexpected("PutItem", exc) from exc
        raise StoreError(f"could not publish the changes of {name}: the record kept changing")

    def note(self, found: Mapping[str, Liveness], also: Iterable[str] = ()) -> None:
        """Note what a read found: each cluster's sequence number, and that the clusters in `also` (known from
        elsewhere, e.g. a group's status records) or seen before have none (it counts as unchanged)."""
        seen = self._ctx.clusters_seen
        if found is self._noted and seen.issuperset(also):
            return  # the read every group shares, noted already: noting it again would change nothing
        self._noted = found
        heartbeats = self._ctx.heartbeats
        for cluster, live in found.items():
            heartbeats.observe(cluster, live.seq)
        for cluster in {*also, *self._ctx.clusters_seen} - found.keys():
            heartbeats.observe(cluster, None)
        self._ctx.clusters_seen.update(found, also)

    def key(self, cluster: str) -> dict[str, dict[str, str]]:
        return keys.key(keys.fleet_pk(self._ctx.operator_id), keys.cluster_sk(cluster))

    def bump(self, e: Expr) -> list[str]:
        """SET clauses that move our sequence number (a beat, or a proof of ownership that is also one)."""
        seq = e.n("seq")
        return [
            f"{seq} = if_not_exists({seq}, {e.v(n(0))}) + {e.v(n(1))}",
            f"{e.n('at')} = {e.v(ts(self._ctx.clock.now()))}",
        ]
