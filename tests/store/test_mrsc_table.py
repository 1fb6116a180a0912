"""`setup-table --replica-region ... [--witness-region ...]`: a table in three Regions, as a global table with
multi-Region strong consistency (MRSC).

moto implements no MRSC (it ignores MultiRegionConsistency and GlobalTableWitnessUpdates, and keeps one table per
Region, unreplicated), so the flow runs against a fake DynamoDB control plane below: create_table, update_table and
describe_table of one table, described from its home Region, with the statuses and fields the DynamoDB API reference
gives (TableStatus, GlobalSecondaryIndexes[].IndexStatus, Replicas[].ReplicaStatus, GlobalTableWitnesses[].
WitnessStatus, MultiRegionConsistency). The request shapes themselves are checked against the AWS documentation's.
The single-Region path runs on moto (tests/store/test_table.py, test_setup_table_cli.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from failover_operator import cli
from failover_operator.store import StoreError
from failover_operator.store.table import (
    GlobalTableLayout,
    ensure_mrsc_table,
    mrsc_layout,
    mrsc_requests,
    region_set_note,
    split_regions,
    table_definition,
)

TABLE = "failover-operator"
THREE = GlobalTableLayout("us-east-1", ("us-east-2", "us-west-2"))
WITNESSED = GlobalTableLayout("us-east-1", ("us-east-2",), "us-west-2")


# --- the requests, pure ---------------------------------------------------------------------------------------


def test_three_replicas_are_one_update_table_with_two_creates_and_strong() -> None:
    create, update = mrsc_requests(TABLE, THREE)
    assert create == table_definition(TABLE)  # the single-Region table, created in the home Region first
    assert update == {
        "TableName": TABLE,
        "ReplicaUpdates": [{"Create": {"RegionName": "us-east-2"}}, {"Create": {"RegionName": "us-west-2"}}],
        "MultiRegionConsistency": "STRONG",
    }


def test_two_replicas_and_a_witness_add_global_table_witness_updates() -> None:
    _, update = mrsc_requests(TABLE, WITNESSED)
    # As the AWS CLI example has it: --replica-updates '[{"Create": {"RegionName": "us-east-1"}}]'
    # --global-table-witness-updates '[{"Create": {"RegionName": "us-west-2"}}]' --multi-region-consistency STRONG
    assert update == {
        "TableName": TABLE,
        "ReplicaUpdates": [{"Create": {"RegionName": "us-east-2"}}],
        "GlobalTableWitnessUpdates": [{"Create": {"RegionName": "us-west-2"}}],
        "MultiRegionConsistency": "STRONG",
    }


def test_the_requests_are_valid_for_botocore() -> None:
    """The parameter names and nesting are the ones botocore's DynamoDB model (the API) knows."""
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("dynamodb")
    for layout in (THREE, WITNESSED):
        create, update = mrsc_requests(TABLE, layout)
        for operation, params in (("CreateTable", create), ("UpdateTable", update)):
            report = ParamValidator().validate(params, model.operation_model(operation).input_shape)
            assert not report.has_errors(), report.generate_report()


# --- the Regions, checked before any request ------------------------------------------------------------------


def test_replica_regions_may_be_repeated_or_comma_separated() -> None:
    assert split_regions(["us-east-2,us-west-2"]) == ["us-east-2", "us-west-2"]
    assert split_regions(["us-east-2", " us-west-2 ", ""]) == ["us-east-2", "us-west-2"]
    assert mrsc_layout("us-east-1", ["us-east-2, us-west-2"]) == THREE
    assert mrsc_layout("us-east-1", ["us-east-2"], "us-west-2") == WITNESSED
    assert str(WITNESSED) == "replicas us-east-1 (home), us-east-2, witness us-west-2"
    assert WITNESSED.regions == ("us-east-1", "us-east-2", "us-west-2")


@pytest.mark.parametrize(
    ("replicas", "witness", "says"),
    [
        (["us-east-2"], None, "exactly 3 Regions"),  # two in all
        (["us-east-2", "us-west-2", "us-west-1"], None, "exactly 3 Regions"),  # four
        (["us-east-2", "us-west-2"], "eu-west-1", "a witness needs exactly one --replica-region"),
        ([], "us-west-2", "a witness needs exactly one --replica-region"),
        (["us-east-2", "us-east-2"], None, "us-east-2 named twice"),
        (["us-east-1", "us-east-2"], None, "us-east-1 named twice"),  # the home Region listed as a replica
        (["us-east-2"], "us-east-2", "us-east-2 named twice"),
        (["us-east-2"], "us-east-1", "us-east-1 named twice"),
        (["us-east2", "us-west-2"], None, "not an AWS Region name: us-east2"),
    ],
)
def test_wrong_regions_are_refused_saying_what_to_give(replicas: list[str], witness: str | None, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        mrsc_layout("us-east-1", replicas, witness)


def test_regions_outside_one_documented_region_set_get_a_note_not_a_refusal() -> None:
    assert region_set_note(THREE) is None and region_set_note(WITNESSED) is None
    assert region_set_note(GlobalTableLayout("eu-west-1", ("eu-west-2",), "eu-central-1")) is None
    note = region_set_note(GlobalTableLayout("us-east-1", ("eu-west-1",), "us-west-2"))
    assert note and "not all in one of the Region sets" in note and "EU: eu-central-1" in note


# --- the flow, against a fake control plane --------------------------------------------------------------------


def error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message or code}}, "Operation")


