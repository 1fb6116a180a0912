"""The store over three Regions of one table (moto, behind one proxy per Region: harness/faults.py), through the
operator's own client (store.connect.open_regions): while Region 1's endpoint refuses connections, everything goes
through Region 2, conditions included; Region 1 gets its requests back once it answers and `back_after` has passed
on the client's clock. The clock is a fake one: nothing waits for 30 s."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from failover_operator.clock import FakeClock
from failover_operator.metrics import Metrics
from failover_operator.runner import StartupError, check_table
from failover_operator.settings import StoreSettings
from failover_operator.store import ConflictError, DynamoDBService, StoreError
from failover_operator.store import table as table_module
from failover_operator.store.connect import open_regions
from failover_operator.store.regions import BACK_AFTER, Region, RegionalClient
from harness.dynamo import FAKE_CREDENTIALS, REGION
from harness.faults import FaultProxy, MrscTable, start_proxy

from ..conftest import FAST_RETRIES

REGIONS = ("us-east-1", "us-east-2", "us-west-2")


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's client finds credentials in the standard chain: the environment, here (moto's dummies)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_CREDENTIALS["aws_secret_access_key"])
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


async def endpoints(moto_endpoint: str, mrsc: MrscTable | None = None) -> list[FaultProxy]:
    """One endpoint per Region, all to moto's one backend: one table, as an MRSC table is."""
    return [await start_proxy(moto_endpoint, backend_region=REGION, region=name, mrsc=mrsc) for name in REGIONS]


@pytest.fixture
async def proxies(moto_endpoint: str) -> AsyncIterator[list[FaultProxy]]:
    started = await endpoints(moto_endpoint)
    try:
        yield started
    finally:
        for proxy in started:
            await proxy.stop()


def counted(proxy: FaultProxy) -> int:
    return len(proxy.requests)


async def test_the_store_goes_on_through_region_two_while_region_one_is_down_and_comes_back(
    moto_endpoint: str, table: str, proxies: list[FaultProxy], credentials: None
) -> None:
    clock = FakeClock()
    metrics = Metrics()
    metrics.regions(list(REGIONS), REGIONS[0])
    regions = [Region(name, proxy.endpoint) for name, proxy in zip(REGIONS, proxies, strict=True)]
    east1, east2, west2 = proxies
    async with open_regions(
        regions, request_timeout=2.0, monotonic=clock.monotonic, on_move=metrics.region_moved
    ) as client:
        assert isinstance(client, RegionalClient) and client.regions == list(REGIONS)
        store = DynamoDBService(client, table, "east", "fleet", clock, retry=FAST_RETRIES)
        config = await store.state.register_group("shop", "web")
        assert (client.region, counted(east1), counted(east2)) == ("us-east-1", 1, 0)

        await east1.refuse()  # Region 1's endpoint is gone: connections refused, kept-alive ones dropped
        status = await store.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {}, observed_epoch=1)
        assert status.heartbeat_seq == 1
        assert client.region == "us-east-2" and counted(east2) == 1
        # What Region 1 wrote, Region 2 reads (one table), and Region 2's write is there too
        read = await store.state.get_group_state("shop", "web")
        assert read.config.owner == "east" and read.clusters["east"].heartbeat_seq == 1
        # A condition is checked as it was made: a write on a stale version is refused, not retried elsewhere
        await store.state.update_group_config(config)
        before = counted(east2)
        with pytest.raises(ConflictError):
            await store.state.update_group_config(config)
        assert counted(east2) == before + 1 and counted(west2) == 0 and client.region == "us-east-2"

        await east1.accept()  # Region 1 is back; nobody asks it until back_after has passed
        clock.advance(BACK_AFTER - 1)
        await store.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {}, observed_epoch=1)
        assert client.region == "us-east-2" and counted(east1) == 1
        clock.advance(1)
        status = await store.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {}, observed_epoch=1)
        assert status.heartbeat_seq == 3
        assert client.region == "us-east-1" and counted(east1) == 2 and counted(west2) == 0

    moves = metrics.region_moves.collect()[0].samples
    assert {(s.labels["from"], s.labels["to"]): s.value for s in moves if s.name.endswith("_total")} == {
        ("us-east-1", "us-east-2"): 1,
        ("us-east-2", "us-east-1"): 1,
    }
    in_use = {s.labels["region"]: s.value for s in metrics.region_in_use.collect()[0].samples}
    assert in_use == {"us-east-1": 1, "us-east-2": 0, "us-west-2": 0}


