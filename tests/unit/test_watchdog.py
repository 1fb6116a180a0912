"""The watchdog against a simulated API server, on a fake clock: it fences when the last renewal that vouched for
serving has run out — a renewal saying nothing is served does not satisfy it (issue 18, finding 2) — and it
fences again on every look until nothing is left serving (an API server that refused is asked again)."""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest
from prometheus_client import generate_latest

from failover_operator.clock import FakeClock
from failover_operator.watchdog import FENCE_AFTER, IDLE, Watchdog
from failover_operator.workloads.converge import Workloads
from harness.simulation.kube import SimKube, replicas

NS, LEASE = "failover-operator", "failover-operator"


def world() -> tuple[FakeClock, SimKube, Watchdog]:
    clock = FakeClock()
    kube = SimKube("east", clock.monotonic)
    kube.create({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": LEASE, "namespace": NS}})
    kube.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "namespace": "shop",
                "annotations": {
                    "failover.dev/group": "shop/web",
                    "failover.dev/epoch": "1",
                    "failover.dev/role": "PRIMARY",
                },
            },
            "spec": {"replicas": 2},
        }
    )
    kube.create(
        {
            "apiVersion": "failover.dev/v1alpha1",
            "kind": "FailoverGroup",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"workloads": [{"kind": "Deployment", "name": "web"}]},
            "status": {"epoch": 1},
        }
    )
    dog = Watchdog(kube, Workloads(kube, now=clock.now), clock, NS, LEASE, ["shop"], poll=0.1)  # type: ignore[arg-type]
    return clock, kube, dog


async def renew(kube: SimKube, left: str) -> None:
    """As LeaseKeeper.renew does: every renewal changes the Lease (its renewTime), whatever it carries."""
    renewals = int((kube.objects[("leases", NS, LEASE)].get("spec") or {}).get("renewals", 0)) + 1
    await kube.patch(
        "Lease", NS, LEASE, {"metadata": {"annotations": {FENCE_AFTER: left}}, "spec": {"renewals": renewals}}
    )


def web(kube: SimKube) -> dict[str, Any]:
    return kube.objects[("deployments", "shop", "web")]


async def test_a_renewal_saying_nothing_is_served_does_not_extend_the_deadline() -> None:
    clock, kube, dog = world()
    await renew(kube, "1.000")  # the operator serves: fence if quiet for a second
    assert not await dog.step()
    clock.advance(0.6)
    await renew(kube, IDLE)  # a restarted process that has not looked at its resources yet
    assert not await dog.step()
    clock.advance(0.3)
    assert not await dog.step()
    assert replicas(web(kube)) == 2
    clock.advance(0.2)  # 1.1 s after the renewal that vouched
    assert await dog.step()
    assert replicas(web(kube)) == 0
    assert web(kube)["metadata"]["annotations"]["failover.dev/role"] == "FENCED"


async def test_a_renewal_that_vouches_extends_it() -> None:
    clock, kube, dog = world()
    await renew(kube, "1.000")
    assert not await dog.step()
    clock.advance(0.9)
    await renew(kube, "1.000")
    assert not await dog.step()
    clock.advance(0.9)
    assert not await dog.step()
    assert replicas(web(kube)) == 2


async def test_it_fences_again_until_the_api_server_lets_it() -> None:
    clock, kube, dog = world()
    await renew(kube, "0.500")
    assert not await dog.step()
    kube.faults.refuse_writes = True
    clock.advance(1.0)
    assert await dog.step()
    assert replicas(web(kube)) == 2  # refused
    clock.advance(0.1)
    assert await dog.step()  # asked again
    kube.faults.refuse_writes = False
    clock.advance(0.1)
    assert await dog.step()
    assert replicas(web(kube)) == 0
    clock.advance(0.1)
    assert not await dog.step()  # nothing left serving: nothing to fence until someone vouches again
    events = [reason for _, reason, _ in kube.events]
    assert events.count("WatchdogFenced") == 2  # the refusal once, the fencing once: not one per look


