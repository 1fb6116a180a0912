"""Flag: the hot loops' Event, whose timeout neither cancels nor raises."""

from __future__ import annotations

import asyncio

import pytest

from failover_operator.waits import Flag, wait_set


@pytest.mark.looptime
async def test_a_flag_wait_ends_when_set_or_when_the_time_passes() -> None:
    loop = asyncio.get_running_loop()
    flag = Flag()
    start = loop.time()
    assert await wait_set(flag, 5.0) is False
    assert loop.time() - start == pytest.approx(5.0)

    loop.call_later(2.0, flag.set)
    start = loop.time()
    assert await flag.wait(10.0) is True
    assert loop.time() - start == pytest.approx(2.0)
    assert await flag.wait(10.0) is True  # set stays set
    assert loop.time() - start == pytest.approx(2.0)

    flag.clear()
    waiters = [asyncio.ensure_future(flag.wait(s)) for s in (1.0, 3.0, None)]
    await asyncio.sleep(2.0)
    assert waiters[0].done() and waiters[0].result() is False
    flag.set()
    assert await asyncio.gather(*waiters[1:]) == [True, True]


@pytest.mark.looptime
async def test_a_cancelled_wait_leaves_nothing_behind() -> None:
    flag = Flag()
    waiter = asyncio.ensure_future(flag.wait(10.0))
    await asyncio.sleep(1.0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert flag._waiters == []  # no future left to resolve, no timer left to fire
    assert await flag.wait(0.5) is False
