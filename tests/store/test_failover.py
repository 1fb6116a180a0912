import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from failover_operator.store import (
    ConflictError,
    FailoverMode,
    LockHeldError,
    NotFoundError,
    PreconditionError,
)


async def setup_group(make_service, *clusters, owner="east", health="OK"):
    services = {c: make_service(c) for c in clusters}
    await services[owner].state.register_group("shop", "web")
    for name, svc in services.items():
        state = "PRIMARY" if name == owner else "STANDBY"
        await svc.state.update_cluster_status("shop", "web", health if name != owner else "OK", state, {})
    return services


async def history_count(svc):
    return len(await svc.state.get_failover_history("shop", "web", limit=1000))


async def test_failover_moves_ownership_in_one_transaction(make_service, proxied, proxy):
    s = await setup_group(make_service, "east", "west")
    west = make_service("west", client=proxied)
    before = await west.state.get_group_config("shop", "web")
    record = await west.operations.execute_failover("shop", "web", "fo-1", "west", "drill", mode=FailoverMode.UPTIME)
    after = await west.state.get_group_config("shop", "web")
    assert (after.owner, after.previous_owner, after.epoch, after.version) == (
        "east" if False else "west",
        "east",
        2,
        2,
    )
    assert after.last_failover == record.finished_at
    assert (record.source_cluster, record.target_cluster, record.epoch, record.mode) == (
        "east",
        "west",
        2,
        FailoverMode.UPTIME,
    )
    assert record.outcome.value == "SUCCEEDED" and not record.forced
    (stored,) = await s["east"].state.get_failover_history("shop", "web")
    assert stored == record
    assert await s["east"].operations.is_locked("shop", "web") is None
    assert before.version == 1
    # no transaction: one conditional write of the config (conditioned on the lock being free: none was taken),
    # carrying the history record, then the history record itself
    writes = [r for r in proxy.requests if r.operation in ("UpdateItem", "PutItem", "TransactWriteItems")]
    assert [r.operation for r in writes] == ["UpdateItem", "PutItem"]
    assert "attribute_not_exists" in writes[0].body["ConditionExpression"]
    assert record.record_id in str(writes[0].body["ExpressionAttributeValues"])


async def test_execute_failover_round_trips(make_service, proxied, proxy):
    await setup_group(make_service, "east", "west")
    west = make_service("west", client=proxied)
    await west.operations.execute_failover("shop", "web", "fo", "west", "drill")
    assert [r.operation for r in proxy.requests] == ["Query", "Query", "Query", "UpdateItem", "PutItem"]


async def test_a_failover_on_a_read_just_made_is_one_write_and_its_history(make_service, proxied, proxy):
    """What the operator's takeover sends: it read the group strongly in the same tick, and decided on it."""
    await setup_group(make_service, "east", "west")
    west = make_service("west", client=proxied)
    state = await west.state.get_group_state("shop", "web")
    mark = len(proxy.requests)
    record = await west.operations.execute_failover("shop", "web", "fo", "west", "drill", state=state)
    assert [r.operation for r in proxy.requests[mark:]] == ["UpdateItem", "PutItem"]
    assert (await west.state.get_group_config("shop", "web")).epoch == record.epoch == 2


async def test_a_lock_taken_after_the_read_refuses_the_failover(make_service):
    """No lock was taken (the read showed none): one taken since cancels the transaction, as a held lock does."""
    s = await setup_group(make_service, "east", "west")
    west = s["west"]
    state = await west.state.get_group_state("shop", "web")
    await s["east"].operations.acquire_lock("shop", "web", "maintenance")
    with pytest.raises(LockHeldError, match="locked by someone else"):
        await west.operations.execute_failover("shop", "web", "fo", "west", "drill", state=state)
    config = await west.state.get_group_config("shop", "web")
    assert (config.owner, config.epoch) == ("east", 1)
    assert await west.state.get_failover_history("shop", "web") == []


