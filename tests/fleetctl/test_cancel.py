"""`cancel NS/NAME` and `switchover --cancel NS/NAME`: a move asked and not transferred yet is withdrawn (its
source serves on); nothing pending, or a move that has landed, is refused with who owns the group now. The
requests are written as the CLI's switchover writes them, against the local DynamoDB (moto over HTTP), with
no operator running to carry them out."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from failover_operator.model import FailoverMode, Transition
from failover_operator.settings import StoreSettings
from failover_operator.store import DynamoDBService, keys

from .conftest import OPERATOR, cli


def _move(source: str, target: str, epoch: int, mode: FailoverMode = FailoverMode.CONSISTENCY) -> Transition:
    return Transition(
        failover_name=f"to-{target}",
        source_cluster=source,
        target_cluster=target,
        mode=mode,
        requested_by="fleet-cli",
        requested_at=datetime.now(UTC),
        epoch=epoch,
        reason="drill",
    )


async def test_a_pending_move_is_withdrawn_and_its_source_serves_on(fleet: Any, env: dict[str, str]) -> None:
    east: DynamoDBService = fleet["east"]
    asked = cli(env, "switchover", "shop/web", "--to", "west", "--reason", "drill", "--yes", "-o", "json")
    assert asked.code == 0, asked
    name = asked.json["name"]
    # Asked without --yes where nobody can answer: refused at once, naming --yes; the move is still pending
    refused = cli(env, "cancel", "shop/web", "--reason", "wrong group")
    assert refused.code == 2 and refused.err.count("\n") == 1 and "--yes" in refused.err, refused
    config = await east.state.get_group_config("shop", "web")
    assert config is not None and config.transition is not None and config.transition.failover_name == name

    reader = fleet["west"]
    reader.liveness.changed(await reader.liveness.read())  # what it has seen so far
    done = cli(env, "cancel", "shop/web", "--reason", "wrong group", "--yes", "-o", "json")
    assert done.code == 0, done
    assert done.json == {
        "namespace": "shop",
        "name": "web",
        "reason": "wrong group",
        "cancelled": [
            {
                "kind": "move",
                "name": name,
                "from": "east",
                "to": "west",
                "mode": "CONSISTENCY",
                "force": False,
                "automatic": False,
                "epoch": 1,
                "requestedBy": "fleet-cli",
                "requestedAt": done.json["cancelled"][0]["requestedAt"],
            }
        ],
    }
    config = await east.state.get_group_config("shop", "web")
    assert config is not None and (config.owner, config.epoch, config.transition) == ("east", 1, None)
    # The operators hear of the withdrawal with their next read of the fleet's liveness
    assert reader.liveness.changed(await reader.liveness.read()) == {keys.group_pk(OPERATOR, "shop", "web")}

    again = cli(env, "cancel", "shop/web", "--reason", "twice", "--yes")
    assert again.code == 1 and again.err.count("\n") == 1, again
    assert "nothing to cancel: no request is pending for shop/web; east owns it (epoch 1)" in again.err

    # switchover --cancel is the same command; a source that had drained for the move serves again
    cli(env, "switchover", "shop/web", "--to", "west", "--reason", "drill", "--yes")
    await east.state.update_cluster_status("shop", "web", "OK", "FAILOVER", {}, observed_epoch=1)
    table = cli(env, "switchover", "--cancel", "shop/web", "--reason", "not now", "--yes")
    assert table.code == 0, table
    assert table.out.startswith("cancelled the move of shop/web from east to west (CONSISTENCY), switchover-")
    assert table.out.rstrip().endswith("(not now): east had stopped serving for it and serves again"), table.out
    wrong = cli(env, "switchover", "--cancel", "shop/web", "--to", "west", "--reason", "x", "--yes")
    assert wrong.code == 2 and "takes no --to" in wrong.err, wrong


async def test_too_late_once_the_group_has_moved_says_who_owns_it(fleet: Any, env: dict[str, str]) -> None:
    east, west = fleet["east"], fleet["west"]
    # CONSISTENCY: the transfer removes the request; what is left to say is that the last move landed
    t = _move("east", "west", 1)
    await east.operations.request_transition("shop", "web", t)
    await west.operations.execute_failover("shop", "web", t.failover_name, "west", "drill", transition=t)
    answer = cli(env, "cancel", "shop/web", "--reason", "late", "--yes")
    assert answer.code == 1, answer
    said = "nothing to cancel: no request is pending for shop/web; west owns it (epoch 2); its last move, from east"
    assert said in answer.err, answer.err
    # UPTIME: the transfer leaves the hand-off in the config; it is no longer a request that can be withdrawn
    u = _move("east", "west", 1, FailoverMode.UPTIME)
    await east.operations.request_transition("shop", "api", u)
    await west.operations.execute_failover(
        "shop", "api", u.failover_name, "west", "drill", transition=u, mode=FailoverMode.UPTIME
    )
    answer = cli(env, "cancel", "shop/api", "--reason", "late", "--yes")
    assert answer.code == 1, answer
    assert "too late to cancel: the move to-west has transferred shop/api already: west owns it now (epoch 2)" in (
        answer.err
    )
    config = await east.state.get_group_config("shop", "api")
    assert config is not None and config.transition is not None  # the hand-off is untouched


async def test_a_move_that_lands_while_the_person_is_asked_is_too_late(
    fleet: Any, table: str, moto_endpoint: str
) -> None:
    """The withdrawal is conditioned on the very request: one that transferred in between is not undone."""
    from failover_operator.fleetctl import commands, pending
    from failover_operator.fleetctl.session import Fleet, Refused

    east, west = fleet["east"], fleet["west"]
    t = _move("east", "west", 1)
    await east.operations.request_transition("shop", "web", t)
    settings = StoreSettings(operator_id=OPERATOR, dynamodb_table=table, aws_region="us-east-1")
    args = argparse.Namespace(yes=True, reason="too slow", group="shop/web", output="table", asks=True)
    landed = False

    class Landing(pending.MoveRequest):
        def pending(self, state: Any) -> pending.Pending | None:
            found = super().pending(state)
            assert found is not None
            original = found.withdraw

            async def withdraw(store: DynamoDBService, why: str) -> bool:
                nonlocal landed
                await west.operations.execute_failover("shop", "web", t.failover_name, "west", "drill", transition=t)
                landed = True
                return await original(store, why)

            return pending.Pending(found.kind, found.name, found.what, found.then, withdraw, found.missed, found.detail)

    kinds = pending.KINDS[:]
    pending.KINDS[:] = [Landing()]
    try:
        refused = None
        try:
            await commands.cancel(Fleet(east, settings), args)
        except Refused as exc:
            refused = str(exc)
    finally:
        pending.KINDS[:] = kinds
    assert landed and refused is not None
    assert "too late to cancel the move of shop/web from east to west" in refused
    assert refused.endswith("it transferred shop/web meanwhile; west owns it now (epoch 2)"), refused
    config = await east.state.get_group_config("shop", "web")
    assert config is not None and (config.owner, config.epoch) == ("west", 2)


async def test_another_kind_of_request_is_cancelled_by_the_same_command(fleet: Any, table: str) -> None:
    """A kind listed in pending.KINDS (as a scheduled switchover will be) is found, asked about and withdrawn."""
    from failover_operator.fleetctl import commands, pending
    from failover_operator.fleetctl.session import Fleet

    withdrawn: list[str] = []

    class Scheduled:
        def pending(self, state: Any) -> pending.Pending | None:
            async def withdraw(store: DynamoDBService, why: str) -> bool:
                withdrawn.append(state.config.name)
                return True

            return pending.Pending(
                kind="scheduled-switchover",
                name="at-noon",
                what=f"the switchover of shop/{state.config.name} scheduled at noon",
                then="nothing moves at noon",
                withdraw=withdraw,
                missed=lambda now: "gone",
                detail={"at": "12:00"},
            )

        def landed(self, state: Any) -> str | None:
            return None

    settings = StoreSettings(operator_id=OPERATOR, dynamodb_table=table, aws_region="us-east-1")
    args = argparse.Namespace(yes=True, reason="holiday", group="shop/web", output="json", asks=True)
    kinds = pending.KINDS[:]
    pending.KINDS.append(Scheduled())
    try:
        assert await commands.cancel(Fleet(fleet["east"], settings), args) == 0
    finally:
        pending.KINDS[:] = kinds
    assert withdrawn == ["web"]
