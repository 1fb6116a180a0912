"""Requests made at about the same time, sent as one: what lets one operator carry a thousand groups.

When the owner of a thousand groups dies, the standby takes each over, proves each, and reads each afresh at
the same moment: a request apiece costs a millisecond or two of the operator's CPU (signing, serialising,
parsing) and makes the last takeover wait for all the others. `Batches` queues requests while enough of them
are in flight and sends the queued ones together when one comes back (natural batching: a request alone goes
at once, as before; nothing waits on a timer). `TransactionBatches` merges transactions of different groups
into one TransactWriteItems — all-or-nothing over their union, which is as if they had all landed at the same
instant, so each keeps every condition it had — and sorts a cancellation out to each.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from botocore.exceptions import ClientError

from . import keys
from .calls import RETRYABLE_CANCELLATION, TRANSACTION_CANCELED, Caller, RetryPolicy, cancellation_codes, error_code
from .changes import writing_for
from .errors import StoreError

Q = TypeVar("Q")
R = TypeVar("R")

MAX_TRANSACT_ITEMS = 100  # DynamoDB's limit per TransactWriteItems
MAX_ROUNDS = 6  # a transaction cancelled only for others' sake is sent again at most this many times
_BATCH_NAMESPACE = uuid.UUID("6f1d3c52-4b0e-4f7a-9a51-0f4e2b1c7d90")


ItemKey = tuple[str, str]  # (PK, SK)
TableKey = tuple[str, str, str]  # (table, PK, SK)


def _item_key(item: dict[str, Any]) -> ItemKey:
    return item[keys.PK]["S"], item[keys.SK]["S"]


@dataclass(eq=False)
class Pending(Generic[Q, R]):
    request: Q
    future: asyncio.Future[R]
    rounds: int = 0
    queued: bool = False


class Batches(Generic[Q, R]):
    """Send requests in batches: at most `in_flight` batches at once; those asked meanwhile wait and go
    together. `take` picks the next batch from the queue (and removes it); `send` settles every future of it
    (or puts some back with `again`)."""

    def __init__(
        self,
        send: Callable[[list[Pending[Q, R]]], Awaitable[None]],
        take: Callable[[deque[Pending[Q, R]]], list[Pending[Q, R]]],
        *,
        in_flight: int = 2,
    ) -> None:
        self._send = send
        self._take = take
        self._limit = in_flight
        self._queue: deque[Pending[Q, R]] = deque()
        self._flying = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def ask(self, request: Q) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self.again(Pending(request, future))
        # Not shielded: a caller that stops waiting (a deadline) leaves its request in the queue, where it is
        # dropped, or in flight, where it goes on for the others.
        return await future

    def again(self, pending: Pending[Q, R]) -> None:
        """Queue (again) a request that has not been answered."""
        pending.queued = True
        self._queue.append(pending)
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled and self._flying < self._limit:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)  # what else is asked in this turn goes along

    def _flush(self) -> None:
        self._scheduled = False
        while self._flying < self._limit and self._queue:
            try:
                batch = [p for p in self._take(self._queue) if not p.future.done()]  # an asker may have gone
            except Exception as exc:  # a request it cannot make sense of: its asker (and all queued) hear it
                while self._queue:
                    p = self._queue.popleft()
                    if not p.future.done():
                        p.future.set_exception(exc)
                return
            for p in batch:
                p.queued = False
            if not batch:
                continue
            self._flying += 1
            task = asyncio.ensure_future(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[Pending[Q, R]]) -> None:
        try:
            await self._send(batch)
        except Exception as exc:  # every asker hears of it, whatever it is
            for p in batch:
                if not p.future.done() and not p.queued:
                    p.future.set_exception(exc)
        finally:
            for p in batch:
                if not p.future.done() and not p.queued:
                    p.future.set_exception(StoreError("a batched request was neither answered nor sent again"))
            self._flying -= 1
            if self._queue:
                self._schedule()


@dataclass
class Transaction:
    """One caller's TransactWriteItems. `mergeable`: indexes of items that any other transaction's item of
    the same kind on the same key can stand for (our liveness bump: one bump says what each would)."""

    items: list[dict[str, Any]]
    token: str
    mergeable: frozenset[int] = frozenset()
    writers: frozenset[str] = field(default_factory=writing_for.get)  # see changes.writing_for
    slots: list[int] = field(default_factory=list)  # where each item went in the batch sent


def _key_of(item: dict[str, Any]) -> tuple[str, str, str]:
    """(table, PK, SK) of a transaction's item (a Put names its item)."""
    (action,) = item.values()
    return (action["TableName"], *_item_key(action.get("Key") or action["Item"]))