async def test_preconditions_refuse_with_reasons(make_service, clock):
    s = await setup_group(make_service, "east", "west", "sick")
    east, west = s["east"], s["west"]
    await s["sick"].state.update_cluster_status("shop", "web", "ERROR", "STANDBY", {}, message="pods crash-looping")
    ops = west.operations
    with pytest.raises(PreconditionError, match="does not exist"):
        await ops.validate_failover_preconditions("shop", "ghost", "west")
    with pytest.raises(PreconditionError, match="already owns"):
        await ops.validate_failover_preconditions("shop", "web", "east")
    with pytest.raises(PreconditionError, match="never reported"):
        await ops.validate_failover_preconditions("shop", "web", "north")
    with pytest.raises(PreconditionError, match=r"ERROR.*crash-looping"):
        await ops.validate_failover_preconditions("shop", "web", "sick")
    await ops.validate_failover_preconditions("shop", "web", "sick", skip_health_check=True)
    await east.state.get_all_cluster_statuses("shop", "web")  # east sees west's heartbeat...
    clock.advance(16)  # ...and then nothing new for 16 s: west's operator stopped
    with pytest.raises(PreconditionError, match="heartbeat") as stale:
        await east.operations.validate_failover_preconditions("shop", "web", "west")
    assert stale.value.reason == str(stale.value)
    await west.operations.update_suspension("shop", "web", True, "db migration")
    with pytest.raises(PreconditionError, match=r"suspended \(db migration\)"):
        await ops.validate_failover_preconditions("shop", "web", "west", skip_health_check=True)


async def test_force_skips_only_suspension_health_and_staleness(make_service, clock):
    s = await setup_group(make_service, "east", "west", health="ERROR")
    west = s["west"]
    await west.operations.update_suspension("shop", "web", True, "freeze")
    clock.advance(100)
    with pytest.raises(PreconditionError):
        await west.operations.execute_failover("shop", "web", "fo", "west", "drill")
    assert await history_count(west) == 0
    for target, match in (("east", "already owns"), ("north", "never reported")):
        with pytest.raises(PreconditionError, match=match):
            await west.operations.execute_failover("shop", "web", "fo", target, "r", force=True)
    with pytest.raises(PreconditionError, match="does not exist"):
        await west.operations.execute_failover("shop", "ghost", "fo", "west", "r", force=True)
    record = await west.operations.execute_failover("shop", "web", "fo", "west", "east is gone", force=True)
    assert record.forced and (await west.state.get_group_config("shop", "web")).owner == "west"


async def test_expected_epoch_mismatch_writes_nothing(make_service):
    s = await setup_group(make_service, "east", "west")
    with pytest.raises(ConflictError, match="epoch 1"):
        await s["west"].operations.execute_failover("shop", "web", "fo", "west", "auto", expected_epoch=0)
    config = await s["west"].state.get_group_config("shop", "web")
    assert (config.owner, config.epoch, config.version) == ("east", 1, 1)
    assert await history_count(s["west"]) == 0 and await s["west"].operations.is_locked("shop", "web") is None


async def test_lock_held_blocks_failover_without_waiting(make_service):
    s = await setup_group(make_service, "east", "west")
    await s["east"].operations.acquire_lock("shop", "web", "maintenance")
    with pytest.raises(LockHeldError) as held:
        await s["west"].operations.execute_failover("shop", "web", "fo", "west", "r")
    assert held.value.holder == "east"
    assert (await s["west"].state.get_group_config("shop", "web")).epoch == 1


