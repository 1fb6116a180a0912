"""The object cache (workloads/watches.py) with the real client against an emulated API server: a quiet tick
grades what the watch delivered and reads nothing; what the cache does not know is read, never guessed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from failover_operator.workloads import ResourceRef, Role, Workloads
from failover_operator.workloads.kinds import managed_kind
from failover_operator.workloads.watches import ObjectCache
from harness.cluster import eventually, kubernetes_api_client
from harness.counting_kube import CountingKube
from harness.emulator import EmulatedCluster

NS = "shop"
WEB = [ResourceRef("Deployment", "web")]
DEPLOYMENT = managed_kind("Deployment")


def deployment(name: str, replicas: int) -> dict[str, Any]:
    template = {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template},
    }


@pytest.fixture
async def counting(cluster: EmulatedCluster) -> AsyncIterator[CountingKube]:
    await cluster.create_namespace(NS)
    await cluster.create(deployment("web", 3))
    await cluster.patch_status(
        "apps/v1",
        "Deployment",
        NS,
        "web",
        {"replicas": 3, "readyReplicas": 3, "updatedReplicas": 3, "observedGeneration": 1},
    )
    async with CountingKube(kubernetes_api_client(cluster.url), workers=4) as kube:
        yield kube


@pytest.fixture
async def cache(counting: CountingKube) -> AsyncIterator[ObjectCache]:
    watched = ObjectCache(counting, seconds=1)  # watches end every second: the re-watch is exercised too
    yield watched
    await watched.close()


async def synced(cache: ObjectCache, name: str = "web") -> None:
    async def known() -> bool:
        assert cache.get(DEPLOYMENT, NS, name)[0]
        return True

    await eventually(known, within=5)


async def test_a_watched_object_is_graded_without_reading_it(
    cluster: EmulatedCluster, counting: CountingKube, cache: ObjectCache
) -> None:
    workloads = Workloads(counting, cache=cache)
    first = await workloads.observe(NS, WEB, Role.PRIMARY)  # the first ask starts the watch, and reads
    assert counting.gets == 1 and first.components["Deployment/web"]["ready"] == 3
    await synced(cache)
    counting.gets = 0
    for _ in range(5):
        assert (await workloads.observe(NS, WEB, Role.PRIMARY)).components["Deployment/web"]["ready"] == 3
    assert counting.gets == 0

    await cluster.patch_status("apps/v1", "Deployment", NS, "web", {"readyReplicas": 1})  # a pod failing

    async def noticed() -> bool:
        seen = await workloads.observe(NS, WEB, Role.PRIMARY)
        assert (seen.health, seen.message) == ("DEGRADED", "Deployment/web: 1 of 3 ready")
        return True

    await eventually(noticed, within=5)
    await cluster.delete("apps/v1", "Deployment", NS, "web")

    async def gone() -> bool:
        seen = (await workloads.observe(NS, WEB, Role.PRIMARY)).components["Deployment/web"]
        assert seen.get("missing") is True, (seen, cache.get(DEPLOYMENT, NS, "web"))
        return True

    await eventually(gone, within=5)
    assert counting.gets == 0  # all of it from the watch
    assert cache.get(DEPLOYMENT, NS, "web") == (True, None)  # known not to exist


async def test_our_own_patch_is_read_until_the_watch_delivers_it(
    cluster: EmulatedCluster, counting: CountingKube, cache: ObjectCache
) -> None:
    workloads = Workloads(counting, cache=cache)
    await workloads.observe(NS, WEB, Role.STANDBY)
    await synced(cache)
    result = await workloads.converge(NS, WEB, Role.STANDBY, group="shop/web", epoch=1)
    assert result.changed == ["Deployment/web"]
    stored = result.objects["Deployment/web"]["metadata"]["resourceVersion"]
    # Until the watch shows the version our patch left, the cache does not answer for the object.
    known, obj = cache.get(DEPLOYMENT, NS, "web")
    assert not known or (obj is not None and obj["metadata"]["resourceVersion"] == stored)

    async def delivered() -> dict[str, Any]:
        known, obj = cache.get(DEPLOYMENT, NS, "web")
        assert known and obj is not None and obj["spec"]["replicas"] == 0
        return obj

    kept = await eventually(delivered, within=5)
    assert "template" not in kept["spec"] and "managedFields" not in kept["metadata"]  # the bulk is not kept


async def test_a_watch_that_cannot_be_made_means_reading_and_it_comes_back(
    cluster: EmulatedCluster, counting: CountingKube
) -> None:
    cluster.emulator.add_fault(verb="list", plural="deployments", status=403, reason="Forbidden", times=None)
    cache = ObjectCache(counting, seconds=1)
    try:
        workloads = Workloads(counting, cache=cache)
        for _ in range(3):
            assert (await workloads.observe(NS, WEB, Role.PRIMARY)).health == "OK"
        assert counting.gets == 3 and cache.get(DEPLOYMENT, NS, "web") == (False, None)
        cluster.emulator.clear_faults()  # RBAC fixed: the next attempt (after a pause) lists and watches
        await synced(cache)
    finally:
        await cache.close()


async def test_a_compacted_history_is_listed_again(
    cluster: EmulatedCluster, counting: CountingKube, cache: ObjectCache
) -> None:
    cache.get(DEPLOYMENT, NS, "web")
    await synced(cache)
    cluster.emulator.compact_history()  # the next watch, from an older version, is 410 Gone
    await cluster.patch_status("apps/v1", "Deployment", NS, "web", {"readyReplicas": 2})

    async def relisted() -> bool:
        known, obj = cache.get(DEPLOYMENT, NS, "web")
        assert known and obj is not None and obj["status"]["readyReplicas"] == 2
        return True

    await eventually(relisted, within=10)
    assert counting.gets == 0


class ScriptedServer:
    """A server whose watch delivers what the test says, when it says (what a real one cannot be made to do)."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.lists = 0

    async def list_versioned(self, kind: Any, namespace: str | None) -> tuple[list[dict[str, Any]], str]:
        self.lists += 1
        return [obj("web", "3")], "3"

    async def watch(self, kind: Any, namespace: str | None, version: str, *, seconds: int = 60) -> Any:
        while True:
            yield await self.events.get()


