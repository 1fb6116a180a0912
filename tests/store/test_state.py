import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from failover_operator.clock import FakeClock
from failover_operator.store import (
    ClusterState,
    ConflictError,
    DynamoDBService,
    Health,
    NotFoundError,
    SupersededError,
    Timeouts,
)


async def test_first_registration_wins_and_later_ones_get_it_unchanged(make_service):
    east, west = make_service("east"), make_service("west")
    first = await east.state.register_group("shop", "web", timeouts={"heartbeat": 10})
    second = await west.state.register_group("shop", "web", timeouts=Timeouts(heartbeat=99))
    assert first.owner == second.owner == "east"
    assert second.timeouts.heartbeat == 10 and second.epoch == 1 and second.version == 1


async def test_concurrent_registrations_agree_on_one_owner(make_service):
    services = [make_service(f"c{i}") for i in range(20)]
    configs = await asyncio.gather(*(s.state.register_group("shop", "web") for s in services))
    owners = {c.owner for c in configs}
    assert len(owners) == 1
    stored = await services[0].state.get_group_config("shop", "web")
    assert stored.owner in owners


async def test_initial_owner_is_honoured(make_service):
    config = await make_service("east").state.register_group("shop", "web", initial_owner="west")
    assert config.owner == "west"
    with pytest.raises(ValueError):
        await make_service("east").state.register_group("shop", "api", initial_owner="we#st")


async def test_invalid_timeouts_are_refused(make_service):
    with pytest.raises(ValueError):
        await make_service("east").state.register_group("shop", "web", timeouts={"heartbeat": -1})


async def test_get_group_config_of_a_missing_group_is_none(make_service):
    assert await make_service("east").state.get_group_config("shop", "nothing") is None


async def test_update_group_config_is_conditioned_on_version(make_service):
    east = make_service("east")
    config = await east.state.register_group("shop", "web")
    tampered = config.model_copy(
        update={"suspended": True, "suspension_reason": "drill", "owner": "mallory", "epoch": 99}
    )
    updated = await east.state.update_group_config(tampered)
    assert updated.version == 2 and updated.suspended and updated.suspension_reason == "drill"
    assert updated.owner == "east" and updated.epoch == 1  # only failover moves these
    with pytest.raises(ConflictError, match="version 1"):
        await east.state.update_group_config(config)  # stale version
    stored = await east.state.get_group_config("shop", "web")
    assert stored == updated
    gone = config.model_copy(update={"name": "gone"})
    with pytest.raises(NotFoundError):
        await east.state.update_group_config(gone)


async def test_concurrent_updates_exactly_one_wins(make_service):
    east = make_service("east")
    config = await east.state.register_group("shop", "web")
    attempts = [
        east.state.update_group_config(config.model_copy(update={"suspension_reason": f"r{i}", "suspended": True}))
        for i in range(15)
    ]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, ConflictError) for r in results if isinstance(r, Exception))
    assert (await east.state.get_group_config("shop", "web")).version == 2


async def test_heartbeat_increments_and_records_epoch_and_components(make_service, dynamodb, table):
    east = make_service("east")
    await east.state.register_group("shop", "web")
    first = await east.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {"Deployment/web": {"ready": 3}})
    second = await east.state.update_cluster_status("shop", "web", Health.DEGRADED, ClusterState.PRIMARY, {})
    assert (first.heartbeat_seq, second.heartbeat_seq) == (1, 2)
    assert first.observed_epoch == 1 and first.components == {"Deployment/web": {"ready": 3}}
    raw = await dynamodb.get_item(
        TableName=table, Key={"PK": {"S": "GROUP#fleet#shop#web"}, "SK": {"S": "CLUSTER#east"}}
    )
    item = raw["Item"]
    assert item["components"] == {"S": "{}"}  # stored as a JSON string
    assert item["GSI1PK"] == {"S": "CLUSTER#east"} and item["GSI1SK"] == {"S": "GROUP#shop#web"}
    explicit = await east.state.update_cluster_status("shop", "web", "OK", "STANDBY", {}, observed_epoch=7)
    assert explicit.observed_epoch == 7
    with pytest.raises(ValueError, match="Health"):
        await east.state.update_cluster_status("shop", "web", "FINE", "STANDBY", {})


async def test_concurrent_heartbeats_lose_no_increment(make_service):
    east = make_service("east")
    await east.state.register_group("shop", "web")
    await asyncio.gather(
        *(east.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {}, observed_epoch=1) for _ in range(30))
    )
    assert (await east.state.get_cluster_status("shop", "web")).heartbeat_seq == 30


