"""Failover CRs executed by the real operators: modes, force, suspension, duplicates across clusters."""

from __future__ import annotations

import pytest

from harness.cluster import eventually

from .helpers import events, failover_status, kubectl, phases_of, posted, settle, setup_group, status_of
from .manifests import failover


async def wait_phase(member, name, phases=("Succeeded", "Failed"), within=15):
    async def check():
        s = await failover_status(member, name)
        assert s.get("phase") in phases, s
        return s

    return await eventually(check, within=within)


@pytest.mark.parametrize("mode", ["CONSISTENCY", "UPTIME"])
async def test_planned_failover_moves_ownership_replicas_and_epoch(fleet_of, mode):
    async with fleet_of("east", "west", startup_seconds=0.3) as fleet:
        east, west = fleet["east"], fleet["west"]
        await setup_group(fleet, "east")
        seen_phases = set()

        await west.apply(failover("to-west", "west", [{"name": "web"}], mode=mode, reason="drill"))

        async def done():
            s = await failover_status(west, "to-west")
            seen_phases.add(s.get("phase"))
            assert s.get("phase") in ("Succeeded", "Failed"), s
            return s

        status = await eventually(done, within=20)
        assert status["phase"] == "Succeeded", status.get("message")
        await settle(fleet, "west", epoch=2)
        (g,) = status["groups"]
        assert (g["sourceCluster"], g["targetCluster"], g["epoch"], g["phase"]) == ("east", "west", 2, "Succeeded")
        assert status["executedBy"] == "west" and status["durationSeconds"] > 0
        assert g["transferredTime"] and g["promotedTime"] and status["startTime"] and status["completionTime"]
        if mode == "CONSISTENCY":
            assert g["demotedTime"]
            assert "Demoting" in seen_phases or g["demotedTime"]
            # the new pods took 0.3 s to start after the old ones were gone: downtime is measured, not zero
            assert 0.25 <= status["measuredDowntimeSeconds"] < 5
        else:
            assert status["measuredDowntimeSeconds"] < 1
        (record,) = await east.store.state.get_failover_history("shop", "web")
        assert (record.failover_name, record.source_cluster, record.target_cluster, record.epoch) == (
            "to-west",
            "east",
            "west",
            2,
        )
        assert record.mode.value == mode and record.reason == "drill"
        assert record.downtime_seconds == g["downtimeSeconds"]
        await posted(west, "Failover", "to-west", "FailoverSucceeded")
        demoted = "DemotingForFailover" if mode == "CONSISTENCY" else "Demoted"
        await posted(east, "FailoverGroup", "web", demoted)
        await posted(west, "FailoverGroup", "web", "Promoted")
        # failback: a Failover to the previous owner
        await east.apply(failover("back", "east", [{"name": "web"}], mode=mode))
        assert (await wait_phase(east, "back"))["phase"] == "Succeeded"
        await settle(fleet, "east", epoch=3)


async def test_a_drain_too_quick_for_the_executor_to_see_is_still_dated(fleet_of):
    """The executor reads every 3 s; the owner drains, the target transfers and the owner reports STANDBY again
    between two of its reads, so it never sees the FAILOVER report. The transfer required it: the Failover still
    says when the owner stopped (no later than our last read that did not see it) and measures the downtime
    from then, not from the transfer. (The ship story lost `demotedTime` this way once moves got faster.)"""
    async with fleet_of("east", "west", startup_seconds=0.3, failover_poll_seconds=3.0) as fleet:
        west = fleet["west"]
        await setup_group(fleet, "east")
        await west.apply(failover("quick", "west", [{"name": "web"}], reason="drill"))
        status = await wait_phase(west, "quick", within=30)
        assert status["phase"] == "Succeeded", status.get("message")
        (g,) = status["groups"]
        assert g["demotedTime"] <= g["transferredTime"] <= g["promotedTime"]
        assert "measured from the transfer" not in (status.get("message") or "")
        assert status["measuredDowntimeSeconds"] >= 0.25  # the new pods took 0.3 s after the old ones were gone


async def test_forced_failover_with_a_silent_owner(fleet_of):
    async with fleet_of("east", "west") as fleet:
        east, west = fleet["east"], fleet["west"]
        quick = {"heartbeat": "2s", "unhealthyPrimary": "3s", "transitoryState": "3s"}
        await setup_group(fleet, "east", autoFailover=False, timeouts=quick)
        await east.stop()  # east's operator is gone: nobody answers for east

        await west.apply(failover("refused", "west", [{"name": "web"}]))
        refused = await wait_phase(west, "refused", within=20)
        assert refused["phase"] == "Failed"
        assert "east did not confirm it had stopped serving shop/web within 3s" in refused["message"]
        assert "force: true" in refused["message"]
        assert (await status_of(west)).get("owner") == "east"

        await west.apply(failover("forced", "west", [{"name": "web"}], force=True, reason="east is down"))
        forced = await wait_phase(west, "forced")
        assert forced["phase"] == "Succeeded", forced.get("message")
        (g,) = forced["groups"]
        assert g["epoch"] == 2
        assert await west.replicas("shop", "web") == 3
        (record,) = [h for h in await west.store.state.get_failover_history("shop", "web") if h.moved]
        assert record.forced and record.failover_name == "forced"


