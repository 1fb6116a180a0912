from datetime import UTC, datetime

import pytest

from failover_operator.model import (
    ClusterState,
    ClusterStatus,
    FailoverMode,
    GroupConfig,
    Health,
    HistoryRecord,
    Outcome,
    ScheduledSwitchover,
    Timeouts,
    Transition,
    evolved,
)
from failover_operator.store import keys
from failover_operator.store.errors import CorruptRecordError
from failover_operator.store.records import (
    MAX_COMPONENTS_BYTES,
    Lease,
    cluster_status_from_item,
    components_json,
    config_from_item,
    config_to_item,
    history_from_item,
    history_to_item,
    lease_to_item,
    lock_from_item,
)

T0 = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def test_group_config_round_trip_with_every_field():
    config = GroupConfig(
        namespace="shop",
        name="web",
        operator_id="fleet",
        owner="east",
        previous_owner="west",
        epoch=7,
        version=12,
        suspended=True,
        suspension_reason="maintenance",
        timeouts=Timeouts(heartbeat=20, unhealthy_primary=90.5, transitory_state=600),
        last_failover=T0,
        updated_at=T0,
        transition=Transition(
            failover_name="fo-1",
            source_cluster="east",
            target_cluster="west",
            mode=FailoverMode.UPTIME,
            requested_by="west",
            requested_at=T0,
            epoch=7,
        ),
    )
    item = config_to_item(config)
    assert item["PK"] == {"S": "GROUP#fleet#shop#web"} and item["SK"] == {"S": "CONFIG"}
    assert item["GSI1PK"] == {"S": "OPERATOR#fleet"} and item["GSI1SK"] == {"S": "GROUP#shop#web"}
    assert config_from_item(item) == config


def test_minimal_config_round_trip():
    config = GroupConfig(namespace="a", name="b", operator_id="o", owner="east", updated_at=T0)
    back = config_from_item(config_to_item(config))
    assert back == config and back.previous_owner is None and back.timeouts == Timeouts()


def test_cluster_status_parses_components_from_json_string():
    item = {
        "PK": {"S": "GROUP#o#a#b"},
        "SK": {"S": "CLUSTER#east"},
        "health": {"S": "DEGRADED"},
        "state": {"S": "STANDBY"},
        "heartbeatSeq": {"N": "42"},
        "lastHeartbeat": {"S": keys.format_timestamp(T0)},
        "observedEpoch": {"N": "3"},
        "components": {"S": '{"Deployment/web": {"ready": 0}}'},
    }
    status = cluster_status_from_item(item)
    assert status.cluster_name == "east" and status.health is Health.DEGRADED
    assert status.state is ClusterState.STANDBY and status.heartbeat_seq == 42
    assert status.components == {"Deployment/web": {"ready": 0}}


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"components": {"S": "{not json"}}, "components is not valid JSON"),
        ({"components": {"S": "[1, 2]"}}, "not a JSON object"),
        ({"heartbeatSeq": None}, "missing attribute 'heartbeatSeq'"),
        ({"health": {"S": "FINE"}}, "health"),
        ({"heartbeatSeq": {"S": "1"}}, "not of type N"),
        ({"lastHeartbeat": {"S": "yesterday"}}, "not a timestamp"),
    ],
)
def test_unreadable_cluster_status_raises_corrupt_record(change, detail):
    item = {
        "PK": {"S": "GROUP#o#a#b"},
        "SK": {"S": "CLUSTER#east"},
        "health": {"S": "OK"},
        "state": {"S": "PRIMARY"},
        "heartbeatSeq": {"N": "1"},
        "lastHeartbeat": {"S": keys.format_timestamp(T0)},
        "components": {"S": "{}"},
    }
    for k, v in change.items():
        if v is None:
            item.pop(k)
        else:
            item[k] = v
    with pytest.raises(CorruptRecordError) as info:
        cluster_status_from_item(item)
    assert detail in str(info.value)
    assert info.value.pk == "GROUP#o#a#b" and info.value.sk == "CLUSTER#east"


def test_config_missing_owner_is_corrupt():
    item = config_to_item(GroupConfig(namespace="a", name="b", operator_id="o", owner="x", updated_at=T0))
    del item["owner"]
    with pytest.raises(CorruptRecordError, match="owner"):
        config_from_item(item)


def test_history_and_lock_round_trip():
    record = HistoryRecord(
        failover_name="fo",
        source_cluster="east",
        target_cluster="west",
        reason="drill",
        forced=True,
        automatic=False,
        mode=FailoverMode.UPTIME,
        started_at=T0,
        finished_at=T0,
        outcome=Outcome.SUCCEEDED,
        epoch=4,
        downtime_seconds=1.25,
        record_id=keys.history_sk(T0, "abc"),
    )
    assert history_from_item(history_to_item("GROUP#o#a#b", record)) == record
    lease = Lease(
        token="t", holder="east", namespace="a", name="b", reason="r", acquired_at=T0, lease_seconds=30, renewals=2
    )
    info = lock_from_item(lease_to_item("GROUP#o#a#b", lease))
    assert (info.holder, info.reason, info.lease_seconds, info.token, info.renewals) == ("east", "r", 30, "t", 2)


def test_huge_components_are_summarised_to_fit_an_item():
    components = {f"Deployment/w{i}": {"detail": "x" * 200} for i in range(1000)}
    text = components_json(components)
    assert len(text) < MAX_COMPONENTS_BYTES
    assert '"truncated":true' in text and '"count":1000' in text


def test_evolved_is_model_copy_with_an_update() -> None:
    status = ClusterStatus(
        cluster_name="east", last_heartbeat=datetime(2026, 1, 1, tzinfo=UTC), components={"Deployment/web": {}}
    )
    at = datetime(2026, 1, 2, tzinfo=UTC)
    new = evolved(status, liveness_seq=7, alive_at=at)
    assert new == status.model_copy(update={"liveness_seq": 7, "alive_at": at})
    assert new.model_fields_set == status.model_copy(update={"liveness_seq": 7, "alive_at": at}).model_fields_set
    assert (status.liveness_seq, status.alive_at) == (None, None)  # the original is left as it was
    assert new.model_dump()["alive_at"] == at
    with pytest.raises(Exception, match="frozen"):
        new.liveness_seq = 8  # type: ignore[misc]


def test_a_scheduled_switchover_round_trips_and_a_broken_one_is_corrupt():
    schedule = ScheduledSwitchover(
        name="scheduled-20260506-070809-ab12",
        source_cluster="east",
        target_cluster="west",
        mode=FailoverMode.UPTIME,
        at=T0,
        requested_by="fleet-cli",
        requested_at=T0,
        reason="maintenance window",
    )
    config = GroupConfig(namespace="a", name="b", operator_id="o", owner="east", updated_at=T0, schedule=schedule)
    item = config_to_item(config)
    assert item["schedule"]["M"]["at"] == {"S": "2026-05-06T07:08:09.123456Z"}
    assert config_from_item(item) == config and schedule.when == "2026-05-06T07:08:09Z"
    assert config_from_item(config_to_item(config.model_copy(update={"schedule": None}))).schedule is None
    del item["schedule"]["M"]["targetCluster"]
    with pytest.raises(CorruptRecordError, match="targetCluster"):
        config_from_item(item)
