"""A DynamoDB client over the table's replica Regions: each request goes to the first Region that answers.

An MRSC global table (multi-Region strong consistency) is one linearizable table behind one endpoint per replica
Region: a conditional write or a strongly consistent read means the same in every one of them. So moving to
another Region never weakens a condition; it only changes whom we ask. A request that fails in a way that says
"this Region cannot answer" (no connection, a timeout, a 5xx, a replica cut off from the others) moves the
client to the next Region in the operator's order; the retry that follows (calls.py) goes there. Answers about
the data (a failed condition, throttling, a replicated write conflict) say nothing about the Region and do not
move it. After `back_after` seconds away, the preferred Region is tried again, so a Region that came back gets
its clients back — nearest first is also cheapest and fastest.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger("failover_operator.store")

BACK_AFTER = 30.0
"""Seconds spent away from the preferred Region before it is tried again."""

UNAVAILABLE_CODES = frozenset(
    {
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
"""Error codes that say the Region cannot answer now (with every 5xx and every connection failure)."""


@dataclass(frozen=True)
class Region:
    """One replica Region of the table, as this operator reaches it."""

    name: str
    endpoint: str | None = None  # a local or private endpoint; None: the Region's public one


def parse_regions(regions: str | Sequence[str], endpoints: str | Sequence[str] = ()) -> list[Region]:
    """`DYNAMODB_REGIONS` and `DYNAMODB_ENDPOINTS` (comma-separated, or lists) as Regions, in order.

    Raises ValueError saying what is wrong: an empty or repeated Region, or a number of endpoints that is not
    the number of Regions."""
    names = _items(regions)
    urls = _items(endpoints)
    if not names:
        raise ValueError("no DynamoDB Region given")
    repeated = sorted({r for r in names if names.count(r) > 1})
    if repeated:
        raise ValueError(f"a DynamoDB Region is listed twice: {', '.join(repeated)}")
    if urls and len(urls) != len(names):
        raise ValueError(
            f"{len(urls)} DynamoDB endpoint(s) for {len(names)} Region(s): give one endpoint per Region, in the "
            f"same order ({', '.join(names)}), or none"
        )
    return [Region(name, urls[i] if urls else None) for i, name in enumerate(names)]


def _items(value: str | Sequence[str]) -> list[str]:
    parts = value.split(",") if isinstance(value, str) else [p for v in value for p in str(v).split(",")]
    return [p.strip() for p in parts if p.strip()]


def unavailable(exc: BaseException) -> bool:
    """Does this failure say the Region cannot answer (rather than something about the request or the data)?"""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        if str(error.get("Code", "")) in UNAVAILABLE_CODES:
            return True
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return isinstance(status, int) and status >= 500
    return isinstance(exc, (BotoCoreError, TimeoutError, ConnectionError, OSError))


class RegionalClient:
    """The aioboto3 client methods the store calls (`get_item`, `update_item`, ...), sent to the current
    Region. `clients`: (Region name, entered client) in the operator's order of preference. `monotonic`: the
    clock that says when to try the preferred Region again. `on_move`: told (from, to, why) when the client
    moves."""

    def __init__(
        self,
        clients: Sequence[tuple[str, Any]],
        monotonic: Callable[[], float],
        *,
        back_after: float = BACK_AFTER,
        on_move: Callable[[str, str, str], None] | None = None,
    ) -> None:
        if not clients:
            raise ValueError("a regional client needs at least one Region")
        self.clients = list(clients)
        self.monotonic = monotonic
        self.back_after = back_after
        self.on_move = on_move
        self.current = 0
        self.moves = 0
        self._away_since: float | None = None

    @property
    def region(self) -> str:
        """The Region requests go to now."""
        return self.clients[self.current][0]

    @property
    def regions(self) -> list[str]:
        return [name for name, _ in self.clients]

    def __getattr__(self, operation: str) -> Callable[..., Awaitable[Any]]:
        if operation.startswith("_"):
            raise AttributeError(operation)

        async def call(**params: Any) -> Any:
            index = self._choose()
            client = self.clients[index][1]
            try:
                return await getattr(client, operation)(**params)
            except Exception as exc:
                if unavailable(exc):
                    self._away_from(index, f"{operation} failed: {_describe(exc)}")
                raise

        return call

    def _choose(self) -> int:
        """The Region to ask: the current one, or the preferred one again once we have been away long enough."""
        away = self._away_since
        if self.current != 0 and away is not None and self.monotonic() - away >= self.back_after:
            self._move(0, f"trying the preferred Region again after {self.back_after:g}s")
        return self.current

    def _away_from(self, index: int, why: str) -> None:
        """The Region at `index` could not answer: move to the next (after the last, the first again)."""
        if index != self.current or len(self.clients) == 1:
            return  # another request moved us already, or there is nowhere to go
        self._move((index + 1) % len(self.clients), why)

    def _move(self, to: int, why: str) -> None:
        before = self.clients[self.current][0]
        self.current = to
        self.moves += 1
        self._away_since = None if to == 0 else self.monotonic()
        log.warning("DynamoDB: moving from %s to %s (%s)", before, self.clients[to][0], why)
        if self.on_move is not None:
            self.on_move(before, self.clients[to][0], why)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or type(exc).__name__
    return str(exc) or type(exc).__name__
