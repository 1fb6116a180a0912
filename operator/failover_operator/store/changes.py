"""Which groups changed: each cluster publishes the group partitions it wrote in its liveness record, so its
peers re-read those groups only, not every group on every tick.

The writer numbers its writes (`changeSeq`) and keeps the latest number per partition for a while
(`changes`); `changesFrom` is the oldest number the record still accounts for. A reader that saw number N
last time re-reads the partitions with a number above N — or every group, when something between N and
`changesFrom` was dropped, when the writer restarted (a new `writer`), or on its first read. Whatever this
misses (it never should) a full re-read of every group, every few minutes, finds; and it is never what safety
rests on: every action re-reads consistently first, and is conditioned in DynamoDB anyway.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import keys

WRITES = frozenset({"put_item", "update_item", "delete_item"})
KEEP_SECONDS = 30.0  # how long a change stays published (a reader reads every interval; 30 s is many)
KEEP_AT_MOST = 64  # and how many: past that, readers that fell behind re-read everything

writing_for: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("writing_for", default=frozenset())
"""The group partitions whose own runners are writing (each runner sets its own in its tasks): a write of theirs
does not send them to read the group again — they keep their copy of it themselves (GroupRunner), or mark
themselves to read afresh."""


def written_partitions(operation: str, params: Mapping[str, Any]) -> list[str]:
    """The group partitions a write request touches (none for reads and for other partitions)."""
    if operation not in WRITES:
        return []
    record = params.get("Key") or params.get("Item") or {}
    pk = (record.get(keys.PK) or {}).get("S")
    return [pk] if isinstance(pk, str) and pk.startswith(keys.GROUP_PREFIX) else []


@dataclass
class ChangeLog:
    """What this process wrote, numbered, for its next liveness beat."""

    now: Callable[[], float]
    on_change: Callable[[list[str]], None] | None = None  # e.g. a beat soon, so that peers learn it at once
    seq: int = 0
    covered_from: int = 1
    _latest: dict[str, tuple[int, float]] = field(default_factory=dict)

    def note(self, partitions: Iterable[str]) -> None:
        noted = list(partitions)
        for pk in noted:
            self.seq += 1
            self._latest[pk] = (self.seq, self.now())
        if noted and self.on_change is not None:
            self.on_change(noted)

    def published(self) -> tuple[dict[str, int], int]:
        """(partition -> latest number, the oldest number accounted for), after dropping old entries."""
        cutoff = self.now() - KEEP_SECONDS
        entries = sorted(self._latest.items(), key=lambda kv: kv[1][0])
        while entries and (entries[0][1][1] < cutoff or len(entries) > KEEP_AT_MOST):
            pk, (number, _) = entries.pop(0)
            del self._latest[pk]
            self.covered_from = max(self.covered_from, number + 1)
        return {pk: number for pk, (number, _) in entries}, self.covered_from


@dataclass
class ChangeReader:
    """A reader's memory of each writer's numbers."""

    _seen: dict[str, tuple[str, int]] = field(default_factory=dict)  # cluster -> (writer, changeSeq)

    def changed(
        self, cluster: str, writer: str, seq: int, covered_from: int, latest: Mapping[str, int]
    ) -> set[str] | None:
        """The partitions `cluster` wrote since our last look; None: we cannot tell (re-read every group)."""
        before = self._seen.get(cluster)
        self._seen[cluster] = (writer, seq)
        if before is None or before[0] != writer or seq < before[1]:
            return None
        last = before[1]
        if seq == last:
            return set()
        if last + 1 < covered_from:
            return None
        return {pk for pk, number in latest.items() if number > last}
