"""Invalid specs, deletion and hand-over, restarts: what people do to the objects, and what they see."""

from __future__ import annotations

import asyncio

from harness.cluster import eventually
from harness.fleet import start_member

from .helpers import posted, settle, setup_group, status_of
from .manifests import deployment, failover, group


async def test_an_invalid_group_is_reported_and_touches_nothing(fleet_of):
    async with fleet_of("east") as fleet:
        east = fleet["east"]
        await east.apply(deployment(replicas=2))
        with east.cluster.schema_loosened("failovergroups"):  # as if written before the schema had this rule
            await east.apply(group(heartbeatInterval="20s", timeouts={"heartbeat": "15s"}))

        async def reported():
            s = await status_of(east)
            cond = {c["type"]: c for c in s.get("conditions", [])}
            assert cond.get("SpecValid", {}).get("status") == "False", s
            assert (
                "heartbeatInterval (20s) must be shorter than timeouts.heartbeat (15s)" in cond["SpecValid"]["message"]
            )
            return True

        await eventually(reported, within=5)
        await posted(east, "FailoverGroup", "web", "InvalidSpec")
        assert await east.store.state.get_group_config("shop", "web") is None  # nothing registered
        assert await east.replicas("shop", "web") == 2  # nothing touched

        # fixing the spec makes it work
        await east.cluster.patch(
            "failover.dev/v1alpha1", "failovergroups", "shop", "web", {"spec": {"heartbeatInterval": "200ms"}}
        )
        await settle(fleet, "east", replicas=2, epoch=1)
        s = await status_of(east)
        assert {c["type"]: c["status"] for c in s["conditions"]}["SpecValid"] == "True"


async def test_a_bad_edit_of_a_running_group_keeps_it_running_on_the_last_valid_spec(fleet_of):
    async with fleet_of("east", "west") as fleet:
        east, west = fleet["east"], fleet["west"]
        await setup_group(fleet, "east")
        # an edit the CRD schema would refuse, but that an object written before a schema change can carry
        with east.cluster.schema_loosened("failovergroups"):
            await east.cluster.patch(
                "failover.dev/v1alpha1", "failovergroups", "shop", "web", {"spec": {"heartbeatInterval": "1h"}}
            )

        async def flagged():
            s = await status_of(east)
            cond = {c["type"]: c for c in s.get("conditions", [])}
            assert cond.get("SpecValid", {}).get("status") == "False", s
            assert "heartbeatInterval (1h)" in cond["SpecValid"]["message"]
            assert s.get("role") == "PRIMARY"
            return True

        await eventually(flagged, within=5)
        before = (await west.store.state.get_cluster_status("shop", "web", "east")).liveness_seq

        async def still_beating():
            now = (await west.store.state.get_cluster_status("shop", "web", "east")).liveness_seq
            assert now >= before + 3
            return True

        await eventually(still_beating, within=5)
        await posted(east, "FailoverGroup", "web", "InvalidSpec")
        assert (await west.store.state.get_group_config("shop", "web")).owner == "east"  # nobody took over


async def test_an_invalid_failover_fails_with_the_reason(fleet_of):
    async with fleet_of("east") as fleet:
        east = fleet["east"]
        with east.cluster.schema_loosened("failovers"):  # as if written before the schema refused it
            await east.apply(failover("bad", "we#st", [], mode="FAST"))

        async def failed():
            s = (await east.failover("shop", "bad")).get("status") or {}
            assert s.get("phase") == "Failed", s
            return s

        s = await eventually(failed, within=5)
        for words in ("targetCluster", "failoverGroups", "mode"):
            assert words in s["message"]
        # Ended like any other Failover: `kubectl wait --for=condition=Complete` returns here too
        assert {c["type"]: c["status"] for c in s["conditions"]} == {
            "Complete": "True",
            "Succeeded": "False",
            "Failed": "True",
        }
        assert s["completionTime"]
        await posted(east, "Failover", "bad", "InvalidSpec")


