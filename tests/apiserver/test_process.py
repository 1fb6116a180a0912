"""`failover-operator run` as a process: settings errors, health and metrics endpoints against a real API
server, a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import urllib.request

from harness.cluster import eventually, write_kubeconfig
from harness.dynamo import free_port

BASE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "PATH": os.environ.get("PATH", ""),
    "HOME": os.environ.get("HOME", "/tmp"),
}


def run(env, timeout=30):
    return subprocess.run(
        [sys.executable, "-m", "failover_operator", "run"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**BASE_ENV, **env},
        cwd="/",
    )


def test_missing_settings_stop_start_up_with_one_line():
    result = run({})
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "failover-operator: invalid settings: CLUSTER_NAME is required; OPERATOR_ID is required"
    )
    result = run({"CLUSTER_NAME": "east", "OPERATOR_ID": "fleet", "AWS_REGION": "us-east-1", "HEALTH_PORT": "http"})
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "HEALTH_PORT" in result.stderr


def test_a_missing_table_is_named_with_the_fix(moto_endpoint, tmp_path):
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:9")
    result = run(
        {
            "CLUSTER_NAME": "east",
            "OPERATOR_ID": "fleet",
            "AWS_REGION": "us-east-1",
            "DYNAMODB_TABLE": "nope",
            "DYNAMODB_ENDPOINT": moto_endpoint,
            "KUBECONFIG": str(kubeconfig),
            "METRICS_PORT": "0",
        }
    )
    assert result.returncode == 1
    assert "table nope does not exist" in result.stderr and "setup-table --table nope" in result.stderr
    assert result.stderr.count("\n") == 1


async def test_runs_serves_healthz_and_metrics_and_stops_on_sigterm(moto_endpoint, table, apiservers):
    cluster = apiservers("east")["east"]
    kubeconfig = cluster.kubeconfig
    health, metrics = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "failover_operator",
        "run",
        env={
            **BASE_ENV,
            "CLUSTER_NAME": "east",
            "OPERATOR_ID": "fleet",
            "AWS_REGION": "us-east-1",
            "DYNAMODB_TABLE": table,
            "DYNAMODB_ENDPOINT": moto_endpoint,
            "KUBECONFIG": str(kubeconfig),
            "HEALTH_PORT": str(health),
            "METRICS_PORT": str(metrics),
            "LOG_FORMAT": "json",
        },
        cwd="/",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:

        def get(port, path):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as response:
                return response.status, response.read().decode()

        async def serving():
            try:
                code, _ = await asyncio.to_thread(get, health, "/healthz")
            except OSError as exc:
                raise AssertionError(str(exc)) from exc
            assert code == 200
            return True

        await eventually(serving, within=20, interval=0.2)

        async def ready():
            try:
                code, body = await asyncio.to_thread(get, health, "/readyz")
            except OSError as exc:  # 503 (urllib raises for it) until kopf has started
                raise AssertionError(str(exc)) from exc
            assert code == 200 and '"ok": true' in body, body
            return True

        await eventually(ready, within=20, interval=0.2)
        code, text = await asyncio.to_thread(get, metrics, "/metrics")
        assert code == 200 and "failover_dynamodb_requests" in text
        await cluster.wait_watched("failover.dev/v1alpha1", "failovergroups", within=10)
        loop = asyncio.get_running_loop()
        started = loop.time()
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=10)
        assert loop.time() - started < 10
        assert process.returncode == 0
        err = (await process.stderr.read()).decode()
        assert '"level": "INFO"' in err and "cluster east, operator ID fleet" in err
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
