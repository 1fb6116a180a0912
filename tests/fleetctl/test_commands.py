"""Every fleet command against the local DynamoDB (moto over HTTP): the JSON shapes the issue spells out, the
tables, the exit codes (0 done, 1 refused or problems, 2 usage or settings) and one clear line on stderr."""

from __future__ import annotations

from typing import Any

import pytest

from failover_operator.store import DynamoDBService, failover_refusal, keys

from .conftest import OPERATOR, LateClock, cli


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


# --- issue 19 --------------------------------------------------------------------------------------------


async def test_status_says_which_clusters_could_take_over_as_the_rulebook_does(fleet: Any, env: dict[str, str]) -> None:
    await fleet["west"].state.update_cluster_status("shop", "api", "DEGRADED", "STANDBY", {}, observed_epoch=1)
    answer = cli(env, "status", "-o", "json")
    assert answer.code == 0, answer.err
    ready = {
        (g["name"], c["name"]): (c["readyToTakeOver"]["ready"], c["readyToTakeOver"]["reason"])
        for g in answer.json["groups"]
        for c in g["clusters"]
    }
    assert ready == {
        ("api", "east"): (False, "Owner"),
        ("api", "west"): (False, "NotHealthy"),  # rules.readiness' own reasons, as ReadyToTakeOver says them
        ("web", "east"): (False, "Owner"),
        ("web", "west"): (True, "Ready"),
    }
    header, *rows = cli(env, "status").out.splitlines()
    at = {column: header.index(column) for column in ("CLUSTER", "READY")}
    assert header.split()[-1] == "READY"
    shown, group = {}, ""
    for row in rows:
        group = row.split()[0] if not row.startswith(" ") else group
        shown[(group, row[at["CLUSTER"] :].split()[0])] = row[at["READY"] :].strip()
    assert shown == {
        ("shop/api", "east"): "-",  # the owner has nothing to take over
        ("shop/api", "west"): "no: NotHealthy",
        ("shop/web", "east"): "-",
        ("shop/web", "west"): "yes",
    }


async def test_show_config_prints_the_config_record_and_where_the_rest_comes_from(
    fleet: Any, env: dict[str, str]
) -> None:
    await fleet["east"].operations.update_suspension("shop", "web", True, "db migration")
    answer = cli(env, "show-config", "shop/web", "-o", "json")
    assert answer.code == 0, answer.err
    cfg = answer.json
    assert {k: cfg[k] for k in ("namespace", "name", "owner", "epoch", "suspended", "suspensionReason")} == {
        "namespace": "shop",
        "name": "web",
        "owner": "east",
        "epoch": 1,
        "suspended": True,
        "suspensionReason": "db migration",
    }
    assert cfg["timeouts"] == {
        "heartbeatSeconds": 15.0,
        "unhealthyPrimarySeconds": 60.0,
        "transitoryStateSeconds": 300.0,
    }
    # Not in the record: said so, with where it comes from; each cluster's beat as its liveness record says
    assert cfg["clusterPriority"] is None and cfg["autoFailover"] is None and cfg["heartbeatIntervalSeconds"] is None
    assert set(cfg["notInDynamoDB"]) == {"clusterPriority", "autoFailover", "heartbeatInterval"}
    assert "spec.heartbeatInterval" in cfg["notInDynamoDB"]["heartbeatInterval"]
    assert cfg["clusterHeartbeatIntervalSeconds"] == {"east": 5.0, "west": 5.0}
    table = cli(env, "show-config", "shop/web")
    assert table.code == 0, table.err
    settings = {line.split("   ")[0]: line.split("   ", 1)[1].strip() for line in table.out.splitlines()[1:]}
    assert settings["owner"] == "east" and settings["epoch"] == "1" and settings["suspended"] == "yes (db migration)"
    assert settings["timeouts.heartbeat"] == "15s" and settings["timeouts.transitoryState"] == "300s"
    for key in ("priority", "autoFailover", "heartbeatInterval"):
        assert settings[key].startswith("not in DynamoDB: each cluster's FailoverGroup spec."), settings
    assert settings["clusters' heartbeat"] == "east every 5s, west every 5s (their liveness records)"
    assert cli(env, "show-config", "shop/nope").code == 1


