"""How long the retry layer waits, on looptime's fast-forwarded clock (the real failure paths, over HTTP
through the fault proxy, are in tests/store/test_retries.py)."""

from __future__ import annotations

import asyncio

import pytest
from botocore.exceptions import ClientError

from failover_operator.store.calls import Caller, RetryPolicy
from failover_operator.store.errors import StoreError


class Throttled:
    """Answers ThrottlingException `failures` times, then succeeds; counts when it was called."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[float] = []

    async def get_item(self, **_: object) -> dict[str, object]:
        self.calls.append(asyncio.get_running_loop().time())
        if len(self.calls) <= self.failures:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetItem")
        return {"Item": {}}


@pytest.mark.looptime
async def test_a_persistent_failure_gives_up_within_the_sum_of_capped_delays():
    policy = RetryPolicy(attempts=6, base_delay=0.05, max_delay=2.0)
    client = Throttled(failures=100)
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(StoreError, match="after 6 attempts"):
        await Caller(client, policy)("get_item")
    assert len(client.calls) == 6
    caps = [min(policy.max_delay, policy.base_delay * 2**a) for a in range(5)]  # 0.05 0.1 0.2 0.4 0.8
    gaps = [b - a for a, b in zip(client.calls, client.calls[1:], strict=False)]
    assert all(0 <= gap <= cap + 1e-9 for gap, cap in zip(gaps, caps, strict=True)), gaps
    assert loop.time() - start <= sum(caps) + 1e-9  # 1.55 s at most: bounded, whatever the jitter


@pytest.mark.looptime
async def test_jitter_spreads_retries_of_many_callers():
    policy = RetryPolicy(attempts=3, base_delay=1.0, max_delay=1.0)
    clients = [Throttled(failures=1) for _ in range(50)]
    await asyncio.gather(*(Caller(c, policy)("get_item") for c in clients))
    retry_times = sorted(round(c.calls[1] - c.calls[0], 3) for c in clients)
    assert len(set(retry_times)) > 40  # not a thundering herd at the same instant
    assert retry_times[0] >= 0 and retry_times[-1] <= 1.0