def obj(name: str, version: str, replicas: int = 3) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": NS, "resourceVersion": version}, "spec": {"replicas": replicas}}


async def test_an_older_change_does_not_stand_for_our_write() -> None:
    server = ScriptedServer()
    cache = ObjectCache(server)  # type: ignore[arg-type]
    try:
        cache.get(DEPLOYMENT, NS, "web")
        await synced(cache)
        cache.wrote(DEPLOYMENT, NS, "web", obj("web", "5", replicas=0))
        assert cache.get(DEPLOYMENT, NS, "web") == (False, None)
        server.events.put_nowait({"type": "MODIFIED", "object": obj("web", "4")})  # someone's, before ours
        await asyncio.sleep(0.1)
        assert cache.get(DEPLOYMENT, NS, "web") == (False, None)
        server.events.put_nowait({"type": "MODIFIED", "object": obj("web", "5", replicas=0)})
        await asyncio.sleep(0.1)
        assert cache.get(DEPLOYMENT, NS, "web") == (True, obj("web", "5", replicas=0))
        server.events.put_nowait({"type": "ERROR", "object": {"kind": "Status", "code": 410}})  # compacted
        await asyncio.sleep(0.1)
        assert server.lists == 2 and cache.get(DEPLOYMENT, NS, "web") == (True, obj("web", "3"))
    finally:
        await cache.close()


async def test_our_write_delivered_before_the_patch_answered_is_not_waited_for() -> None:
    """The watch can bring our patch's version before the patch's own answer comes back (a fast watch, a slow
    answer): the write is then known already, not waited for until the next list."""
    server = ScriptedServer()
    cache = ObjectCache(server)  # type: ignore[arg-type]
    try:
        cache.get(DEPLOYMENT, NS, "web")
        await synced(cache)
        server.events.put_nowait({"type": "MODIFIED", "object": obj("web", "5", replicas=0)})
        server.events.put_nowait({"type": "MODIFIED", "object": obj("web", "6", replicas=0)})  # and a later one
        await asyncio.sleep(0.1)
        cache.wrote(DEPLOYMENT, NS, "web", obj("web", "5", replicas=0))
        assert cache.get(DEPLOYMENT, NS, "web") == (True, obj("web", "6", replicas=0))
    finally:
        await cache.close()


async def test_a_watch_refused_on_its_way_is_listed_again_and_misses_nothing(
    cluster: EmulatedCluster, counting: CountingKube, cache: ObjectCache
) -> None:
    workloads = Workloads(counting, cache=cache)
    await workloads.observe(NS, WEB, Role.PRIMARY)
    await synced(cache)
    cluster.emulator.add_fault(verb="watch", plural="deployments", status=500, times=2)  # the next re-watches fail
    await cluster.patch_status("apps/v1", "Deployment", NS, "web", {"readyReplicas": 1})

    async def noticed() -> bool:  # read while the watch is down, then from the watch listed again
        seen = await workloads.observe(NS, WEB, Role.PRIMARY)
        assert seen.components["Deployment/web"]["ready"] == 1
        known, obj = cache.get(DEPLOYMENT, NS, "web")
        assert known and obj is not None and obj["status"]["readyReplicas"] == 1
        return True

    await eventually(noticed, within=10)
