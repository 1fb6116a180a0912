"""What kind of table it is (store/table.py): TableTopology from a DescribeTable answer, and the start-up refusals
(`check_topology`, and runner.check_table, which asks through the regional client): an MRSC table while the protocol
needs transactions, a Region that is the witness or no replica at all, several Regions on a table that is not MRSC.
moto's DescribeTable knows nothing of MRSC: the answers here are written as DynamoDB's documentation gives them."""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

import pytest

import failover_operator
from failover_operator import store
from failover_operator.clock import FakeClock
from failover_operator.runner import StartupError, check_table
from failover_operator.settings import StoreSettings
from failover_operator.store import table as table_module
from failover_operator.store.regions import RegionalClient
from failover_operator.store.table import (
    PROTOCOL_NEEDS_TRANSACTIONS,
    TableTopology,
    TopologyError,
    check_topology,
    topology_of,
)

BASE: dict[str, Any] = {
    "TableName": "failover-operator",
    "TableStatus": "ACTIVE",
    "TableArn": "arn:aws:dynamodb:us-east-1:123456789012:table/failover-operator",
    "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
}
MRSC_THREE = {
    **BASE,
    "MultiRegionConsistency": "STRONG",
    "Replicas": [
        {"RegionName": "us-east-2", "ReplicaStatus": "ACTIVE"},
        {"RegionName": "us-west-2", "ReplicaStatus": "ACTIVE"},
    ],
}
MRSC_WITNESS = {
    **BASE,
    "MultiRegionConsistency": "STRONG",
    "Replicas": [{"RegionName": "us-east-2", "ReplicaStatus": "ACTIVE"}],
    "GlobalTableWitnesses": [{"RegionName": "us-west-2", "WitnessStatus": "ACTIVE"}],
}
MREC = {
    **BASE,
    "MultiRegionConsistency": "EVENTUAL",
    "Replicas": [{"RegionName": "eu-west-1", "ReplicaStatus": "ACTIVE"}],
}


def test_an_mrsc_table_of_three_replicas() -> None:
    topology = topology_of(MRSC_THREE, "us-east-1")
    assert topology == TableTopology(
        "failover-operator", mrsc=True, replicas=("us-east-1", "us-east-2", "us-west-2"), witnesses=()
    )
    assert topology.describe() == (
        "global table with multi-Region strong consistency, MRSC (replicas us-east-1, us-east-2, us-west-2)"
    )


def test_an_mrsc_table_of_two_replicas_and_a_witness() -> None:
    topology = topology_of(MRSC_WITNESS, "us-east-1")
    assert (topology.mrsc, topology.replicas, topology.witnesses) == (
        True,
        ("us-east-1", "us-east-2"),
        ("us-west-2",),
    )
    assert topology.describe().endswith("(replicas us-east-1, us-east-2; witness us-west-2)")


def test_the_region_asked_is_a_replica_whether_or_not_the_answer_lists_it() -> None:
    listed = copy.deepcopy(MRSC_THREE)
    listed["Replicas"].append({"RegionName": "us-east-1", "ReplicaStatus": "ACTIVE"})
    assert topology_of(listed, "us-east-1").replicas == ("us-east-1", "us-east-2", "us-west-2")
    assert topology_of(MRSC_THREE).replicas == ("us-east-2", "us-west-2")


def test_tables_that_are_not_mrsc() -> None:
    single = topology_of(BASE, "eu-west-1")
    assert (single.mrsc, single.global_table, single.replicas) == (False, False, ("eu-west-1",))
    assert single.describe() == "single-Region table (eu-west-1)"
    mrec = topology_of(MREC, "us-east-1")
    assert (mrec.mrsc, mrec.global_table) == (False, True)
    assert "multi-Region eventual consistency, MREC (replicas us-east-1, eu-west-1)" in mrec.describe()
    assert not topology_of({**BASE, "MultiRegionConsistency": "EVENTUAL"}, "us-east-1").mrsc


def refusal(topology: TableTopology, regions: list[str], needs: bool) -> str:
    with pytest.raises(TopologyError) as caught:
        check_topology(topology, regions, needs_transactions=needs)
    return str(caught.value)


