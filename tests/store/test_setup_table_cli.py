import os
import subprocess
import sys
import uuid


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "failover_operator", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", **(env or {})},
    )


async def test_setup_table_creates_and_is_idempotent(moto_endpoint, dynamodb):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    said = []
    for _ in range(2):
        result = run_cli("setup-table", "--table", name, "--endpoint", moto_endpoint, "--region", "us-east-1")
        assert result.returncode == 0, result.stderr
        assert f"table {name} is ACTIVE" in result.stdout
        said.append(result.stdout.splitlines()[0])
    assert said == [f"created table {name}", f"found table {name} (ACTIVE)"]  # which of the two it did
    # The table's name defaults to DYNAMODB_TABLE, as the operator's does
    other = f"cli-{uuid.uuid4().hex[:8]}"
    result = run_cli("setup-table", "--endpoint", moto_endpoint, "--region", "us-east-1", env={"DYNAMODB_TABLE": other})
    assert result.returncode == 0 and f"created table {other}" in result.stdout, result
    described = (await dynamodb.describe_table(TableName=name))["Table"]
    assert described["GlobalSecondaryIndexes"][0]["IndexName"] == "GSI1"


def test_setup_table_errors_are_one_line():
    result = run_cli("setup-table", "--table", "t", "--endpoint", "http://127.0.0.1:9", "--region", "us-east-1")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "cannot set up table t" in result.stderr
    missing = run_cli("setup-table", "--table", "t", env={"AWS_REGION": "", "AWS_DEFAULT_REGION": ""})
    assert missing.returncode == 2 and "--region" in missing.stderr