async def test_a_wrong_operator_id_names_the_table_that_holds_no_such_fleet(
    fleet: Any, env: dict[str, str], dynamodb: Any, table: str
) -> None:
    for command in (["status"], ["problems"], ["suspend", "--all", "--reason", "x"], ["status", "--cluster", "east"]):
        answer = cli(env, *command, "--operator-id", "cli-tset")
        assert answer.code == 1 and answer.out == "", (command, answer)
        assert answer.err.count("\n") == 1, answer.err
        assert f"table {table} in us-east-1 holds no fleet with operator ID 'cli-tset'" in answer.err, answer.err
        assert "--operator-id / OPERATOR_ID" in answer.err
    # A fleet that exists (its clusters heartbeat) but has no groups yet: that is an answer
    await DynamoDBService(dynamodb, table, "east", "quiet").liveness.beat(5.0)
    quiet = cli(env, "status", "--operator-id", "quiet")
    assert quiet.code == 0 and quiet.out.strip() == "No groups.", quiet
    assert cli(env, "problems", "--operator-id", "quiet").out.strip() == "No problems."


def test_a_missing_table_or_missing_credentials_is_a_settings_error(fleet: Any, env: dict[str, str]) -> None:
    answer = cli(env, "status", "--table", "no-such-table")
    assert answer.code == 2 and answer.err.count("\n") == 1, answer
    assert "DynamoDB table no-such-table does not exist in us-east-1" in answer.err
    assert "failover-operator setup-table --table no-such-table --region us-east-1" in answer.err
    nobody = {k: v for k, v in env.items() if not k.startswith("AWS_") or k == "AWS_REGION"}
    nobody.update(
        AWS_EC2_METADATA_DISABLED="true", AWS_SHARED_CREDENTIALS_FILE="/nonexistent", AWS_CONFIG_FILE="/nonexistent"
    )
    answer = cli(nobody, "status")
    assert answer.code == 2 and answer.err.count("\n") == 1, answer
    assert answer.err.startswith("failover-operator: no AWS credentials found") and "AWS_ACCESS_KEY_ID" in answer.err


def test_a_blank_reason_is_refused_wherever_there_is_one(capsys: pytest.CaptureFixture[str]) -> None:
    from failover_operator import cli as entry

    for command in (
        ["switchover", "shop/web", "--to", "west", "--yes"],
        ["switchover", "--cancel", "shop/web", "--yes"],
        ["cancel", "shop/web", "--yes"],
        ["suspend", "shop/web"],
        ["suspend", "--all"],
    ):
        for blank in ("", "   "):
            with pytest.raises(SystemExit) as done:
                entry.main([*command, "--reason", blank])
            err = capsys.readouterr().err
            assert done.value.code == 2 and err.count("\n") == 1, (command, err)
            assert "argument --reason: must say why" in err and "may not be blank" in err, err


async def test_a_mistyped_target_lists_the_groups_clusters(fleet: Any, env: dict[str, str]) -> None:
    answer = cli(env, "switchover", "shop/web", "--to", "wets", "--reason", "drill", "--yes")
    assert answer.code == 1 and answer.err.count("\n") == 1, answer
    assert "wets is not a cluster of shop/web: it knows east, west; did you mean west?" in answer.err
    assert (await fleet["east"].state.get_group_config("shop", "web")).transition is None  # type: ignore[union-attr]
    verdict = cli(env, "preflight", "shop/web", "--to", "wets", "-o", "json")
    assert verdict.code == 1 and "it knows east, west" in verdict.json["refusal"], verdict


