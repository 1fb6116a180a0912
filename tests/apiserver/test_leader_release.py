"""The leader Lease on a real API server (leadership.py): a SIGTERM's release must land even when a renewal of
ours landed after we last read the Lease's version (the renewer was stopped in flight) — it used to be refused
as a conflict, and the next replica waited out the whole duration instead of leading at its next look."""

from __future__ import annotations

import asyncio

from failover_operator.clock import EventLoopClock
from failover_operator.leadership import Leadership, LeaderTiming
from failover_operator.workloads.kinds import LEASE
from failover_operator.workloads.kube import KubeClient

NS, NAME = "failover-operator", "failover-operator-leader"


async def test_a_release_lands_after_a_renewal_it_did_not_see(apiservers) -> None:
    east = apiservers("east")["east"]
    await east.ensure_namespace(NS)
    timing = LeaderTiming(duration=30.0, renew_every=0.2)
    async with KubeClient(east.api_client()) as kube:
        first = Leadership(kube, NS, NAME, "east-0", EventLoopClock(), timing)
        second = Leadership(kube, NS, NAME, "east-1", EventLoopClock(), timing)
        assert await first.acquire(asyncio.Event())
        # A renewal of east-0 that lands without east-0 learning the new version (as when its renewer is
        # cancelled in flight at SIGTERM).
        await kube.patch(LEASE, NS, NAME, {"spec": {"renewTime": "2026-01-01T00:00:00.000000Z"}})
        await first.release()
        lease = await kube.get(LEASE, NS, NAME)
        assert lease is not None and not (lease.get("spec") or {}).get("holderIdentity")
        stop = asyncio.Event()
        assert await asyncio.wait_for(second.acquire(stop), timeout=10 * timing.renew_every)
        assert second.term == 2


async def test_a_release_never_takes_away_another_replicas_lease(apiservers) -> None:
    east = apiservers("east")["east"]
    await east.ensure_namespace(NS)
    async with KubeClient(east.api_client()) as kube:
        first = Leadership(kube, NS, NAME, "east-0", EventLoopClock(), LeaderTiming(renew_every=0.2))
        assert await first.acquire(asyncio.Event())
        await kube.patch(LEASE, NS, NAME, {"spec": {"holderIdentity": "east-1"}})  # taken meanwhile
        await first.release()
        lease = await kube.get(LEASE, NS, NAME)
        assert lease is not None and lease["spec"]["holderIdentity"] == "east-1"
