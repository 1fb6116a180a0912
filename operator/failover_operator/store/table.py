"""Creating (or checking) the single table the operators share — in one Region, or as a global table with
multi-Region strong consistency in three (`failover-operator setup-table --replica-region ... [--witness-region ...]`)
— and what kind of table it is (`TableTopology`)."""

from __future__ import annotations

import asyncio
import logging
import re
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


# --- a table in three Regions: a global table with multi-Region strong consistency (MRSC) ------------------------
#
# The requests follow the AWS documentation (UpdateTable, "Create and manage DynamoDB global tables with Multi-Region
# Strong Consistency"): the table is created in its home Region as above, then one UpdateTable in that Region adds the
# other replicas (ReplicaUpdates: [{"Create": {"RegionName": ...}}]), the witness if any (GlobalTableWitnessUpdates,
# likewise), and MultiRegionConsistency STRONG. An MRSC table has exactly three Regions: three replicas, or two
# replicas and a witness (which holds the replicated changes but serves no reads or writes). A table becomes MRSC only
# while it is empty, and its Regions are fixed from then on: no replica or witness can be added to it later.

MRSC_REGION_SETS: dict[str, frozenset[str]] = {
    "US": frozenset({"us-east-1", "us-east-2", "us-west-2"}),
    "EU": frozenset({"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1"}),
    "AP": frozenset({"ap-northeast-1", "ap-northeast-2", "ap-northeast-3"}),
}
"""The Region sets the DynamoDB API reference names for MRSC (CreateGlobalTableWitnessGroupMemberAction): N. Virginia,
Ohio, Oregon; Ireland, London, Paris, Frankfurt; Tokyo, Seoul, Osaka. Only a note: DynamoDB itself decides (AWS adds
Regions), so setup-table does not refuse other combinations, it says so before asking."""

MRSC_REGIONS = 3
"""Regions of an MRSC table: the home Region and two replica Regions, or one replica Region and a witness."""

MRSC_WAIT_SECONDS = 1800.0
"""How long setup-table waits for an MRSC table, its index, replicas and witness to be ACTIVE (AWS: a replica of an
empty table takes minutes)."""
MRSC_POLL_SECONDS = 5.0

REPLICA_FAILED = frozenset({"CREATION_FAILED", "REGION_DISABLED"})
"""Replica statuses no wait will change."""

_REGION_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_MIGRATE = "create a new table under another name and migrate the fleet to it (README: Surviving a Region)"


@dataclass(frozen=True)
class GlobalTableLayout:
    """Where an MRSC table lives: its home Region (where it is created and asked to replicate), the other replica
    Regions, and the witness Region if any."""

    home: str
    replicas: tuple[str, ...]
    witness: str | None = None

    @property
    def regions(self) -> tuple[str, ...]:
        return (self.home, *self.replicas, *([self.witness] if self.witness else []))

    def __str__(self) -> str:
        replicas = ", ".join((f"{self.home} (home)", *self.replicas))
        return f"replicas {replicas}" + (f", witness {self.witness}" if self.witness else "")


