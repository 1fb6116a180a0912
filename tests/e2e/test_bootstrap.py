"""Two clusters, the real operator in each, one DynamoDB: who owns a new group, and what each cluster does."""

from __future__ import annotations

from failover_operator.testing.fleet import running_fleet
from failover_operator.testing.kube import eventually

from .manifests import deployment, group


async def test_bootstrap_owner_agreement_and_roles(moto_endpoint, table):
    async with running_fleet(moto_endpoint, table, "east", "west") as fleet:
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


async def test_concurrent_bootstrap_never_scales_the_owner_down(moto_endpoint, table):
    import asyncio

    from .helpers import settle

    async with running_fleet(moto_endpoint, table, "east", "west", "north") as fleet:
        for m in fleet:
            await m.apply(deployment(replicas=3))
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
        member = fleet[owner]
        res = member.cluster.emulator.find_resource("apps/v1", "deployments")
        versions = list(member.cluster.emulator.objects[res, "shop", "web"].history)
        assert len(versions) > 1  # it was annotated, status updated ...
        assert all(v["spec"]["replicas"] == 3 for v in versions), [v["spec"]["replicas"] for v in versions]
        for m in fleet:
            if m.name != owner:
                assert await m.replicas("shop", "web") == 0
