"""The in-memory DynamoDB as an MRSC global table: one store behind one endpoint per replica Region, described as
such, and (switch on) refusing transactions as a real MRSC table does."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from failover_operator.store import ensure_table
from harness.memdynamo import MRSC, MRSC_REGIONS, MRSC_TRANSACTIONS_REFUSED, MemoryDynamoDB

TABLE = "t"


def key(pk: str, sk: str = "A") -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def put(pk: str, value: str) -> dict[str, Any]:
    return {"Put": {"TableName": TABLE, "Item": {**key(pk), "v": {"S": value}}}}


async def table(mrsc: MRSC | None) -> MemoryDynamoDB:
    db = MemoryDynamoDB(lambda: 0.0, mrsc=mrsc)
    await ensure_table(db.client(), TABLE)
    return db


@pytest.mark.parametrize("region", MRSC_REGIONS)
async def test_an_mrsc_table_refuses_transactions_through_every_region(region: str) -> None:
    db = await table(MRSC())
    client = db.client(region)
    with pytest.raises(ClientError) as writing:
        await client.transact_write_items(TransactItems=[put("a", "1"), put("b", "1")])
    with pytest.raises(ClientError) as reading:
        await client.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": key("a")}}])
    for refused in (writing.value, reading.value):
        assert refused.response["Error"] == {"Code": "ValidationException", "Message": MRSC_TRANSACTIONS_REFUSED}
        assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert writing.value.operation_name == "TransactWriteItems"
    assert reading.value.operation_name == "TransactGetItems"
    assert db.tables[TABLE].items == {}  # nothing applied


async def test_with_the_refusal_off_transactions_work_as_on_one_region() -> None:
    db = await table(MRSC(refuse_transactions=False))
    await db.client("us-east-2").transact_write_items(TransactItems=[put("a", "1"), put("b", "2")])
    got = await db.client("us-west-2").transact_get_items(
        TransactItems=[{"Get": {"TableName": TABLE, "Key": key(k)}} for k in ("a", "b", "c")]
    )
    assert [r.get("Item", {}).get("v") for r in got["Responses"]] == [{"S": "1"}, {"S": "2"}, None]


async def test_a_single_region_table_still_takes_transactions() -> None:
    db = await table(None)
    await db.client().transact_write_items(TransactItems=[put("a", "1")])
    assert (await db.client().get_item(TableName=TABLE, Key=key("a")))["Item"]["v"] == {"S": "1"}


async def test_every_region_is_an_endpoint_in_front_of_one_store() -> None:
    db = await table(MRSC())
    east, west = db.client("us-east-1"), db.client("us-west-2")
    await east.put_item(TableName=TABLE, Item={**key("a"), "v": {"S": "1"}})
    got = await west.get_item(TableName=TABLE, Key=key("a"), ConsistentRead=True)
    assert got["Item"]["v"] == {"S": "1"}
    await west.update_item(
        TableName=TABLE,
        Key=key("a"),
        UpdateExpression="SET v = :new",
        ConditionExpression="v = :old",
        ExpressionAttributeValues={":new": {"S": "2"}, ":old": {"S": "1"}},
    )
    with pytest.raises(ClientError) as failed:  # the same condition, through another Region: already false
        await db.client("us-east-2").update_item(
            TableName=TABLE,
            Key=key("a"),
            UpdateExpression="SET v = :new",
            ConditionExpression="v = :old",
            ExpressionAttributeValues={":new": {"S": "3"}, ":old": {"S": "1"}},
        )
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert (await east.get_item(TableName=TABLE, Key=key("a")))["Item"]["v"] == {"S": "2"}


async def test_describe_table_says_strong_consistency_and_lists_the_other_replicas() -> None:
    db = await table(MRSC())
    described = (await db.client("us-east-2").describe_table(TableName=TABLE))["Table"]
    assert described["MultiRegionConsistency"] == "STRONG"
    assert described["Replicas"] == [
        {"RegionName": "us-east-1", "ReplicaStatus": "ACTIVE"},
        {"RegionName": "us-west-2", "ReplicaStatus": "ACTIVE"},
    ]
    assert described["TableArn"].startswith("arn:aws:dynamodb:us-east-2:")
    assert "GlobalTableWitnesses" not in described
    assert described["TableStatus"] == "ACTIVE"
    # the operator's own check of the table still accepts it
    assert (await ensure_table(db.client("us-west-2"), TABLE))["MultiRegionConsistency"] == "STRONG"


async def test_two_replicas_and_a_witness() -> None:
    db = await table(MRSC(regions=("us-east-1", "us-east-2"), witness="us-west-2"))
    described = (await db.client("us-east-1").describe_table(TableName=TABLE))["Table"]
    assert described["Replicas"] == [{"RegionName": "us-east-2", "ReplicaStatus": "ACTIVE"}]
    assert described["GlobalTableWitnesses"] == [{"RegionName": "us-west-2", "WitnessStatus": "ACTIVE"}]
    with pytest.raises(ValueError, match="no replica in us-west-2"):
        db.client("us-west-2")  # a witness serves no requests


async def test_a_single_region_table_says_nothing_of_regions() -> None:
    db = await table(None)
    described = (await db.client().describe_table(TableName=TABLE))["Table"]
    assert "MultiRegionConsistency" not in described and "Replicas" not in described
    assert described["TableArn"].startswith("arn:aws:dynamodb:us-east-1:")


def test_an_mrsc_table_has_three_regions() -> None:
    with pytest.raises(ValueError, match="three Regions"):
        MRSC(regions=("us-east-1", "us-east-2"))
    with pytest.raises(ValueError, match="three Regions"):
        MRSC(regions=("us-east-1", "us-east-1", "us-west-2"))
    assert MRSC(regions=["us-east-1", "us-east-2", "us-west-2"]).regions == MRSC_REGIONS  # type: ignore[arg-type]
