"""The fleet commands run as a person runs them: `python -m failover_operator ...` in a process of its own,
against the local DynamoDB, with only the environment the operators have (no CLUSTER_NAME)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from failover_operator.clock import SystemClock
from failover_operator.store import DynamoDBService


@dataclass
class Answer:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


def environment(endpoint: str, table: str, operator_id: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CLUSTER_NAME", "DYNAMODB_ENDPOINT", "OPERATOR_ID")}
    return {
        **env,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "DYNAMODB_ENDPOINT": endpoint,
        "DYNAMODB_TABLE": table,
        "OPERATOR_ID": operator_id,
    }


def cli(env: dict[str, str], *args: str, timeout: float = 60.0) -> Answer:
    done = subprocess.run(
        [sys.executable, "-m", "failover_operator", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,  # as in a script: nobody to answer a question
    )
    return Answer(done.returncode, done.stdout, done.stderr)


async def acli(env: dict[str, str], *args: str, budget: float = 120.0) -> Answer:
    """The same, while this process's event loop runs operators."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "failover_operator",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    async with asyncio.timeout(budget):
        out, err = await process.communicate()
    return Answer(process.returncode or 0, out.decode(), err.decode())


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