async def test_two_regions_answering_5xx_send_it_to_the_third(
    moto_endpoint: str, table: str, proxies: list[FaultProxy], credentials: None
) -> None:
    clock = FakeClock()
    regions = [Region(name, proxy.endpoint) for name, proxy in zip(REGIONS, proxies, strict=True)]
    proxies[0].down = proxies[1].down = True  # 503 ServiceUnavailable
    async with open_regions(regions, monotonic=clock.monotonic) as client:
        store = DynamoDBService(client, table, "east", "fleet", clock, retry=FAST_RETRIES)
        await store.state.register_group("shop", "web")
        assert client.region == "us-west-2" and [counted(p) for p in proxies] == [1, 1, 1]


async def test_every_region_down_is_a_store_error(
    moto_endpoint: str, table: str, proxies: list[FaultProxy], credentials: None
) -> None:
    regions = [Region(name, proxy.endpoint) for name, proxy in zip(REGIONS, proxies, strict=True)]
    for proxy in proxies:
        await proxy.refuse()
    async with open_regions(regions, request_timeout=2.0, monotonic=FakeClock().monotonic) as client:
        store = DynamoDBService(client, table, "east", "fleet", FakeClock(), retry=FAST_RETRIES)
        with pytest.raises(StoreError, match="after 5 attempts"):
            await store.state.get_group_config("shop", "web")


async def test_the_start_up_check_through_the_regions_of_an_mrsc_table(
    moto_endpoint: str, table: str, credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DescribeTable through the endpoints of an MRSC table (the proxies add what moto does not know): refused
    while the protocol needs transactions (which such a table refuses), accepted once it needs none."""
    mrsc = await endpoints(moto_endpoint, MrscTable(replicas=REGIONS))
    try:
        await mrsc[0].refuse()
        settings = StoreSettings(
            operator_id="fleet",
            dynamodb_table=table,
            dynamodb_regions=",".join(REGIONS),
            dynamodb_endpoints=",".join(p.endpoint for p in mrsc),
        )
        async with open_regions(settings.regions, request_timeout=2.0, monotonic=FakeClock().monotonic) as client:
            monkeypatch.setattr(table_module, "PROTOCOL_NEEDS_TRANSACTIONS", True)
            with pytest.raises(StartupError) as caught:  # Region 1 refuses connections: Region 2 answers
                await check_table(client, settings)
            assert isinstance(client, RegionalClient) and client.region == "us-east-2"
            assert f"DynamoDB table {table} is a global table with multi-Region strong consistency" in str(caught.value)
            assert "replicas us-east-2, us-east-1, us-west-2" in str(caught.value)

            monkeypatch.setattr(table_module, "PROTOCOL_NEEDS_TRANSACTIONS", False)
            topology = await check_table(client, settings)
            assert topology.mrsc and sorted(topology.replicas) == sorted(REGIONS)
            # what such a table does with a transaction (the reason for the refusal above)
            store = DynamoDBService(client, table, "east", "fleet", FakeClock(), retry=FAST_RETRIES)
            with pytest.raises(StoreError, match="ValidationException"):
                await store.call("transact_write_items", TransactItems=[_put(table)])
    finally:
        for proxy in mrsc:
            await proxy.stop()


def _put(table: str) -> dict[str, Any]:
    return {"Put": {"TableName": table, "Item": {"PK": {"S": "GROUP#fleet#x#y"}, "SK": {"S": "X"}}}}