async def test_preflight_never_says_would_start_above_a_failed_check(
    fleet: Any, env: dict[str, str], dynamodb: Any, table: str
) -> None:
    from failover_operator.rules import FORCE_WAIT_INTERVALS

    east, west = fleet["east"], fleet["west"]
    # shop/x: its owner ghost never existed (no status, no heartbeat)
    await east.state.register_group("shop", "x", initial_owner="ghost")
    for service in (east, west):
        await service.state.update_cluster_status("shop", "x", "OK", "STANDBY", {}, observed_epoch=1)
    answer = cli(env, "preflight", "shop/x", "--to", "east", "-o", "json")
    verdict = answer.json
    assert answer.code == 1 and verdict["ok"] is False, answer
    assert verdict["refusal"] is not None and verdict["refusal"].startswith("owner-reachable: ghost has never reported")
    assert verdict["verdict"] == f"would not succeed: {verdict['refusal']}"
    assert [c["name"] for c in verdict["checks"] if not c["ok"]] == ["owner-reachable"]
    first = cli(env, "preflight", "shop/x", "--to", "east").out.splitlines()[0]
    assert "would start" not in first and "would not succeed: owner-reachable" in first, first
    # shop/y: its owner north wrote a status but never a heartbeat (no liveness record): not reachable
    north = DynamoDBService(dynamodb, table, "north", OPERATOR)
    await east.state.register_group("shop", "y", initial_owner="north")
    await north.state.update_cluster_status("shop", "y", "OK", "PRIMARY", {}, observed_epoch=1)
    await west.state.update_cluster_status("shop", "y", "OK", "STANDBY", {}, observed_epoch=1)
    verdict = cli(env, "preflight", "shop/y", "--to", "west", "-o", "json").json
    (reachable,) = [c for c in verdict["checks"] if c["name"] == "owner-reachable"]
    assert (
        reachable["ok"] is False
        and "north must confirm it stopped serving, and has never heartbeated" in (reachable["message"])
    )
    assert verdict["ok"] is False and verdict["refusal"].startswith("owner-reachable: ")
    # The force wait as the rule applies it (both clusters report again: on a loaded machine the commands above may
    # take longer than the heartbeat timeout, and the CLI dates them by the records' timestamps)
    for service, state in ((east, "PRIMARY"), (west, "STANDBY")):
        await service.state.update_cluster_status("shop", "web", "OK", state, {}, observed_epoch=1)
        await service.liveness.beat(5.0)
    forced = cli(env, "preflight", "shop/web", "--to", "west", "--force", "-o", "json").json
    assert f"west waits {FORCE_WAIT_INTERVALS} heartbeat intervals for it" in forced["steps"][1], forced["steps"]
    assert forced["ok"] is True and forced["verdict"] == "would start" and forced["refusal"] is None


async def test_history_shows_each_kind_every_outcome_and_any_downtime(fleet: Any, env: dict[str, str]) -> None:
    from failover_operator.model import Outcome

    ops = fleet["west"].operations
    await ops.execute_failover("shop", "web", "planned-one", "west", "drill")
    await fleet["east"].operations.execute_failover("shop", "web", "forced-one", "east", "dead west", force=True)
    taken = await ops.execute_failover("shop", "web", "auto-west-epoch-4", "west", "east silent", automatic=True)
    await fleet["west"].state.record_downtime("shop", "web", taken.record_id, 4.5)  # as a takeover will record it
    await fleet["east"].operations.execute_failover(
        "shop", "web", "handback", "east", "west never ready", outcome=Outcome.ROLLED_BACK, skip_checks=True
    )
    history = cli(env, "history", "shop/web", "-o", "json").json["history"]
    assert [(h["name"], h["kind"], h["outcome"], h["downtimeSeconds"]) for h in history] == [
        ("handback", "planned", "ROLLED_BACK", None),
        ("auto-west-epoch-4", "auto", "SUCCEEDED", 4.5),
        ("forced-one", "forced", "SUCCEEDED", None),
        ("planned-one", "planned", "SUCCEEDED", None),
    ]
    rows = {
        line.split()[-3] if False else line.split()[0]: line
        for line in cli(env, "history", "shop/web").out.splitlines()
    }
    assert "forced" in rows["3"] and "planned" not in rows["3"]
    assert "auto" in rows["4"] and "4.50s" in rows["4"]
    assert "ROLLED_BACK" in rows["5"]


async def test_problems_still_report_two_live_clusters_both_primary(fleet: Any, env: dict[str, str]) -> None:
    await fleet["west"].state.update_cluster_status("shop", "web", "OK", "PRIMARY", {}, observed_epoch=1)
    for service in fleet.values():
        await service.liveness.beat(5.0)  # both heartbeating
    answer = cli(env, "problems", "-o", "json")
    assert answer.code == 1, answer
    (split,) = [p for p in answer.json["problems"] if p["kind"] == "SPLIT_BRAIN"]
    assert split["name"] == "web" and "2 clusters report PRIMARY for shop/web: east, west" in split["message"]
