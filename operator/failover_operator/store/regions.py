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

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as EndpointUnreachable

log = logging.getLogger("failover_operator.store")

SLOW_AFTER = 1.0
"""Seconds without an answer after which the client sends its next requests to the next Region (the request
itself still waits for its answer): a Region lost as a black hole moves the client within a second, not after the
request timeout. DynamoDB answers in milliseconds, an MRSC write in tens to a hundred or two."""

LOG_EVERY = 10.0
"""Seconds between two WARNINGs of the client's moves (the others are DEBUG)."""

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

ANSWERS = frozenset(
    {
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
        "ReplicatedWriteConflictException",  # another Region wrote the item at the same moment: retried here
        "TransactionConflictException",
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "LimitExceededException",
        "ValidationException",
        "ResourceNotFoundException",
    }
)
"""Error codes that answer about the request or the data, never about the Region, whatever their HTTP status:
asking another Region would get the same answer (its replica is the same table)."""

REGION_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


@dataclass(frozen=True)
class Region:
    """One replica Region of the table, as this operator reaches it."""

    name: str
    endpoint: str | None = None  # a local or private endpoint; None: the Region's public one


def parse_regions(regions: str | Sequence[str], endpoints: str | Sequence[str] = ()) -> list[Region]:
    """`DYNAMODB_REGIONS` and `DYNAMODB_ENDPOINTS` (comma-separated, or lists) as Regions, in order.

    Raises ValueError saying what is wrong: no Region, one that is not a Region's name or is listed twice, an
    endpoint that is not an http(s) URL, or a number of endpoints that is not the number of Regions."""
    names = _items(regions)
    urls = _items(endpoints)
    if not names:
        raise ValueError("no DynamoDB Region given")
    wrong = [r for r in names if not REGION_NAME.fullmatch(r)]
    if wrong:
        raise ValueError(
            f"{', '.join(repr(r) for r in wrong)} is not a Region name (lower-case letters, digits and '-', e.g. "
            "us-east-1); separate Regions with commas"
        )
    bad = [u for u in urls if not u.startswith(("http://", "https://"))]
    if bad:
        raise ValueError(f"{', '.join(repr(u) for u in bad)} is not an endpoint URL (http:// or https://)")
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
    """Does this failure say the Region cannot answer (rather than something about the request or the data)?

    Yes: no connection (refused, reset, unreachable, TLS), a connect or read timeout, a 5xx or an error code of
    UNAVAILABLE_CODES. No: every answer about the request or the data (ANSWERS: a failed condition, throttling,
    a replicated write conflict, a malformed request), and botocore's own refusals (no credentials, a parameter
    it rejects), which another Region would meet just the same."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in UNAVAILABLE_CODES:
            return True
        if code in ANSWERS:
            return False
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return isinstance(status, int) and status >= 500
    return isinstance(exc, (EndpointUnreachable, HTTPClientError, TimeoutError, OSError))


class RegionalClient:
    """The aioboto3 client methods the store calls (`get_item`, `update_item`, ...), sent to the current
    Region. `clients`: (Region name, entered client) in the operator's order of preference. `monotonic`: the
    clock that says when to try the preferred Region again. `on_move`: told (from, to, why) when the client
    moves.

    A request is sent as it was asked, to one Region, once: this client never retries (the store's Caller
    does, and its next attempt goes wherever the client is then). Requests that fail together move it once:
    a failure moves it only from the Region its request was sent to, and only if nothing moved it since."""

    def __init__(
        self,
        clients: Sequence[tuple[str, Any]],
        monotonic: Callable[[], float],
        *,
        back_after: float = BACK_AFTER,
        slow_after: float | None = SLOW_AFTER,
        on_move: Callable[[str, str, str], None] | None = None,
    ) -> None:
        if not clients:
            raise ValueError("a regional client needs at least one Region")
        names = [name for name, _ in clients]
        if len(set(names)) != len(names):
            raise ValueError(f"a Region is listed twice: {', '.join(names)}")
        self.clients = list(clients)
        self.monotonic = monotonic
        self.back_after = back_after
        self.slow_after = slow_after
        self.on_move = on_move
        self.current = 0
        self.moves = 0
        self._away_since: float | None = None
        self._logged_at: float | None = None  # when a move was last logged as a WARNING

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
            index, moves = self._choose()
            client = self.clients[index][1]
            request = asyncio.ensure_future(getattr(client, operation)(**params))
            try:
                if self.slow_after is not None and len(self.clients) > 1:
                    # A Region that does not answer (a black hole, not a refusal) would hold every request for the
                    # whole request timeout: past `slow_after` the next requests go elsewhere, while this one
                    # still waits for its own answer.
                    done, _ = await asyncio.wait({request}, timeout=self.slow_after)
                    if not done:
                        self._away_from(index, moves, f"{operation} unanswered for {self.slow_after:g}s")
                return await request
            except Exception as exc:
                if unavailable(exc):
                    self._away_from(index, moves, f"{operation} failed: {_describe(exc)}")
                raise
            finally:
                if not request.done():
                    request.cancel()  # we were cancelled ourselves (a caller's timeout): so is the request

        return call

    def _choose(self) -> tuple[int, int]:
        """The Region to ask (the current one, or the preferred one again once we have been away long enough),
        and the number of moves so far (a failure moves the client only if nothing moved it meanwhile)."""
        away = self._away_since
        if self.current != 0 and away is not None and self.monotonic() - away >= self.back_after:
            self._move(0, f"trying the preferred Region again after {self.back_after:g}s")
        return self.current, self.moves

    def _away_from(self, index: int, moves: int, why: str) -> None:
        """The Region at `index` could not answer: move to the next (after the last, the first again) — unless
        the client moved since that request was sent (another failure moved it already, or it went back to the
        preferred Region: a late failure from before says nothing about where it is now)."""
        if moves != self.moves or index != self.current or len(self.clients) == 1:
            return
        self._move((index + 1) % len(self.clients), why)

    def _move(self, to: int, why: str) -> None:
        before = self.clients[self.current][0]
        self.current = to
        self.moves += 1
        now = self.monotonic()
        self._away_since = None if to == 0 else now
        # While no Region answers, the client goes round them many times a second: one WARNING per LOG_EVERY
        # seconds says so (the metric counts every move).
        quiet = self._logged_at is not None and now - self._logged_at < LOG_EVERY
        if not quiet:
            self._logged_at = now
        (log.debug if quiet else log.warning)(
            "DynamoDB: moving from %s to %s (%s)",
            before,
            self.clients[to][0],
            why,
            extra={"region": self.clients[to][0], "moved_from": before},
        )
        if self.on_move is not None:
            self.on_move(before, self.clients[to][0], why)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or type(exc).__name__
    return str(exc) or type(exc).__name__
