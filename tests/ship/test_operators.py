"""What two real `failover-operator run` processes (and their watchdogs) did on real API servers, as the chart's
ServiceAccounts: the story of tests/ship/scenario.py (bootstrap, planned failovers in every mode, suspension,
SIGKILL of the owner's operator, SIGSTOP of the next owner's, each fenced by its watchdog; restart, deletion
hand-over, SIGTERM), and what kubectl printed on the way."""

from __future__ import annotations

import re

import pytest

from . import scenario


def rows(printed: str) -> list[list[str]]:
    """kubectl's table, split into cells (columns are separated by two or more spaces)."""
    return [re.split(r"\s{2,}", line.strip()) for line in printed.strip().splitlines()]


def test_bootstrap_the_initial_primary_serves_and_the_other_stands_by(clusterwide: scenario.Recording) -> None:
    facts = clusterwide.facts
    for cluster, role in (("east", "PRIMARY"), ("west", "STANDBY")):
        header, row = rows(facts[f"kubectl get fg ({cluster})"])
        assert header == ["NAME", "OWNER", "ROLE", "HEALTH", "SUSPENDED", "EPOCH", "AGE"]
        assert row[:6] == ["web", "east", role, "OK", "false", "1"], row
    annotations = facts["standby annotations"]
    assert annotations["failover.dev/replicas"] == "2" and annotations["failover.dev/role"] == "STANDBY"
    assert annotations["failover.dev/group"] == "shop/web" and annotations["failover.dev/epoch"] == "1"


def test_kubectl_shows_the_decision_and_every_cluster(clusterwide: scenario.Recording) -> None:
    header, row = rows(clusterwide.facts["kubectl get fg -o wide"])
    assert header[-1] == "DECISION"
    assert row[-1].startswith(("promoting: east", "no action: I am east, PRIMARY of shop/web at epoch 1")), row
    described = clusterwide.facts["kubectl describe fg"]
    for line in (r"Owner:\s+east", r"Role:\s+PRIMARY", r"Type:\s+Ready", r"Type:\s+SpecValid"):
        assert re.search(line, described), described
    clusters = described.split("  Clusters:", 1)[1].split("  Conditions:", 1)[0]
    for name, role in (("east", "PRIMARY"), ("west", "STANDBY")):
        assert re.search(rf"Name:\s+{name}\n\s+Observed Epoch:\s+1\n\s+Role:\s+{role}\n", clusters), clusters
    assert re.search(r"Last Heartbeat:\s+\d{4}-", clusters), clusters
    assert "Heartbeat Age" not in clusters and "Silent Since" not in clusters  # an age frozen in a status misleads


def test_a_planned_consistency_failover_demotes_transfers_and_promotes(clusterwide: scenario.Recording) -> None:
    status = clusterwide.facts["to-west"]
    assert status["phase"] == "Succeeded", status.get("message")
    (group,) = status["groups"]
    assert (group["sourceCluster"], group["targetCluster"], group["epoch"]) == ("east", "west", 2)
    assert group["demotedTime"] <= group["transferredTime"] <= group["promotedTime"]
    assert status["executedBy"] == "west" and status["measuredDowntimeSeconds"] >= 0
    header, row = rows(clusterwide.facts["kubectl get fo"])
    assert header == ["NAME", "PHASE", "TARGET", "MODE", "DURATION", "AGE"]
    assert row[:4] == ["to-west", "Succeeded", "west", "CONSISTENCY"], row


def test_an_uptime_failover_has_no_gap(clusterwide: scenario.Recording) -> None:
    status = clusterwide.facts["back"]
    assert status["phase"] == "Succeeded", status.get("message")
    (group,) = status["groups"]
    assert (group["sourceCluster"], group["targetCluster"], group["epoch"]) == ("west", "east", 3)
    assert "demotedTime" not in group  # the old owner stopped only after the new one was ready
    assert status["measuredDowntimeSeconds"] < 1


def test_a_suspended_group_refuses_a_failover_but_not_a_forced_one(clusterwide: scenario.Recording) -> None:
    refused = clusterwide.facts["refused"]
    assert refused["phase"] == "Failed"
    assert "shop/web is suspended (database migration): only a forced failover may move it" in refused["message"]
    forced = clusterwide.facts["forced"]
    assert forced["phase"] == "Succeeded", forced.get("message")
    assert forced["groups"][0]["epoch"] == 4 and forced["groups"][0]["sourceCluster"] == "east"


def test_a_killed_owner_is_taken_over_automatically(clusterwide: scenario.Recording) -> None:
    record = clusterwide.facts["takeover"]
    assert record.automatic and (record.source_cluster, record.target_cluster, record.epoch) == ("west", "east", 5)
    assert "heartbeat has not changed" in record.reason


@pytest.mark.parametrize("signal", ["SIGKILL", "SIGSTOP"])
@pytest.mark.parametrize("mode", ["clusterwide", "namespaced"])
def test_the_watchdog_stops_a_dead_or_frozen_owner_before_the_standby_starts(
    signal: str, mode: str, request: pytest.FixtureRequest
) -> None:
    """The owner's operator killed (SIGKILL) or frozen (SIGSTOP): its watchdog scales its Deployment to zero
    before the other cluster's is scaled up (both read every 20 ms from the test)."""
    order = request.getfixturevalue(mode).facts[signal]
    stopped, started = order["stopped at zero"], order["started above zero"]
    assert stopped is not None, f"the owner's copy kept serving: {order}"
    assert started is not None, f"the standby never served: {order}"
    assert stopped < started, f"both served at once: {order}"


def test_the_watchdog_says_what_it_did(clusterwide: scenario.Recording) -> None:
    (message,) = clusterwide.facts["watchdog events"]
    assert "shop/web" in message and "operator is gone or frozen" in message, message


def test_deleting_the_group_in_the_owner_hands_it_over_and_the_last_one_cleans_up(
    clusterwide: scenario.Recording,
) -> None:
    assert clusterwide.facts["after hand-over"] == 0  # the leaving owner scaled its copy down
    assert clusterwide.facts["records left"] is None


def test_both_operators_stop_cleanly_on_sigterm(
    clusterwide: scenario.Recording, namespaced: scenario.Recording
) -> None:
    for recording in (clusterwide, namespaced):
        assert recording.facts["exit codes"] == {"east": 0, "west": 0}
        assert recording.facts["watchdog exit codes"] == {"east": 0, "west": 0}


def test_a_namespaced_operator_lives_the_same_story(namespaced: scenario.Recording) -> None:
    assert namespaced.facts["to-west"]["phase"] == "Succeeded"
    assert namespaced.facts["takeover"].automatic and namespaced.facts["takeover"].epoch == 3
    assert namespaced.facts["records left"] is None
