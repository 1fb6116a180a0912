"""Automatic failover and self-fencing, with the real operators: a silent owner, an unreachable DynamoDB."""

from __future__ import annotations

import asyncio

from harness.cluster import eventually
from harness.fleet import start_member

from .helpers import fencing_then_takeover, posted, settle, setup_group, status_of
from .manifests import FAST_TIMING


async def test_a_standby_takes_over_from_a_silent_owner_and_the_owner_demotes_when_back(fleet_of):
    async with fleet_of("east", "west") as fleet:
        east, west = fleet["east"], fleet["west"]
        await setup_group(fleet, "east")
        await east.stop()  # east's operator dies; its workloads keep running, its heartbeat stops

        async def took_over():
            config = await west.store.state.get_group_config("shop", "web")
            assert (config.owner, config.epoch) == ("west", 2)
            assert await west.replicas("shop", "web") == 3
            return True

        await eventually(took_over, within=15)
        (record,) = await west.store.state.get_failover_history("shop", "web")
        assert record.automatic and record.source_cluster == "east" and record.target_cluster == "west"
        assert "heartbeat has not changed" in record.reason
        await posted(west, "FailoverGroup", "web", "AutomaticFailover")

        await start_member(east)  # east comes back: it reads the config and stands down
        await settle(fleet, "west", epoch=2)

        async def steady():  # the tick after the demotion reports the steady state
            decision = (await status_of(east)).get("decision", "")
            assert decision.startswith("no action: I am east, STANDBY"), decision
            return True

        await eventually(steady, within=5)


async def test_an_owner_that_cannot_reach_dynamodb_fences_itself_before_anyone_takes_over(fleet_of, proxy):
    async with fleet_of("east", "west", dynamodb_endpoints={"east": proxy.endpoint}) as fleet:
        east, west = fleet["east"], fleet["west"]
        await setup_group(fleet, "east")
        proxy.down = True  # east is cut off from DynamoDB (but not from its own cluster)
        assert await fencing_then_takeover(east, west) == ["fenced", "taken"]  # east was down before west took over
        s = await status_of(east)
        assert s["role"] == "FENCED"
        assert any(c["type"] == "Fenced" and c["status"] == "True" for c in s["conditions"])
        await posted(east, "FailoverGroup", "web", "Fenced")

        proxy.down = False  # back: east learns it lost the group and stays down as a standby
        await settle(fleet, "west", epoch=2)


async def test_an_owner_counts_its_fencing_deadline_from_when_its_last_heartbeat_was_sent(fleet_of, proxy):
    """Standbys count from when the owner's last heartbeat landed, which may be long before its answer came
    back. An owner that counted from the answer would still be serving when a standby takes over."""
    async with fleet_of(
        "east",
        "west",
        dynamodb_endpoints={"east": proxy.endpoint},
        member_settings={"east": {"self_fence_fraction": 0.8}},  # east fences after 4s of the 5s timeout
    ) as fleet:
        east, west = fleet["east"], fleet["west"]
        await setup_group(fleet, "east", timeouts={**FAST_TIMING["timeouts"], "heartbeat": "5s"})

        async def answer_late_then_cut_off(_body):
            await asyncio.sleep(1.7)  # the heartbeat has landed; its answer takes 1.7s to come back
            proxy.down = True

        proxy.after("UpdateItem", answer_late_then_cut_off)
        assert await fencing_then_takeover(east, west) == ["fenced", "taken"]  # east was down before west took over


async def test_a_fenced_owner_that_still_owns_the_group_resumes(fleet_of, proxy):
    async with fleet_of("east", "west", dynamodb_endpoints={"east": proxy.endpoint}) as fleet:
        east = fleet["east"]
        await setup_group(fleet, "east", autoFailover=False)  # nobody will take over meanwhile
        proxy.down = True

        async def fenced():
            assert await east.replicas("shop", "web") == 0
            return True

        await eventually(fenced, within=10)
        proxy.down = False
        await settle(fleet, "east", epoch=1)
        assert (await status_of(east)).get("role") == "PRIMARY"


async def test_a_suspended_group_is_never_failed_over_automatically(fleet_of):
    async with fleet_of("east", "west") as fleet:
        east, west = fleet["east"], fleet["west"]
        await setup_group(fleet, "east", suspended=True, suspensionReason="freeze")
        await east.stop()

        async def noticed():
            s = await status_of(west)
            assert "suspended (freeze): no automatic failover" in s.get("decision", ""), s.get("decision")
            return True

        await eventually(noticed, within=10)
        config = await west.store.state.get_group_config("shop", "web")
        assert (config.owner, config.epoch) == ("east", 1)
        assert await west.replicas("shop", "web") == 0


async def test_three_standbys_one_takeover(fleet_of):
    async with fleet_of("east", "west", "north", "south") as fleet:
        await setup_group(fleet, "east", clusterPriority=["south", "north", "west"])
        await fleet["east"].stop()

        async def took_over():
            config = await fleet["west"].store.state.get_group_config("shop", "web")
            assert config.owner != "east"
            return config

        config = await eventually(took_over, within=15)
        assert (config.owner, config.epoch) == ("south", 2)  # the priority list decides who goes first
        history = await fleet["west"].store.state.get_failover_history("shop", "web")
        assert len(history) == 1

        async def others_stand_by():
            for name in ("west", "north"):
                assert await fleet[name].replicas("shop", "web") == 0
            assert await fleet["south"].replicas("shop", "web") == 3
            return True

        await eventually(others_stand_by, within=5)


async def test_an_owner_restarted_during_a_dynamodb_outage_fences_instead_of_serving_blind(fleet_of, proxy):
    async with fleet_of("east", "west", dynamodb_endpoints={"east": proxy.endpoint}) as fleet:
        east, west = fleet["east"], fleet["west"]
        await setup_group(fleet, "east")
        await east.stop()
        proxy.down = True
        await start_member(east)  # a fresh process: it remembers nothing but what its resources say

        async def fenced():
            assert await east.replicas("shop", "web") == 0
            assert (await status_of(east)).get("role") == "FENCED"
            return True

        await eventually(fenced, within=10)

        async def taken():
            assert (await west.store.state.get_group_config("shop", "web")).owner == "west"
            return True

        await eventually(taken, within=15)
        proxy.down = False
        await settle(fleet, "west", epoch=2)
