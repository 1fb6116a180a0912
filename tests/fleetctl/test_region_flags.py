"""The fleet commands over several Regions: `--region` and `--endpoint` repeated or comma-separated (one of each is
the one-Region form it always was), in place of DYNAMODB_REGIONS / AWS_REGION and DYNAMODB_ENDPOINTS /
DYNAMODB_ENDPOINT, with the settings' own messages; several Regions only for an MRSC table, checked before
anything is read; and a command that reads through the first Region that answers."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from failover_operator.fleetctl.commands import add_commands, status
from failover_operator.fleetctl.session import Fleet, UsageError, open_store, store_settings
from failover_operator.store import table as table_module
from failover_operator.store.regions import Region
from harness.dynamo import FAKE_CREDENTIALS, REGION
from harness.faults import MrscTable, start_proxy

from .conftest import OPERATOR, cli

ENVIRONMENT = (
    "OPERATOR_ID",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "DYNAMODB_ENDPOINT",
    "DYNAMODB_REGIONS",
    "DYNAMODB_ENDPOINTS",
)


def parse(*argv: str) -> argparse.Namespace:
    """The command line as `failover-operator` parses it (its fleet commands' flags)."""
    parser = argparse.ArgumentParser(prog="failover-operator")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(list(argv))


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in ENVIRONMENT:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("OPERATOR_ID", "shop-fleet")
    return monkeypatch


@pytest.mark.parametrize(
    "argv",
    [
        ("--region", "us-east-1", "--region", "us-east-2", "--region", "us-west-2"),
        ("--region", "us-east-1,us-east-2,us-west-2"),
        ("--region", "us-east-1,us-east-2", "--region", "us-west-2"),
    ],
)
def test_regions_repeated_or_comma_separated(clean: pytest.MonkeyPatch, argv: tuple[str, ...]) -> None:
    settings = store_settings(parse("status", *argv))
    assert [r.name for r in settings.regions] == ["us-east-1", "us-east-2", "us-west-2"]


def test_endpoints_go_with_the_regions_in_order(clean: pytest.MonkeyPatch) -> None:
    args = parse(
        "history", "shop/web", "--region", "us-east-1", "--endpoint", "http://a:1", "--region", "us-east-2",
        "--endpoint", "http://b:2",
    )  # fmt: skip
    assert store_settings(args).regions == [Region("us-east-1", "http://a:1"), Region("us-east-2", "http://b:2")]
    args = parse(
        "switchover",
        "shop/web",
        "--to",
        "west",
        "--reason",
        "drill",
        "--region",
        "us-east-1,us-east-2",
        "--endpoint",
        "http://a,http://b",
    )
    assert store_settings(args).regions == [Region("us-east-1", "http://a"), Region("us-east-2", "http://b")]


def test_one_region_and_one_endpoint_are_the_one_region_form(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("AWS_REGION", "eu-west-1")
    assert store_settings(parse("status")).regions == [Region("eu-west-1")]
    assert store_settings(parse("status", "--endpoint", "http://localhost:8000")).regions == [
        Region("eu-west-1", "http://localhost:8000")
    ]
    args = parse("status", "--region", "us-east-2", "--endpoint", "http://localhost:8000")
    assert store_settings(args).regions == [Region("us-east-2", "http://localhost:8000")]


def test_the_flags_replace_the_variables(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("DYNAMODB_REGIONS", "us-east-1,us-east-2,us-west-2")
    clean.setenv("DYNAMODB_ENDPOINTS", "http://a,http://b,http://c")
    assert store_settings(parse("status")).regions[2] == Region("us-west-2", "http://c")
    args = parse("status", "--region", "us-west-2", "--endpoint", "http://localhost:8000")
    assert store_settings(args).regions == [Region("us-west-2", "http://localhost:8000")]
    clean.setenv("DYNAMODB_ENDPOINT", "http://elsewhere")
    clean.delenv("DYNAMODB_ENDPOINTS")
    clean.delenv("DYNAMODB_REGIONS")
    args = parse("status", "--region", "us-east-1,us-west-2", "--endpoint", "http://a,http://b")
    assert store_settings(args).regions == [Region("us-east-1", "http://a"), Region("us-west-2", "http://b")]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("--region", "us-east-1", "--region", "us-east-1"), "DYNAMODB_REGIONS: a DynamoDB Region is listed twice"),
        (
            ("--region", "us-east-1,us-west-2", "--endpoint", "http://a,http://b,http://c"),
            "DYNAMODB_ENDPOINTS: 3 DynamoDB endpoint(s) for 2 Region(s): give one endpoint per Region",
        ),
        (("--region", "us east 1"), "is not a Region name"),
    ],
)
def test_mistakes_are_the_settings_own_messages(clean: pytest.MonkeyPatch, argv: tuple[str, ...], said: str) -> None:
    with pytest.raises(UsageError) as caught:
        store_settings(parse("status", *argv))
    assert said in str(caught.value)


