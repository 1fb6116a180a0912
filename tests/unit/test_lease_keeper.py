"""The operator's half of the watchdog (watchdog.LeaseKeeper), on virtual time: a Lease renewal that does not land
is what says the local API server takes no writes — refused, or, when the server is frozen, not answered for
API_SILENT_SECONDS — so the cluster reports that it cannot act instead of the OK its watches last showed."""

from __future__ import annotations

import asyncio

import pytest

from failover_operator.clock import EventLoopClock
from failover_operator.reconciler.maintenance import MaintenanceBoard
from failover_operator.watchdog import API_SILENT_SECONDS, MAINTENANCE, LeaseKeeper
from harness.simulation.kube import SimKube

NS, LEASE = "failover-operator", "failover-operator"


def keeper(kube: SimKube, board: MaintenanceBoard | None = None) -> LeaseKeeper:
    kube.create({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": LEASE, "namespace": NS}})
    return LeaseKeeper(kube, NS, LEASE, "east", EventLoopClock(), list, step=1.0, maintenance=board)  # type: ignore[arg-type]


@pytest.mark.looptime
async def test_a_frozen_api_server_is_one_that_takes_no_writes_after_a_few_seconds() -> None:
    loop = asyncio.get_running_loop()
    kube = SimKube("east", loop.time)
    lease = keeper(kube)
    stop = asyncio.Event()
    running = asyncio.ensure_future(lease.run(stop))
    await asyncio.sleep(3.0)
    assert lease.refused is None
    kube.faults.latency = 3600.0  # frozen: every request waits, nothing answers
    await asyncio.sleep(API_SILENT_SECONDS - 1.0)
    assert lease.refused is None  # a renewal or two late is not yet a frozen server
    await asyncio.sleep(2.0)
    assert lease.refused == f"it has not answered a write for over {API_SILENT_SECONDS:g}s"
    kube.faults.latency = 0.0
    running.cancel()
    running = asyncio.ensure_future(lease.run(stop))  # (the frozen request is abandoned)
    await asyncio.sleep(1.5)
    assert lease.refused is None
    stop.set()
    running.cancel()


@pytest.mark.looptime
async def test_the_lease_lists_the_groups_held_in_maintenance_and_a_new_process_recalls_them() -> None:
    loop = asyncio.get_running_loop()
    kube = SimKube("east", loop.time)
    board = MaintenanceBoard()
    lease = keeper(kube, board)
    board.listed = {"shop/web", "pay/api"}
    assert await lease.renew()
    annotations = kube.objects[("leases", NS, LEASE)]["metadata"]["annotations"]
    assert annotations[MAINTENANCE] == "pay/api,shop/web" and board.announced == {"pay/api", "shop/web"}
    assert await lease.recall() == {"pay/api", "shop/web"}
