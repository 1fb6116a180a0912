"""`switchover --at TIME`: a move scheduled for later, kept in the group's config in DynamoDB; `cancel` (and
`switchover --cancel`) withdraws it before it starts. Run as a person runs them, against the local DynamoDB
(moto over HTTP), with no operator running to carry them out (tests/simulation/test_schedule.py does that)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from failover_operator.fleetctl.schedule import MAX_AHEAD, When, parse_when
from failover_operator.fleetctl.session import UsageError, span
from failover_operator.model import Transition
from failover_operator.settings import StoreSettings
from failover_operator.store import DynamoDBService, keys

from .conftest import OPERATOR, cli

NOW = datetime(2026, 12, 6, 20, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-07T02:00:00Z", datetime(2026, 12, 7, 2, tzinfo=UTC)),
        ("2026-12-07T03:00+01:00", datetime(2026, 12, 7, 2, tzinfo=UTC)),
        ("2026-12-07T02:00:00.750Z", datetime(2026, 12, 7, 2, tzinfo=UTC)),  # to the second
        ("+30m", NOW + timedelta(minutes=30)),
        ("+2h", NOW + timedelta(hours=2)),
        ("+1d12h", NOW + timedelta(days=1, hours=12)),
        ("+90s", NOW + timedelta(seconds=90)),
    ],
)
def test_a_time_is_iso_8601_with_a_timezone_or_from_now(text: str, expected: datetime) -> None:
    assert parse_when(text).resolve(NOW) == expected


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("tomorrow", "expected ISO 8601 with a timezone (2026-12-07T02:00:00Z, 2026-12-07T03:00+01:00) or a time"),
        ("+", "expected ISO 8601"),
        ("+2x", "expected ISO 8601"),
        ("2026-12-07T02:00", "'2026-12-07T02:00' has no timezone: add Z (UTC) or an offset such as +01:00"),
        ("2026-12-07", "has no timezone"),
    ],
)
def test_a_time_of_another_form_is_refused_saying_which_forms_are_taken(text: str, said: str) -> None:
    with pytest.raises(
        argparse.ArgumentTypeError, match=said.replace("(", "\\(").replace(")", "\\)").replace("+", "\\+")
    ):
        parse_when(text)


def test_a_time_past_or_more_than_30_days_away_is_refused() -> None:
    assert timedelta(days=30) == MAX_AHEAD
    with pytest.raises(UsageError, match="--at 2026-12-06T19:59:59Z: 2026-12-06T19:59:59Z is not in the future"):
        When("2026-12-06T19:59:59Z", at=NOW - timedelta(seconds=1)).resolve(NOW)
    with pytest.raises(
        UsageError, match="is not in the future \\(it is 2026-12-06T20:00:00Z now\\); to move the group "
    ):
        parse_when("+0m").resolve(NOW)
    assert parse_when("+30d").resolve(NOW) == NOW + MAX_AHEAD
    with pytest.raises(UsageError, match="--at \\+30d1s: 2027-01-05T20:00:01Z is more than 30 days away"):
        parse_when("+30d1s").resolve(NOW)
    assert [span(timedelta(seconds=s)) for s in (45, 600, 7200, 93600)] == ["45s", "10m0s", "2h0m", "1d2h"]


async def test_scheduled_shown_and_cancelled(fleet: dict[str, DynamoDBService], env: dict[str, str]) -> None:
    east, west = fleet["east"], fleet["west"]
    before = datetime.now(UTC)
    asked = cli(
        env, "switchover", "shop/web", "--to", "west", "--at", "+2h", "--reason", "window", "--yes", "-o", "json"
    )
    assert asked.code == 0 and asked.err == "", asked
    answer = asked.json
    at = datetime.fromisoformat(answer["at"])
    assert before + timedelta(hours=2) - timedelta(seconds=1) <= at <= datetime.now(UTC) + timedelta(hours=2)
    assert answer["name"].startswith(f"scheduled-{at:%Y%m%d-%H%M%S}-")
    assert {k: answer[k] for k in ("namespace", "group", "from", "to", "mode", "requestedBy", "phase")} == {
        "namespace": "shop",
        "group": "web",
        "from": "east",
        "to": "west",
        "mode": "CONSISTENCY",
        "requestedBy": "fleet-cli",
        "phase": "Scheduled",
    }
    assert answer["refusedNow"] is None
    config = await east.state.get_group_config("shop", "web")
    assert config is not None and config.schedule is not None and config.transition is None
    assert (config.schedule.name, config.schedule.at, config.schedule.reason) == (answer["name"], at, "window")
    # The operators hear of it with their next read of the fleet's liveness (the CLI's change list)
    west.liveness.changed(await west.liveness.read())
    published = west.liveness.publishers["fleet-cli"]
    assert set(published.changes) == {keys.group_pk(OPERATOR, "shop", "web")}

    status = cli(env, "status", "shop/web", "-o", "json").json["groups"][0]["scheduledSwitchover"]
    assert status == {
        "name": answer["name"],
        "from": "east",
        "to": "west",
        "mode": "CONSISTENCY",
        "at": answer["at"],
        "requestedBy": "fleet-cli",
        "requestedAt": status["requestedAt"],
        "reason": "window",
    }
    table = cli(env, "status").out
    lines = table.splitlines()
    assert lines[0].startswith("GROUP") and lines[-2].split() == ["SCHEDULED", "MOVE", "MODE", "AT", "WHEN", "NAME"]
    row = lines[-1].split()
    assert row == ["shop/web", "east->west", "CONSISTENCY", answer["at"], "in", row[5], answer["name"]], table
    assert row[5] in ("1h59m", "2h0m"), table  # 2 h from when it was asked, to the second
    assert not any(line.startswith("shop/api") and "->" in line for line in lines)  # only the scheduled group
    shown = cli(env, "show-config", "shop/web", "-o", "json").json["scheduledSwitchover"]
    assert shown == status
    config_table = cli(env, "show-config", "shop/web").out
    assert f"scheduled switchover        {answer['name']}: east -> west (CONSISTENCY) at {answer['at']}" in (
        config_table
    ), config_table

    # One at a time: a second is refused, saying how to withdraw the first
    again = cli(env, "switchover", "shop/web", "--to", "west", "--at", "+3h", "--reason", "again", "--yes")
    assert again.code == 1 and again.err.count("\n") == 1, again
    assert f"the switchover {answer['name']} of shop/web from east to west (CONSISTENCY) at {answer['at']} is " in (
        again.err
    )
    assert "is already scheduled; withdraw it with `failover-operator cancel shop/web --reason ...`" in again.err

    done = cli(env, "cancel", "shop/web", "--reason", "not tonight", "--yes", "-o", "json")
    assert done.code == 0, done
    assert done.json == {
        "namespace": "shop",
        "name": "web",
        "reason": "not tonight",
        "cancelled": [
            {
                "kind": "scheduled-switchover",
                "name": answer["name"],
                "from": "east",
                "to": "west",
                "mode": "CONSISTENCY",
                "at": answer["at"],
                "requestedBy": "fleet-cli",
                "requestedAt": status["requestedAt"],
            }
        ],
    }
    config = await east.state.get_group_config("shop", "web")
    assert config is not None and (config.owner, config.schedule, config.transition) == ("east", None, None)
    assert west.liveness.changed(await west.liveness.read()) == {keys.group_pk(OPERATOR, "shop", "web")}
    assert "SCHEDULED" not in cli(env, "status").out
    nothing = cli(env, "cancel", "shop/web", "--reason", "twice", "--yes")
    assert nothing.code == 1 and "nothing to cancel: no request is pending for shop/web" in nothing.err, nothing

    # switchover --cancel is the same command; an UPTIME one says so
    cli(env, "switchover", "shop/web", "--to", "west", "--mode", "UPTIME", "--at", "+45m", "--reason", "w", "--yes")
    text = cli(env, "switchover", "--cancel", "shop/web", "--reason", "not now", "--yes")
    assert text.code == 0, text
    assert text.out.startswith("cancelled the switchover of shop/web from east to west (UPTIME) scheduled for "), text
    assert text.out.rstrip().endswith(
        "(not now): nothing moves at " + text.out.split("scheduled for ")[1][:20] + ("; east serves on")
    ), text.out


async def test_what_time_cannot_change_is_refused_and_what_it_may_is_noted(
    fleet: dict[str, DynamoDBService], env: dict[str, str]
) -> None:
    east = fleet["east"]
    # The form and the moment: usage errors (exit 2), nothing read or written
    for at, said in (
        ("tomorrow", "expected ISO 8601 with a timezone"),
        ("2026-12-07T02:00", "has no timezone"),
        ("2020-01-01T00:00:00Z", "--at 2020-01-01T00:00:00Z: 2020-01-01T00:00:00Z is not in the future"),
        ("+31d", "is more than 30 days away"),
    ):
        answer = cli(env, "switchover", "shop/web", "--to", "west", "--at", at, "--reason", "x", "--yes")
        assert answer.code == 2 and said in answer.err, (at, answer)
    for flag in ("--force", "--wait"):
        answer = cli(env, "switchover", "shop/web", "--to", "west", "--at", "+1h", flag, "--reason", "x", "--yes")
        assert answer.code == 2 and answer.err.count("\n") == 1, answer
        assert f"switchover --at takes no {flag}: a scheduled move is never forced" in answer.err
    wrong = cli(env, "switchover", "--cancel", "shop/web", "--at", "+1h", "--reason", "x", "--yes")
    assert wrong.code == 2 and "takes no --at" in wrong.err, wrong
    asks = cli(env, "switchover", "shop/web", "--to", "west", "--at", "+1h", "--reason", "x")
    assert asks.code == 2 and "--yes" in asks.err, asks  # nobody to answer the question
    # What the group's records say for good: refused (exit 1) with the Failover's sentence
    owner = cli(env, "switchover", "shop/web", "--to", "east", "--at", "+1h", "--reason", "x", "--yes")
    assert owner.code == 1 and "east already owns shop/web (epoch 1)" in owner.err, owner
    typo = cli(env, "switchover", "shop/web", "--to", "wset", "--at", "+1h", "--reason", "x", "--yes")
    assert typo.code == 1 and "wset has never reported status for shop/web" in typo.err, typo
    assert "did you mean west?" in typo.err
    pending = Transition(
        failover_name="fo-1",
        source_cluster="east",
        target_cluster="west",
        requested_by="west",
        requested_at=datetime.now(UTC),
        epoch=1,
    )
    await east.operations.request_transition("shop", "api", pending)
    moving = cli(env, "switchover", "shop/api", "--to", "west", "--at", "+1h", "--reason", "x", "--yes")
    assert moving.code == 1 and "failover fo-1 (east -> west) of shop/api is in progress; schedule once" in moving.err
    config = await east.state.get_group_config("shop", "web")
    assert config is not None and config.schedule is None
    # What may change by then (a suspension, the target's health): scheduled, with a note; judged again at the time
    await east.operations.update_suspension("shop", "web", True, "db migration")
    noted = cli(env, "switchover", "shop/web", "--to", "west", "--at", "+1h", "--reason", "x", "--yes")
    assert noted.code == 0 and noted.err.count("\n") == 1, noted
    assert noted.err.startswith(
        "failover-operator: note: were it now, the move would be refused: shop/web is suspended (db migration)"
    )
    assert (
        "west's operator judges it again at" in noted.err and "drops it, saying why, if it still would be" in noted.err
    )
    assert noted.out.startswith("scheduled-") and ": shop/web moves from east to west (CONSISTENCY) at " in noted.out
    assert "asked for then by west's operator on its own clock (see it with `failover-operator status " in noted.out
    assert " (in 1h0m), " in noted.out or " (in 59m59s), " in noted.out, noted.out
    assert noted.out.rstrip().endswith("withdraw it with `failover-operator cancel shop/web --reason ...` until then)")
    config = await east.state.get_group_config("shop", "web")
    assert config is not None and config.schedule is not None


async def test_a_schedule_that_starts_while_the_person_is_asked_is_too_late_but_its_move_is_not(
    fleet: dict[str, DynamoDBService], table: str
) -> None:
    """The withdrawal is conditioned on the very schedule: one that started in between is a move request now,
    which the same command withdraws when run again."""
    from failover_operator.fleetctl import commands, pending
    from failover_operator.fleetctl.session import Fleet, Refused

    east, west = fleet["east"], fleet["west"]
    settings = StoreSettings(operator_id=OPERATOR, dynamodb_table=table, aws_region="us-east-1")
    from failover_operator.model import ScheduledSwitchover

    sw = ScheduledSwitchover(
        name="scheduled-x",
        source_cluster="east",
        target_cluster="west",
        at=datetime.now(UTC) + timedelta(minutes=5),
        requested_by="fleet-cli",
        requested_at=datetime.now(UTC),
        reason="window",
    )
    await east.schedules.schedule("shop", "web", sw)
    move = Transition(
        failover_name=sw.name,
        source_cluster="east",
        target_cluster="west",
        requested_by="fleet-cli",
        requested_at=datetime.now(UTC),
        epoch=1,
        reason="window",
    )

    class Starting(pending.ScheduledRequest):
        def pending(self, state: Any) -> pending.Pending | None:
            found = super().pending(state)
            assert found is not None
            original = found.withdraw

            async def withdraw(store: DynamoDBService, why: str) -> bool:
                await west.schedules.start("shop", "web", move)  # its time came meanwhile
                return await original(store, why)

            return pending.Pending(found.kind, found.name, found.what, found.then, withdraw, found.missed, found.detail)

    args = argparse.Namespace(yes=True, reason="too slow", group="shop/web", output="table", asks=True)
    kinds = pending.KINDS[:]
    pending.KINDS[:] = [Starting()]
    try:
        with pytest.raises(Refused) as refused:
            await commands.cancel(Fleet(east, settings), args)
    finally:
        pending.KINDS[:] = kinds
    assert "too late to cancel the switchover of shop/web from east to west (CONSISTENCY) scheduled for " in str(
        refused.value
    )
    assert str(refused.value).endswith(
        "its time came and it started; the move scheduled-x is pending now: run the same command again to withdraw "
        "it before it transfers shop/web"
    ), refused.value
    assert await commands.cancel(Fleet(east, settings), args) == 0  # the move, withdrawn as any
    config = await east.state.get_group_config("shop", "web")
    assert config is not None and (config.owner, config.schedule, config.transition) == ("east", None, None)