class FakeDynamoDB:
    """One table's control plane as its home Region describes it. Every describe_table moves what is in progress one
    step on: a new table and its index are ACTIVE after `steps` describes, replicas and the witness after `steps`
    more (never, with `stuck`). `calls` records (operation, parameters)."""

    def __init__(self, *, table: dict[str, Any] | None = None, steps: int = 2, stuck: bool = False) -> None:
        self.table = copy.deepcopy(table)
        self.steps = steps
        self.stuck = stuck
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.refuse_update: ClientError | None = None
        self._countdown = 0

    async def create_table(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("create_table", params))
        if self.table is not None:
            raise error("ResourceInUseException", f"Table already exists: {params['TableName']}")
        self.table = {
            "TableName": params["TableName"],
            "TableArn": f"arn:aws:dynamodb:us-east-1:123456789012:table/{params['TableName']}",
            "TableStatus": "CREATING",
            "KeySchema": params["KeySchema"],
            "GlobalSecondaryIndexes": [
                {**gsi, "IndexStatus": "CREATING"} for gsi in params.get("GlobalSecondaryIndexes", [])
            ],
            "ItemCount": 0,
        }
        self._countdown = self.steps
        return {"TableDescription": copy.deepcopy(self.table)}

    async def update_table(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("update_table", params))
        if self.refuse_update is not None:
            raise self.refuse_update
        assert self.table is not None
        self.table["TableStatus"] = "UPDATING"
        self.table["MultiRegionConsistency"] = params.get("MultiRegionConsistency", "EVENTUAL")
        self.table["Replicas"] = [
            {"RegionName": u["Create"]["RegionName"], "ReplicaStatus": "CREATING"} for u in params["ReplicaUpdates"]
        ]
        if "GlobalTableWitnessUpdates" in params:
            self.table["GlobalTableWitnesses"] = [
                {"RegionName": u["Create"]["RegionName"], "WitnessStatus": "CREATING"}
                for u in params["GlobalTableWitnessUpdates"]
            ]
        self._countdown = self.steps
        return {"TableDescription": copy.deepcopy(self.table)}

    async def describe_table(self, TableName: str) -> dict[str, Any]:
        self.calls.append(("describe_table", {"TableName": TableName}))
        if self.table is None:
            raise error("ResourceNotFoundException", f"Requested resource not found: Table: {TableName} not found")
        if self._countdown > 0:
            self._countdown -= 1
        elif not (self.stuck and self.table.get("Replicas")):
            self.table["TableStatus"] = "ACTIVE"
            for gsi in self.table.get("GlobalSecondaryIndexes", []):
                gsi["IndexStatus"] = "ACTIVE"
            for replica in self.table.get("Replicas", []):
                replica["ReplicaStatus"] = "ACTIVE"
            for witness in self.table.get("GlobalTableWitnesses", []):
                witness["WitnessStatus"] = "ACTIVE"
        return {"Table": copy.deepcopy(self.table)}

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls if name != "describe_table"]


def active_table(**extra: Any) -> dict[str, Any]:
    table = {**table_definition(TABLE), "TableStatus": "ACTIVE", "ItemCount": 0, **extra}
    table["GlobalSecondaryIndexes"] = [{**g, "IndexStatus": "ACTIVE"} for g in table["GlobalSecondaryIndexes"]]
    return table


async def setup(fake: FakeDynamoDB, layout: GlobalTableLayout, **kwargs: Any) -> tuple[dict[str, Any], list[str]]:
    said: list[str] = []
    kwargs = {"poll_interval": 0, "wait_seconds": 5, **kwargs}
    description = await ensure_mrsc_table(fake, TABLE, layout, progress=said.append, **kwargs)
    return description, said