@pytest.mark.parametrize("round_", range(8))
async def test_ten_racing_standbys_exactly_one_wins(make_service, round_):
    names = [f"c{i}" for i in range(10)]
    s = await setup_group(make_service, "owner", *names, owner="owner")
    epoch = (await s["c0"].state.get_group_config("shop", "web")).epoch
    results = await asyncio.gather(
        *(
            s[n].operations.execute_failover("shop", "web", f"auto-{n}", n, "owner stale", expected_epoch=epoch)
            for n in names
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1, results
    assert all(isinstance(r, (ConflictError, LockHeldError)) for r in results if isinstance(r, BaseException))
    config = await s["c0"].state.get_group_config("shop", "web")
    assert config.epoch == epoch + 1 and config.owner == winners[0].target_cluster
    history = await s["c0"].state.get_failover_history("shop", "web")
    assert len(history) == 1 and history[0] == winners[0]
    assert await s["c0"].operations.is_locked("shop", "web") is None


async def test_sequential_racing_rounds_keep_epoch_and_history_in_step(make_service):
    names = [f"c{i}" for i in range(6)]
    s = await setup_group(make_service, *names, owner="c0")
    for round_ in range(10):
        epoch = (await s["c0"].state.get_group_config("shop", "web")).epoch
        owner = (await s["c0"].state.get_group_config("shop", "web")).owner
        contenders = [n for n in names if n != owner]
        results = await asyncio.gather(
            *(
                s[n].operations.execute_failover("shop", "web", f"r{round_}-{n}", n, "race", expected_epoch=epoch)
                for n in contenders
            ),
            return_exceptions=True,
        )
        assert sum(not isinstance(r, BaseException) for r in results) == 1
        assert (await s["c0"].state.get_group_config("shop", "web")).epoch == epoch + 1
    history = await s["c0"].state.get_failover_history("shop", "web")
    assert [h.epoch for h in history] == list(range(11, 1, -1))


async def test_a_contender_that_finds_the_group_changed_writes_nothing(make_service, proxied, proxy):
    s = await setup_group(make_service, "east", "west", "north")
    north_via_proxy = make_service("north", client=proxied)

    async def west_fails_over_first(_body):
        await s["west"].operations.execute_failover("shop", "web", "fo-west", "west", "first")

    # north has read and validated epoch 1; west completes a failover just before north's write.
    proxy.before("UpdateItem", west_fails_over_first)
    with pytest.raises(ConflictError, match="changed during failover"):
        await north_via_proxy.operations.execute_failover("shop", "web", "fo-north", "north", "second")
    config = await s["east"].state.get_group_config("shop", "web")
    assert (config.owner, config.epoch) == ("west", 2)
    assert [h.failover_name for h in await s["east"].state.get_failover_history("shop", "web")] == ["fo-west"]
    assert await s["east"].operations.is_locked("shop", "web") is None  # nobody left a lock behind


async def test_suspension_during_failover_cancels_it(make_service, proxied, proxy):
    s = await setup_group(make_service, "east", "west")
    west = make_service("west", client=proxied)

    async def suspend(_body):
        await s["east"].operations.update_suspension("shop", "web", True, "freeze now")

    proxy.before("UpdateItem", suspend)
    with pytest.raises(ConflictError, match="suspended"):
        await west.operations.execute_failover("shop", "web", "fo", "west", "r")
    assert (await s["east"].state.get_group_config("shop", "web")).owner == "east"
    assert await history_count(s["east"]) == 0


async def test_a_retried_move_that_had_succeeded_is_not_reported_as_failed(make_service, proxied, proxy):
    await setup_group(make_service, "east", "west")
    west = make_service("west", client=proxied)
    proxy.lose_response(operation="UpdateItem")
    record = await west.operations.execute_failover("shop", "web", "fo", "west", "flaky")
    assert proxy.count("UpdateItem") == 2  # the retry's condition fails: the config names our very move
    config = await west.state.get_group_config("shop", "web")
    assert (config.owner, config.epoch) == ("west", 2)
    assert [h.record_id for h in await west.state.get_failover_history("shop", "web")] == [record.record_id]


async def test_history_order_equals_epoch_order_even_when_clocks_go_back(make_service, clock):
    s = await setup_group(make_service, "east", "west")
    clock.set_wall(datetime(2030, 1, 1, tzinfo=UTC))
    await s["west"].operations.execute_failover("shop", "web", "fo-1", "west", "r")
    clock.set_wall(datetime(2020, 1, 1, tzinfo=UTC))  # another cluster's clock is years behind
    second = await s["east"].operations.execute_failover("shop", "web", "fo-2", "east", "r")
    third = await s["west"].operations.execute_failover("shop", "web", "fo-3", "west", "r")
    assert second.finished_at > datetime(2030, 1, 1, tzinfo=UTC)
    assert third.finished_at > second.finished_at
    history = await s["east"].state.get_failover_history("shop", "web")
    assert [h.epoch for h in history] == [4, 3, 2]
    assert len({h.record_id for h in history}) == 3


async def test_failback_goes_to_the_previous_owner(make_service):
    s = await setup_group(make_service, "east", "west")
    with pytest.raises(PreconditionError, match="no previous owner"):
        await s["east"].operations.execute_failback("shop", "web", "undo")
    await s["west"].operations.execute_failover("shop", "web", "fo", "west", "drill")
    record = await s["east"].operations.execute_failback("shop", "web", "drill over")
    assert (record.source_cluster, record.target_cluster, record.epoch) == ("west", "east", 3)
    assert record.failover_name.startswith("failback-")
    named = await s["west"].operations.execute_failback("shop", "web", "again", failover_name="fb-2")
    assert named.failover_name == "fb-2" and named.target_cluster == "west"
    with pytest.raises(PreconditionError, match="does not exist"):
        await s["west"].operations.execute_failback("shop", "ghost", "r")


async def test_update_suspension(make_service):
    s = await setup_group(make_service, "east", "west")
    config = await s["west"].operations.update_suspension("shop", "web", True, "db migration")
    assert config.suspended and config.suspension_reason == "db migration" and config.version == 2
    config = await s["west"].operations.update_suspension("shop", "web", False, None)
    assert not config.suspended and config.suspension_reason is None and config.version == 3
    with pytest.raises(NotFoundError):
        await s["west"].operations.update_suspension("shop", "ghost", True, "r")
    assert await s["west"].state.get_group_config("shop", "ghost") is None  # nothing half-written


async def test_problems_owner_unknown_unhealthy_split_brain_stale(make_service, clock):
    east, west = make_service("east"), make_service("west")
    await east.state.register_group("shop", "web")
    await west.state.update_cluster_status("shop", "web", "OK", "STANDBY", {})
    kinds = lambda ps: [(p.kind.value, p.cluster) for p in ps]  # noqa: E731
    assert kinds(await west.operations.detect_and_report_problems("shop", "web")) == [("OWNER_UNKNOWN", "east")]
    await east.state.update_cluster_status("shop", "web", "ERROR", "PRIMARY", {})
    assert kinds(await west.operations.detect_and_report_problems("shop", "web")) == [("OWNER_UNHEALTHY", "east")]
    await east.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {})
    await west.operations.execute_failover("shop", "web", "fo", "west", "r")
    await west.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {})
    problems = await west.operations.detect_and_report_problems("shop", "web")
    assert ("SPLIT_BRAIN", None) in kinds(problems) and ("SPLIT_BRAIN", "east") in kinds(problems)
    await east.state.update_cluster_status("shop", "web", "DEGRADED", "STANDBY", {})
    assert kinds(await west.operations.detect_and_report_problems("shop", "web")) == [("NO_HEALTHY_STANDBY", None)]
    await east.state.update_cluster_status("shop", "web", "OK", "STANDBY", {})
    assert await west.operations.detect_and_report_problems("shop", "web") == []
    clock.advance(16)
    await west.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {})
    assert kinds(await west.operations.detect_and_report_problems("shop", "web")) == [
        ("STALE_HEARTBEAT", "east"),
        ("NO_HEALTHY_STANDBY", None),
    ]


