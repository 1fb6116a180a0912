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

# Loop iterations in a row without time moving, after which some task is taken to loop without ever waiting
# (a busy loop, e.g. a retry that is refused at once and retried at once): in real life, a CPU burnt and a table
# hammered; here, time would never move again. A trial's busiest instant takes a few hundred.
SPIN_LIMIT = 100_000


class _VirtualSelector(selectors.SelectSelector):
    """Registers file objects as usual (the loop's self-pipe) but never waits on them."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualLoop | None = None
        self._spins = 0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        assert self.loop is not None
        if timeout is None:
            raise RuntimeError("the simulation deadlocked: every task waits and nothing is scheduled")
        if timeout > 0:
            self._spins = 0
        else:
            self._spins += 1
            if self._spins > SPIN_LIMIT:
                raise SpinError(
                    f"at {self.loop.time():.3f}s virtual time moved no more for {SPIN_LIMIT} loop iterations: "
                    "a task loops without waiting"
                )
        self.loop.advance(timeout)
        return []


class SpinError(RuntimeError):
    """Some task loops without ever waiting, so virtual time cannot move."""


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