@pytest.mark.parametrize("layout", [THREE, WITNESSED], ids=["three-replicas", "two-replicas-and-a-witness"])
async def test_a_new_table_is_created_made_mrsc_and_waited_for(layout: GlobalTableLayout) -> None:
    fake = FakeDynamoDB()
    description, said = await setup(fake, layout)
    create, update = mrsc_requests(TABLE, layout)
    assert [(n, p) for n, p in fake.calls if n != "describe_table"] == [
        ("create_table", create),
        ("update_table", update),
    ]
    # the update waits for the table and its index: DynamoDB takes no UpdateTable while the table is CREATING
    first_update = next(i for i, (n, _) in enumerate(fake.calls) if n == "update_table")
    assert fake.calls[first_update - 1] == ("describe_table", {"TableName": TABLE})
    assert description["Created"] is True and description["MultiRegionConsistency"] == "STRONG"
    assert {r["ReplicaStatus"] for r in description["Replicas"]} == {"ACTIVE"}
    assert said[0] == f"created table {TABLE} in us-east-1"
    assert any(
        line.startswith(f"waiting for table {TABLE} and its index to be ACTIVE: table CREATING") for line in said
    )
    assert any(f"asked DynamoDB to make table {TABLE} MRSC" in line and str(layout) in line for line in said)
    assert any("replica us-east-2 CREATING" in line for line in said)
    if layout.witness:
        assert any("witness us-west-2 CREATING" in line for line in said)


async def test_an_existing_table_that_matches_is_only_waited_for() -> None:
    fake = FakeDynamoDB()
    await setup(fake, WITNESSED)
    fake.calls.clear()
    description, said = await setup(fake, WITNESSED)
    assert fake.operations() == [] and description["Created"] is False
    assert said == [
        f"found table {TABLE} in us-east-1 (ACTIVE, multi-Region consistency STRONG)",
        f"table {TABLE} is already a global table with multi-Region strong consistency: {WITNESSED}",
    ]


async def test_an_existing_empty_single_region_table_is_made_mrsc() -> None:
    fake = FakeDynamoDB(table=active_table())
    description, _ = await setup(fake, THREE)
    assert fake.operations() == ["update_table"] and description["Created"] is False


async def test_a_table_with_data_is_refused_before_any_change() -> None:
    fake = FakeDynamoDB(table=active_table(ItemCount=42))
    with pytest.raises(StoreError) as refused:
        await setup(fake, THREE)
    assert fake.operations() == []
    message = str(refused.value)
    assert "holds data (about 42 items)" in message and "a table becomes MRSC only while empty" in message
    assert "create a new table under another name and migrate" in message and "Surviving a Region" in message


async def test_dynamodb_refusing_the_update_says_what_to_do() -> None:
    """ItemCount is refreshed only every few hours: a table that looks empty may not be; DynamoDB says so itself."""
    fake = FakeDynamoDB(table=active_table())
    fake.refuse_update = error("ValidationException", "Table must be empty to enable multi-Region strong consistency")
    with pytest.raises(StoreError) as refused:
        await setup(fake, THREE)
    message = str(refused.value)
    assert "DynamoDB refused to make table" in message and "ValidationException" in message
    assert "only while empty" in message and "migrate" in message


@pytest.mark.parametrize(
    ("existing", "says"),
    [
        (  # a global table with multi-Region eventual consistency
            {
                "Replicas": [{"RegionName": "us-east-2", "ReplicaStatus": "ACTIVE"}],
                "MultiRegionConsistency": "EVENTUAL",
            },
            "multi-Region eventual consistency",
        ),
        (  # MRSC, but in other Regions
            {
                "Replicas": [
                    {"RegionName": "us-east-2", "ReplicaStatus": "ACTIVE"},
                    {"RegionName": "us-west-2", "ReplicaStatus": "ACTIVE"},
                ],
                "MultiRegionConsistency": "STRONG",
            },
            "Regions are fixed when it is created",
        ),
        (  # a global table whose description states no mode: the default one, eventual
            {"Replicas": [{"RegionName": "us-east-2", "ReplicaStatus": "ACTIVE"}]},
            "multi-Region eventual consistency",
        ),
    ],
    ids=["eventual", "other-regions", "mode-not-stated"],
)
async def test_a_global_table_that_is_not_the_one_asked_for_is_refused(existing: dict[str, Any], says: str) -> None:
    fake = FakeDynamoDB(table=active_table(**existing))
    with pytest.raises(StoreError, match=says):
        await setup(fake, WITNESSED)
    assert fake.operations() == []


