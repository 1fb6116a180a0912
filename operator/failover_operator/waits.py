"""Waiting for a flag with a timeout, without a task per wait.

asyncio.wait_for and asyncio.wait wrap each wait in a new Task; the operator's loops wait many times a second
per group (ticks, fencing, the Lease), so they use a timeout scope on the current task instead — or, for the
two flags every group waits on every interval, a :class:`Flag`, whose timeout cancels nothing and raises
nothing (a thousand groups' ticks end that way every interval)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable


class Flag:
    """An asyncio.Event for the hot loops: `wait(seconds)` answers False when the time passes first, by a
    timer resolving a future rather than by cancelling the task; a few dozen bytes when nobody waits."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[bool]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if self._set:
            return
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(True)

    def clear(self) -> None:
        self._set = False

    async def wait(self, seconds: float | None = None) -> bool:
        """True as soon as the flag is set; False when `seconds` pass first (None: no limit)."""
        if self._set:
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        timer = None if seconds is None else loop.call_later(max(seconds, 0.0), _expire, waiter)
        try:
            return await waiter
        finally:
            if timer is not None:
                timer.cancel()
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


async def wait_set(event: asyncio.Event | Flag, seconds: float) -> bool:
    """True as soon as `event` is set; False when `seconds` pass first."""
    if event.is_set():
        return True
    if isinstance(event, Flag):
        return await event.wait(seconds)
    try:
        async with asyncio.timeout(max(seconds, 0.0)):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def first_of(*waits: Awaitable[object]) -> None:
    """Until the first of `waits` (flags' waits, say) completes; the others are cancelled. For the few waits
    made once in a process's or a daemon's life (a task each)."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