async def test_heartbeat_for_a_missing_group_is_not_found(make_service):
    with pytest.raises(NotFoundError):
        await make_service("east").state.update_cluster_status("shop", "ghost", "OK", "STANDBY", {})


async def test_cluster_status_reads(make_service):
    east, west = make_service("east"), make_service("west")
    await east.state.register_group("shop", "web")
    await east.state.register_group("shop", "api")
    await east.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {})
    await west.state.update_cluster_status("shop", "web", "OK", "STANDBY", {})
    await west.state.update_cluster_status("shop", "api", "ERROR", "STANDBY", {})
    assert (await east.state.get_cluster_status("shop", "web")).cluster_name == "east"
    assert (await east.state.get_cluster_status("shop", "web", "west")).state is ClusterState.STANDBY
    assert await east.state.get_cluster_status("shop", "web", "north") is None
    everyone = await east.state.get_all_cluster_statuses("shop", "web")
    assert sorted(everyone) == ["east", "west"]
    assert everyone["west"].health is Health.OK  # the api group's ERROR does not leak in


async def ping_pong(make_service, failovers: int):
    """east and west in shop/web, the group moved back and forth `failovers` times (epoch 1 + failovers); east."""
    east, west = make_service("east"), make_service("west")
    await east.state.register_group("shop", "web")
    for svc in (east, west):
        await svc.state.update_cluster_status("shop", "web", "OK", "STANDBY", {})
    for i in range(failovers):
        target = west if i % 2 == 0 else east
        await target.operations.execute_failover("shop", "web", f"fo-{i}", target.cluster_name, "drill")
    return east


async def test_group_state_in_two_round_trips_with_newest_ten_history(make_service):
    east = await ping_pong(make_service, failovers=12)
    lease = await east.operations.acquire_lock("shop", "web", "inspection")
    before = east.call.calls
    state = await east.state.get_group_state("shop", "web")
    assert east.call.calls - before == 3  # two for the group, one for every cluster's liveness
    live = await east.liveness.read()
    before = east.call.calls
    assert (await east.state.get_group_state("shop", "web", liveness=live)) == state
    assert east.call.calls - before == 2  # a fleet's tick reads the liveness once, for every group
    assert state.config.epoch == 13 and sorted(state.clusters) == ["east", "west"]
    assert state.lock is not None and state.lock.holder == "east" and state.lock.token == lease.token
    assert [h.failover_name for h in state.history] == [f"fo-{i}" for i in range(11, 1, -1)]
    await east.operations.release_lock("shop", "web", lease)
    assert (await east.state.get_group_state("shop", "web")).lock is None
    with pytest.raises(NotFoundError):
        await east.state.get_group_state("shop", "ghost")


async def test_history_newest_first_with_limit_and_paging(make_service):
    east = await ping_pong(make_service, failovers=6)
    history = await east.state.get_failover_history("shop", "web")
    assert [h.epoch for h in history] == [7, 6, 5, 4, 3, 2]
    assert [h.failover_name for h in await east.state.get_failover_history("shop", "web", limit=2)] == ["fo-5", "fo-4"]
    with pytest.raises(ValueError):
        await east.state.get_failover_history("shop", "web", limit=0)


async def test_staleness_is_judged_on_our_monotonic_clock_only(dynamodb, table):
    observer_clock = FakeClock()
    skewed_clock = FakeClock(now=datetime.now(UTC) + timedelta(hours=1))  # an hour ahead of everyone
    behind_clock = FakeClock(now=datetime.now(UTC) - timedelta(hours=1))  # an hour behind
    east = DynamoDBService(dynamodb, table, "east", "fleet", clock=observer_clock)
    west = DynamoDBService(dynamodb, table, "west", "fleet", clock=skewed_clock)
    north = DynamoDBService(dynamodb, table, "north", "fleet", clock=behind_clock)
    await east.state.register_group("shop", "web")
    for svc in (east, west, north):
        await svc.state.update_cluster_status("shop", "web", "OK", "STANDBY", {})
    # First sight counts from now, whatever the records' timestamps say.
    assert await east.state.detect_stale_heartbeats("shop", "web", 15) == []
    for _ in range(4):  # west keeps beating, north has stopped
        observer_clock.advance(6)
        await west.state.update_cluster_status("shop", "web", "OK", "STANDBY", {})
        stale = await east.state.detect_stale_heartbeats("shop", "web", 15)
    assert stale == ["north"]
    # A wall clock jumping on the observer changes nothing either.
    observer_clock.set_wall(datetime(2000, 1, 1, tzinfo=UTC))
    await west.state.update_cluster_status("shop", "web", "OK", "STANDBY", {})
    assert await east.state.detect_stale_heartbeats("shop", "web", 15) == ["north"]
    await north.state.update_cluster_status("shop", "web", "OK", "STANDBY", {})
    assert await east.state.detect_stale_heartbeats("shop", "web", 15) == []
    # Never ourselves, even if we stop.
    observer_clock.advance(100)
    assert "east" not in await east.state.detect_stale_heartbeats("shop", "web", 15)


