"""Every DynamoDB request goes through `Caller`: bounded, jittered retries of transient failures, and
translation of botocore errors into the store's own exceptions.

Retried: throttling, 5xx, transaction conflicts and dropped connections — failures after which the same
request may simply succeed. Never retried here: a failed condition, which is an answer, not an accident.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .changes import WRITES, written_partitions
from .errors import StoreError

log = logging.getLogger(__name__)

RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
        "LimitExceededException",
        "ReplicatedWriteConflictException",  # MRSC: another Region wrote the item at the same moment
    }
)
CONDITION_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELED = "TransactionCanceledException"
# Cancellation reasons that mean "try again", not "your condition is false".
RETRYABLE_CANCELLATION = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter")."""

    attempts: int = 6
    base_delay: float = 0.05
    max_delay: float = 2.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        return rng() * min(self.max_delay, self.base_delay * (2**attempt))


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def cancellation_codes(exc: ClientError) -> list[str]:
    """Per-action codes of a cancelled transaction ('None' where that action was fine)."""
    reasons = exc.response.get("CancellationReasons") or []
    return [str(reason.get("Code", "None")) for reason in reasons]


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        code = error_code(exc)
        if code in RETRYABLE_CODES:
            return True
        if code == TRANSACTION_CANCELED:
            codes = cancellation_codes(exc)
            return any(c in RETRYABLE_CANCELLATION for c in codes) and not any(
                c == "ConditionalCheckFailed" for c in codes
            )
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return isinstance(status, int) and status >= 500
    return isinstance(exc, (BotoCoreError, asyncio.TimeoutError, ConnectionError))


class Caller:
    """Calls one method of an aioboto3 DynamoDB client with retries; counts calls for benchmarks.

    Raises botocore's ClientError only for a failed condition or a cancelled transaction (answers about the
    data, which the caller interprets); every other failure becomes StoreError.
    """

    def __init__(
        self,
        client: Any,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_retry: Callable[[str, BaseException], None] | None = None,
        limit: asyncio.Semaphore | None = None,
    ) -> None:
        self.client = client
        self.limit = limit  # at most this many of our requests at once (None: no limit)
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.on_retry = on_retry
        self.calls = 0
        self.retries = 0
        self.on_write: Callable[[list[str]], None] | None = None  # told which group partitions a write touched
        self.observe: Callable[[str, float, str], None] | None = None
        """Told of each attempt: (operation, seconds, "ok" | "condition" | "error") — for metrics."""

    async def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        if self.limit is not None:
            async with self.limit:
                return await self._noted(operation, params)
        return await self._noted(operation, params)

    async def _noted(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.on_write is None or operation not in WRITES:
            return await self._call(operation, params)
        partitions = written_partitions(operation, params)
        if partitions:
            # Sent: it may land at any moment, though its answers may be lost and retried for seconds; peers
            # should look now (a takeover that landed unanswered was published only when its retries ended)...
            self.on_write(partitions)
        try:
            return await self._call(operation, params)
        finally:  # ...and again once it has landed, or may have
            if partitions:
                self.on_write(partitions)

    async def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        method = getattr(self.client, operation)
        attempt = 0
        while True:
            self.calls += 1
            started = time.perf_counter()
            try:
                result: dict[str, Any] = await method(**params)
                self._observed(operation, started, "ok")
                return result
            except ClientError as exc:
                if not is_retryable(exc):
                    if error_code(exc) in (CONDITION_FAILED, TRANSACTION_CANCELED):
                        self._observed(operation, started, "condition")
                        raise  # an answer about the data: the caller decides what it means
                    self._observed(operation, started, "error")
                    raise unexpected(operation, exc) from exc
                last: BaseException = exc
            except (TimeoutError, BotoCoreError, ConnectionError) as exc:
                last = exc
            self._observed(operation, started, "error")
            attempt += 1
            if attempt >= self.policy.attempts:
                raise StoreError(f"DynamoDB {operation} failed after {attempt} attempts: {last}") from last
            self.retries += 1
            if self.on_retry is not None:
                self.on_retry(operation, last)
            delay = self.policy.delay(attempt - 1)
            log.debug("DynamoDB %s failed (%s); retry %d in %.3fs", operation, last, attempt, delay)
            await self.sleep(delay)

    def _observed(self, operation: str, started: float, outcome: str) -> None:
        if self.observe is not None:
            self.observe(operation, time.perf_counter() - started, outcome)


def unexpected(operation: str, exc: ClientError) -> StoreError:
    """A ClientError that no caller handles: wrap it so callers only ever see StoreError."""
    return StoreError(f"DynamoDB {operation} failed: {error_code(exc) or exc}")
