"""The CR models as the operator uses them: parsing what kopf delivers, defaults, durations, conditions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from failover_operator.api import (
    FAILOVER,
    FAILOVER_GROUP,
    ClusterReport,
    ClusterState,
    Condition,
    ConditionStatus,
    ConditionType,
    FailoverGroupSpec,
    FailoverGroupStatus,
    FailoverMode,
    FailoverSpec,
    FailoverStatus,
    FluxKind,
    GroupProgress,
    GroupRef,
    Health,
    LastFailover,
    Phase,
    Role,
    WorkloadKind,
    WorkloadRef,
    find_condition,
    format_duration,
    make_condition,
    merge_conditions,
    parse_duration,
    set_condition,
    validation_message,
)
from failover_operator.model import HistoryRecord, Timeouts

T0 = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)


class FrozenMapping(Mapping[str, Any]):
    """Like kopf's Spec: a read-only mapping, not a dict."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


FULL_GROUP_SPEC: dict[str, Any] = {
    "initialPrimary": "east",
    "suspended": True,
    "suspensionReason": "maintenance",
    "heartbeatInterval": "2s",
    "timeouts": {"heartbeat": "10s", "unhealthyPrimary": "1m30s", "transitoryState": "10m"},
    "autoFailover": False,
    "clusterPriority": ["west", "east"],
    "workloads": [{"kind": "Deployment", "name": "web"}, {"kind": "CronJob", "name": "report"}],
    "networkResources": [{"kind": "Ingress", "name": "web"}],
    "fluxResources": [{"kind": "HelmRelease", "name": "web", "triggerReconcile": True}],
}


# --- FailoverGroup spec --------------------------------------------------------------------------------


def test_minimal_group_spec_gets_every_default() -> None:
    spec = FailoverGroupSpec.model_validate(FrozenMapping({"workloads": [{"kind": "Deployment", "name": "web"}]}))
    assert spec.initial_primary is None
    assert spec.suspended is False
    assert spec.suspension_reason is None
    assert spec.heartbeat_interval == "5s"
    assert (spec.timeouts.heartbeat, spec.timeouts.unhealthy_primary, spec.timeouts.transitory_state) == (
        "15s",
        "60s",
        "5m",
    )
    assert spec.auto_failover is True
    assert spec.cluster_priority is None
    assert spec.workloads == [WorkloadRef(kind=WorkloadKind.DEPLOYMENT, name="web")]
    assert spec.network_resources == [] and spec.flux_resources == []
    assert spec.durations() == (5.0, 15.0, 60.0, 300.0)
    assert spec.store_timeouts() == Timeouts()


def test_empty_timeouts_object_gets_nested_defaults() -> None:
    spec = FailoverGroupSpec.model_validate({"timeouts": {"heartbeat": "30s"}})
    assert spec.timeouts.heartbeat == "30s"
    assert spec.timeouts.unhealthy_primary == "60s"


def test_full_group_spec_parses_from_camel_case() -> None:
    spec = FailoverGroupSpec.model_validate(FULL_GROUP_SPEC)
    assert spec.initial_primary == "east"
    assert spec.suspended and spec.suspension_reason == "maintenance"
    assert spec.auto_failover is False
    assert spec.cluster_priority == ["west", "east"]
    assert spec.flux_resources[0].kind is FluxKind.HELM_RELEASE and spec.flux_resources[0].trigger_reconcile
    assert spec.durations()._asdict() == {
        "heartbeat_interval": 2.0,
        "heartbeat": 10.0,
        "unhealthy_primary": 90.0,
        "transitory_state": 600.0,
    }
    assert spec.store_timeouts() == Timeouts(heartbeat=10.0, unhealthy_primary=90.0, transitory_state=600.0)
    # and back: to_dict() is the camelCase object again
    assert spec.to_dict() == FULL_GROUP_SPEC


def test_snake_case_names_work_too() -> None:
    spec = FailoverGroupSpec(heartbeat_interval="1s", auto_failover=False)
    assert spec.heartbeat_interval == "1s" and not spec.auto_failover


def test_spec_is_frozen() -> None:
    spec = FailoverGroupSpec()
    with pytest.raises(ValidationError):
        spec.suspended = True  # type: ignore[misc]