async def test_failover_name_and_history_fields(make_service):
    s = await setup_group(make_service, "east", "west")
    started = datetime.now(UTC) - timedelta(seconds=5)
    record = await s["west"].operations.execute_failover(
        "shop", "web", "fo-x", "west", "planned", automatic=True, started_at=started
    )
    assert record.automatic and record.started_at == started
    (stored,) = await s["east"].state.get_failover_history("shop", "web")
    assert json.loads(stored.model_dump_json())["failover_name"] == "fo-x"
    with pytest.raises(ValueError):
        await s["west"].operations.execute_failover("shop", "web", "", "west", "r")


async def test_a_takeover_is_cancelled_when_the_owner_reports_again(make_service, proxied, proxy):
    """The numbers judged stale are read again right before the write (what the config cannot carry)."""
    s = await setup_group(make_service, "east", "west")
    seen = (await s["west"].state.get_cluster_status("shop", "web", "east")).heartbeat_seq
    west = make_service("west", client=proxied)

    async def east_comes_back(_body):
        await s["east"].state.update_cluster_status("shop", "web", "OK", "PRIMARY", {})

    proxy.before("BatchGetItem", east_comes_back)
    with pytest.raises(ConflictError, match="east reported again"):
        await west.operations.execute_failover(
            "shop", "web", "auto", "west", "east stale", expected_epoch=1, owner_heartbeat_seq=seen
        )
    config = await west.state.get_group_config("shop", "web")
    assert (config.owner, config.epoch) == ("east", 1) and await history_count(west) == 0
    # Unchanged owner record: the takeover goes through.
    seen = (await west.state.get_cluster_status("shop", "web", "east")).heartbeat_seq
    record = await west.operations.execute_failover(
        "shop", "web", "auto", "west", "east stale", expected_epoch=1, owner_heartbeat_seq=seen
    )
    assert record.epoch == 2


