"""Clocks: wall time for people, monotonic time for every decision that compares durations.

Clocks of different clusters disagree, so nothing in this project compares wall-clock timestamps written
by two different clusters. Durations are always measured on the observer's own monotonic clock.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """UTC-aware wall-clock time (for records people read)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for durations)."""
        ...


class SystemClock:
    """The process's real clocks."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class EventLoopClock(SystemClock):
    """Monotonic time from the running event loop, so that `looptime` can fast-forward it in tests.

    In production the loop's clock *is* `time.monotonic()`; outside a loop it falls back to it.
    """

    def monotonic(self) -> float:
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return time.monotonic()


class FakeClock:
    """A clock that moves only when told to; for tests and simulations."""

    def __init__(self, now: datetime | None = None, monotonic: float = 1000.0) -> None:
        self._now = now or datetime(2026, 1, 1, tzinfo=UTC)
        self._monotonic = monotonic

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        self._monotonic += seconds
        self._now += timedelta(seconds=seconds)

    def set_wall(self, now: datetime) -> None:
        """Move the wall clock only (e.g. to simulate skew); monotonic time is untouched."""
        self._now = now