def test_heartbeat_interval_must_be_shorter_than_heartbeat_timeout() -> None:
    with pytest.raises(ValidationError) as caught:
        FailoverGroupSpec.model_validate({"heartbeatInterval": "15s"})
    message = validation_message(caught.value)
    assert "heartbeatInterval (15s)" in message
    assert "timeouts.heartbeat (15s)" in message
    assert "must be shorter" in message
    with pytest.raises(ValidationError, match="heartbeatInterval"):
        FailoverGroupSpec.model_validate({"heartbeatInterval": "1m", "timeouts": {"heartbeat": "30s"}})
    FailoverGroupSpec.model_validate({"heartbeatInterval": "29s", "timeouts": {"heartbeat": "30s"}})


@pytest.mark.parametrize("bad", ["15 seconds", "15", "s", "", "1d", "-5s", "1.s", "5S", " 5s"])
def test_bad_durations_are_rejected_with_a_clear_message(bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        FailoverGroupSpec.model_validate({"timeouts": {"heartbeat": bad}})
    message = validation_message(caught.value)
    assert message.startswith("spec.timeouts.heartbeat:"), message


@pytest.mark.parametrize("zero", ["0s", "0ms", "0h0m"])
def test_durations_must_be_positive(zero: str) -> None:
    with pytest.raises(ValidationError, match="greater than zero"):
        FailoverGroupSpec.model_validate({"timeouts": {"unhealthyPrimary": zero}})


@pytest.mark.parametrize(
    ("field", "entries"),
    [
        ("workloads", [{"kind": "Deployment", "name": "web"}, {"kind": "Deployment", "name": "web"}]),
        ("networkResources", [{"kind": "Ingress", "name": "web"}, {"kind": "Ingress", "name": "web"}]),
        (
            "fluxResources",
            [
                {"kind": "Kustomization", "name": "app"},
                {"kind": "Kustomization", "name": "app", "triggerReconcile": True},
            ],
        ),
    ],
)
def test_duplicate_resources_are_rejected(field: str, entries: list[dict[str, Any]]) -> None:
    with pytest.raises(ValidationError) as caught:
        FailoverGroupSpec.model_validate({field: entries})
    assert f"spec.{field}: listed more than once" in validation_message(caught.value)


def test_same_name_with_different_kinds_is_fine() -> None:
    spec = FailoverGroupSpec.model_validate(
        {"workloads": [{"kind": "Deployment", "name": "web"}, {"kind": "StatefulSet", "name": "web"}]}
    )
    assert len(spec.workloads) == 2


def test_duplicate_cluster_priority_is_rejected() -> None:
    with pytest.raises(ValidationError, match="listed more than once: east"):
        FailoverGroupSpec.model_validate({"clusterPriority": ["east", "west", "east"]})


@pytest.mark.parametrize("name", ["a#b", "-east", "east-", "", "x" * 64, "has space"])
def test_bad_cluster_names_are_rejected(name: str) -> None:
    with pytest.raises(ValidationError):
        FailoverGroupSpec.model_validate({"initialPrimary": name})


@pytest.mark.parametrize("name", ["east", "eu-west-1", "prod_a.b", "A1", "x" * 63])
def test_good_cluster_names_are_accepted(name: str) -> None:
    assert FailoverGroupSpec.model_validate({"initialPrimary": name}).initial_primary == name


def test_bad_workload_kind_and_name_are_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        FailoverGroupSpec.model_validate({"workloads": [{"kind": "DaemonSet", "name": "Web"}]})
    message = validation_message(caught.value)
    assert "spec.workloads[0].kind:" in message
    assert "spec.workloads[0].name:" in message


# --- durations -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15), ("2m", 120), ("1h30m", 5400), ("500ms", 0.5), ("1.5h", 5400), ("1m30.5s", 90.5), ("0s", 0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["15 seconds", "15", "", "1d", "-1s", ".5s", "1h 30m", "9999999999h"])
def test_parse_duration_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.5, "500ms"), (15, "15s"), (90, "1m30s"), (90.5, "1m30.5s"), (5400, "1h30m"), (3600.25, "1h250ms")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5s", "15s", "60s", "5m", "1h30m", "500ms", "2h", "1m0.001s"])
def test_duration_round_trip(text: str) -> None:
    seconds = parse_duration(text)
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


def test_format_duration_rejects_negative() -> None:
    with pytest.raises(ValueError):
        format_duration(-1)


# --- Failover spec -------------------------------------------------------------------------------------