def test_an_mrsc_table_is_refused_while_the_protocol_needs_transactions() -> None:
    said = refusal(topology_of(MRSC_WITNESS, "us-east-1"), ["us-east-1", "us-east-2"], needs=True)
    assert "DynamoDB table failover-operator" in said
    assert "replicas us-east-1, us-east-2; witness us-west-2" in said  # its Regions
    assert "refuses transactions (TransactWriteItems)" in said  # why
    assert "Use a single-Region table" in said and "a version of failover-operator" in said  # what to do
    # even named in one Region only: the transactions would fail there all the same
    refusal(topology_of(MRSC_THREE, "us-east-1"), ["us-east-1"], needs=True)


def test_an_mrsc_table_is_used_once_the_protocol_needs_none() -> None:
    everywhere = ["us-east-1", "us-east-2", "us-west-2"]
    check_topology(topology_of(MRSC_THREE, "us-east-1"), everywhere, needs_transactions=False)
    from_east2 = {**MRSC_WITNESS, "Replicas": [{"RegionName": "us-east-1", "ReplicaStatus": "ACTIVE"}]}
    check_topology(topology_of(from_east2, "us-east-2"), ["us-east-2", "us-east-1"], needs_transactions=False)


def test_a_witness_or_a_region_without_a_replica_is_refused() -> None:
    topology = topology_of(MRSC_WITNESS, "us-east-1")
    said = refusal(topology, ["us-east-1", "us-west-2"], needs=False)
    assert said.startswith("DYNAMODB_REGIONS names us-west-2, the witness of DynamoDB table failover-operator")
    assert "serves no request" in said and "(us-east-1, us-east-2)" in said
    said = refusal(topology, ["us-east-1", "eu-west-1"], needs=False)
    assert "eu-west-1, which is not a replica Region of DynamoDB table failover-operator" in said


def test_several_regions_of_a_table_that_is_not_mrsc_are_refused() -> None:
    said = refusal(topology_of(MREC, "us-east-1"), ["us-east-1", "eu-west-1"], needs=False)
    assert "names 2 Regions (us-east-1, eu-west-1)" in said and "MREC" in said
    assert "two clusters could both win a move" in said and "Give one Region" in said
    refusal(topology_of(BASE, "us-east-1"), ["us-east-1", "us-east-2"], needs=True)
    check_topology(topology_of(MREC, "us-east-1"), ["us-east-1"], needs_transactions=True)  # one Region: as ever
    check_topology(topology_of(BASE, "us-east-1"), ["us-east-1"])


def test_the_default_is_the_one_constant(monkeypatch: pytest.MonkeyPatch) -> None:
    topology = topology_of(MRSC_THREE, "us-east-1")
    monkeypatch.setattr(table_module, "PROTOCOL_NEEDS_TRANSACTIONS", True)
    with pytest.raises(TopologyError):
        check_topology(topology, ["us-east-1"])
    monkeypatch.setattr(table_module, "PROTOCOL_NEEDS_TRANSACTIONS", False)
    check_topology(topology, ["us-east-1"])


def test_protocol_needs_transactions_says_what_the_store_does() -> None:
    """The constant must be flipped with the last transaction the store sends, and not before: a call whose
    operation is transact_write_items / transact_get_items (`call("transact_write_items", ...)`, or the method)."""
    root = Path(failover_operator.__file__).parent
    sent = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            named = [a.value for a in node.args[:1] if isinstance(a, ast.Constant)]
            if isinstance(node.func, ast.Attribute):
                named.append(node.func.attr)
            if {"transact_write_items", "transact_get_items"} & set(named):
                sent.append(f"{path.relative_to(root)}:{node.lineno}")
    assert store.PROTOCOL_NEEDS_TRANSACTIONS is PROTOCOL_NEEDS_TRANSACTIONS
    assert bool(sent) == PROTOCOL_NEEDS_TRANSACTIONS, (
        f"PROTOCOL_NEEDS_TRANSACTIONS is {PROTOCOL_NEEDS_TRANSACTIONS} but the store sends transactions at {sent}"
        if sent
        else "PROTOCOL_NEEDS_TRANSACTIONS is True but the store sends no transaction: flip it in store/table.py"
    )


# --- the start-up check, through the regional client ------------------------------------------------------


