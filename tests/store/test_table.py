import asyncio
import uuid

import pytest

from failover_operator.store import StoreError, ensure_table


async def test_ensure_table_creates_the_designed_table_and_is_idempotent(dynamodb):
    name = f"t-{uuid.uuid4().hex[:8]}"
    first = await ensure_table(dynamodb, name)
    assert first["TableStatus"] == "ACTIVE"
    again = await ensure_table(dynamodb, name)
    assert again["TableArn"] == first["TableArn"]
    described = (await dynamodb.describe_table(TableName=name))["Table"]
    assert described["KeySchema"] == [
        {"AttributeName": "PK", "KeyType": "HASH"},
        {"AttributeName": "SK", "KeyType": "RANGE"},
    ]
    (gsi,) = described["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "GSI1" and gsi["Projection"]["ProjectionType"] == "ALL"
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


async def test_concurrent_ensure_table_calls_all_succeed(dynamodb):
    name = f"t-{uuid.uuid4().hex[:8]}"
    results = await asyncio.gather(*(ensure_table(dynamodb, name) for _ in range(5)))
    assert {r["TableName"] for r in results} == {name}


async def test_a_foreign_table_under_our_name_is_refused(dynamodb):
    name = f"t-{uuid.uuid4().hex[:8]}"
    await dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(StoreError, match="key schema"):
        await ensure_table(dynamodb, name)
