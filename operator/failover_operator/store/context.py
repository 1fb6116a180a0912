"""What the StateManager and OperationsManager share: the table, who we are, clocks and observations."""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from ..clock import Clock
from . import keys
from .calls import CONDITION_FAILED, Caller, error_code, unexpected
from .changes import ChangeLog, ChangeReader
from .errors import CorruptRecordError
from .observe import ChangeObserver
from .records import raw

log = logging.getLogger("failover_operator.store")

E = TypeVar("E", bound=Enum)


def coerce(enum: type[E], value: E | str) -> E:
    """Accept an enum member or its plain string value; refuse anything else with a clear message."""
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise ValueError(f"{value!r} is not a valid {enum.__name__} (expected one of {allowed})") from None


@dataclass
class StoreContext:
    call: Caller
    call_once: Caller  # no retries: for requests whose next periodic one is the retry (heartbeats)
    table: str
    cluster_name: str
    operator_id: str
    clock: Clock
    heartbeats: ChangeObserver
    locks: ChangeObserver
    corrupt_seen: dict[tuple[str, str], str] = field(default_factory=dict)
    clusters_seen: set[str] = field(default_factory=set)  # every cluster whose liveness we have judged
    changes: ChangeLog | None = None  # what we wrote, for our liveness beats (store/changes.py)
    change_reader: ChangeReader = field(default_factory=ChangeReader)
    # Our status writes, numbered as they are sent: one sent later must never be overwritten by one sent earlier
    # that arrives later (heartbeats overlap on a slow table). The writer ID tells a restarted process apart.
    writer: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    term: int = 0
    """This process's leader term (leadership.py; 0: it runs alone): every write of the cluster's own records
    carries it and is refused once a later term has written them."""
    _writes: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _pks: dict[tuple[str, str], str] = field(default_factory=dict)  # (namespace, name) -> partition key

    def next_write(self) -> int:
        return next(self._writes)

    def in_term(self, e: Any) -> tuple[str, str]:
        """(condition, SET clause) that fence a write of the cluster's own records by our leader term."""
        term, mine = e.n("term"), e.v({"N": str(self.term)})
        return f"(attribute_not_exists({term}) OR {term} <= {mine})", f"{term} = {mine}"

    def deposed(self, item: Mapping[str, Any]) -> bool:
        """The record (as it was when our write was refused) was written by a later leader term."""
        stored = raw(item, "term", "N")
        return stored is not None and int(stored) > self.term

    def pk(self, namespace: str, name: str) -> str:
        """The group's partition key (checked once: every group's staleness is judged on every tick)."""
        pk = self._pks.get((namespace, name))
        if pk is None:
            pk = self._pks[(namespace, name)] = keys.group_pk(self.operator_id, namespace, name)
        return pk

    def key(self, pk: str, sk: str) -> dict[str, dict[str, str]]:
        return keys.key(pk, sk)

    def report_corrupt(self, error: CorruptRecordError) -> None:
        """Log a corrupt record once per distinct problem, not on every tick."""
        if self.corrupt_seen.get((error.pk, error.sk)) != error.detail:
            self.corrupt_seen[(error.pk, error.sk)] = error.detail
            log.error("skipping %s", error)

    async def write_if(self, operation: str, **params: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """A conditional write: `(response, None)` if it happened, `(None, old item)` if its condition failed.

        The old item comes from ReturnValuesOnConditionCheckFailure=ALL_OLD ({} if there was none), so the
        caller can say *why* without another read.
        """
        params.setdefault("ReturnValuesOnConditionCheckFailure", "ALL_OLD")
        try:
            return await self.call(operation, TableName=self.table, **params), None
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise unexpected(operation, exc) from exc
            return None, dict(exc.response.get("Item") or {})

    async def query_all(self, **params: Any) -> list[dict[str, Any]]:
        """All pages of a query (use only where the result is bounded)."""
        items: list[dict[str, Any]] = []
        while True:
            page = await self.call("query", TableName=self.table, **params)
            items.extend(page.get("Items", []))
            last = page.get("LastEvaluatedKey")
            if not last:
                return items
            params["ExclusiveStartKey"] = last


def sk_of(item: Mapping[str, Any]) -> str:
    return str(raw(item, keys.SK, "S") or "")
