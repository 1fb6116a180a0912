"""Requests made at about the same time, sent as one: what lets one operator carry a thousand groups.

When the owner of a thousand groups dies, the standby takes each over, proves each, and reads each afresh at
the same moment: a request apiece costs a millisecond or two of the operator's CPU (signing, serialising,
parsing) and makes the last takeover wait for all the others. `Batches` queues requests while enough of them
are in flight and sends the queued ones together when one comes back (natural batching: a request alone goes
at once, as before; nothing waits on a timer). `ItemBatches` reads the keys of many groups in one
BatchGetItem. Writes are single-item conditional writes, each sent alone (the protocol uses no transaction:
an MRSC global table refuses them).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from . import keys
from .calls import Caller, RetryPolicy
from .errors import StoreError

Q = TypeVar("Q")
R = TypeVar("R")


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
