"""DynamoDBService: one cluster's handle on the shared table."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..clock import Clock, SystemClock
from . import keys
from .calls import Caller, RetryPolicy
from .changes import ChangeLog
from .context import StoreContext
from .fences import FenceManager
from .observe import ChangeObserver
from .operations import OperationsManager
from .schedule import ScheduleManager
from .state import StateManager


class DynamoDBService:
    """`state` reads and writes records; `operations` changes ownership; `liveness` is the cluster's heartbeat;
    `fences` fences a cluster's copy of a group by hand.
    All share our observations, so a heartbeat read by one counts towards staleness judged by the others."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        cluster_name: str,
        operator_id: str,
        clock: Clock | None = None,
        *,
        retry: RetryPolicy | None = None,
        concurrency: int | None = None,
    ) -> None:
        """`concurrency`: at most this many requests with retries at once (reads, transactions: the bulk of a
        fleet's traffic); single-attempt ones (heartbeats, status writes) do not wait for them. Keep it below
        the client's connection pool, so that a heartbeat always finds a free connection."""
        keys.check_part(cluster_name, "cluster name")
        keys.check_part(operator_id, "operator ID")
        if not isinstance(table_name, str) or not table_name:
            raise ValueError(f"table name must be a non-empty string, got {table_name!r}")
        clock = clock or SystemClock()
        self.client = client
        self.table_name = table_name
        self.cluster_name = cluster_name
        self.operator_id = operator_id
        self.clock = clock
        self.call = Caller(client, retry, limit=asyncio.Semaphore(concurrency) if concurrency else None)
        self._ctx = StoreContext(
            call=self.call,
            call_once=Caller(client, RetryPolicy(attempts=1)),
            table=table_name,
            cluster_name=cluster_name,
            operator_id=operator_id,
            clock=clock,
            heartbeats=ChangeObserver(clock),
            locks=ChangeObserver(clock),
        )
        self.changes = ChangeLog(clock.monotonic)
        self._ctx.changes = self.changes
        for caller in (self._ctx.call, self._ctx.call_once):
            caller.on_write = self.changes.note
        self.state = StateManager(self._ctx)
        self.liveness = self.state.liveness
        self.operations = OperationsManager(self._ctx, self.state)
        self.fences = FenceManager(self._ctx)
        self.schedules = ScheduleManager(self._ctx)  # switchovers scheduled for later (store/schedule.py)

    @property
    def term(self) -> int:
        """This process's leader term (leadership.py): our writes of the cluster's records carry it."""
        return self._ctx.term

    @term.setter
    def term(self, term: int) -> None:
        self._ctx.term = term

    def observe_requests(self, observe: Callable[[str, float, str], None]) -> None:
        """Tell `observe` of every request attempt: (operation, seconds, "ok" | "condition" | "error")."""
        for caller in (self._ctx.call, self._ctx.call_once):
            caller.observe = observe
