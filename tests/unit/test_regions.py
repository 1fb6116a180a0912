"""store/regions.py: RegionalClient sends each request to one Region, moves to the next when a Region cannot answer
(and only then), once however many requests failed together, and back to the preferred Region after `back_after`
on its own clock; parse_regions says what is wrong with DYNAMODB_REGIONS / DYNAMODB_ENDPOINTS. Fake Regions
(callables that answer or fail as told) and a fake clock: nothing here waits for time to pass."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from failover_operator.clock import FakeClock
from failover_operator.store import StoreError
from failover_operator.store.calls import Caller, RetryPolicy
from failover_operator.store.regions import BACK_AFTER, Region, RegionalClient, parse_regions, unavailable

REGIONS = ("us-east-1", "us-east-2", "us-west-2")


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


class FakeRegion:
    """One Region's client: answers `get_item` (and any other operation) with its name, or fails as told; a
    `gate` holds its requests until it is set (to have several in flight at once)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.failure: BaseException | None = None
        self.gate: asyncio.Event | None = None
        self.asked: list[tuple[str, dict[str, Any]]] = []
        self._arrived: asyncio.Queue[None] = asyncio.Queue()

    async def until_asked(self, count: int) -> None:
        """Until `count` requests have been sent here."""
        while len(self.asked) < count:
            await self._arrived.get()

    def __getattr__(self, operation: str) -> Any:
        if operation.startswith("_"):
            raise AttributeError(operation)

        async def answer(**params: Any) -> dict[str, Any]:
            self.asked.append((operation, params))
            self._arrived.put_nowait(None)
            failure = self.failure
            if self.gate is not None:
                await self.gate.wait()
            if failure is not None:
                raise failure
            return {"Region": self.name}

        return answer


def regional(
    clock: FakeClock, count: int = 3, moves: list[tuple[str, str, str]] | None = None
) -> tuple[RegionalClient, list[FakeRegion]]:
    fakes = [FakeRegion(name) for name in REGIONS[:count]]
    said = moves if moves is not None else []
    client = RegionalClient(
        [(f.name, f) for f in fakes], clock.monotonic, on_move=lambda a, b, why: said.append((a, b, why))
    )
    return client, fakes


async def ask(client: RegionalClient) -> Any:
    return await client.get_item(TableName="t", Key={"PK": {"S": "a"}})


UNAVAILABLE = [
    EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ConnectTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ConnectionClosedError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError(),
    client_error("InternalServerError", 500),
    client_error("ServiceUnavailable", 503),
    client_error("SomethingNew", 502),
]
ANSWERS = [
    client_error("ConditionalCheckFailedException", 400),
    client_error("TransactionCanceledException", 400),
    client_error("ReplicatedWriteConflictException", 400),
    client_error("ThrottlingException", 400),
    client_error("ProvisionedThroughputExceededException", 400),
    client_error("ValidationException", 400),
    client_error("ResourceNotFoundException", 400),
    client_error("AccessDeniedException", 400),
    ParamValidationError(report="Missing required parameter"),
    NoCredentialsError(),
]


@pytest.mark.parametrize("failure", UNAVAILABLE, ids=lambda e: type(e).__name__ + str(getattr(e, "response", "")))
async def test_a_region_that_cannot_answer_moves_the_client_to_the_next(failure: BaseException) -> None:
    clock = FakeClock()
    moves: list[tuple[str, str, str]] = []
    client, (east1, east2, _) = regional(clock, moves=moves)
    east1.failure = failure
    with pytest.raises(type(failure)):
        await ask(client)
    assert unavailable(failure)
    assert client.region == "us-east-2" and [m[:2] for m in moves] == [("us-east-1", "us-east-2")]
    assert await ask(client) == {"Region": "us-east-2"}
    assert len(east1.asked) == 1 and len(east2.asked) == 1  # each request went to one Region, once


@pytest.mark.parametrize("failure", ANSWERS, ids=lambda e: type(e).__name__ + str(getattr(e, "response", "")))
async def test_an_answer_about_the_request_or_the_data_does_not_move_it(failure: BaseException) -> None:
    clock = FakeClock()
    moves: list[tuple[str, str, str]] = []
    client, (east1, *_) = regional(clock, moves=moves)
    east1.failure = failure
    with pytest.raises(type(failure)):
        await ask(client)
    assert not unavailable(failure)
    assert client.region == "us-east-1" and moves == [] and client.moves == 0


