"""How long has a record gone unchanged — measured on *our* monotonic clock.

This is the lease rule of the DynamoDB lock client: a reader never trusts another machine's timestamps;
it remembers the value it last saw (a heartbeat sequence number, a lock's token and renewal count) and
when it first saw that value. A record first seen counts from the moment it is first seen, so a restart
of the observer can delay a verdict of staleness but never hasten it.
"""

from __future__ import annotations

from collections.abc import Hashable

from ..clock import Clock


class ChangeObserver:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._seen: dict[Hashable, tuple[Hashable, float]] = {}

    def observe(self, key: Hashable, value: Hashable) -> float:
        """Record that `key` currently has `value`; return how long it has had it (seconds)."""
        now = self._clock.monotonic()
        previous = self._seen.get(key)
        if previous is None or previous[0] != value:
            self._seen[key] = (value, now)
            return 0.0
        return now - previous[1]

    def backdate(self, key: Hashable, value: Hashable, age: float) -> None:
        """Record that `key` has had `value` for `age` seconds, unless we have watched it longer. For a one-shot
        reader (the fleet CLI), which has watched nothing: `age` comes from a timestamp another machine wrote,
        good enough to show people, never what the operators decide on."""
        now = self._clock.monotonic()
        previous = self._seen.get(key)
        since = now - max(0.0, age)
        if previous is None or previous[0] != value or previous[1] > since:
            self._seen[key] = (value, since)

    def age(self, key: Hashable) -> float | None:
        """Seconds since `key` last changed, or None if never observed."""
        previous = self._seen.get(key)
        return None if previous is None else self._clock.monotonic() - previous[1]

    def forget(self, key: Hashable) -> None:
        self._seen.pop(key, None)
