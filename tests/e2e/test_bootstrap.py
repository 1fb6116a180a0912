"""Two clusters, the real operator in each, one DynamoDB: who owns a new group, and what each cluster does."""

from __future__ import annotations

import asyncio

from harness.cluster import eventually

from .helpers import settle
from .manifests import deployment, group


async def test_bootstrap_owner_agreement_and_roles(fleet_of):
    async with fleet_of("east", "west") as fleet:
        east, west = fleet["east"], fleet["west"]
        for m in fleet:
            await m.apply(deployment(replicas=3))
        await east.apply(group(initialPrimary="east"))
        await west.apply(group(initialPrimary="east"))

        async def roles_settled():
            e = (await east.group("shop", "web")).get("status", {})
            w = (await west.group("shop", "web")).get("status", {})
            assert (e.get("owner"), w.get("owner")) == ("east", "east")
            assert (e.get("role"), w.get("role")) == ("PRIMARY", "STANDBY")
            assert await west.replicas("shop", "web") == 0
            assert e.get("health") == "OK" and w.get("health") == "OK", (e, w)
            return True

        await eventually(roles_settled, within=10)
        assert await east.replicas("shop", "web") == 3
        standby = await west.deployment("shop", "web")
        annotations = standby["metadata"]["annotations"]
        assert annotations["failover.dev/replicas"] == "3"
        assert annotations["failover.dev/group"] == "shop/web" and annotations["failover.dev/epoch"] == "1"


async def test_concurrent_bootstrap_never_scales_the_owner_down(fleet_of):
    async with fleet_of("east", "west", "north") as fleet:
        seen: dict[str, list[int]] = {m.name: [] for m in fleet}

        async def record(member, since):
            """Every version of the Deployment the API server stores, through a watch, as a controller sees it."""
            async for event in member.cluster.watch(
                "apps/v1", "deployments", "shop", name="web", resource_version=since
            ):
                seen[member.name].append(event["object"]["spec"]["replicas"])

        recorders = []
        for m in fleet:
            created = await m.apply(deployment(replicas=3))
            recorders.append(asyncio.create_task(record(m, created["metadata"]["resourceVersion"])))
        try:
            await asyncio.gather(*(m.apply(group()) for m in fleet))  # no initialPrimary: first to register owns it
            config = None

            async def registered():
                nonlocal config
                config = await fleet["east"].store.state.get_group_config("shop", "web")
                assert config is not None
                return True

            await eventually(registered, within=5)
            owner = config.owner
            await settle(fleet, owner, epoch=1)
        finally:
            for task in recorders:
                task.cancel()
            await asyncio.gather(*recorders, return_exceptions=True)
        assert len(seen[owner]) > 1  # it was annotated, status updated ...
        assert all(replicas == 3 for replicas in seen[owner]), seen[owner]
        for m in fleet:
            if m.name != owner:
                assert seen[m.name][-1] == 0 and await m.replicas("shop", "web") == 0