def split_regions(values: Sequence[str] | None) -> list[str]:
    """`--replica-region` as given: repeated, comma-separated, or both."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def mrsc_layout(home: str | None, replica_regions: Sequence[str], witness: str | None = None) -> GlobalTableLayout:
    """The Regions of an MRSC table, checked before any request. Raises ValueError saying what is wrong and what to
    give instead."""
    replicas = split_regions(replica_regions)
    witness = (witness or "").strip() or None
    if not home:
        raise ValueError("an MRSC table needs its home Region: --region (or AWS_REGION)")
    named = [home, *replicas, *([witness] if witness else [])]
    bad = [r for r in named if not _REGION_NAME.match(r)]
    if bad:
        raise ValueError(f"not an AWS Region name: {', '.join(bad)} (Regions look like us-east-1, eu-west-2)")
    twice = sorted({r for r in named if named.count(r) > 1})
    if twice:
        raise ValueError(
            f"Region {', '.join(twice)} named twice: an MRSC table has one replica or witness per Region, "
            f"and --replica-region lists the Regions besides the home Region ({home})"
        )
    if witness and len(replicas) != 1:
        raise ValueError(
            f"a witness needs exactly one --replica-region besides the home Region ({home}): two replicas and a "
            f"witness; got {len(replicas)} replica Region(s) besides it"
        )
    if len(named) != MRSC_REGIONS:
        raise ValueError(
            f"an MRSC table has exactly {MRSC_REGIONS} Regions: the home Region ({home}) and two --replica-region, or "
            f"one --replica-region and a --witness-region; got {len(named)} ({', '.join(named)})"
        )
    return GlobalTableLayout(home, tuple(replicas), witness)


def region_set_note(layout: GlobalTableLayout) -> str | None:
    """A note when the Regions are not all in one of the Region sets the DynamoDB documentation names for MRSC."""
    if any(set(layout.regions) <= regions for regions in MRSC_REGION_SETS.values()):
        return None
    sets = "; ".join(f"{name}: {', '.join(sorted(regions))}" for name, regions in MRSC_REGION_SETS.items())
    return (
        f"{', '.join(layout.regions)} are not all in one of the Region sets the DynamoDB documentation names for "
        f"multi-Region strong consistency ({sets}); DynamoDB refuses the request if it does not support them"
    )


def mrsc_update_request(table_name: str, layout: GlobalTableLayout) -> dict[str, Any]:
    """UpdateTable parameters that make a (new, empty) table in its home Region an MRSC global table."""
    request: dict[str, Any] = {
        "TableName": table_name,
        "ReplicaUpdates": [{"Create": {"RegionName": region}} for region in layout.replicas],
        "MultiRegionConsistency": "STRONG",
    }
    if layout.witness:
        request["GlobalTableWitnessUpdates"] = [{"Create": {"RegionName": layout.witness}}]
    return request


def mrsc_requests(table_name: str, layout: GlobalTableLayout) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two requests, both sent to the home Region: CreateTable (the single-Region table above), then
    UpdateTable (replicas, witness, STRONG). Pure: the request shapes are tested as they are."""
    return table_definition(table_name), mrsc_update_request(table_name, layout)