async def test_a_fresh_observer_never_judges_stale_at_first_sight(make_service, clock):
    east, west = make_service("east"), make_service("west")
    await east.state.register_group("shop", "web")
    await west.state.update_cluster_status("shop", "web", "OK", "STANDBY", {})
    clock.advance(3600)  # the record is an hour old, but east has never looked
    assert await east.state.detect_stale_heartbeats("shop", "web", 15) == []
    clock.advance(16)
    assert await east.state.detect_stale_heartbeats("shop", "web", 15) == ["west"]


async def test_listing_groups_is_per_operator_id(make_service):
    a_east, a_west = make_service("east", "fleet-a"), make_service("west", "fleet-a")
    b_east = make_service("east", "fleet-b")  # same cluster name, another fleet
    await a_east.state.register_group("shop", "web")
    await a_east.state.register_group("shop", "api")
    await b_east.state.register_group("shop", "web")
    await b_east.state.register_group("billing", "jobs")
    await a_east.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {})
    await a_west.state.update_cluster_status("shop", "api", "OK", "STANDBY", {})
    await b_east.state.update_cluster_status("billing", "jobs", "OK", "PRIMARY", {})
    await b_east.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {})
    assert [(g.namespace, g.name) for g in await a_east.state.list_groups()] == [("shop", "api"), ("shop", "web")]
    assert [(g.namespace, g.name) for g in await b_east.state.list_groups()] == [("billing", "jobs"), ("shop", "web")]
    assert {g.operator_id for g in await b_east.state.list_groups()} == {"fleet-b"}
    # and the records themselves are disjoint
    await a_east.state.update_group_config(
        (await a_east.state.get_group_config("shop", "web")).model_copy(update={"suspended": True})
    )
    assert not (await b_east.state.get_group_config("shop", "web")).suspended


BAD_NAMES = ["", "a#b"]


@pytest.mark.parametrize("bad", BAD_NAMES)
async def test_bad_names_are_refused_before_any_io(make_service, dynamodb, table, bad):
    for args in ((dynamodb, table, bad, "fleet"), (dynamodb, table, "east", bad)):
        with pytest.raises(ValueError):
            DynamoDBService(*args)
    east = make_service("east")
    calls = east.call.calls
    st, ops = east.state, east.operations
    attempts = [
        lambda: st.register_group(bad, "web"),
        lambda: st.register_group("shop", bad),
        lambda: st.register_group("shop", "web", initial_owner=bad),
        lambda: st.get_group_config(bad, "web"),
        lambda: st.get_group_state("shop", bad),
        lambda: st.update_cluster_status(bad, "web", "OK", "PRIMARY", {}),
        lambda: st.get_cluster_status("shop", "web", bad),
        lambda: st.get_all_cluster_statuses(bad, "web"),
        lambda: st.get_failover_history("shop", bad),
        lambda: st.detect_stale_heartbeats(bad, "web", 10),
        lambda: ops.acquire_lock(bad, "web", "r"),
        lambda: ops.is_locked("shop", bad),
        lambda: ops.validate_failover_preconditions("shop", "web", bad),
        lambda: ops.execute_failover("shop", "web", "fo", bad, "r"),
        lambda: ops.execute_failover(bad, "web", "fo", "west", "r"),
        lambda: ops.execute_failback("shop", bad, "r"),
        lambda: ops.update_suspension(bad, "web", True, "r"),
        lambda: ops.detect_and_report_problems("shop", bad),
    ]
    for attempt in attempts:
        with pytest.raises(ValueError):
            await attempt()
    assert east.call.calls == calls