async def test_a_table_with_another_key_schema_is_refused() -> None:
    fake = FakeDynamoDB(table={**active_table(), "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]})
    with pytest.raises(StoreError, match="key schema"):
        await setup(fake, THREE)
    assert fake.operations() == []


async def test_replicas_that_never_become_active_time_out_saying_what_is_pending() -> None:
    fake = FakeDynamoDB(stuck=True)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(StoreError) as timed_out:
        await setup(fake, WITNESSED, wait_seconds=0.2, poll_interval=0.01)
    assert loop.time() - started < 2
    message = str(timed_out.value)
    assert f"table {TABLE} and its replicas did not become ACTIVE within 0.2s (table UPDATING" in message
    assert "replica us-east-2 CREATING" in message and "witness us-west-2 CREATING" in message
    assert "run setup-table again to wait for it" in message


async def test_a_replica_that_failed_is_reported_at_once() -> None:
    fake = FakeDynamoDB(stuck=True)
    original = fake.describe_table

    async def failing(TableName: str) -> dict[str, Any]:
        answer = await original(TableName)
        for replica in answer["Table"].get("Replicas", []):
            replica["ReplicaStatus"] = "CREATION_FAILED"
        return answer

    fake.describe_table = failing  # type: ignore[method-assign]
    with pytest.raises(StoreError, match="replica us-east-2 CREATION_FAILED"):
        await setup(fake, WITNESSED, wait_seconds=60)


# --- the command --------------------------------------------------------------------------------------------------


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> FakeDynamoDB:
    """setup-table's client is the fake (for its home Region); no request leaves the process."""
    fake = FakeDynamoDB(steps=1)
    regions: list[str] = []

    @contextlib.asynccontextmanager
    async def open_client(region: str, endpoint: str | None = None, **_: Any) -> AsyncIterator[FakeDynamoDB]:
        regions.append(region)
        yield fake

    monkeypatch.setattr("failover_operator.store.connect.open_client", open_client)
    monkeypatch.setattr("failover_operator.store.table.MRSC_POLL_SECONDS", 0.0)
    monkeypatch.setattr("failover_operator.store.table.MRSC_WAIT_SECONDS", 5.0)
    fake.regions = regions  # type: ignore[attr-defined]
    return fake


def test_setup_table_with_replica_and_witness_regions(
    fake_aws: FakeDynamoDB, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["setup-table", "--table", TABLE, "--region", "us-east-1", "--replica-region", "us-east-2"]
    assert cli.main([*argv, "--witness-region", "us-west-2"]) == 0
    out = capsys.readouterr()
    assert fake_aws.regions == ["us-east-1"]  # type: ignore[attr-defined]  # every request goes to the home Region
    assert fake_aws.operations() == ["create_table", "update_table"]
    assert out.out.splitlines()[0] == f"created table {TABLE} in us-east-1"
    assert out.out.splitlines()[-1] == (
        f"table {TABLE} is ACTIVE in {WITNESSED}, multi-Region strong consistency "
        f"(arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE})"
    )
    assert out.err == ""
    # again: idempotent
    assert cli.main([*argv, "--witness-region", "us-west-2"]) == 0
    assert fake_aws.operations() == ["create_table", "update_table"]


def test_setup_table_takes_comma_separated_replica_regions(
    fake_aws: FakeDynamoDB, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["setup-table", "--table", TABLE, "--region", "us-east-1", "--replica-region", "us-east-2,us-west-2"]
    assert cli.main(argv) == 0
    (update,) = [p for n, p in fake_aws.calls if n == "update_table"]
    assert update == mrsc_requests(TABLE, THREE)[1]


@pytest.mark.parametrize(
    "flags",
    [
        ["--replica-region", "us-east-2"],
        ["--replica-region", "us-east-2", "--replica-region", "us-west-2", "--witness-region", "eu-west-1"],
        ["--witness-region", "us-west-2"],
        ["--replica-region", "us-east-1,us-east-2"],
    ],
)
def test_wrong_regions_stop_setup_table_before_any_request(
    fake_aws: FakeDynamoDB, capsys: pytest.CaptureFixture[str], flags: list[str]
) -> None:
    assert cli.main(["setup-table", "--table", TABLE, "--region", "us-east-1", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("failover-operator: ") and err.count("\n") == 1
    assert fake_aws.calls == [] and fake_aws.regions == []  # type: ignore[attr-defined]


def test_setup_table_notes_regions_outside_the_documented_sets(
    fake_aws: FakeDynamoDB, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["setup-table", "--table", TABLE, "--region", "us-east-1", "--replica-region", "eu-west-1"]
    assert cli.main([*argv, "--witness-region", "us-west-2"]) == 0
    assert capsys.readouterr().err.startswith("note: us-east-1, eu-west-1, us-west-2 are not all in one")


def test_setup_table_refusals_are_one_line(fake_aws: FakeDynamoDB, capsys: pytest.CaptureFixture[str]) -> None:
    fake_aws.table = active_table(ItemCount=7)
    argv = ["setup-table", "--table", TABLE, "--region", "us-east-1", "--replica-region", "us-east-2,us-west-2"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a table becomes MRSC only while empty" in err
    assert fake_aws.operations() == []
