"""The store's part of the failover protocol: proofs of ownership, transitions, conditioned transfers, rollback.

Run on moto and on the simulation's in-memory DynamoDB (see conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from failover_operator.store import (
    ConflictError,
    FailoverMode,
    Outcome,
    OwnerCheck,
    SupersededError,
    Timeouts,
    Transition,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def group(make_service, *clusters, owner="east"):
    services = {c: make_service(c) for c in clusters}
    await services[owner].state.register_group("shop", "web")
    for name, svc in services.items():
        await svc.state.update_cluster_status("shop", "web", "OK", "PRIMARY" if name == owner else "STANDBY", {})
    return services


def transition(name="fo-1", source="east", target="west", epoch=1, mode=FailoverMode.CONSISTENCY, **extra):
    return Transition(
        failover_name=name,
        source_cluster=source,
        target_cluster=target,
        mode=mode,
        requested_by=target,
        requested_at=NOW,
        epoch=epoch,
        **extra,
    )


async def test_only_the_owner_at_its_epoch_can_prove_ownership(make_service):
    s = await group(make_service, "east", "west")
    await s["east"].state.prove_ownership("shop", "web", 1, "OK", {"Deployment/web": {"ready": 2}})
    status = await s["west"].state.get_cluster_status("shop", "web", "east")
    assert (status.state.value, status.observed_epoch, status.heartbeat_seq) == ("PRIMARY", 1, 2)
    with pytest.raises(ConflictError, match="west no longer owns shop/web at epoch 1"):
        await s["west"].state.prove_ownership("shop", "web", 1, "OK", {})
    with pytest.raises(ConflictError, match="east no longer owns shop/web at epoch 2"):
        await s["east"].state.prove_ownership("shop", "web", 2, "OK", {})
    assert (await s["west"].state.get_cluster_status("shop", "web", "west")).state.value == "STANDBY"


async def test_one_transition_at_a_time_and_only_from_the_owner_at_its_epoch(make_service):
    s = await group(make_service, "east", "west", "north")
    config = await s["west"].operations.request_transition("shop", "web", transition(force=True, reason="drill"))
    assert config.transition == transition(force=True, reason="drill") and config.version == 2
    with pytest.raises(ConflictError, match="failover fo-1 \\(east -> west, CONSISTENCY\\) of shop/web is in progress"):
        await s["north"].operations.request_transition("shop", "web", transition("fo-2", target="north"))
    assert not await s["north"].operations.clear_transition("shop", "web", "fo-2", 1)  # not that one
    assert not await s["north"].operations.clear_transition("shop", "web", "fo-1", 2)  # not at that epoch
    assert await s["north"].operations.clear_transition("shop", "web", "fo-1", 1)
    assert (await s["north"].state.get_group_config("shop", "web")).transition is None
    with pytest.raises(ConflictError, match="east owns it at epoch 1 \\(not west at 1\\)"):
        await s["north"].operations.request_transition("shop", "web", transition("fo-3", source="west"))


async def test_a_transfer_lands_only_while_its_transition_is_there(make_service):
    s = await group(make_service, "east", "west")
    t = transition()
    await s["west"].operations.request_transition("shop", "web", t)
    assert await s["east"].operations.clear_transition("shop", "web", "fo-1", 1)  # the source gave up
    with pytest.raises(ConflictError, match="failover fo-1 of shop/web is no longer in progress"):
        await s["west"].operations.execute_failover("shop", "web", "fo-1", "west", "drill", transition=t)
    assert (await s["west"].state.get_group_config("shop", "web")).epoch == 1
    await s["west"].operations.request_transition("shop", "web", t)
    record = await s["west"].operations.execute_failover("shop", "web", "fo-1", "west", "drill", transition=t)
    config = await s["west"].state.get_group_config("shop", "web")
    assert (config.owner, config.epoch, config.transition, record.epoch) == ("west", 2, None, 2)


async def test_an_uptime_transfer_leaves_the_handoff_and_a_rollback_ends_it(make_service):
    s = await group(make_service, "east", "west")
    t = transition(mode=FailoverMode.UPTIME)
    await s["west"].operations.request_transition("shop", "web", t)
    await s["west"].operations.execute_failover(
        "shop", "web", "fo-1", "west", "drill", mode=FailoverMode.UPTIME, transition=t
    )
    config = await s["east"].state.get_group_config("shop", "web")
    handoff = config.transition
    assert (config.owner, config.epoch, handoff.mode, handoff.epoch, handoff.source_cluster) == (
        "west",
        2,
        FailoverMode.UPTIME,
        2,
        "east",
    )
    # west reports ready: a rollback conditioned on "not ready" is refused
    await s["west"].state.prove_ownership("shop", "web", 2, "OK", {})
    not_ready = OwnerCheck(not_ready=True)
    with pytest.raises(ConflictError, match="reported again"):
        await s["east"].operations.execute_failover(
            "shop",
            "web",
            "fo-1",
            "east",
            "west never became ready",
            force=True,
            expected_epoch=2,
            transition=handoff,
            owner_check=not_ready,
            outcome=Outcome.ROLLED_BACK,
        )
    await s["west"].state.update_cluster_status("shop", "web", "ERROR", "PRIMARY", {}, observed_epoch=2)
    record = await s["east"].operations.execute_failover(
        "shop",
        "web",
        "fo-1",
        "east",
        "west never became ready",
        force=True,
        expected_epoch=2,
        transition=handoff,
        owner_check=not_ready,
        outcome=Outcome.ROLLED_BACK,
    )
    config = await s["east"].state.get_group_config("shop", "web")
    assert (config.owner, config.epoch, config.transition) == ("east", 3, None)
    assert (record.outcome, record.source_cluster, record.target_cluster) == (Outcome.ROLLED_BACK, "west", "east")


@pytest.mark.parametrize(
    ("check", "owner_reports", "lands"),
    [
        (OwnerCheck(not_serving=True), ("FENCED", 1), True),
        (OwnerCheck(not_serving=True), ("PRIMARY", 0), True),  # PRIMARY, but at an older epoch
        (OwnerCheck(not_serving=True), ("PRIMARY", 1), False),
        (OwnerCheck(drained=True), ("FAILOVER", 1), True),
        (OwnerCheck(drained=True), ("PRIMARY", 1), False),
        (OwnerCheck(drained=True), ("FAILOVER", 0), False),
    ],
)
async def test_a_transfer_is_conditioned_on_what_the_owner_reports(make_service, check, owner_reports, lands):
    s = await group(make_service, "east", "west")
    state, epoch = owner_reports
    await s["east"].state.update_cluster_status("shop", "web", "OK", state, {}, observed_epoch=epoch)
    go = s["west"].operations.execute_failover("shop", "web", "auto", "west", "x", expected_epoch=1, owner_check=check)
    if lands:
        assert (await go).epoch == 2
    else:
        with pytest.raises(ConflictError, match="east reported again"):
            await go


async def test_an_absent_owner_is_not_serving(make_service):
    s = {c: make_service(c) for c in ("east", "west")}
    await s["west"].state.register_group("shop", "web", initial_owner="east")
    await s["west"].state.update_cluster_status("shop", "web", "OK", "STANDBY", {})
    record = await s["west"].operations.execute_failover(
        "shop", "web", "auto", "west", "x", force=True, expected_epoch=1, owner_check=OwnerCheck(not_serving=True)
    )
    assert record.epoch == 2


async def test_the_timeouts_before_a_change_are_kept_with_it(make_service):
    s = await group(make_service, "east")
    config = await s["east"].state.get_group_config("shop", "web")
    changed = config.model_copy(update={"timeouts": Timeouts(heartbeat=1), "timeouts_before": config.timeouts})
    await s["east"].state.update_group_config(changed)
    stored = await s["east"].state.get_group_config("shop", "web")
    assert (stored.timeouts.heartbeat, stored.timeouts_before.heartbeat) == (1, 15)


async def test_a_takeover_during_an_uptime_handoff_is_conditioned_on_the_old_owner_too(make_service):
    """East handed the group to west (UPTIME) and serves on until west is ready; north may take over from a
    silent west only once east has stopped serving as well."""
    s = await group(make_service, "east", "west", "north")
    handoff = transition(target="west", mode=FailoverMode.UPTIME)
    await s["west"].operations.request_transition("shop", "web", handoff)
    await s["west"].operations.execute_failover(
        "shop", "web", "fo-1", "west", "move", mode=FailoverMode.UPTIME, expected_epoch=1, transition=handoff
    )
    await s["east"].state.update_cluster_status("shop", "web", "OK", "PRIMARY", {}, observed_epoch=2)

    def take_over():
        return s["north"].operations.execute_failover(
            "shop",
            "web",
            "auto-north",
            "north",
            "west is silent",
            expected_epoch=2,
            owner_check=OwnerCheck(not_serving=True),
            other_checks={"east": OwnerCheck(not_serving=True)},
        )

    with pytest.raises(ConflictError, match="east reported again"):
        await take_over()
    await s["east"].state.update_cluster_status("shop", "web", "OK", "FENCED", {}, observed_epoch=2)
    assert (await take_over()).epoch == 3


async def test_an_older_status_write_never_lands_over_a_newer_one(make_service):
    """Heartbeats overlap on a slow table: one sent earlier may arrive later. It must not overwrite what was
    sent after it (say, FENCED over a proof of ownership), else a takeover "of an owner that does not serve"
    could succeed while it serves. Write numbers are taken as writes are sent."""
    s = await group(make_service, "east", "west")
    east = s["east"].state
    ctx = east._ctx
    first, second = ctx.next_write(), ctx.next_write()  # two heartbeats, sent in this order

    def sent_as(number):
        ctx.next_write = lambda: number  # type: ignore[method-assign]

    sent_as(second)
    await east.update_cluster_status("shop", "web", "OK", "PRIMARY", {}, observed_epoch=1, ordered=True)
    sent_as(first)  # ... the earlier one arrives now
    with pytest.raises(SupersededError):
        await east.update_cluster_status("shop", "web", "OK", "FENCED", {}, observed_epoch=1, ordered=True)
    status = await east.get_cluster_status("shop", "web")
    assert (status.state.value, status.heartbeat_seq) == ("PRIMARY", 2)
    # A retry of the write that landed is recognised as landed, not refused.
    sent_as(second)
    again = await east.update_cluster_status("shop", "web", "OK", "PRIMARY", {}, observed_epoch=1, ordered=True)
    assert again.heartbeat_seq == 2
    # Another process (a restarted operator) writes with its own numbers, from 1 again.
    fresh = make_service("east").state
    assert (await fresh.update_cluster_status("shop", "web", "OK", "STANDBY", {}, ordered=True)).heartbeat_seq == 3


async def test_a_withdrawn_request_leaves_a_history_record_that_moved_nothing(make_service):
    s = await group(make_service, "east", "west")
    t = transition(reason="drill")
    await s["west"].operations.request_transition("shop", "web", t)
    other = transition("fo-2")
    assert not await s["west"].operations.withdraw_transition("shop", "web", other, "deleted")  # not that one
    assert await s["west"].operations.withdraw_transition("shop", "web", t, "Failover shop/fo-1 deleted")
    config = await s["east"].state.get_group_config("shop", "web")
    assert config.transition is None and config.epoch == 1 and config.owner == "east"
    (record,) = await s["east"].state.get_failover_history("shop", "web")
    assert record.outcome == Outcome.WITHDRAWN and not record.moved and record.epoch == 1
    assert (record.failover_name, record.source_cluster, record.target_cluster) == ("fo-1", "east", "west")
    assert record.reason == "Failover shop/fo-1 deleted (asked: drill)" and record.started_at == NOW
    # Once withdrawn, it cannot be withdrawn twice (nor transfer): nothing more is written.
    assert not await s["west"].operations.withdraw_transition("shop", "web", t, "again")
    assert len(await s["east"].state.get_failover_history("shop", "web")) == 1