async def test_corrupt_records_are_skipped_by_readers(make_service, dynamodb, table):
    east, west = make_service("east"), make_service("west")
    await east.state.register_group("shop", "web")
    await east.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {})
    await west.state.update_cluster_status("shop", "web", "OK", "STANDBY", {})
    pk = {"S": "GROUP#fleet#shop#web"}
    await dynamodb.update_item(
        TableName=table,
        Key={"PK": pk, "SK": {"S": "CLUSTER#west"}},
        UpdateExpression="SET components = :c",
        ExpressionAttributeValues={":c": {"S": "{broken"}},
    )
    await dynamodb.put_item(TableName=table, Item={"PK": pk, "SK": {"S": "CLUSTER#north"}, "health": {"S": "OK"}})
    await dynamodb.put_item(TableName=table, Item={"PK": pk, "SK": {"S": "HISTORY#garbage"}})
    assert sorted(await east.state.get_all_cluster_statuses("shop", "web")) == ["east"]
    assert await east.state.get_cluster_status("shop", "web", "west") is None
    state = await east.state.get_group_state("shop", "web")
    assert sorted(state.clusters) == ["east"] and len(state.corrupt) == 3
    assert await east.state.get_failover_history("shop", "web") == []
    problems = await east.operations.detect_and_report_problems("shop", "web")
    corrupt = [p for p in problems if p.kind.value == "CORRUPT_RECORD"]
    assert len(corrupt) == 3
    assert any("CLUSTER#west" in p.message and "JSON" in p.message for p in corrupt)
    assert any("CLUSTER#north" in p.message and "missing attribute" in p.message for p in corrupt)
    # The group keeps working around them.
    assert (await east.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {})).heartbeat_seq == 2


async def test_corrupt_config_is_reported_not_raised_by_problem_detection(make_service, dynamodb, table):
    east = make_service("east")
    await east.state.register_group("shop", "web")
    await dynamodb.update_item(
        TableName=table,
        Key={"PK": {"S": "GROUP#fleet#shop#web"}, "SK": {"S": "CONFIG"}},
        UpdateExpression="REMOVE #o",
        ExpressionAttributeNames={"#o": "owner"},
    )
    assert await east.state.get_group_config("shop", "web") is None
    problems = await east.operations.detect_and_report_problems("shop", "web")
    assert [p.kind.value for p in problems] == ["CORRUPT_RECORD"] and "owner" in problems[0].message
    assert await east.state.list_groups() == []


async def test_delete_records(make_service):
    east, west = make_service("east"), make_service("west")
    await east.state.register_group("shop", "web")
    await east.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {})
    await west.state.update_cluster_status("shop", "web", "OK", "STANDBY", {})
    await west.operations.execute_failover("shop", "web", "fo", "west", "drill")
    await west.state.delete_cluster_status("shop", "web")
    assert sorted(await east.state.get_all_cluster_statuses("shop", "web")) == ["east"]
    assert await east.state.delete_group("shop", "web") == 3  # config, east's status, one history record
    assert await east.state.get_group_config("shop", "web") is None
    assert await east.state.get_failover_history("shop", "web") == []


async def test_a_leaving_clusters_late_status_write_does_not_bring_back_its_deleted_status(make_service):
    """A cluster leaving a group deletes its status; a write of it that arrives after must not re-create it
    (else the last cluster never finds itself the last, and the group's records stay behind)."""
    east = make_service("east")
    await east.state.register_group("shop", "web")
    await east.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {})
    await east.state.update_cluster_status("shop", "web", "OK", "STANDBY", {}, leaving=True)  # it exists: lands
    await east.state.delete_cluster_status("shop", "web")
    with pytest.raises(SupersededError):
        await east.state.update_cluster_status("shop", "web", "OK", "STANDBY", {}, ordered=True, leaving=True)
    assert await east.state.get_all_cluster_statuses("shop", "web") == {}


async def test_record_downtime(make_service):
    east, west = make_service("east"), make_service("west")
    await east.state.register_group("shop", "web")
    await west.state.update_cluster_status("shop", "web", "OK", "STANDBY", {})
    record = await west.operations.execute_failover("shop", "web", "fo", "west", "drill")
    await west.state.record_downtime("shop", "web", record.record_id, 2.5)
    (stored,) = await east.state.get_failover_history("shop", "web")
    assert stored.downtime_seconds == 2.5
    with pytest.raises(NotFoundError):
        await west.state.record_downtime("shop", "web", "HISTORY#2000-01-01T00:00:00.000000Z#x", 1)


async def test_components_round_trip_through_json(make_service):
    east = make_service("east")
    await east.state.register_group("shop", "web")
    components = {"Deployment/web": {"ready": 2, "desired": 3, "notes": ["a", "b"]}, "Ingress/web": {"dns": True}}
    await east.state.update_cluster_status("shop", "web", "DEGRADED", "PRIMARY", components)
    stored = await east.state.get_cluster_status("shop", "web")
    assert stored.components == json.loads(json.dumps(components))