async def test_suspension_blocks_a_planned_failover_but_not_a_forced_one(fleet_of):
    async with fleet_of("east", "west") as fleet:
        east, west = fleet["east"], fleet["west"]
        await setup_group(fleet, "east")
        await east.cluster.patch(
            "failover.dev/v1alpha1",
            "failovergroups",
            "shop",
            "web",
            {"spec": {"suspended": True, "suspensionReason": "database migration"}},
        )

        async def suspended_everywhere():
            for m in fleet:
                s = await status_of(m)
                assert s.get("suspended") is True and s.get("suspensionReason") == "database migration", m.name
                assert any(c["type"] == "Suspended" and c["status"] == "True" for c in s.get("conditions", []))
            return True

        await eventually(suspended_everywhere, within=10)
        config = await west.store.state.get_group_config("shop", "web")
        assert config.suspended and config.suspension_reason == "database migration"

        await west.apply(failover("blocked", "west", [{"name": "web"}]))
        blocked = await wait_phase(west, "blocked")
        assert blocked["phase"] == "Failed"
        assert "suspended (database migration)" in blocked["message"]
        # `kubectl wait --for=condition=Succeeded` must not take a failure for success (Complete only says "over")
        conditions = {c["type"]: c["status"] for c in blocked["conditions"]}
        assert conditions == {"Complete": "True", "Succeeded": "False", "Failed": "True"}
        # What the README says of `kubectl wait`, with the real kubectl (--timeout=0s: look once, do not wait)
        for condition, met in (("Complete", True), ("Failed", True), ("Succeeded", False)):
            waited = await kubectl(west.cluster, "wait", f"--for=condition={condition}", "--timeout=0s",
                                   "-n", "shop", "failover/blocked")  # fmt: skip
            assert (waited.returncode == 0) == met, (condition, waited.stdout, waited.stderr)
        await posted(west, "Failover", "blocked", "FailoverFailed")
        assert (await status_of(east)).get("owner") == "east"

        await west.apply(failover("override", "west", [{"name": "web"}], force=True))
        assert (await wait_phase(west, "override"))["phase"] == "Succeeded"
        await settle(fleet, "west", epoch=2)


async def test_a_failover_applied_in_every_cluster_runs_once(fleet_of):
    async with fleet_of("east", "west", "north") as fleet:
        await setup_group(fleet, "east")
        manifest = failover("everywhere", "west", [{"name": "web", "namespace": "shop"}])
        await fleet.apply_everywhere(manifest)
        for m in fleet:
            s = await wait_phase(m, "everywhere")
            assert s["phase"] == "Succeeded", (m.name, s.get("message"))
            assert s["groups"][0]["epoch"] == 2
        history = await fleet["north"].store.state.get_failover_history("shop", "web")
        assert [h.failover_name for h in history] == ["everywhere"]
        config = await fleet["north"].store.state.get_group_config("shop", "web")
        assert (config.owner, config.epoch) == ("west", 2)
        await settle(fleet, "west", epoch=2)


async def test_a_failover_that_cannot_proceed_says_why(fleet_of):
    async with fleet_of("east", "west") as fleet:
        east, west = fleet["east"], fleet["west"]
        await setup_group(fleet, "east")
        async with phases_of(west, "nowhere") as phases:
            await west.apply(failover("nowhere", "north", [{"name": "web"}]))
            s = await wait_phase(west, "nowhere")
        assert s["phase"] == "Failed" and "north has never reported status" in s["message"]
        assert phases == ["Validating", "Failed"]  # never a step it did not take (it once showed Promoting)
        await west.apply(failover("ghost", "west", [{"name": "nothing"}]))
        s = await wait_phase(west, "ghost")
        assert s["phase"] == "Failed" and "not registered" in s["message"]
        await west.apply(failover("noop", "east", [{"name": "web"}]))
        s = await wait_phase(west, "noop")
        assert s["phase"] == "Succeeded" and "already owns" in s["groups"][0]["message"]
        assert await east.store.state.get_failover_history("shop", "web") == []


async def test_a_dry_run_validates_or_fails_with_the_reasons_and_changes_nothing(fleet_of):
    async with fleet_of("east", "west", startup_seconds=0.3) as fleet:
        east, west = fleet["east"], fleet["west"]
        await setup_group(fleet, "east")

        async def readiness():
            said = {}
            for member in (east, west):
                s = await status_of(member)
                said[member.name] = next(
                    (c["status"], c["reason"]) for c in s.get("conditions", []) if c["type"] == "ReadyToTakeOver"
                )
            assert said == {"east": ("False", "Owner"), "west": ("True", "Ready")}, said
            return said

        await eventually(readiness, within=10)

        await west.apply(failover("check", "west", [{"name": "web"}], dryRun=True, reason="would it?"))
        status = await wait_phase(west, "check", phases=("Validated", "Failed"))
        assert status["phase"] == "Validated", status.get("message")
        (g,) = status["groups"]
        assert (g["phase"], g["sourceCluster"], g["epoch"]) == ("Validated", "east", 1)
        assert "would start" in g["message"] and "east scales its resources down" in g["message"]
        conditions = {c["type"]: c["status"] for c in status["conditions"]}
        assert conditions == {"Complete": "True", "Validated": "True", "Failed": "False"}
        assert status["duration"].endswith("s")

        await west.apply(failover("check-north", "north", [{"name": "web"}], dryRun=True))
        refused = await wait_phase(west, "check-north", phases=("Validated", "Failed"))
        assert refused["phase"] == "Failed" and "north has never reported status" in refused["message"]
        assert {c["type"]: c["status"] for c in refused["conditions"]}["Failed"] == "True"

        # Nothing moved, nothing was recorded: the owner, the epoch and the history are as they were
        state = await east.store.state.get_group_state("shop", "web")
        assert (state.config.owner, state.config.epoch, state.config.transition, state.history) == ("east", 1, None, [])
        await settle(fleet, "east", epoch=1)
        await posted(west, "Failover", "check", "FailoverValidated")
        (validated,) = [e for e in await events(west) if e.get("reason") == "FailoverValidated"]
        assert validated["source"]["component"] == "failover-operator"  # `kubectl describe` shows it as From