def test_failover_spec_defaults() -> None:
    spec = FailoverSpec.model_validate(FrozenMapping({"targetCluster": "west", "failoverGroups": [{"name": "web"}]}))
    assert spec.target_cluster == "west"
    assert spec.failover_groups == [GroupRef(name="web")]
    assert spec.mode is FailoverMode.CONSISTENCY
    assert spec.force is False
    assert spec.reason is None
    assert spec.group_keys("shop") == [("shop", "web")]


def test_failover_spec_full() -> None:
    spec = FailoverSpec.model_validate(
        {
            "targetCluster": "west",
            "failoverGroups": [{"name": "web", "namespace": "shop"}, {"name": "db"}],
            "mode": "UPTIME",
            "force": True,
            "reason": "east is being drained",
        }
    )
    assert spec.mode is FailoverMode.UPTIME and spec.force
    assert spec.group_keys("ops") == [("shop", "web"), ("ops", "db")]


@pytest.mark.parametrize(
    "spec",
    [
        {"failoverGroups": [{"name": "web"}]},  # no target
        {"targetCluster": "west", "failoverGroups": []},
        {"targetCluster": "west"},
        {"targetCluster": "west", "failoverGroups": [{"name": "web"}], "mode": "FAST"},
        {"targetCluster": "we#st", "failoverGroups": [{"name": "web"}]},
        {"targetCluster": "west", "failoverGroups": [{"namespace": "shop"}]},
        {"targetCluster": "west", "failoverGroups": [{"name": "web"}, {"name": "web"}]},
    ],
)
def test_bad_failover_specs_are_rejected(spec: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FailoverSpec.model_validate(spec)


def test_group_listed_twice_once_namespaces_resolve() -> None:
    spec = FailoverSpec.model_validate(
        {"targetCluster": "west", "failoverGroups": [{"name": "web"}, {"name": "web", "namespace": "shop"}]}
    )
    assert spec.group_keys("other") == [("other", "web"), ("shop", "web")]
    with pytest.raises(ValueError, match="shop/web"):
        spec.group_keys("shop")


def test_phase_terminal() -> None:
    assert {p for p in Phase if p.terminal} == {Phase.SUCCEEDED, Phase.FAILED, Phase.VALIDATED}


def test_resource_kinds() -> None:
    assert FAILOVER_GROUP.crd_name == "failovergroups.failover.dev"
    assert FAILOVER.crd_name == "failovers.failover.dev"
    assert FAILOVER.api_version == "failover.dev/v1alpha1"


# --- conditions ----------------------------------------------------------------------------------------


def test_make_condition_from_bool_truncates_to_seconds() -> None:
    c = make_condition(
        ConditionType.READY, True, "Converged", "ok", now=T0.replace(microsecond=5), observed_generation=3
    )
    assert c.status is ConditionStatus.TRUE
    assert c.last_transition_time == T0
    assert c.to_dict() == {
        "type": "Ready",
        "status": "True",
        "reason": "Converged",
        "message": "ok",
        "lastTransitionTime": "2026-05-06T07:08:09Z",
        "observedGeneration": 3,
    }


def test_set_condition_keeps_transition_time_when_status_unchanged() -> None:
    first = [make_condition(ConditionType.READY, True, "Converged", now=T0)]
    later = T0 + timedelta(minutes=5)
    same = set_condition(first, make_condition(ConditionType.READY, True, "StillConverged", "new message", now=later))
    assert same[0].last_transition_time == T0
    assert (same[0].reason, same[0].message) == ("StillConverged", "new message")
    changed = set_condition(same, make_condition(ConditionType.READY, False, "Degraded", now=later))
    assert changed[0].last_transition_time == later
    assert first[0].reason == "Converged"  # pure: the input list is untouched


def test_merge_conditions_appends_new_types_and_keeps_order() -> None:
    old = [
        make_condition(ConditionType.READY, True, "Converged", now=T0),
        make_condition(ConditionType.FENCED, False, "HeartbeatOk", now=T0),
    ]
    later = T0 + timedelta(seconds=30)
    merged = merge_conditions(
        old,
        [
            make_condition(ConditionType.FENCED, True, "HeartbeatLost", now=later),
            make_condition(ConditionType.SUSPENDED, False, "NotSuspended", now=later),
            make_condition(ConditionType.READY, True, "Converged", now=later),
        ],
    )
    assert [c.type for c in merged] == ["Ready", "Fenced", "Suspended"]
    assert find_condition(merged, ConditionType.READY).last_transition_time == T0  # type: ignore[union-attr]
    assert find_condition(merged, ConditionType.FENCED).last_transition_time == later  # type: ignore[union-attr]
    assert find_condition(merged, ConditionType.DEGRADED) is None


def test_condition_reason_must_be_camel_case() -> None:
    with pytest.raises(ValidationError):
        make_condition(ConditionType.READY, True, "not a reason", now=T0)


def test_conditions_parse_from_the_api_server() -> None:
    status = FailoverGroupStatus.model_validate(
        {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "Unknown",
                    "reason": "Starting",
                    "lastTransitionTime": "2026-05-06T07:08:09Z",
                }
            ]
        }
    )
    assert status.conditions == [
        Condition(type="Ready", status=ConditionStatus.UNKNOWN, reason="Starting", last_transition_time=T0)
    ]


