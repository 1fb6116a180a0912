"""An asyncio event loop on virtual time, for the simulation: sleeping costs nothing, and time moves only when
every task waits.

looptime does the same for the tests, but also polls real I/O (a select() system call) on every iteration and
tracks executor futures; the simulation has neither, and at millions of iterations per `make chaos` that work
is a third of the loop's cost. Here the selector never blocks: asked to wait `timeout` seconds, it moves the
clock by exactly that and returns at once. Deterministic: the same tasks, in the same order, at the same times.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any


class _VirtualSelector(selectors.SelectSelector):
    """Registers file objects as usual (the loop's self-pipe) but never waits on them."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        assert self.loop is not None
        if timeout is None:
            raise RuntimeError("the simulation deadlocked: every task waits and nothing is scheduled")
        self.loop.advance(timeout)
        return []


class VirtualLoop(asyncio.SelectorEventLoop):
    """`time()` starts at `start` and moves only by waiting."""

    def __init__(self, start: float = 0.0) -> None:
        selector = _VirtualSelector()
        super().__init__(selector=selector)
        selector.loop = self
        self._now = start

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            self._now += seconds

    def run_in_executor(self, executor: Any, func: Any, *args: Any) -> asyncio.Future[Any]:
        raise RuntimeError("the simulation runs no threads: a thread's time cannot be virtual")