def scrape(dog: Watchdog) -> dict[str, float]:
    """The watchdog's /metrics as it would be served: sample (with its labels) -> value."""
    out = {}
    for line in generate_latest(dog.metrics.registry).decode().splitlines():
        if line and not line.startswith("#"):
            sample, _, value = line.rpartition(" ")
            out[sample] = float(value)
    return out


async def test_its_metrics_say_what_it_sees_of_the_lease_and_when_it_fenced() -> None:
    clock, kube, dog = world()
    dog.metrics.identify("east", "fleet", "1.2.3")
    assert math.isnan(scrape(dog)["failover_watchdog_lease_age_seconds"])  # not seen yet: unknown, not 0
    await renew(kube, "1.000")
    assert not await dog.step()
    seen = scrape(dog)
    assert seen['failover_watchdog_up{cluster="east",operator_id="fleet",version="1.2.3"}'] == 1.0
    assert seen["failover_watchdog_lease_readable"] == 1.0
    assert seen["failover_watchdog_lease_age_seconds"] == 0.0
    assert seen["failover_watchdog_armed"] == 1.0  # the renewal vouches for serving: it fences if it goes quiet
    assert seen["failover_watchdog_fences_total"] == 0.0
    assert seen["failover_watchdog_last_fence_timestamp_seconds"] == 0.0
    clock.advance(0.6)
    assert not await dog.step()
    assert scrape(dog)["failover_watchdog_lease_age_seconds"] == pytest.approx(0.6)
    clock.advance(0.5)
    assert await dog.step()  # fenced
    seen = scrape(dog)
    assert seen["failover_watchdog_fences_total"] == 1.0
    assert seen["failover_watchdog_last_fence_timestamp_seconds"] == clock.now().timestamp()
    assert seen["failover_watchdog_armed"] == 0.0  # nothing served any more
    assert seen["failover_watchdog_lease_age_seconds"] == pytest.approx(1.1)


async def test_a_refused_fence_is_not_counted_until_it_is_done() -> None:
    clock, kube, dog = world()
    await renew(kube, "0.500")
    assert not await dog.step()
    kube.faults.refuse_writes = True
    clock.advance(1.0)
    assert await dog.step()
    assert scrape(dog)["failover_watchdog_fences_total"] == 0.0  # it tried: nothing was scaled down
    kube.faults.refuse_writes = False
    clock.advance(0.1)
    assert await dog.step()
    assert scrape(dog)["failover_watchdog_fences_total"] == 1.0


async def test_a_lease_it_cannot_read_is_in_its_metrics_and_said_once(caplog: pytest.LogCaptureFixture) -> None:
    clock, kube, dog = world()
    await renew(kube, IDLE)
    assert not await dog.step()
    kube.faults.unreachable = True
    caplog.set_level(logging.INFO, logger="failover_operator.watchdog")
    for _ in range(20):  # five seconds of looks at 0.25 s
        clock.advance(0.25)
        assert not await dog.step()
    seen = scrape(dog)
    assert seen["failover_watchdog_lease_readable"] == 0.0
    assert seen["failover_watchdog_lease_age_seconds"] == pytest.approx(5.0)  # unchanged for all it knows
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cannot read the operator's Lease failover-operator/failover-operator" in warnings[0]
    kube.faults.unreachable = False
    clock.advance(0.25)
    assert not await dog.step()
    assert scrape(dog)["failover_watchdog_lease_readable"] == 1.0
    assert "the operator's Lease failover-operator/failover-operator can be read again" in caplog.messages
    del kube.objects[("leases", NS, LEASE)]
    clock.advance(0.25)
    assert not await dog.step()
    assert scrape(dog)["failover_watchdog_lease_readable"] == 0.0
    assert "the operator's Lease failover-operator/failover-operator does not exist" in caplog.messages[-1]