async def test_the_request_is_sent_as_it_was_made_wherever_it_goes() -> None:
    client, (east1, east2, _) = regional(FakeClock())
    east1.failure = EndpointConnectionError(endpoint_url="x")
    params = {
        "TableName": "t",
        "Item": {"PK": {"S": "a"}},
        "ConditionExpression": "#e = :e",
        "ExpressionAttributeNames": {"#e": "epoch"},
        "ExpressionAttributeValues": {":e": {"N": "7"}},
    }
    with pytest.raises(EndpointConnectionError):
        await client.put_item(**params)
    await client.put_item(**params)
    assert east1.asked == [("put_item", params)] and east2.asked == [("put_item", params)]


async def test_past_the_last_region_it_tries_the_first_again() -> None:
    clock = FakeClock()
    client, fakes = regional(clock)
    for fake in fakes:
        fake.failure = EndpointConnectionError(endpoint_url=fake.name)
    seen = []
    for _ in range(4):
        seen.append(client.region)
        with pytest.raises(EndpointConnectionError):
            await ask(client)
    assert seen == ["us-east-1", "us-east-2", "us-west-2", "us-east-1"]


async def test_back_to_the_preferred_region_after_back_after_on_its_clock() -> None:
    clock = FakeClock()
    moves: list[tuple[str, str, str]] = []
    client, (east1, _, _) = regional(clock, moves=moves)
    east1.failure = EndpointConnectionError(endpoint_url="x")
    with pytest.raises(EndpointConnectionError):
        await ask(client)
    east1.failure = None  # back, but nobody knows yet
    clock.advance(BACK_AFTER - 0.001)
    assert await ask(client) == {"Region": "us-east-2"}
    clock.advance(0.001)
    assert await ask(client) == {"Region": "us-east-1"}
    assert client.region == "us-east-1"
    assert [m[:2] for m in moves] == [("us-east-1", "us-east-2"), ("us-east-2", "us-east-1")]
    assert "preferred" in moves[-1][2]


async def test_a_preferred_region_still_down_sends_it_away_again_for_another_while() -> None:
    clock = FakeClock()
    client, (east1, _, _) = regional(clock)
    east1.failure = EndpointConnectionError(endpoint_url="x")
    with pytest.raises(EndpointConnectionError):
        await ask(client)
    clock.advance(BACK_AFTER)
    with pytest.raises(EndpointConnectionError):  # tried again: still down
        await ask(client)
    assert client.region == "us-east-2"
    clock.advance(BACK_AFTER - 1)
    assert await ask(client) == {"Region": "us-east-2"}  # the wait starts again from the second move
    assert len(east1.asked) == 2


async def test_requests_failing_together_move_it_once() -> None:
    clock = FakeClock()
    moves: list[tuple[str, str, str]] = []
    client, (east1, _, west2) = regional(clock, moves=moves)
    east1.failure = ReadTimeoutError(endpoint_url="x")
    east1.gate = asyncio.Event()
    pending = [asyncio.create_task(ask(client)) for _ in range(10)]
    await east1.until_asked(10)  # all ten in flight
    east1.gate.set()
    results = await asyncio.gather(*pending, return_exceptions=True)
    assert all(isinstance(r, ReadTimeoutError) for r in results)
    assert client.region == "us-east-2" and len(moves) == 1
    assert await ask(client) == {"Region": "us-east-2"} and west2.asked == []


async def test_a_late_failure_from_before_a_move_back_does_not_move_it_again() -> None:
    """A request sent to the preferred Region before the client left it fails after the client came back to it:
    that says nothing about the preferred Region now."""
    clock = FakeClock()
    client, (east1, _, _) = regional(clock)
    held = asyncio.Event()
    east1.gate, east1.failure = held, ReadTimeoutError(endpoint_url="x")
    slow = asyncio.create_task(ask(client))  # sent to Region 1; it will time out much later
    await east1.until_asked(1)
    east1.gate = None
    with pytest.raises(ReadTimeoutError):  # another request times out at once: Region 2
        await ask(client)
    clock.advance(BACK_AFTER)
    east1.failure = None
    assert await ask(client) == {"Region": "us-east-1"}  # back to Region 1, which answers
    moves = client.moves
    held.set()
    with pytest.raises(ReadTimeoutError):
        await slow
    assert client.region == "us-east-1" and client.moves == moves


