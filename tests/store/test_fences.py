"""The store's part of fencing by hand (store/fences.py): a cluster added to or removed from the group's config in
one version-conditioned update, and the guards the moves and proofs carry — nothing moves to a fenced cluster,
nothing moves automatically away from a fenced owner, and a fenced owner cannot prove ownership, however old the
read a decision was made on. Run on moto and on the simulation's in-memory DynamoDB (see conftest.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from failover_operator.store import ConflictError, FailoverMode, NotFoundError, PreconditionError, Transition
from failover_operator.store.fences import ATTEMPTS


async def group(make_service, *clusters, owner="east"):
    services = {c: make_service(c) for c in clusters}
    await services[owner].state.register_group("shop", "web")
    for name, svc in services.items():
        await svc.state.update_cluster_status("shop", "web", "OK", "PRIMARY" if name == owner else "STANDBY", {})
    return services


async def test_a_fence_is_recorded_with_why_when_and_by_whom_and_bumps_the_version(make_service, clock):
    s = await group(make_service, "east", "west")
    cli = make_service("fleet-cli")
    fenced = await cli.fences.fence("shop", "web", "west", "disk replaced", by="alice via fleet-cli")
    assert fenced.changed and fenced.config.version == 2
    fence = fenced.config.fences["west"]
    assert (fence.reason, fence.fenced_by, fence.fenced_at) == ("disk replaced", "alice via fleet-cli", clock.now())
    assert (await s["east"].state.get_group_config("shop", "web")).fences == {"west": fence}

    # Fenced again: the first fence, reason and time are kept; nothing is written.
    clock.advance(60)
    again = await cli.fences.fence("shop", "web", "west", "another reason")
    assert (again.changed, again.fence, again.config.version) == (False, fence, 2)

    # A second cluster joins the map; each is lifted alone.
    both = await cli.fences.fence("shop", "web", "east", "stop the group")
    assert (
        both.changed
        and set(both.config.fences) == {"east", "west"}
        and both.config.fences["east"].fenced_by == ("fleet-cli")
    )  # no `by`: the writer's name
    lifted = await cli.fences.unfence("shop", "web", "west")
    assert (lifted.changed, lifted.fence, set(lifted.config.fences), lifted.config.version) == (
        True,
        fence,
        {"east"},
        4,
    )
    assert not (await cli.fences.unfence("shop", "web", "west")).changed  # not fenced: nothing written
    last = await cli.fences.unfence("shop", "web", "east")
    assert last.changed and last.config.fences == {} and last.config.version == 5
    assert (await s["west"].state.get_group_config("shop", "web")).fences == {}


async def test_fences_written_at_once_are_both_kept(make_service):
    """Two people fence two clusters at the same moment: each write is conditioned on the version it read, so the
    one that loses writes again on what it found, and neither fence is lost."""
    s = await group(make_service, "east", "west", "north")
    one, two = make_service("fleet-cli"), make_service("fleet-cli")
    a, b = await asyncio.gather(
        one.fences.fence("shop", "web", "west", "first"), two.fences.fence("shop", "web", "north", "second")
    )
    assert a.changed and b.changed
    config = await s["east"].state.get_group_config("shop", "web")
    assert {c: f.reason for c, f in config.fences.items()} == {"west": "first", "north": "second"}
    assert config.version == 3


async def test_a_config_that_keeps_changing_is_reported_not_fought_over(make_service, monkeypatch):
    await group(make_service, "east", "west")
    cli = make_service("fleet-cli")
    other = make_service("east")
    original = cli.fences._write

    async def write_after_another(config, fences):
        await other.operations.update_suspension("shop", "web", not config.suspended, "busy")  # moves the version
        return await original(config, fences)

    monkeypatch.setattr(cli.fences, "_write", write_after_another)
    with pytest.raises(ConflictError, match=f"changed {ATTEMPTS} times while the fence was being written"):
        await cli.fences.fence("shop", "web", "west", "x")
    assert (await other.state.get_group_config("shop", "web")).fences == {}


async def test_a_group_that_does_not_exist_is_said_so(make_service):
    cli = make_service("fleet-cli")
    with pytest.raises(NotFoundError, match="group shop/ghost does not exist"):
        await cli.fences.fence("shop", "ghost", "west", "x")
    with pytest.raises(NotFoundError, match="group shop/ghost does not exist"):
        await cli.fences.unfence("shop", "ghost", "west")
    with pytest.raises(ValueError, match="needs a reason"):
        await cli.fences.fence("shop", "ghost", "west", "  ")


async def test_nothing_moves_to_a_fenced_cluster_even_on_a_read_made_before_the_fence(make_service):
    s = await group(make_service, "east", "west", "north")
    west = s["west"]
    before = await west.state.get_group_state("shop", "web")  # decided on: west not fenced yet
    await make_service("fleet-cli").fences.fence("shop", "web", "west", "disk replaced")
    with pytest.raises(ConflictError, match="west was fenced by hand during the failover of shop/web"):
        await west.operations.execute_failover("shop", "web", "fo", "west", "drill", force=True, state=before)
    # Read afresh, the refusal is the rulebook's sentence (forced or not).
    with pytest.raises(PreconditionError, match="west is fenced by hand for shop/web"):
        await west.operations.execute_failover("shop", "web", "fo", "west", "drill", force=True)
    config = await west.state.get_group_config("shop", "web")
    assert (config.owner, config.epoch) == ("east", 1)
    assert await west.state.get_failover_history("shop", "web") == []


async def test_nobody_takes_a_fenced_owner_over_even_on_a_read_made_before_the_fence(make_service):
    s = await group(make_service, "east", "west")
    west = s["west"]
    before = await west.state.get_group_state("shop", "web")
    await make_service("fleet-cli").fences.fence("shop", "web", "east", "stop the group")
    with pytest.raises(ConflictError, match="east was fenced by hand during the failover of shop/web: nobody takes"):
        await west.operations.execute_failover(
            "shop", "web", "auto-west-epoch-2", "west", "taking over", expected_epoch=1, automatic=True, state=before
        )
    assert (await west.state.get_group_config("shop", "web")).owner == "east"


async def test_a_planned_move_away_from_a_fenced_owner_lands(make_service):
    s = await group(make_service, "east", "west")
    await make_service("fleet-cli").fences.fence("shop", "web", "east", "stop the group")
    t = Transition(
        failover_name="fo-1",
        source_cluster="east",
        target_cluster="west",
        mode=FailoverMode.CONSISTENCY,
        requested_by="fleet-cli",
        requested_at=datetime(2026, 6, 1, tzinfo=UTC),
        epoch=1,
    )
    await s["east"].operations.request_transition("shop", "web", t)
    record = await s["west"].operations.execute_failover("shop", "web", "fo-1", "west", "drill", transition=t)
    config = await s["west"].state.get_group_config("shop", "web")
    assert (config.owner, config.epoch, record.epoch) == ("west", 2, 2)
    assert set(config.fences) == {"east"}  # the fence stays with the cluster: east's copy stays down


async def test_a_fenced_owner_cannot_prove_ownership(make_service):
    """The proof is what a cluster needs before it scales anything up: once the fence is written, none lands."""
    s = await group(make_service, "east", "west")
    await s["east"].state.prove_ownership("shop", "web", 1, "OK", {})
    cli = make_service("fleet-cli")
    await cli.fences.fence("shop", "web", "east", "stop the group")
    with pytest.raises(ConflictError, match="east no longer owns shop/web at epoch 1, or is fenced by hand there"):
        await s["east"].state.prove_ownership("shop", "web", 1, "OK", {})
    await cli.fences.unfence("shop", "web", "east")
    await s["east"].state.prove_ownership("shop", "web", 1, "OK", {})  # unfenced: it proves again
