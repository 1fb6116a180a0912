"""Waiting for an asyncio.Event with a timeout, without a task per wait.

asyncio.wait_for and asyncio.wait wrap each wait in a new Task; the operator's loops wait many times a second
per group (ticks, fencing, the Lease), so they use a timeout scope on the current task instead."""

from __future__ import annotations

import asyncio


async def wait_set(event: asyncio.Event, seconds: float) -> bool:
    """True as soon as `event` is set; False when `seconds` pass first."""
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(max(seconds, 0.0)):
            await event.wait()
    except TimeoutError:
        return False
    return True