def test_several_regions_of_a_table_that_is_not_mrsc_are_refused_before_anything_is_read(
    fleet: Any, env: dict[str, str], moto_endpoint: str, table: str
) -> None:
    answer = cli(env, "status", "--region", "us-east-1,us-east-2", "--endpoint", f"{moto_endpoint},{moto_endpoint}")
    assert answer.code == 2 and answer.err.count("\n") == 1, answer
    assert answer.err.startswith("failover-operator: DYNAMODB_REGIONS names 2 Regions (us-east-1, us-east-2), but ")
    assert f"DynamoDB table {table} is a single-Region table (us-east-1)" in answer.err
    repeated = cli(env, "status", "--region", "us-east-1", "--region", "us-east-1")
    assert repeated.code == 2 and "a DynamoDB Region is listed twice: us-east-1" in repeated.err, repeated


def test_setup_table_takes_one_home_region_and_the_others_as_replicas(env: dict[str, str], moto_endpoint: str) -> None:
    answer = cli(env, "setup-table", "--table", "t", "--region", "us-east-1,us-west-2")
    assert answer.code == 2 and "setup-table creates the table in one home Region, not us-east-1,us-west-2" in (
        answer.err
    ), answer
    assert "--replica-region / --witness-region" in answer.err


async def test_status_reads_through_the_first_region_that_answers(
    fleet: Any,
    moto_endpoint: str,
    table: str,
    clean: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An MRSC table (proxies in front of moto: harness/faults.py) whose first Region is down: `status` checks the
    table and reads the fleet through Region 2 (with the protocol taken as transaction-free, which such a table
    requires)."""
    clean.setenv("AWS_ACCESS_KEY_ID", FAKE_CREDENTIALS["aws_access_key_id"])
    clean.setenv("AWS_SECRET_ACCESS_KEY", FAKE_CREDENTIALS["aws_secret_access_key"])
    clean.setattr(table_module, "PROTOCOL_NEEDS_TRANSACTIONS", False)
    names = ("us-east-1", "us-east-2")
    mrsc = MrscTable(replicas=names)
    proxies = [await start_proxy(moto_endpoint, backend_region=REGION, region=n, mrsc=mrsc) for n in names]
    try:
        await proxies[0].refuse()
        args = parse(
            "status", "--operator-id", OPERATOR, "--table", table, "--region", ",".join(names),
            "--endpoint", ",".join(p.endpoint for p in proxies), "-o", "json",
        )  # fmt: skip
        settings = store_settings(args)
        async with open_store(settings) as store:
            assert await status(Fleet(store, settings), args) == 0
            assert getattr(store.client, "region", None) == "us-east-2"
    finally:
        for proxy in proxies:
            await proxy.stop()
    groups = json.loads(capsys.readouterr().out)["groups"]
    assert sorted((g["namespace"], g["name"], g["owner"]) for g in groups) == [
        ("shop", "api", "east"),
        ("shop", "web", "east"),
    ]
    assert proxies[1].requests[0].operation == "DescribeTable"
