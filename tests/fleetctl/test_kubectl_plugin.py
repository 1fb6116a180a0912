"""`kubectl failover ...`: kubectl runs an executable named `kubectl-failover` found on PATH; the package
installs one (pyproject's [project.scripts]) whose main runs the fleet commands under the name kubectl shows."""

from __future__ import annotations

import asyncio
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from failover_operator import cli

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_installs_the_plugin_executable() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["kubectl-failover"] == "failover_operator.cli:kubectl_main"
    assert scripts["failover-operator"] == "failover_operator.cli:main"


def test_usage_and_help_say_kubectl_failover(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.kubectl_main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and out.startswith("usage: kubectl failover "), out
    for command in ("status", "history", "show-config", "switchover", "cancel", "preflight", "problems"):
        assert command in out, command
    assert "run" not in out.split("{", 1)[1].split("}", 1)[0].split(",")  # only the fleet commands
    with pytest.raises(SystemExit) as done:
        cli.kubectl_main(["switchover", "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and out.startswith("usage: kubectl failover switchover "), out
    with pytest.raises(SystemExit) as done:
        cli.kubectl_main(["history"])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.startswith("kubectl failover history: ") and err.count("\n") == 1, err


async def test_the_plugin_runs_the_fleet_commands(
    fleet: Any, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable, value in env.items():
        if variable.startswith(("AWS_", "DYNAMODB_", "OPERATOR_")):
            monkeypatch.setenv(variable, value)
    code = await asyncio.to_thread(cli.kubectl_main, ["status", "-o", "json"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert [(g["name"], g["owner"]) for g in json.loads(out)["groups"]] == [("api", "east"), ("web", "east")]
    code = await asyncio.to_thread(cli.kubectl_main, ["status", "shop/nope"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("kubectl failover: group shop/nope is not registered"), err
    code = await asyncio.to_thread(cli.kubectl_main, ["switchover", "shop/web", "--to", "west", "--reason", "x"])
    err = capsys.readouterr().err
    assert code == 2 and "kubectl failover: switchover asks for confirmation" in err, err  # pytest's stdin: no tty