async def ensure_mrsc_table(
    client: Any,
    table_name: str,
    layout: GlobalTableLayout,
    *,
    wait_seconds: float | None = None,
    poll_interval: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Create the table as an MRSC global table in `layout`'s Regions (`client` talks to the home Region), and wait
    until the table, its index, every replica and the witness are ACTIVE — at most `wait_seconds` in all (default
    MRSC_WAIT_SECONDS), looking every `poll_interval` (MRSC_POLL_SECONDS).

    Idempotent: a table that is already MRSC in exactly these Regions is only waited for. Refused (StoreError, before
    any change): a table of that name with another key schema, with data, that is a global table of another mode, or
    MRSC in other Regions. Returns the table description, with `"Created": True` when this call created it."""
    say = progress or (lambda _: None)
    wait_seconds = MRSC_WAIT_SECONDS if wait_seconds is None else wait_seconds
    poll_interval = MRSC_POLL_SECONDS if poll_interval is None else poll_interval
    create, update = mrsc_requests(table_name, layout)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    created = False
    description = await _describe_or_none(client, table_name)
    if description is None:
        try:
            description = (await client.create_table(**create))["TableDescription"]
            created = True
            log.info("created DynamoDB table %s in %s", table_name, layout.home)
            say(f"created table {table_name} in {layout.home}")
        except ClientError as exc:
            if _code(exc) != "ResourceInUseException":
                raise StoreError(f"cannot create table {table_name} in {layout.home}: {exc}") from exc
            description = await _describe(client, table_name)
            say(f"found table {table_name} in {layout.home}, just created by someone else")
    else:
        say(f"found table {table_name} in {layout.home} ({_summary(description)})")
    description = await _wait_for(
        client,
        table_name,
        layout.home,
        description,
        _table_pending,
        deadline,
        wait_seconds,
        poll_interval,
        say,
        "its index",
    )
    check_schema(description)
    if not _global(description):
        items = description.get("ItemCount") or 0
        if not created and items:
            raise StoreError(
                f"table {table_name} in {layout.home} holds data (about {items} items): a table becomes MRSC only "
                f"while empty, so this one cannot: {_MIGRATE}"
            )
        try:
            await client.update_table(**update)
            log.info("asked DynamoDB to make table %s MRSC: %s", table_name, layout)
            say(f"asked DynamoDB to make table {table_name} MRSC (multi-Region strong consistency): {layout}")
        except ClientError as exc:
            if _code(exc) != "ResourceInUseException":
                hint = "" if created else f". A table becomes MRSC only while empty: if it holds data, {_MIGRATE}"
                raise StoreError(f"DynamoDB refused to make table {table_name} MRSC ({layout}): {exc}{hint}") from exc
            say(f"table {table_name} is being updated by someone else (setup-table elsewhere?): waiting for it")
        description = await _describe(client, table_name)
    else:
        _check_layout(table_name, description, layout, missing_is_wrong=_idle(description))
        say(f"table {table_name} is already a global table with multi-Region strong consistency: {layout}")

    def pending(d: dict[str, Any]) -> str | None:
        _check_layout(table_name, d, layout, missing_is_wrong=False)  # replicas may be listed late: waited for
        return ", ".join(p for p in (_table_pending(d), _replicas_pending(d, layout)) if p) or None

    description = await _wait_for(
        client,
        table_name,
        layout.home,
        description,
        pending,
        deadline,
        wait_seconds,
        poll_interval,
        say,
        "its replicas",
    )
    _check_layout(table_name, description, layout, missing_is_wrong=True)
    return {**description, "Created": created}


async def _describe(client: Any, table_name: str) -> dict[str, Any]:
    try:
        return dict((await client.describe_table(TableName=table_name))["Table"])
    except ClientError as exc:
        raise StoreError(f"cannot describe table {table_name}: {exc}") from exc


async def _describe_or_none(client: Any, table_name: str) -> dict[str, Any] | None:
    try:
        return dict((await client.describe_table(TableName=table_name))["Table"])
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return None
        raise StoreError(f"cannot describe table {table_name}: {exc}") from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _global(description: dict[str, Any]) -> bool:
    """Is the table (becoming) a global table: replicas, a witness, or strong multi-Region consistency?"""
    return bool(
        description.get("Replicas")
        or description.get("GlobalTableWitnesses")
        or description.get("MultiRegionConsistency") == "STRONG"
    )


def _summary(description: dict[str, Any]) -> str:
    mode = description.get("MultiRegionConsistency")
    return str(description.get("TableStatus")) + (f", multi-Region consistency {mode}" if mode else "")


def _regions_of(description: dict[str, Any], home: str) -> tuple[dict[str, str], dict[str, str]]:
    """(replica Region -> status, witness Region -> status) as the home Region describes them, home left out."""
    replicas = {
        str(r.get("RegionName")): str(r.get("ReplicaStatus", "?"))
        for r in description.get("Replicas") or []
        if r.get("RegionName") != home
    }
    witnesses = {
        str(w.get("RegionName")): str(w.get("WitnessStatus", "?"))
        for w in description.get("GlobalTableWitnesses") or []
    }
    return replicas, witnesses


def _idle(description: dict[str, Any]) -> bool:
    """Nothing in progress: the table, its replicas and its witness all ACTIVE."""
    replicas, witnesses = _regions_of(description, "")
    return description.get("TableStatus") == "ACTIVE" and all(
        status == "ACTIVE" for status in (*replicas.values(), *witnesses.values())
    )


def _check_layout(
    table_name: str, description: dict[str, Any], layout: GlobalTableLayout, *, missing_is_wrong: bool
) -> None:
    """Refuse a global table that is not the one asked for: another consistency mode, a Region more, a replica that
    failed, or (`missing_is_wrong`: nothing is in progress that could still add it) a Region less. A global table
    that states no mode is in the default one, eventual (`missing_is_wrong`; while ours is created, not yet)."""
    replicas, witnesses = _regions_of(description, layout.home)
    mode = description.get("MultiRegionConsistency")
    regions = ", ".join([*replicas, *(f"{w} (witness)" for w in witnesses)]) or "none listed"
    if (replicas or witnesses) and (mode not in (None, "STRONG") or (mode is None and missing_is_wrong)):
        raise StoreError(
            f"table {table_name} is a global table with multi-Region {str(mode or 'EVENTUAL').lower()} consistency "
            f"(replicas in "
            f"{regions}), not strong: a table's consistency mode is fixed when it becomes global, and a table becomes "
            f"MRSC only while empty: {_MIGRATE}"
        )
    wanted_witness = {layout.witness} if layout.witness else set()
    extra = sorted((set(replicas) - set(layout.replicas)) | (set(witnesses) - wanted_witness))
    missing = sorted((set(layout.replicas) - set(replicas)) | (wanted_witness - set(witnesses)))
    if extra or (missing and missing_is_wrong):
        raise StoreError(
            f"table {table_name} is already a global table in {layout.home} and {regions}, not {layout}: an MRSC "
            f"table's Regions are fixed when it is created. Run setup-table with its Regions, or {_MIGRATE}"
        )
    failed = sorted(f"{r} {s}" for r, s in replicas.items() if s in REPLICA_FAILED)
    if failed:
        raise StoreError(
            f"table {table_name}: replica {', '.join(failed)} (aws dynamodb describe-table --table-name {table_name} "
            f"--region {layout.home} says why)"
        )


def _table_pending(description: dict[str, Any]) -> str | None:
    if description.get("TableStatus") != "ACTIVE":
        return f"table {description.get('TableStatus')}"
    indexes = [
        f"index {gsi.get('IndexName')} {gsi.get('IndexStatus')}"
        for gsi in description.get("GlobalSecondaryIndexes") or []
        if gsi.get("IndexStatus", "ACTIVE") != "ACTIVE"
    ]
    return ", ".join(indexes) or None


def _replicas_pending(description: dict[str, Any], layout: GlobalTableLayout) -> str | None:
    replicas, witnesses = _regions_of(description, layout.home)
    waiting = [
        f"replica {r} {replicas.get(r, 'not listed yet')}" for r in layout.replicas if replicas.get(r) != "ACTIVE"
    ]
    if layout.witness and witnesses.get(layout.witness) != "ACTIVE":
        waiting.append(f"witness {layout.witness} {witnesses.get(layout.witness, 'not listed yet')}")
    if description.get("MultiRegionConsistency") != "STRONG":
        waiting.append(f"multi-Region consistency {description.get('MultiRegionConsistency') or 'not set yet'}")
    return ", ".join(waiting) or None


async def _wait_for(
    client: Any,
    table_name: str,
    home: str,
    description: dict[str, Any],
    pending: Callable[[dict[str, Any]], str | None],
    deadline: float,
    wait_seconds: float,
    poll_interval: float,
    say: Callable[[str], None],
    what: str,
) -> dict[str, Any]:
    """Describe the table until `pending` says nothing is; say what is pending whenever that changes (and at least
    every minute); StoreError at `deadline`."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    said, said_at = "", started
    while (waiting := pending(description)) is not None:
        now = loop.time()
        if now > deadline:
            raise StoreError(
                f"table {table_name} and {what} did not become ACTIVE within {wait_seconds:g}s ({waiting}). "
                f"DynamoDB carries on: run setup-table again to wait for it, or look with aws dynamodb "
                f"describe-table --table-name {table_name} --region {home}"
            )
        if waiting != said or now - said_at >= 60:
            say(f"waiting for table {table_name} and {what} to be ACTIVE: {waiting} ({now - started:.0f}s)")
            said, said_at = waiting, now
        await asyncio.sleep(poll_interval)
        description = await _describe(client, table_name)
    return description


# --- what kind of table it is: one Region, or a global table (MRSC or not) -----------------------------------

PROTOCOL_NEEDS_TRANSACTIONS = False
"""Does the protocol send transactions? No: every write is a single-item conditional write (a move, a proof, a
stop: docs/design.md, "Without transactions"), since a global table with multi-Region strong consistency (MRSC)
refuses them (ValidationException). Were it True, the operator would refuse to start on an MRSC table
(`check_topology`) rather than fail at its first failover. tests/store/test_topology.py checks that it agrees
with the store's code."""

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