def _shape_of(item: dict[str, Any]) -> str:
    """The item without its values: two bumps of the same record have the same shape."""
    ((kind, action),) = item.items()
    shape = {k: v for k, v in action.items() if k != "ExpressionAttributeValues"}
    return kind + json.dumps(shape, sort_keys=True)


class TransactionBatches:
    """TransactWriteItems of concurrent callers, merged: `write` answers each caller as if its transaction had
    been sent alone — returns, or raises the ClientError of a cancellation with its own items' reasons (which
    it interprets as before), or StoreError."""

    def __init__(self, call: Caller, *, in_flight: int = 2) -> None:
        self._call = call
        self.batches: Batches[Transaction, None] = Batches(self._send, self._take, in_flight=in_flight)

    async def write(self, items: list[dict[str, Any]], token: str, mergeable: Sequence[int] = ()) -> None:
        if len(items) > MAX_TRANSACT_ITEMS:
            raise ValueError(f"a transaction has at most {MAX_TRANSACT_ITEMS} items, got {len(items)}")
        await self.batches.ask(Transaction(items, token, frozenset(mergeable)))

    def _take(self, queue: deque[Pending[Transaction, None]]) -> list[Pending[Transaction, None]]:
        """As many queued transactions, oldest first, as fit in one with no key twice: an item on a key already
        taken joins only an identical check (a shared ConditionCheck) or, if both may be merged, one of the same
        shape — never an identical write: each caller would think its own had landed."""
        taken: list[Pending[Transaction, None]] = []
        items: list[dict[str, Any]] = []
        where: dict[TableKey, int] = {}
        merging: set[int] = set()  # positions whose item any of its shape may stand in for
        kept: deque[Pending[Transaction, None]] = deque()
        while queue:
            p = queue.popleft()
            if p.future.done():
                continue  # its asker stopped waiting
            t = p.request
            placed = self._place(t, items, where, merging)
            if placed is None or len(items) + len(placed[0]) > MAX_TRANSACT_ITEMS:
                if not taken:  # it fits with nothing: sent alone, as it is, and DynamoDB answers it
                    t.slots = list(range(len(t.items)))
                    return [p]
                kept.append(p)
                continue
            fresh, item_keys = placed
            for key, item, i in fresh:
                where[key] = len(items)
                if i in t.mergeable:
                    merging.add(len(items))
                items.append(item)
            t.slots = [where[key] for key in item_keys]
            taken.append(p)
        queue.extend(kept)
        return taken

    @staticmethod
    def _place(
        t: Transaction, items: list[dict[str, Any]], where: dict[TableKey, int], merging: set[int]
    ) -> tuple[list[tuple[TableKey, dict[str, Any], int]], list[TableKey]] | None:
        """`t`'s items that the batch does not have yet (key, item, index), and each item's key; None if `t`
        cannot join it."""
        fresh: list[tuple[TableKey, dict[str, Any], int]] = []
        item_keys: list[TableKey] = []
        for i, item in enumerate(t.items):
            try:
                key = _key_of(item)
            except (KeyError, TypeError, ValueError, AttributeError):
                return None  # malformed: sent alone, for DynamoDB to say what is wrong with it
            if key in item_keys:
                return None  # the same key twice in itself: only DynamoDB's own answer will do
            item_keys.append(key)
            at = where.get(key)
            if at is None:
                fresh.append((key, item, i))
            elif not (
                (items[at] == item and "ConditionCheck" in item)  # a check both make: made once for both
                or (i in t.mergeable and at in merging and _shape_of(items[at]) == _shape_of(item))
            ):
                return None  # two writes of one item (two moves of one group, however alike) never go together
        return fresh, item_keys

    async def _send(self, batch: list[Pending[Transaction, None]]) -> None:
        # Sent from a task of its own (in the context of whichever asker started it): written for every asker's
        # group, and only theirs.
        writing_for.set(frozenset().union(*(p.request.writers for p in batch)))
        if len(batch) == 1:
            t = batch[0].request
            items, token = t.items, t.token
        else:
            size = max(max(p.request.slots) for p in batch) + 1
            items = [{} for _ in range(size)]
            for p in batch:
                for item, at in zip(p.request.items, p.request.slots, strict=True):
                    if not items[at]:
                        items[at] = item
            token = str(uuid.uuid5(_BATCH_NAMESPACE, "|".join(p.request.token for p in batch)))
        try:
            await self._call("transact_write_items", TransactItems=items, ClientRequestToken=token)
        except ClientError as exc:
            if error_code(exc) != TRANSACTION_CANCELED or len(batch) == 1:
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(exc)
                return
            self._sort_out(batch, exc)
            return
        for p in batch:
            if not p.future.done():
                p.future.set_result(None)

    def _sort_out(self, batch: list[Pending[Transaction, None]], exc: ClientError) -> None:
        """A merged transaction was cancelled: each whose own items failed hears why; the others, cancelled only
        for the failing ones' sake, go again (nothing of theirs was written)."""
        reasons = exc.response.get("CancellationReasons") or []
        codes = cancellation_codes(exc)
        for p in batch:
            if p.future.done():
                continue
            t = p.request
            own = [reasons[at] if at < len(reasons) else {"Code": "None"} for at in t.slots]
            own_codes = [codes[at] if at < len(codes) else "None" for at in t.slots]
            if all(code == "None" or code in RETRYABLE_CANCELLATION for code in own_codes):
                p.rounds += 1
                if p.rounds > MAX_ROUNDS:
                    p.future.set_exception(StoreError("DynamoDB TransactWriteItems: cancelled by others too often"))
                else:
                    self.batches.again(p)
                continue
            response = dict(exc.response)
            response["CancellationReasons"] = own
            p.future.set_exception(ClientError(response, "TransactWriteItems"))