async def test_deleting_the_owners_group_hands_ownership_over_first(fleet_of):
    async with fleet_of("east", "west") as fleet:
        east, west = fleet["east"], fleet["west"]
        await setup_group(fleet, "east")
        await east.cluster.delete("failover.dev/v1alpha1", "failovergroups", "shop", "web")
        await east.cluster.wait_absent("failover.dev/v1alpha1", "failovergroups", "shop", "web", within=10)
        config = await west.store.state.get_group_config("shop", "web")
        assert (config.owner, config.epoch) == ("west", 2)
        (record,) = await west.store.state.get_failover_history("shop", "web")
        assert record.source_cluster == "east" and "deleted in east" in record.reason
        assert await east.replicas("shop", "web") == 0  # handed over: east's copy is down
        assert sorted(await west.store.state.get_all_cluster_statuses("shop", "web")) == ["west"]

        async def west_serves():
            s = await status_of(west)
            assert (s.get("owner"), s.get("role")) == ("west", "PRIMARY")
            assert await west.replicas("shop", "web") == 3
            return True

        await eventually(west_serves, within=10)
        # the last cluster to leave removes the group's records
        await west.cluster.delete("failover.dev/v1alpha1", "failovergroups", "shop", "web")
        await west.cluster.wait_absent("failover.dev/v1alpha1", "failovergroups", "shop", "web", within=10)
        assert await west.store.state.get_group_config("shop", "web") is None
        assert await west.store.state.get_failover_history("shop", "web") == []
        assert await west.replicas("shop", "web") == 3  # the last one leaves its resources as they are


async def test_a_restarted_operator_picks_up_where_it_was(fleet_of):
    async with fleet_of("east", "west") as fleet:
        east, west = fleet["east"], fleet["west"]
        await setup_group(fleet, "east")
        await west.apply(failover("to-west", "west", [{"name": "web"}]))

        async def done():
            s = (await west.failover("shop", "to-west")).get("status") or {}
            assert s.get("phase") == "Succeeded", s
            return s

        first = await eventually(done, within=15)
        for m in (east, west):
            await m.stop()
            await start_member(m)
        await settle(fleet, "west", epoch=2)
        again = await eventually(done, within=5)
        assert again["completionTime"] == first["completionTime"]  # a finished Failover is not run again
        assert len(await west.store.state.get_failover_history("shop", "web")) == 1


async def test_a_listed_resource_that_does_not_exist_is_reported_not_fatal(fleet_of):
    async with fleet_of("east") as fleet:
        east = fleet["east"]
        await east.apply(deployment(replicas=2))
        await east.apply(
            group(workloads=[{"kind": "Deployment", "name": "web"}, {"kind": "CronJob", "name": "nightly"}])
        )

        async def reported():
            s = await status_of(east)
            assert s.get("owner") == "east" and s.get("health") == "DEGRADED", s
            assert "CronJob/nightly" in s.get("message", "")
            cond = {c["type"]: c["status"] for c in s.get("conditions", [])}
            assert cond.get("Degraded") == "True" and cond.get("Ready") == "False"
            return True

        await eventually(reported, within=10)
        status = await east.store.state.get_cluster_status("shop", "web")
        assert status.health.value == "DEGRADED"
        assert status.components["CronJob/nightly"]["missing"] is True
        assert await east.replicas("shop", "web") == 2  # the rest is still managed


async def test_deleting_a_failover_in_flight_undoes_it(fleet_of):
    async with fleet_of("east", "west") as fleet:
        east, west = fleet["east"], fleet["west"]
        await setup_group(fleet, "east", autoFailover=False)
        await east.stop()  # nobody will confirm the demotion: the Failover waits in Demoting
        await west.apply(failover("stuck", "west", [{"name": "web"}]))

        async def demoting():
            s = (await west.failover("shop", "stuck")).get("status") or {}
            assert s.get("phase") == "Demoting", s
            config = await west.store.state.get_group_config("shop", "web")
            assert config.transition is not None and config.transition.failover_name == "stuck"
            return True

        await eventually(demoting, within=10)
        await west.cluster.delete("failover.dev/v1alpha1", "failovers", "shop", "stuck")
        await west.cluster.wait_absent("failover.dev/v1alpha1", "failovers", "shop", "stuck", within=10)
        config = await west.store.state.get_group_config("shop", "web")
        assert config.transition is None and (config.owner, config.epoch) == ("east", 1)
        assert await west.store.operations.is_locked("shop", "web") is None


