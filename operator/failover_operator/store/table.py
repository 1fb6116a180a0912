"""Creating (or checking) the single table the operators share."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from . import keys
from .errors import StoreError

log = logging.getLogger(__name__)

KEY_SCHEMA = [
    {"AttributeName": keys.PK, "KeyType": "HASH"},
    {"AttributeName": keys.SK, "KeyType": "RANGE"},
]
GSI1_KEY_SCHEMA = [
    {"AttributeName": keys.GSI1PK, "KeyType": "HASH"},
    {"AttributeName": keys.GSI1SK, "KeyType": "RANGE"},
]


def table_definition(table_name: str) -> dict[str, Any]:
    """CreateTable parameters: PK/SK strings, GSI1 projecting all attributes, on-demand billing."""
    return {
        "TableName": table_name,
        "KeySchema": KEY_SCHEMA,
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"} for name in (keys.PK, keys.SK, keys.GSI1PK, keys.GSI1SK)
        ],
        "GlobalSecondaryIndexes": [
            {"IndexName": keys.GSI1, "KeySchema": GSI1_KEY_SCHEMA, "Projection": {"ProjectionType": "ALL"}}
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


def check_schema(description: dict[str, Any]) -> None:
    """Refuse a table that exists under our name but was not made for us: its keys would be wrong."""
    name = description.get("TableName", "?")
    if description.get("KeySchema") != KEY_SCHEMA:
        raise StoreError(f"table {name} exists but its key schema is not PK (hash) + SK (range)")
    indexes = {gsi.get("IndexName"): gsi for gsi in description.get("GlobalSecondaryIndexes") or []}
    gsi = indexes.get(keys.GSI1)
    if gsi is None or gsi.get("KeySchema") != GSI1_KEY_SCHEMA:
        raise StoreError(f"table {name} exists but has no index {keys.GSI1} on {keys.GSI1PK}/{keys.GSI1SK}")
    if gsi.get("Projection", {}).get("ProjectionType") != "ALL":
        raise StoreError(f"table {name}: index {keys.GSI1} must project ALL attributes")


async def ensure_table(
    client: Any,
    table_name: str,
    *,
    wait_seconds: float = 300.0,
    poll_interval: float = 2.0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Create the table if it does not exist, then wait until it and its index are ACTIVE.

    Idempotent and safe to run from several places at once. Returns the table description, with
    `"Created": True` when this call created it. `progress`: told what happens (created, found, waiting).
    """
    say = progress or (lambda _: None)
    created = False
    try:
        description = (await client.describe_table(TableName=table_name))["Table"]
        say(f"found table {table_name} ({description.get('TableStatus')})")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise StoreError(f"cannot describe table {table_name}: {exc}") from exc
        try:
            description = (await client.create_table(**table_definition(table_name)))["TableDescription"]
            created = True
            log.info("created DynamoDB table %s", table_name)
            say(f"created table {table_name}")
        except ClientError as create_exc:
            if create_exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise StoreError(f"cannot create table {table_name}: {create_exc}") from create_exc
            description = (await client.describe_table(TableName=table_name))["Table"]
            say(f"found table {table_name}, just created by someone else")
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + wait_seconds
    while not _active(description):
        if loop.time() > deadline:
            raise StoreError(f"table {table_name} did not become ACTIVE within {wait_seconds:.0f}s")
        say(f"waiting for table {table_name} and its index to be ACTIVE ({loop.time() - started:.0f}s)")
        await asyncio.sleep(poll_interval)
        description = (await client.describe_table(TableName=table_name))["Table"]
    description = {**description, "Created": created}
    check_schema(description)
    return description


def _active(description: dict[str, Any]) -> bool:
    if description.get("TableStatus") != "ACTIVE":
        return False
    return all(gsi.get("IndexStatus", "ACTIVE") == "ACTIVE" for gsi in description.get("GlobalSecondaryIndexes") or [])