async def test_the_stores_retry_goes_to_the_next_region() -> None:
    """calls.Caller retries a request that could not be answered; with a RegionalClient the retry goes where the
    client moved: the store goes on through Region 2 while Region 1 is down."""
    client, (east1, east2, _) = regional(FakeClock())
    east1.failure = EndpointConnectionError(endpoint_url="x")

    async def no_wait(_: float) -> None:
        return None

    caller = Caller(client, RetryPolicy(attempts=3), sleep=no_wait)
    assert await caller("get_item", TableName="t", Key={}) == {"Region": "us-east-2"}
    assert (len(east1.asked), len(east2.asked), caller.retries) == (1, 1, 1)


async def test_a_condition_that_fails_in_region_two_is_an_answer_not_retried() -> None:
    client, (east1, east2, _) = regional(FakeClock())
    east1.failure = EndpointConnectionError(endpoint_url="x")
    east2.failure = client_error("ConditionalCheckFailedException", 400)

    async def no_wait(_: float) -> None:
        return None

    caller = Caller(client, RetryPolicy(attempts=5), sleep=no_wait)
    with pytest.raises(ClientError):
        await caller("put_item", TableName="t", Item={})
    assert (len(east1.asked), len(east2.asked), client.region) == (1, 1, "us-east-2")


async def test_a_replicated_write_conflict_is_retried_in_the_same_region() -> None:
    client, (east1, east2, _) = regional(FakeClock())
    east1.failure = client_error("ReplicatedWriteConflictException", 400)

    async def no_wait(_: float) -> None:
        east1.failure = None  # the other Region's write is done

    caller = Caller(client, RetryPolicy(attempts=3), sleep=no_wait)
    assert await caller("update_item", TableName="t", Key={}) == {"Region": "us-east-1"}
    assert (len(east1.asked), east2.asked, caller.retries) == (2, [], 1)


async def test_all_regions_down_is_a_store_error_after_the_bounded_attempts() -> None:
    client, fakes = regional(FakeClock())
    for fake in fakes:
        fake.failure = EndpointConnectionError(endpoint_url=fake.name)

    async def no_wait(_: float) -> None:
        return None

    with pytest.raises(StoreError, match="after 4 attempts"):
        await Caller(client, RetryPolicy(attempts=4), sleep=no_wait)("get_item", TableName="t", Key={})
    assert [len(f.asked) for f in fakes] == [2, 1, 1]


async def test_one_region_has_nowhere_to_go() -> None:
    clock = FakeClock()
    client, (east1,) = regional(clock, count=1)
    east1.failure = EndpointConnectionError(endpoint_url="x")
    with pytest.raises(EndpointConnectionError):
        await ask(client)
    assert client.region == "us-east-1" and client.moves == 0


def test_a_regional_client_needs_distinct_regions() -> None:
    with pytest.raises(ValueError, match="at least one Region"):
        RegionalClient([], FakeClock().monotonic)
    with pytest.raises(ValueError, match="listed twice"):
        RegionalClient([("us-east-1", object()), ("us-east-1", object())], FakeClock().monotonic)


def test_private_attributes_are_not_operations() -> None:
    client, _ = regional(FakeClock())
    with pytest.raises(AttributeError):
        client._something  # noqa: B018


# --- parse_regions ------------------------------------------------------------------------------------------


def test_regions_and_endpoints_are_paired_in_order() -> None:
    assert parse_regions("us-east-1, us-east-2,us-west-2") == [Region(r) for r in REGIONS]
    assert parse_regions(["us-east-1", "us-east-2,us-west-2"], ["http://a:1,http://b:2", "https://c"]) == [
        Region("us-east-1", "http://a:1"),
        Region("us-east-2", "http://b:2"),
        Region("us-west-2", "https://c"),
    ]


@pytest.mark.parametrize(
    ("regions", "endpoints", "said"),
    [
        ("", "", "no DynamoDB Region given"),
        (" , ", "", "no DynamoDB Region given"),
        ("us-east-1,us-west-2,us-east-1", "", "a DynamoDB Region is listed twice: us-east-1"),
        ("us-east-1,us-west-2", "http://a", "1 DynamoDB endpoint(s) for 2 Region(s)"),
        ("us-east-1", "http://a,http://b", "2 DynamoDB endpoint(s) for 1 Region(s)"),
        ("us-east-1 us-west-2", "", "'us-east-1 us-west-2' is not a Region name"),
        ("US-EAST-1", "", "is not a Region name"),
        ("us-east-1", "localhost:8000", "'localhost:8000' is not an endpoint URL"),
    ],
)
def test_what_is_wrong_is_said(regions: str, endpoints: str, said: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_regions(regions, endpoints)
    assert said in str(caught.value)
