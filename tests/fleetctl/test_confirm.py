"""`switchover` says what it will do and asks (a terminal on stdin, as a person has); `--yes` skips the question;
with no terminal and no `--yes` it refuses at once, naming `--yes` — it never waits for an answer that cannot
come. Against the local DynamoDB (moto over HTTP), no operator running: what is checked is what was written."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from typing import Any

from .conftest import Answer, cli


def answered(env: dict[str, str], answer: str, *args: str) -> Answer:
    """The command with a terminal for stdin, where a person types `answer` and Enter."""
    terminal, stdin = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "failover_operator", *args],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        os.close(stdin)
        os.write(terminal, f"{answer}\n".encode())  # kept by the terminal until the command reads it
        out, err = process.communicate(timeout=60)
    finally:
        os.close(terminal)
    return Answer(process.returncode, out, err)


async def test_switchover_asks_and_moves_only_on_yes(fleet: Any, env: dict[str, str]) -> None:
    east = fleet["east"]

    async def requested() -> str | None:
        config = await east.state.get_group_config("shop", "web")
        assert config is not None
        return None if config.transition is None else config.transition.target_cluster

    scripted = cli(env, "switchover", "shop/web", "--to", "west", "--reason", "drill")
    assert scripted.code == 2 and scripted.err.count("\n") == 1, scripted
    assert "stdin is not a terminal: pass --yes" in scripted.err and await requested() is None

    declined = answered(env, "n", "switchover", "shop/web", "--to", "west", "--reason", "drill")
    assert declined.code == 1, declined
    assert declined.err.startswith("Move shop/web from east to west (CONSISTENCY)? [y/N] "), declined.err
    assert "failover-operator: not confirmed; nothing was changed" in declined.err and declined.out == ""
    assert await requested() is None

    refused = answered(env, "y", "switchover", "shop/web", "--to", "north", "--reason", "drill")
    assert refused.code == 1 and "[y/N]" not in refused.err, refused  # refused before anyone is asked
    assert "north has never reported status for shop/web" in refused.err

    move = ["switchover", "shop/web", "--to", "west", "--mode", "UPTIME", "--force", "--reason", "x"]
    agreed = answered(env, "y", *move)
    assert agreed.code == 0, agreed
    assert agreed.err.startswith("Move shop/web from east to west (UPTIME, forced)? [y/N] "), agreed.err
    assert "asked east to hand shop/web over to west (UPTIME)" in agreed.out
    assert await requested() == "west"


async def test_yes_skips_the_question(fleet: Any, env: dict[str, str]) -> None:
    answer = cli(env, "switchover", "shop/api", "--to", "west", "--reason", "drill", "--yes", "-o", "json")
    assert answer.code == 0 and answer.err == "", answer
    assert (answer.json["from"], answer.json["to"], answer.json["phase"]) == ("east", "west", "Requested")
    nothing = cli(env, "switchover", "shop/web", "--to", "east", "--reason", "drill", "--yes")
    assert nothing.code == 0 and "east already owns shop/web; nothing to do" in nothing.out, nothing
