import asyncio

import pytest

from failover_operator.clock import FakeClock
from failover_operator.store import ConflictError, DynamoDBService, LockHeldError


async def test_acquire_renew_release(make_service):
    east, west = make_service("east"), make_service("west")
    await east.state.register_group("shop", "web")
    lease = await east.operations.acquire_lock("shop", "web", "drill", lease_seconds=20)
    assert lease.holder == "east" and lease.renewals == 0 and lease.lease_seconds == 20
    info = await west.operations.is_locked("shop", "web")
    assert (info.holder, info.reason, info.lease_seconds) == ("east", "drill", 20)
    with pytest.raises(LockHeldError) as held:
        await west.operations.acquire_lock("shop", "web", "mine now")
    assert held.value.holder == "east" and "drill" in str(held.value)
    renewed = await east.operations.renew_lock("shop", "web", lease)
    assert renewed.token == lease.token and renewed.renewals == 1
    assert await west.operations.release_lock("shop", "web", renewed.model_copy(update={"token": "forged"})) is False
    assert await east.operations.release_lock("shop", "web", renewed) is True
    assert await east.operations.release_lock("shop", "web", renewed) is False  # already gone: no exception
    assert await west.operations.is_locked("shop", "web") is None
    with pytest.raises(ConflictError, match="lost"):
        await east.operations.renew_lock("shop", "web", renewed)


@pytest.mark.parametrize("round_", range(5))
async def test_fifty_concurrent_contenders_exactly_one_lease(make_service, round_):
    services = [make_service(f"c{i}") for i in range(50)]
    results = await asyncio.gather(
        *(s.operations.acquire_lock("shop", f"web{round_}", "race") for s in services), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, LockHeldError) and r.holder == winners[0].holder for r in losers)
    info = await services[0].operations.is_locked("shop", f"web{round_}")
    assert info.token == winners[0].token


async def test_takeover_only_after_the_lease_has_passed_on_our_clock(dynamodb, table):
    holder_clock, contender_clock = FakeClock(), FakeClock()
    east = DynamoDBService(dynamodb, table, "east", "fleet", clock=holder_clock)
    west = DynamoDBService(dynamodb, table, "west", "fleet", clock=contender_clock)
    lease = await east.operations.acquire_lock("shop", "web", "slow job", lease_seconds=10)
    with pytest.raises(LockHeldError):  # first sight: the lease counts from now
        await west.operations.acquire_lock("shop", "web", "takeover")
    contender_clock.advance(9.9)
    with pytest.raises(LockHeldError):
        await west.operations.acquire_lock("shop", "web", "takeover")
    contender_clock.advance(0.2)  # 10.1s unchanged: the holder is gone
    stolen = await west.operations.acquire_lock("shop", "web", "takeover")
    assert stolen.holder == "west"
    assert (await east.operations.is_locked("shop", "web")).holder == "west"
    with pytest.raises(LockHeldError) as lost:
        await east.operations.renew_lock("shop", "web", lease)
    assert lost.value.holder == "west"
    assert await east.operations.release_lock("shop", "web", lease) is False
    assert (await east.operations.is_locked("shop", "web")).holder == "west"


async def test_no_takeover_while_the_holder_renews(dynamodb, table):
    contender_clock = FakeClock()
    east = DynamoDBService(dynamodb, table, "east", "fleet", clock=FakeClock())
    west = DynamoDBService(dynamodb, table, "west", "fleet", clock=contender_clock)
    lease = await east.operations.acquire_lock("shop", "web", "long job", lease_seconds=10)
    for _ in range(10):  # 60 s in all, renewing every 6 s
        contender_clock.advance(6)
        lease = await east.operations.renew_lock("shop", "web", lease)
        with pytest.raises(LockHeldError):
            await west.operations.acquire_lock("shop", "web", "takeover")
    assert lease.renewals == 10
    assert (await west.operations.is_locked("shop", "web")).token == lease.token


async def test_many_contenders_for_an_expired_lease_one_wins(dynamodb, table):
    clocks = [FakeClock() for _ in range(20)]
    dead = DynamoDBService(dynamodb, table, "dead", "fleet", clock=FakeClock())
    await dead.operations.acquire_lock("shop", "web", "crashed", lease_seconds=5)
    services = [DynamoDBService(dynamodb, table, f"c{i}", "fleet", clock=c) for i, c in enumerate(clocks)]
    for s in services:  # everyone sees the record once
        with pytest.raises(LockHeldError):
            await s.operations.acquire_lock("shop", "web", "takeover")
    for c in clocks:
        c.advance(6)
    results = await asyncio.gather(
        *(s.operations.acquire_lock("shop", "web", "takeover") for s in services), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert (await dead.operations.is_locked("shop", "web")).token == winners[0].token


async def test_a_retried_put_that_had_succeeded_counts_as_success(make_service, proxied, proxy):
    east = make_service("east", client=proxied)
    proxy.lose_response(operation="PutItem")  # the lock is written, the answer is lost; we retry
    lease = await east.operations.acquire_lock("shop", "web", "flaky network")
    assert proxy.count("PutItem") == 2
    assert (await east.operations.is_locked("shop", "web")).token == lease.token


async def test_lease_seconds_must_be_positive(make_service):
    with pytest.raises(ValueError):
        await make_service("east").operations.acquire_lock("shop", "web", "r", lease_seconds=0)


async def test_stuck_lock_is_reported(make_service, clock):
    east, west = make_service("east"), make_service("west")
    await east.state.register_group("shop", "web")
    await east.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {})
    await west.operations.acquire_lock("shop", "web", "half-done failover", lease_seconds=10)
    await west.state.update_cluster_status("shop", "web", "OK", "STANDBY", {})
    assert [p.kind.value for p in await east.operations.detect_and_report_problems("shop", "web")] == []
    clock.advance(11)
    await west.state.update_cluster_status("shop", "web", "OK", "STANDBY", {})  # it beats on; the lock does not
    problems = await east.operations.detect_and_report_problems("shop", "web")
    assert [(p.kind.value, p.cluster) for p in problems] == [("LOCK_STUCK", "west")]
    assert "half-done failover" in problems[0].message


async def test_an_unreadable_lock_can_still_be_taken_over_after_the_default_lease(make_service, dynamodb, table, clock):
    east = make_service("east")
    await dynamodb.put_item(
        TableName=table, Item={"PK": {"S": "GROUP#fleet#shop#web"}, "SK": {"S": "LOCK"}, "holder": {"S": "west"}}
    )
    info = await east.operations.is_locked("shop", "web")
    assert info.holder == "west"
    with pytest.raises(LockHeldError):
        await east.operations.acquire_lock("shop", "web", "r")
    clock.advance(31)
    lease = await east.operations.acquire_lock("shop", "web", "r")
    assert (await east.operations.is_locked("shop", "web")).token == lease.token