async def test_a_takeover_of_a_stale_owner_is_cancelled_by_its_proof_landing_first(make_service, proxied, proxy):
    """A proof of ownership that lands between the taker's last read and its write: the write is conditioned on the
    config's proof number the taker saw, so exactly one of the two succeeds — here the proof."""
    s = await setup_group(make_service, "east", "west")
    await s["east"].state.prove_ownership("shop", "web", 1, "OK", {})
    seen = (await s["west"].state.get_cluster_status("shop", "web", "east")).heartbeat_seq
    west = make_service("west", client=proxied)
    state = await west.state.get_group_state("shop", "web")
    assert state.config.proof_seq == 1 and state.config.serving

    async def east_proves_again(_body):
        await s["east"].state.prove_ownership("shop", "web", 1, "OK", {})

    proxy.before("UpdateItem", east_proves_again)
    with pytest.raises(ConflictError, match="proved ownership"):
        await west.operations.execute_failover(
            "shop", "web", "auto", "west", "stale", expected_epoch=1, owner_heartbeat_seq=seen, state=state
        )
    config = await west.state.get_group_config("shop", "web")
    assert (config.owner, config.epoch, config.proof_seq) == ("east", 1, 2)
    # The other order: the takeover lands first, and the proof is refused.
    west_direct = s["west"]
    state = await west_direct.state.get_group_state("shop", "web")
    seen = state.clusters["east"].heartbeat_seq
    await west_direct.operations.execute_failover(
        "shop", "web", "auto2", "west", "stale", expected_epoch=1, owner_heartbeat_seq=seen, state=state
    )
    with pytest.raises(ConflictError, match="no longer owns"):
        await s["east"].state.prove_ownership("shop", "web", 1, "OK", {})


async def test_a_takeover_of_an_unhealthy_owner_requires_it_still_unhealthy(make_service):
    s = await setup_group(make_service, "east", "west")
    with pytest.raises(ConflictError, match="reported again"):
        await s["west"].operations.execute_failover(
            "shop", "web", "auto", "west", "east sick", expected_epoch=1, owner_health="ERROR"
        )
    await s["east"].state.update_cluster_status("shop", "web", "ERROR", "PRIMARY", {})
    record = await s["west"].operations.execute_failover(
        "shop", "web", "auto", "west", "east sick", expected_epoch=1, owner_health="ERROR"
    )
    assert record.epoch == 2


async def test_a_takeover_of_an_owner_that_never_reported(make_service):
    east, west = make_service("east"), make_service("west")
    await east.state.register_group("shop", "web", initial_owner="ghost")
    await west.state.update_cluster_status("shop", "web", "OK", "STANDBY", {})
    record = await west.operations.execute_failover(
        "shop", "web", "auto", "west", "ghost never came", expected_epoch=1, owner_heartbeat_seq=0
    )
    assert record.source_cluster == "ghost" and record.epoch == 2


async def test_a_history_record_its_mover_could_not_write_is_written_by_the_next_reader(make_service, proxied, proxy):
    """No transaction holds a move and its history record together: the config carries the record, and whoever
    reads the group next writes it if it is missing — nothing is lost."""
    s = await setup_group(make_service, "east", "west", "north")
    west = make_service("west", client=proxied)
    proxy.throttle(times=6, operation="PutItem")  # every attempt of the history's write fails
    record = await west.operations.execute_failover("shop", "web", "fo", "west", "drill")
    config = await s["east"].state.get_group_config("shop", "web")
    assert (config.owner, config.last_move) == ("west", record.record_id)
    raw_history = await s["east"].state._history("shop", "web", 10)
    assert raw_history == []  # not written by its mover
    assert await s["east"].state.get_failover_history("shop", "web") == [record]
    assert await s["north"].state._history("shop", "web", 10) == [record]  # written now, for everyone
    state = await s["north"].state.get_group_state("shop", "web")
    assert [h.record_id for h in state.history] == [record.record_id]