async def test_a_failover_recreated_under_an_old_name_is_a_new_request(fleet_of, dynamodb, table):
    async with fleet_of("east", "west") as fleet:
        east, west = fleet["east"], fleet["west"]
        await setup_group(fleet, "east")

        async def phase(member, name):
            s = (await member.failover("shop", name)).get("status") or {}
            assert s.get("phase") in ("Succeeded", "Failed"), s
            return s

        await west.apply(failover("to-west", "west", [{"name": "web"}]))
        assert (await eventually(lambda: phase(west, "to-west"), within=15))["phase"] == "Succeeded"
        await east.apply(failover("back", "east", [{"name": "web"}]))
        back = await eventually(lambda: phase(east, "back"), within=15)
        assert back["phase"] == "Succeeded", back.get("message")
        # a day passes: the first record is old news
        (record,) = [
            h for h in await west.store.state.get_failover_history("shop", "web") if h.failover_name == "to-west"
        ]
        await dynamodb.update_item(
            TableName=table,
            Key={"PK": {"S": "GROUP#fleet#shop#web"}, "SK": {"S": record.record_id}},
            UpdateExpression="SET finishedAt = :t",
            ExpressionAttributeValues={":t": {"S": "2020-01-01T00:00:00.000000Z"}},
        )
        await west.cluster.delete("failover.dev/v1alpha1", "failovers", "shop", "to-west")
        await west.cluster.wait_absent("failover.dev/v1alpha1", "failovers", "shop", "to-west", within=10)
        await west.apply(failover("to-west", "west", [{"name": "web"}]))
        again = await eventually(lambda: phase(west, "to-west"), within=15)
        assert again["phase"] == "Succeeded" and again["groups"][0]["epoch"] == 4  # moved again, not "already done"
        await settle(fleet, "west", epoch=4)


async def test_a_deployment_listed_by_a_second_group_is_left_to_the_first(fleet_of):
    """Issue 18, finding 4: group `web` is owned by west; a second group `dup` listing the same Deployment is
    applied, east its owner. East used to scale shop/web up as dup's owner (both clusters ran it for 5 s). The
    group that manages it (its annotation; else the older group) keeps it; `dup` never scales it, and says so."""
    async with fleet_of("east", "west") as fleet:
        east, west = fleet["east"], fleet["west"]
        await setup_group(fleet, "west")
        for member in (east, west):
            await member.apply(group("dup", initialPrimary="east", workloads=[{"kind": "Deployment", "name": "web"}]))

        async def claimed():
            for member in (east, west):
                s = await status_of(member, name="dup")
                cond = {c["type"]: c for c in s.get("conditions", [])}
                assert cond.get("SpecValid", {}).get("reason") == "ResourceClaimed", (member.name, s)
                assert "Deployment/web is managed by FailoverGroup shop/web" in cond["SpecValid"]["message"]
                assert s.get("health") == "ERROR", (member.name, s)
            assert (await east.store.state.get_group_config("shop", "dup")).owner == "east"
            return True

        # Meanwhile, sampled closely: east's copy never comes up, west's never goes down.
        timeout = 2.0  # FAST_TIMING's heartbeat timeout: the decisions of several ticks
        seen: list[tuple[int, int]] = []

        async def watch() -> None:
            while True:
                seen.append((await east.replicas("shop", "web"), await west.replicas("shop", "web")))
                await asyncio.sleep(0.02)

        watching = asyncio.create_task(watch())
        try:
            await eventually(claimed, within=5 * timeout)
            await posted(east, "FailoverGroup", "dup", "ResourceClaimed")
            started = asyncio.get_running_loop().time()
            await eventually(lambda: asyncio.get_running_loop().time() - started > timeout, within=3 * timeout)
        finally:
            watching.cancel()
        assert seen and set(seen) == {(0, 3)}, sorted(set(seen))
        await settle(fleet, "west")  # `web` itself is untouched
