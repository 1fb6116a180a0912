"""A switchover scheduled for later, as the store keeps it in the group's config (store/schedule.py): scheduled
only while nothing else is pending, withdrawn only as it was found, and started in one write that removes it and
asks for the move — only while it is still there and nothing else moves.

Run on moto and on the simulation's in-memory DynamoDB (see conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from failover_operator.model import ScheduledSwitchover
from failover_operator.store import ConflictError, FailoverMode, NotFoundError, Transition

NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def group(make_service, *clusters, owner="east"):
    services = {c: make_service(c) for c in clusters}
    await services[owner].state.register_group("shop", "web")
    for name, svc in services.items():
        await svc.state.update_cluster_status("shop", "web", "OK", "PRIMARY" if name == owner else "STANDBY", {})
    return services


def scheduled(name="scheduled-20260601-020000-ab12", source="east", target="west", **extra):
    return ScheduledSwitchover(
        name=name,
        source_cluster=source,
        target_cluster=target,
        at=NOW + timedelta(hours=2),
        requested_by="fleet-cli",
        requested_at=NOW,
        reason="maintenance window",
        **extra,
    )


def started(sw: ScheduledSwitchover, epoch: int = 1) -> Transition:
    """The move request the target writes at the time (acting.Acting._schedule)."""
    return Transition(
        failover_name=sw.name,
        source_cluster=sw.source_cluster,
        target_cluster=sw.target_cluster,
        mode=sw.mode,
        requested_by=sw.requested_by,
        requested_at=NOW + timedelta(hours=2),
        epoch=epoch,
        reason=sw.reason,
    )


async def test_one_schedule_at_a_time_from_the_owner_and_not_beside_a_move(make_service):
    s = await group(make_service, "east", "west", "north")
    cli = make_service("fleet-cli")
    sw = scheduled(mode=FailoverMode.UPTIME)
    config = await cli.schedules.schedule("shop", "web", sw)
    assert config.schedule == sw and config.version == 2 and config.transition is None
    assert (await s["north"].state.get_group_config("shop", "web")).schedule == sw  # as stored, every field
    with pytest.raises(
        ConflictError,
        match="the switchover scheduled-20260601-020000-ab12 of shop/web from east to "
        "west \\(UPTIME\\) at 2026-06-01T02:00:00Z is already scheduled",
    ):
        await cli.schedules.schedule("shop", "web", scheduled("scheduled-2", target="north"))
    assert await cli.schedules.unschedule("shop", "web", sw.name)

    # Not beside a pending move, and only from the cluster that owns the group
    await s["west"].operations.request_transition(
        "shop",
        "web",
        Transition(
            failover_name="fo-1",
            source_cluster="east",
            target_cluster="west",
            requested_by="west",
            requested_at=NOW,
            epoch=1,
        ),
    )
    with pytest.raises(ConflictError, match="failover fo-1 \\(east -> west, CONSISTENCY\\) of shop/web is in progress"):
        await cli.schedules.schedule("shop", "web", sw)
    assert await s["east"].operations.clear_transition("shop", "web", "fo-1", 1)
    with pytest.raises(ConflictError, match="east owns it at epoch 1 \\(not north\\)"):
        await cli.schedules.schedule("shop", "web", scheduled(source="north", target="west"))
    with pytest.raises(NotFoundError, match="group shop/api does not exist"):
        await cli.schedules.schedule("shop", "api", sw)
    assert (await cli.state.get_group_config("shop", "web")).schedule is None


async def test_a_schedule_is_withdrawn_only_as_it_was_found(make_service):
    await group(make_service, "east", "west")
    cli = make_service("fleet-cli")
    sw = scheduled()
    await cli.schedules.schedule("shop", "web", sw)
    assert not await cli.schedules.unschedule("shop", "web", "scheduled-other")  # not that one
    assert (await cli.state.get_group_config("shop", "web")).schedule == sw
    assert await cli.schedules.unschedule("shop", "web", sw.name)
    assert not await cli.schedules.unschedule("shop", "web", sw.name)  # gone: nothing to withdraw
    config = await cli.state.get_group_config("shop", "web")
    assert config.schedule is None and (config.owner, config.epoch, config.version) == ("east", 1, 3)


async def test_starting_removes_the_schedule_and_asks_for_the_move_in_one_write(make_service):
    s = await group(make_service, "east", "west")
    cli = make_service("fleet-cli")
    sw = scheduled()
    await cli.schedules.schedule("shop", "web", sw)
    t = started(sw)
    config = await s["west"].schedules.start("shop", "web", t)
    assert config.schedule is None and config.transition == t and config.version == 3
    assert (await s["east"].state.get_group_config("shop", "web")).transition == t
    # Started once: a second start (a retry, another tick) finds it gone, and the move asked is untouched
    with pytest.raises(
        ConflictError,
        match="the switchover scheduled-20260601-020000-ab12 of shop/web is no longer scheduled; nothing was written",
    ):
        await s["west"].schedules.start("shop", "web", t)
    assert not await cli.schedules.unschedule("shop", "web", sw.name)  # too late to withdraw it as a schedule
    # From there it is an ordinary move: the transfer carries its name and reason into the history
    await s["east"].state.update_cluster_status("shop", "web", "OK", "FAILOVER", {}, observed_epoch=1)
    record = await s["west"].operations.execute_failover(
        "shop", "web", t.failover_name, "west", t.reason, transition=t, started_at=t.requested_at
    )
    assert (record.failover_name, record.reason, record.forced, record.epoch) == (
        sw.name,
        "maintenance window",
        False,
        2,
    )
    config = await s["west"].state.get_group_config("shop", "web")
    assert (config.owner, config.transition, config.schedule) == ("west", None, None)


@pytest.mark.parametrize("change", ["move", "suspended", "moved", "replaced"])
async def test_a_start_lands_only_while_nothing_else_has_changed(make_service, change):
    s = await group(make_service, "east", "west", "north")
    cli = make_service("fleet-cli")
    sw = scheduled()
    await cli.schedules.schedule("shop", "web", sw)
    if change == "move":  # a Failover asked meanwhile (a move request does not look for schedules)
        await s["north"].operations.request_transition(
            "shop",
            "web",
            Transition(
                failover_name="fo-9",
                source_cluster="east",
                target_cluster="north",
                requested_by="north",
                requested_at=NOW,
                epoch=1,
            ),
        )
        said = "failover fo-9 of shop/web is in progress"
    elif change == "suspended":
        await cli.operations.update_suspension("shop", "web", True, "db migration")
        said = "shop/web was suspended meanwhile"
    elif change == "moved":
        await s["north"].operations.execute_failover("shop", "web", "auto-north", "north", "took over", force=True)
        said = "shop/web changed: north owns it at epoch 2"
    else:
        assert await cli.schedules.unschedule("shop", "web", sw.name)
        await cli.schedules.schedule("shop", "web", scheduled("scheduled-again"))
        said = "the switchover scheduled-20260601-020000-ab12 of shop/web is no longer scheduled"
    before = await cli.state.get_group_config("shop", "web")
    with pytest.raises(ConflictError, match=f"{said}; nothing was written"):
        await s["west"].schedules.start("shop", "web", started(sw))
    assert await cli.state.get_group_config("shop", "web") == before
