"""`bench/scale.py` counts what it says: request units by the rules in its docstring, over a local DynamoDB
served over HTTP that behaves like DynamoDB for the store (conditions, transactions, their old images)."""

from __future__ import annotations

import json

import pytest
from bench.scale import Lateness, Scenario, run, units

from failover_operator.store import ConflictError, DynamoDBService, ensure_table, keys
from harness.dynamo import dynamodb_client
from harness.faults import RecordedRequest
from harness.memdynamo_server import memdynamo_process


def test_units_count_writes_reads_transactions_and_index_entries() -> None:
    group = {keys.PK: {"S": keys.group_pk("op", "shop", "web")}, keys.SK: {"S": "CLUSTER#east"}}
    fleet = {keys.PK: {"S": keys.fleet_pk("op")}, keys.SK: {"S": "CLUSTER#east"}}
    requests = [
        RecordedRequest("UpdateItem", {"Key": fleet}),  # a heartbeat: 1
        RecordedRequest("UpdateItem", {"Key": group}),  # a status: 1 + its index entry
        RecordedRequest("Query", {}),
        RecordedRequest(
            "TransactWriteItems", {"TransactItems": [{"Update": {"Key": group}}, {"Update": {"Key": fleet}}]}
        ),
    ]
    assert units(requests) == (1 + 2 + (2 * 2 + 1), 1)


def test_lateness_is_what_a_tick_came_after_the_interval() -> None:
    late = Lateness(since=0.0)
    before = None
    for start in [0.0, 5.0, 10.2, 10.3, 15.3]:  # 10.2 -> 10.3 is a settling tick, not a late one
        late.note(before, start, 5.0)
        before = start
    assert (late.ticks, late.ms, round(late.worst, 6)) == (3, {0: 2, 200: 1}, 0.2)
    assert late.p99() == 0.2
    late.note(-1.0, 4.0, 5.0)  # a tick from before the window counts not
    assert late.ticks == 3


async def test_the_in_memory_dynamodb_over_http_answers_as_dynamodb_does() -> None:
    with memdynamo_process() as endpoint:
        async with dynamodb_client(endpoint) as client:
            await ensure_table(client, "t")
            east = DynamoDBService(client, "t", "east", "op")
            west = DynamoDBService(client, "t", "west", "op")
            await east.state.register_group("shop", "web")
            assert (await west.state.register_group("shop", "web")).owner == "east"  # the old image of a failed put
            await west.state.update_cluster_status("shop", "web", "OK", "STANDBY", {}, observed_epoch=1)
            record = await west.operations.execute_failover("shop", "web", "fo", "west", "drill")
            assert record.epoch == 2
            try:
                await east.state.prove_ownership("shop", "web", 1, "OK", {})
            except ConflictError:
                pass
            else:
                raise AssertionError("a cancelled transaction must be refused")


def test_the_bench_measures_the_steady_state_a_planned_failover_and_a_death(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A small run end to end (two operator processes, the in-memory DynamoDB): every figure is there, and the
    moves it measures happened (the failover succeeded, the standby served every other group)."""
    run(Scenario(groups=4, interval=1.0, window=2, settle=2.0))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    figures = {(line["cluster"], line["figure"]): line for line in lines}
    assert not [line for line in lines if line["figure"] == "error"], lines
    for cluster in ("east", "west"):
        assert figures[(cluster, "fencings")]["value"] == 0
        assert figures[(cluster, "role_changes")]["value"] == 0
        assert 0 < figures[(cluster, "dynamodb_requests_per_interval")]["value"] < 4
        assert figures[(cluster, "kubernetes_reads_per_interval")]["value"] == 0  # the watches deliver
    planned = figures[("west", "planned_failover_seconds")]
    assert planned["phase"] == "Succeeded" and planned["serving"] is True
    died = figures[("west", "detection_max")]
    assert died["groups_served"] == died["of"] == 3
