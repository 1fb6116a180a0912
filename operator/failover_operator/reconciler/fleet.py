"""The fleet as this operator sees it: every cluster's liveness, read once per interval for all groups, and
from it which groups changed — so that a group is re-read only when it changed, when it is about to act, while
a move is in progress, or for the periodic full read (Settings.full_read_seconds).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from ..store import Liveness, StoreError, keys
from ..store.changes import writing_for

if TYPE_CHECKING:
    from .context import OperatorContext


BLIND_INTERVALS = 1
"""Fleet reads that kept failing for this many heartbeat intervals blinded us: silences restart after it."""


class FleetView:
    def __init__(self, ctx: OperatorContext) -> None:
        self.ctx = ctx
        self.live: Mapping[str, Liveness] | None = None
        self.read_at: float | None = None
        self._reading: asyncio.Future[Mapping[str, Liveness] | StoreError] | None = None
        self._failing_since: float | None = None  # when our reads of the fleet started failing (None: they do not)
        self.sighted_at: float | None = None
        """When our reads of the fleet last came back after a blind spell (our first read; reads that kept failing,
        or one retried through, for BLIND_INTERVALS intervals): silence is only counted from then — time we could
        not look is not time we saw a peer stand still (static stability after a DynamoDB outage)."""

    def of(self, cluster: str) -> Liveness | None:
        """`cluster`'s liveness as last read (None: not read yet, or it has none)."""
        return (self.live or {}).get(cluster)

    async def liveness(self, max_age: float) -> Mapping[str, Liveness]:
        """Every cluster's liveness, read at most `max_age` seconds ago; one read however many groups ask."""
        now = self.ctx.clock.monotonic()
        if self.live is not None and self.read_at is not None and now - self.read_at <= max_age:
            return self.live
        if self._reading is None or self._reading.done():
            self._reading = asyncio.ensure_future(self._read())
        read = await asyncio.shield(self._reading)
        if isinstance(read, StoreError):
            raise read  # each asker's own error (the read is shared, its failure too)
        return read

    async def _read(self) -> Mapping[str, Liveness] | StoreError:
        """One read for every asker. A failure is its result, not its exception: a task that ends in one, nobody
        left to ask for it (an operator stopping), is what kopf reports as the operator's failure at exit."""
        store = self.ctx.store
        started = self.ctx.clock.monotonic()
        retried = _retries(store)
        try:
            live = await store.liveness.read()
        except (StoreError, TimeoutError) as exc:
            if self._failing_since is None:
                self._failing_since = started
            return exc if isinstance(exc, StoreError) else StoreError("DynamoDB did not answer in time")
        changed = store.liveness.changed(live)
        done = self.ctx.clock.monotonic()
        failing_since, self._failing_since = self._failing_since, None
        spell = BLIND_INTERVALS * self.ctx.heartbeat.interval()
        # Reads that kept failing for an interval, or this one retried through as long: a blind spell (reads are
        # made when a group asks, so a mere gap between two says nothing, nor does a read that was only slow);
        # silences count from its end.
        if failing_since is None and _retries(store) > retried:
            failing_since = started  # this read (or one beside it) failed and was retried: it looked through trouble
        failed_long = failing_since is not None and done - failing_since >= spell
        if self.read_at is None or failed_long:
            self.sighted_at = done
        self.live, self.read_at = live, started
        self.touched(changed, wake=True)
        return live

    def touched(self, partitions: Iterable[str] | None, *, wake: bool, own: bool = False) -> None:
        """Groups whose records were written (None: maybe any): their next tick reads them afresh. `own`: we
        wrote them; a runner writing for its own group (`writing_for`) is left alone."""
        runners = self.ctx.runners
        writers = writing_for.get() if own else frozenset()
        if partitions is None:
            targets = list(runners.values())
        else:
            # Looked up by key, not by walking every runner: this runs on each of our writes (a mass takeover
            # of a thousand groups makes thousands).
            targets = [
                r
                for pk in set(partitions)
                if pk not in writers and (r := runners.get(_group_of(pk))) is not None and r.pk == pk
            ]
        for runner in targets:
            runner.changed(wake=wake)


def _group_of(pk: str) -> tuple[str, str]:
    """(namespace, name) of a group partition key; ("", "") if it is not one."""
    try:
        _, namespace, name = keys.parse_group_pk(pk)
    except ValueError:
        return "", ""
    return namespace, name


def _retries(store: object) -> int:
    """How many requests the store has retried so far (0 for a store that does not count them)."""
    call = getattr(store, "call", None)
    return int(getattr(call, "retries", 0))