# --- status --------------------------------------------------------------------------------------------


def test_group_status_dump_and_merge_patch() -> None:
    status = FailoverGroupStatus(
        owner="east",
        role=Role.PRIMARY,
        epoch=7,
        health=Health.OK,
        suspended=False,
        clusters=[
            ClusterReport(name="east", role=ClusterState.PRIMARY, health=Health.OK, heartbeat_age=format_duration(3)),
            ClusterReport(name="west", role=ClusterState.STANDBY, last_heartbeat=T0),
        ],
        decision="no action: I am east, PRIMARY of shop/web at epoch 7",
        conditions=[make_condition(ConditionType.READY, True, "Converged", now=T0)],
        observed_generation=2,
    )
    as_dict = status.to_dict()
    assert as_dict["clusters"][0] == {"name": "east", "role": "PRIMARY", "health": "OK", "heartbeatAge": "3s"}
    assert as_dict["clusters"][1] == {"name": "west", "role": "STANDBY", "lastHeartbeat": "2026-05-06T07:08:09Z"}
    assert "message" not in as_dict and "lastFailover" not in as_dict
    assert FailoverGroupStatus.model_validate(as_dict) == status

    patch = status.to_merge_patch()
    assert patch["message"] is None and patch["lastFailover"] is None and patch["suspensionReason"] is None
    assert patch["clusters"] == as_dict["clusters"]  # list items: no nulls
    assert patch["decision"] == status.decision


def test_last_failover_from_history() -> None:
    record = HistoryRecord(
        failover_name="move-web",
        source_cluster="east",
        target_cluster="west",
        forced=True,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=4),
        epoch=8,
    )
    last = LastFailover.from_history(record)
    assert last.to_dict() == {
        "name": "move-web",
        "sourceCluster": "east",
        "targetCluster": "west",
        "epoch": 8,
        "time": "2026-05-06T07:08:13Z",
        "automatic": False,
        "forced": True,
    }


def test_failover_status_round_trip() -> None:
    status = FailoverStatus(
        phase=Phase.DEMOTING,
        groups=[
            GroupProgress(namespace="shop", name="web", phase=Phase.DEMOTING, source_cluster="east", start_time=T0)
        ],
        start_time=T0,
        executed_by="west",
    )
    data = status.to_dict()
    assert data == {
        "phase": "Demoting",
        "groups": [
            {
                "namespace": "shop",
                "name": "web",
                "phase": "Demoting",
                "sourceCluster": "east",
                "startTime": "2026-05-06T07:08:09Z",
            }
        ],
        "startTime": "2026-05-06T07:08:09Z",
        "executedBy": "west",
        "conditions": [],
    }
    assert FailoverStatus.model_validate(data) == status
    assert status.to_merge_patch()["completionTime"] is None


def test_status_texts_are_cut_not_rejected() -> None:
    """Status echoes other clusters' messages and error texts: writing it must never fail on their length."""
    report = ClusterReport(name="east/1", message="x" * 5000)
    assert report.message is not None and len(report.message) == 1024 and report.message.endswith("…")
    status = FailoverStatus(message="y" * 40000)
    assert status.message is not None and len(status.message) == 32768
    with pytest.raises(ValidationError):
        FailoverSpec.model_validate({"targetCluster": "west", "failoverGroups": [{"name": "a"}], "reason": "z" * 1025})