MAX_GET_KEYS = 100  # DynamoDB's limit per BatchGetItem


class ItemBatches:
    """Strongly consistent reads of known items, many groups' at once: one BatchGetItem of up to 100 keys where
    each group would have sent a query of its own. Keys DynamoDB leaves unprocessed are asked again, with
    backoff (`policy`)."""

    def __init__(
        self,
        call: Caller,
        table: str,
        *,
        in_flight: int = 4,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._call = call
        self._table = table
        self._policy = policy or RetryPolicy()
        self._sleep = sleep
        self.batches: Batches[tuple[ItemKey, ...], list[dict[str, Any]]] = Batches(
            self._send, self._take, in_flight=in_flight
        )

    async def get(self, wanted: Sequence[ItemKey]) -> list[dict[str, Any]]:
        """The items found among `wanted` (absent ones are left out)."""
        wanted = tuple(dict.fromkeys(wanted))
        if len(wanted) > MAX_GET_KEYS:
            raise ValueError(f"at most {MAX_GET_KEYS} keys at once, got {len(wanted)}")
        return await self.batches.ask(wanted)

    @staticmethod
    def _take(
        queue: deque[Pending[tuple[ItemKey, ...], list[dict[str, Any]]]],
    ) -> list[Pending[tuple[ItemKey, ...], list[dict[str, Any]]]]:
        taken: list[Pending[tuple[ItemKey, ...], list[dict[str, Any]]]] = []
        asked: set[ItemKey] = set()
        while queue:
            p = queue[0]
            more = asked.union(p.request)
            if taken and len(more) > MAX_GET_KEYS:
                break
            queue.popleft()
            if not p.future.done():
                taken.append(p)
                asked = more
        return taken

    async def _send(self, batch: list[Pending[tuple[ItemKey, ...], list[dict[str, Any]]]]) -> None:
        left = list(dict.fromkeys(k for p in batch for k in p.request))
        found: dict[ItemKey, dict[str, Any]] = {}
        attempt = 0
        while left:
            result = await self._call(
                "batch_get_item",
                RequestItems={
                    self._table: {
                        "Keys": [{keys.PK: {"S": pk}, keys.SK: {"S": sk}} for pk, sk in left],
                        "ConsistentRead": True,
                    }
                },
            )
            for item in result.get("Responses", {}).get(self._table, []):
                found[_item_key(item)] = item
            unprocessed = result.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys") or []
            left = [_item_key(k) for k in unprocessed]
            if left:
                attempt += 1
                if attempt >= self._policy.attempts:
                    raise StoreError(f"DynamoDB BatchGetItem left {len(left)} keys unread after {attempt} attempts")
                await self._sleep(self._policy.delay(attempt - 1))
        for p in batch:
            if not p.future.done():
                p.future.set_result([found[k] for k in p.request if k in found])
