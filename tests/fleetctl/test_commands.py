"""Every fleet command against the local DynamoDB (moto over HTTP): the JSON shapes the issue spells out, the
tables, the exit codes (0 done, 1 refused or problems, 2 usage or settings) and one clear line on stderr."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from failover_operator.clock import SystemClock
from failover_operator.store import DynamoDBService, failover_refusal, keys

from .conftest import cli, environment

OPERATOR = "cli-test"


class LateClock(SystemClock):
    """A cluster whose last words are a minute old (its operator stopped then)."""

    def now(self) -> datetime:
        return datetime.now(UTC) - timedelta(seconds=60)


@pytest.fixture
async def fleet(dynamodb: Any, table: str) -> dict[str, DynamoDBService]:
    """shop/web owned by east (PRIMARY, OK), west standing by (STANDBY, OK), both beating; shop/api the same."""
    services = {c: DynamoDBService(dynamodb, table, c, OPERATOR, SystemClock()) for c in ("east", "west")}
    for name in ("web", "api"):
        await services["east"].state.register_group("shop", name, initial_owner="east")
        await services["east"].state.update_cluster_status("shop", name, "OK", "PRIMARY", {}, observed_epoch=1)
        await services["west"].state.update_cluster_status("shop", name, "OK", "STANDBY", {}, observed_epoch=1)
    for service in services.values():
        await service.liveness.beat(5.0)
    return services


@pytest.fixture
def env(moto_endpoint: str, table: str) -> dict[str, str]:
    return environment(moto_endpoint, table, OPERATOR)


def test_status_shows_every_group_with_each_clusters_view(fleet: Any, env: dict[str, str]) -> None:
    answer = cli(env, "status", "-o", "json")
    assert answer.code == 0, answer.err
    groups = answer.json["groups"]
    assert [(g["namespace"], g["name"]) for g in groups] == [("shop", "api"), ("shop", "web")]
    web = groups[1]
    assert {k: web[k] for k in ("owner", "epoch", "suspended")} == {"owner": "east", "epoch": 1, "suspended": False}
    assert [(c["name"], c["state"], c["health"], c["observedEpoch"]) for c in web["clusters"]] == [
        ("east", "PRIMARY", "OK", 1),
        ("west", "STANDBY", "OK", 1),
    ]
    assert all(0 <= c["heartbeatAgeSeconds"] < 30 for c in web["clusters"])
    reported = cli(env, "status", "--cluster", "west", "-o", "json").json["groups"]
    assert [(g["namespace"], g["name"]) for g in reported] == [("shop", "api"), ("shop", "web")]  # west reports both
    assert cli(env, "status", "--cluster", "north", "-o", "json").json["groups"] == []
    table = cli(env, "status", "shop/web")
    assert table.code == 0, table.err
    header, first, second = table.out.splitlines()
    assert header.split()[:3] == ["GROUP", "OWNER", "EPOCH"] and first.split()[:3] == ["shop/web", "east", "1"]
    assert "west" in second and "STANDBY" in second


def test_an_unknown_group_is_one_line_and_exit_1(fleet: Any, env: dict[str, str]) -> None:
    for command in (["status", "shop/nope"], ["history", "shop/nope"], ["preflight", "shop/nope", "--to", "west"]):
        answer = cli(env, *command)
        assert answer.code == 1, (command, answer)
        assert answer.err.count("\n") == 1 and "shop/nope is not registered" in answer.err, answer.err


def test_usage_and_settings_errors_exit_2_with_one_line(fleet: Any, env: dict[str, str]) -> None:
    no_id = {k: v for k, v in env.items() if k != "OPERATOR_ID"}
    answer = cli(no_id, "status")
    assert answer.code == 2 and answer.err.count("\n") == 1 and "OPERATOR_ID" in answer.err, answer
    assert cli(no_id, "status", "--operator-id", OPERATOR).code == 0  # a flag stands in for the variable
    answer = cli(env, "history", "web")
    assert answer.code == 2 and "NAMESPACE/NAME" in answer.err, answer
    answer = cli(env, "suspend", "--reason", "x")
    assert answer.code == 2 and "--all" in answer.err, answer
    answer = cli(env, "history", "shop/web", "--limit", "0")
    assert answer.code == 2, answer
    for wrong in (
        ["history"],
        ["status", "--bogus"],
        ["switchover", "shop/web", "--to", "west"],  # no --reason
        ["preflight", "shop/web", "--to", "bad name"],
        ["status", "shop/we#b"],
    ):
        answer = cli(env, *wrong)
        assert answer.code == 2 and answer.err.count("\n") == 1, (wrong, answer)
        assert "--help" in answer.err or "NAMESPACE/NAME" in answer.err, (wrong, answer)


def test_run_help_lists_every_environment_variable(env: dict[str, str]) -> None:
    from failover_operator.settings import reference

    answer = cli(env, "run", "--help")
    assert answer.code == 0
    assert all(variable in answer.out for variable, _, _ in reference()), answer.out


async def test_history_lists_the_failovers_newest_first(fleet: Any, env: dict[str, str]) -> None:
    await fleet["west"].operations.execute_failover("shop", "web", "first", "west", "drill one")
    await fleet["east"].operations.execute_failover("shop", "web", "second", "east", "drill two", force=True)
    answer = cli(env, "history", "shop/web", "-o", "json")
    assert answer.code == 0, answer.err
    history = answer.json["history"]
    assert [(h["epoch"], h["from"], h["to"], h["name"], h["reason"]) for h in history] == [
        (3, "west", "east", "second", "drill two"),
        (2, "east", "west", "first", "drill one"),
    ]
    assert set(history[0]) >= {"epoch", "from", "to", "mode", "automatic", "downtimeSeconds", "reason", "name", "time"}
    assert history[0]["mode"] == "CONSISTENCY" and history[0]["automatic"] is False
    assert len(cli(env, "history", "shop/web", "--limit", "1", "-o", "json").json["history"]) == 1
    assert "drill two" in cli(env, "history", "shop/web").out


async def test_history_says_a_forced_move_is_forced_and_never_claims_a_downtime_for_an_unconfirmed_one(
    fleet: Any, env: dict[str, str]
) -> None:
    """Issue 18, finding 5: a forced move whose old owner never confirmed it stopped may have overlapped."""
    await fleet["west"].operations.execute_failover("shop", "web", "forced", "west", "dead owner", force=True)
    await fleet["east"].operations.execute_failover(
        "shop", "web", "blind", "east", "frozen owner", force=True, unconfirmed=True
    )
    history = cli(env, "history", "shop/web", "-o", "json").json["history"]
    assert [(h["name"], h["forced"], h["overlapUnknown"], h["downtimeSeconds"]) for h in history] == [
        ("blind", True, True, None),
        ("forced", True, False, None),
    ]
    table = cli(env, "history", "shop/web").out.splitlines()
    blind, forced = (next(line for line in table if name in line) for name in ("blind", "forced"))
    assert "forced" in blind and "unknown (overlap possible: the old owner never confirmed it stopped)" in blind
    assert "forced" in forced and "planned" not in forced


async def test_suspend_and_resume_one_group_or_all_and_tell_the_operators(fleet: Any, env: dict[str, str]) -> None:
    reader = fleet["east"]
    await reader.liveness.read()
    reader.liveness.changed(await reader.liveness.read())  # what it has seen so far
    answer = cli(env, "suspend", "shop/web", "--reason", "db migration", "-o", "json")
    assert answer.code == 0, answer.err
    assert answer.json["groups"] == [
        {"namespace": "shop", "name": "web", "suspended": True, "suspensionReason": "db migration", "changed": True}
    ]
    config = await reader.state.get_group_config("shop", "web")
    assert config is not None and config.suspended and config.suspension_reason == "db migration"
    # The operators learn it with their next read of the fleet's liveness, not at their next full read: the
    # first time they meet the CLI's change list, as every group (as when they meet a new peer); then by name.
    assert reader.liveness.changed(await reader.liveness.read()) is None
    # Issue 19: suspending a suspended group says so and keeps its reason, unless asked to replace it
    again = cli(env, "suspend", "shop/web", "--reason", "db migration, part two")
    assert again.code == 0 and again.out.strip() == (
        "shop/web is already suspended (db migration); its reason is kept (--replace-reason replaces it)"
    ), again
    assert reader.liveness.changed(await reader.liveness.read()) == set()  # nothing written, nothing published
    replaced = cli(env, "suspend", "shop/web", "--reason", "db migration, part two", "--replace-reason")
    assert replaced.code == 0 and replaced.out.strip() == "shop/web suspended", replaced
    assert reader.liveness.changed(await reader.liveness.read()) == {keys.group_pk(OPERATOR, "shop", "web")}
    answer = cli(env, "suspend", "--all", "--reason", "region maintenance", "-o", "json")
    assert answer.code == 0, answer
    assert [(g["name"], g["changed"], g["suspensionReason"]) for g in answer.json["groups"]] == [
        ("api", True, "region maintenance"),
        ("web", False, "db migration, part two"),
    ]
    configs = {c.name: c for c in await reader.state.list_groups()}
    assert {c.name: (c.suspended, c.suspension_reason) for c in configs.values()} == {
        "api": (True, "region maintenance"),
        "web": (True, "db migration, part two"),
    }
    answer = cli(env, "resume", "--all")
    assert answer.code == 0 and "shop/api resumed" in answer.out, answer
    assert not any(c.suspended for c in await reader.state.list_groups())
    assert reader.liveness.changed(await reader.liveness.read()) == {
        keys.group_pk(OPERATOR, "shop", n) for n in ("web", "api")
    }
    answer = cli(env, "resume", "shop/web")
    assert answer.code == 0 and answer.out.strip() == "shop/web was not suspended", answer


async def test_preflight_says_what_a_failover_would_meet(fleet: Any, env: dict[str, str]) -> None:
    answer = cli(env, "preflight", "shop/web", "--to", "west", "-o", "json")
    assert answer.code == 0, answer.err
    verdict = answer.json
    assert verdict["ok"] is True and verdict["refusal"] is None
    assert {c["name"] for c in verdict["checks"]} >= {
        "not-suspended",
        "lock-free",
        "target-healthy",
        "target-up-to-date",
        "target-heartbeating",
        "owner-reachable",
    }
    assert len(verdict["steps"]) >= 4 and "east" in verdict["steps"][1]
    await fleet["east"].operations.update_suspension("shop", "web", True, "db migration")
    refused = cli(env, "preflight", "shop/web", "--to", "west", "-o", "json")
    assert refused.code == 1
    state = await fleet["east"].state.get_group_state("shop", "web")
    assert refused.json["refusal"] == failover_refusal(state, "west", set())  # the Failover's own sentence
    assert cli(env, "preflight", "shop/web", "--to", "west", "--force").code == 0
    table = cli(env, "preflight", "shop/web", "--to", "west")
    assert "would be refused: shop/web is suspended (db migration)" in table.out and "What would happen" in table.out
    # A configuration change is not a move: nothing was written by any of it
    assert (await fleet["east"].state.get_group_config("shop", "web")).epoch == 1  # type: ignore[union-attr]


async def test_problems_exit_1_on_an_error(fleet: Any, env: dict[str, str], dynamodb: Any, table: str) -> None:
    answer = cli(env, "problems")
    assert answer.code == 0 and answer.out.strip() == "No problems.", answer
    late = DynamoDBService(dynamodb, table, "west", OPERATOR, LateClock())
    for name in ("web", "api"):
        await late.state.update_cluster_status("shop", name, "OK", "STANDBY", {}, observed_epoch=1)
    await late.liveness.beat(5.0)  # west's last words are a minute old
    answer = cli(env, "problems", "-o", "json")
    assert answer.code == 1 and answer.err == "", answer  # said once, in the output (not also logged)
    found = {(p["name"], p["kind"], p["cluster"], p["severity"]) for p in answer.json["problems"]}
    assert found == {
        ("web", "STALE_HEARTBEAT", "west", "warning"),
        ("web", "NO_HEALTHY_STANDBY", None, "error"),
        ("api", "STALE_HEARTBEAT", "west", "warning"),
        ("api", "NO_HEALTHY_STANDBY", None, "error"),
    }
    status = cli(env, "status", "shop/web", "-o", "json").json["groups"][0]
    assert {c["name"]: c["heartbeatAgeSeconds"] >= 55 for c in status["clusters"]} == {"east": False, "west": True}
