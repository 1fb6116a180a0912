"""The operator's watches against a real kube-apiserver: events stream as they happen (chunked, one JSON line
each), and a watch the server ends is made again from where it ended."""

from __future__ import annotations

from failover_operator.workloads.kinds import managed_kind
from failover_operator.workloads.watches import ObjectCache
from harness.cluster import eventually
from harness.counting_kube import CountingKube

from ..e2e.manifests import deployment

DEPLOYMENT = managed_kind("Deployment")


async def test_changes_reach_the_cache_as_they_happen_and_across_watches(apiservers) -> None:
    east = apiservers("east")["east"]
    east.apply_sync(deployment(replicas=2))
    async with CountingKube(east.api_client()) as kube:
        cache = ObjectCache(kube, seconds=1)  # the server ends each watch after 1 s: made again, from there
        try:
            assert cache.get(DEPLOYMENT, "shop", "web") == (False, None)  # not listed yet: read it

            async def replicas(n: int) -> bool:
                known, obj = cache.get(DEPLOYMENT, "shop", "web")
                assert known and obj is not None and obj["spec"]["replicas"] == n, obj
                return True

            await eventually(lambda: replicas(2), within=10)
            for n in (3, 0, 1):  # each change seen without a read, one watch request or several later
                await east.patch("apps/v1", "Deployment", "shop", "web", {"spec": {"replicas": n}})
                await eventually(lambda n=n: replicas(n), within=5)
            assert kube.gets == 0
        finally:
            await cache.close()
