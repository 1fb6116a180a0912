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