class Describing:
    """A Region's client that answers DescribeTable with `description`, as that Region would (it lists the other
    Regions among the Replicas), or cannot be reached."""

    def __init__(self, description: dict[str, Any] | None) -> None:
        self.description = description
        self.asked = 0

    async def describe_table(self, TableName: str) -> dict[str, Any]:
        self.asked += 1
        if self.description is None:
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url="https://dynamodb.example")
        return {"Table": {**self.description, "TableName": TableName}}


def settings(regions: str) -> StoreSettings:
    return StoreSettings(operator_id="shop-fleet", dynamodb_table="failover-operator", dynamodb_regions=regions)


async def test_the_operator_refuses_to_start_on_an_mrsc_table_while_it_needs_transactions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(table_module, "PROTOCOL_NEEDS_TRANSACTIONS", True)
    east1 = Describing(MRSC_THREE)
    client = RegionalClient([("us-east-1", east1), ("us-east-2", Describing(None))], FakeClock().monotonic)
    with pytest.raises(StartupError, match=r"MRSC .* refuses transactions") as caught:
        await check_table(client, settings("us-east-1,us-east-2"))
    assert "table failover-operator" in str(caught.value) and east1.asked == 1


async def test_the_operator_starts_on_an_mrsc_table_once_it_needs_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table_module, "PROTOCOL_NEEDS_TRANSACTIONS", False)
    # Region 1 cannot be reached: Region 2 answers (the start-up check takes the first Region that answers)
    east2 = {**MRSC_THREE, "Replicas": [{"RegionName": r} for r in ("us-east-1", "us-west-2")]}
    client = RegionalClient([("us-east-1", Describing(None)), ("us-east-2", Describing(east2))], FakeClock().monotonic)
    topology = await check_table(client, settings("us-east-1,us-east-2"))
    assert topology.mrsc and set(topology.replicas) == {"us-east-1", "us-east-2", "us-west-2"}
    assert client.region == "us-east-2"


async def test_the_operator_cannot_start_when_no_region_answers() -> None:
    down = [("us-east-1", Describing(None)), ("us-east-2", Describing(None))]
    client = RegionalClient(down, FakeClock().monotonic)
    with pytest.raises(StartupError, match=r"cannot reach DynamoDB \(us-east-1, us-east-2\)"):
        await check_table(client, settings("us-east-1,us-east-2"))
    assert [c.asked for _, c in down] == [1, 1]  # each Region once


async def test_the_operator_refuses_a_witness_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table_module, "PROTOCOL_NEEDS_TRANSACTIONS", False)
    client = RegionalClient(
        [("us-east-1", Describing(MRSC_WITNESS)), ("us-west-2", Describing(None))], FakeClock().monotonic
    )
    with pytest.raises(StartupError, match="us-west-2, the witness of DynamoDB table failover-operator"):
        await check_table(client, settings("us-east-1,us-west-2"))


async def test_the_operator_refuses_several_regions_of_a_table_that_is_not_mrsc() -> None:
    client = RegionalClient([("us-east-1", Describing(BASE)), ("us-east-2", Describing(BASE))], FakeClock().monotonic)
    with pytest.raises(StartupError, match=r"names 2 Regions .* single-Region table"):
        await check_table(client, settings("us-east-1,us-east-2"))


async def test_one_region_on_a_single_region_table_starts_as_it_always_did() -> None:
    one = StoreSettings(operator_id="shop-fleet", aws_region="eu-west-1")
    topology = await check_table(Describing(BASE), one)
    assert topology == TableTopology("failover-operator", mrsc=False, replicas=("eu-west-1",))


def test_the_topology_is_logged_after_the_start_line(caplog: pytest.LogCaptureFixture) -> None:
    from failover_operator.runner import _table_is

    caplog.set_level("INFO", logger="failover_operator")
    _table_is(topology_of(MRSC_WITNESS, "us-east-1"), settings("us-east-1,us-east-2"))
    (record,) = caplog.records
    assert record.getMessage() == (
        "DynamoDB table failover-operator: global table with multi-Region strong consistency, MRSC (replicas "
        "us-east-1, us-east-2; witness us-west-2); requests go to the first of us-east-1, us-east-2 that answers"
    )
    assert (record.mrsc, record.replicas, record.witnesses, record.regions) == (  # type: ignore[attr-defined]
        True,
        ["us-east-1", "us-east-2"],
        ["us-west-2"],
        ["us-east-1", "us-east-2"],
    )
