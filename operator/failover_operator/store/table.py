"""Creating (or checking) the single table the operators share, and what kind of table it is (`TableTopology`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


# --- what kind of table it is: one Region, or a global table (MRSC or not) -----------------------------------

PROTOCOL_NEEDS_TRANSACTIONS = True
"""Does the protocol send transactions (TransactWriteItems: store/state.py, store/operations.py, store/batch.py)?
A global table with multi-Region strong consistency (MRSC) refuses them (ValidationException), so while this is
True the operator refuses to start on one (`check_topology`) rather than fail at its first failover. The one
place that says it: flip it when the last transaction is gone (tests/store/test_topology.py checks that it
agrees with the store's code)."""

MRSC = "STRONG"  # TableDescription.MultiRegionConsistency of an MRSC global table (MREC: EVENTUAL, or absent)


class TopologyError(StoreError):
    """The table cannot be used as configured (its consistency, or the Regions we would reach it in)."""


@dataclass(frozen=True)
class TableTopology:
    """What DescribeTable says of where the table lives: `replicas` (Regions that hold it and serve requests,
    the one asked included), `witnesses` (an MRSC table's witness Region: it votes, holds no copy we can use),
    `mrsc` (multi-Region strong consistency: a conditional write or a strongly consistent read means the same
    in every replica Region)."""

    table: str
    mrsc: bool
    replicas: tuple[str, ...]
    witnesses: tuple[str, ...] = ()

    @property
    def global_table(self) -> bool:
        return self.mrsc or len(self.replicas) > 1

    def describe(self) -> str:
        """For people: 'MRSC global table (replicas us-east-1, us-east-2; witness us-west-2)'."""
        where = ", ".join(self.replicas) or "?"
        if self.mrsc:
            witness = f"; witness {', '.join(self.witnesses)}" if self.witnesses else ""
            return f"global table with multi-Region strong consistency, MRSC (replicas {where}{witness})"
        if self.global_table:
            return f"global table with multi-Region eventual consistency, MREC (replicas {where})"
        return f"single-Region table ({where})"


def topology_of(description: dict[str, Any], asked: str | None = None) -> TableTopology:
    """The topology from DescribeTable's `Table` (TableDescription): MultiRegionConsistency, Replicas[].RegionName,
    GlobalTableWitnesses[].RegionName. `asked`: the Region that answered, a replica whether or not the answer lists
    it among Replicas."""
    replicas = [asked] if asked else []
    for replica in description.get("Replicas") or []:
        name = replica.get("RegionName")
        if name and name not in replicas:
            replicas.append(name)
    witnesses = [w["RegionName"] for w in description.get("GlobalTableWitnesses") or [] if w.get("RegionName")]
    return TableTopology(
        table=str(description.get("TableName", "?")),
        mrsc=description.get("MultiRegionConsistency") == MRSC,
        replicas=tuple(replicas),
        witnesses=tuple(witnesses),
    )


def check_topology(topology: TableTopology, regions: Sequence[str], *, needs_transactions: bool | None = None) -> None:
    """Refuse (TopologyError, saying what to do) a table that cannot be used as configured: an MRSC table while the
    protocol needs transactions (`needs_transactions`, default PROTOCOL_NEEDS_TRANSACTIONS); a Region of ours that
    is not one of an MRSC table's replica Regions (a witness serves no request); several Regions of ours for a table
    that is not MRSC (its replicas see each other's writes late: a condition checked in one Region would not see a
    write just made in another, and two clusters could both win a move)."""
    needs = PROTOCOL_NEEDS_TRANSACTIONS if needs_transactions is None else needs_transactions
    name, listed = topology.table, ", ".join(regions)
    if topology.mrsc and needs:
        raise TopologyError(
            f"DynamoDB table {name} is a {topology.describe()}. An MRSC table refuses transactions "
            "(TransactWriteItems), and this version of failover-operator still moves groups with them: it would "
            "fail at its first failover. Use a single-Region table (AWS_REGION, or one Region in DYNAMODB_REGIONS) "
            "or a version of failover-operator that runs on MRSC tables"
        )
    if topology.mrsc:
        for region in regions:
            if region in topology.replicas:
                continue
            if region in topology.witnesses:
                raise TopologyError(
                    f"DYNAMODB_REGIONS names {region}, the witness of DynamoDB table {name} ({topology.describe()}): "
                    "a witness holds no copy of the table and serves no request. List only its replica Regions "
                    f"({', '.join(topology.replicas)}), nearest first"
                )
            raise TopologyError(
                f"DYNAMODB_REGIONS names {region}, which is not a replica Region of DynamoDB table {name} "
                f"({topology.describe()}). List only its replica Regions ({', '.join(topology.replicas)}), "
                "nearest first"
            )
        return
    if len(regions) > 1:
        raise TopologyError(
            f"DYNAMODB_REGIONS names {len(regions)} Regions ({listed}), but DynamoDB table {name} is a "
            f"{topology.describe()}, not a global table with multi-Region strong consistency (MultiRegionConsistency "
            "STRONG): a conditional write in one Region does not see a write just made in another, so two clusters "
            "could both win a move. Give one Region (AWS_REGION, or one in DYNAMODB_REGIONS), the same in every "
            "cluster, or use an MRSC table"
        )
