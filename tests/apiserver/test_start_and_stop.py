"""`failover-operator run` and `failover-operator watchdog` as processes against a real API server: the line
each says on start (cluster, operator ID, table, Region, version, mode) and on stop (why), and the watchdog's
own /metrics."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from failover_operator import __version__
from harness.apiserver import RealCluster
from harness.cluster import eventually
from harness.dynamo import free_port

from .test_process import BASE_ENV

NAMESPACE = "failover-operator"
LEASE = ("coordination.k8s.io/v1", "leases")


class Process:
    """One process with LOG_FORMAT=json; its stderr into a file (a pipe nobody reads could fill up)."""

    def __init__(self, command: str, cluster: RealCluster, log: Path, **env: str) -> None:
        self.command = command
        self.log = log
        self.health, self.metrics = free_port(), free_port()
        self.env = {
            **BASE_ENV,
            **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},  # the code under test, not another's
            "CLUSTER_NAME": "east",
            "OPERATOR_ID": "fleet",
            "AWS_REGION": "us-east-1",
            "KUBECONFIG": str(cluster.kubeconfig),
            "HEALTH_PORT": str(self.health),
            "METRICS_PORT": str(self.metrics),
            "LOG_FORMAT": "json",
            "LEASE_NAMESPACE": NAMESPACE,
            **env,
        }
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "failover_operator", self.command, env=self.env, cwd="/", stderr=out
            )

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]

    def get(self, port: int, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as response:
            return str(response.read().decode())

    async def serving(self, port: int, path: str) -> str:
        async def answered() -> str:
            assert self.process is not None and self.process.returncode is None, self.log.read_text()
            try:
                return await asyncio.to_thread(self.get, port, path)
            except OSError as exc:
                raise AssertionError(str(exc)) from exc

        return await eventually(answered, within=20, interval=0.2)

    async def exited(self, within: float = 15) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout=within)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


def lease(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name}, "spec": spec}


def micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def test_the_watchdog_serves_its_metrics_and_says_how_it_starts_and_why_it_stops(
    apiservers: Any, tmp_path: Path
) -> None:
    cluster = apiservers("east")["east"]
    await cluster.ensure_namespace(NAMESPACE)
    await cluster.create(lease("failover-operator"), namespace=NAMESPACE)  # as the chart does
    dog = Process("watchdog", cluster, tmp_path / "watchdog.log")
    await dog.start()
    try:

        async def sees_the_lease() -> str:
            text = await dog.serving(dog.metrics, "/metrics")
            assert "failover_watchdog_lease_readable 1.0" in text, text
            return text

        text = await eventually(sees_the_lease, within=20, interval=0.2)
        assert f'failover_watchdog_up{{cluster="east",operator_id="fleet",version="{__version__}"}} 1.0' in text
        assert "failover_watchdog_fences_total 0.0" in text and "failover_watchdog_armed 0.0" in text
        assert "failover_group_" not in text  # the watchdog's metrics only
        assert dog.process is not None
        dog.process.send_signal(signal.SIGTERM)
        assert await dog.exited() == 0
    finally:
        await dog.stop()
    lines = dog.lines()
    first, last = lines[0], lines[-1]
    assert first["message"] == (
        f"failover-operator watchdog {__version__} starts: cluster east, operator ID fleet, table failover-operator, "
        "region us-east-1, mode alone (one watchdog per cluster: no leader election); watching the Lease "
        "failover-operator/failover-operator, all namespaces"
    )
    assert {k: first[k] for k in ("cluster", "operator_id", "table", "region", "version", "mode")} == {
        "cluster": "east",
        "operator_id": "fleet",
        "table": "failover-operator",
        "region": "us-east-1",
        "version": __version__,
        "mode": "alone",
    }
    assert (last["message"], last["reason"], last["level"]) == (
        "failover-operator watchdog stops: received SIGTERM",
        "received SIGTERM",
        "INFO",
    )


async def test_run_alone_says_so_and_that_a_signal_stopped_it(
    apiservers: Any, moto_endpoint: str, table: str, tmp_path: Path
) -> None:
    cluster = apiservers("east")["east"]
    operator = Process("run", cluster, tmp_path / "run.log", DYNAMODB_TABLE=table, DYNAMODB_ENDPOINT=moto_endpoint)
    await operator.start()
    try:
        await operator.serving(operator.health, "/readyz")
        assert operator.process is not None
        operator.process.send_signal(signal.SIGINT)
        assert await operator.exited() == 0
    finally:
        await operator.stop()
    lines = operator.lines()
    first, last = lines[0], lines[-1]
    assert first["message"] == (
        f"failover-operator {__version__} starts: cluster east, operator ID fleet, table {table}, region us-east-1, "
        "mode alone (POD_NAME unset: no leader election); watching all namespaces"
    )
    assert (first["mode"], first["table"], first["operator_id"]) == ("alone", table, "fleet")
    assert last["message"] == "failover-operator stops: received SIGINT; the workloads stay as they are"
    assert last["reason"] == "received SIGINT"


async def test_a_leader_that_loses_its_lease_says_so_as_it_stops(
    apiservers: Any, moto_endpoint: str, table: str, tmp_path: Path
) -> None:
    cluster = apiservers("east")["east"]
    await cluster.ensure_namespace(NAMESPACE)
    for name in ("failover-operator", "failover-operator-leader"):
        await cluster.create(lease(name), namespace=NAMESPACE)
    operator = Process(
        "run",
        cluster,
        tmp_path / "run.log",
        DYNAMODB_TABLE=table,
        DYNAMODB_ENDPOINT=moto_endpoint,
        POD_NAME="replica-a",
        POD_NAMESPACE=NAMESPACE,
    )
    await operator.start()
    try:

        async def leads() -> bool:
            held = await cluster.get(*LEASE, NAMESPACE, "failover-operator-leader")
            assert held["spec"].get("holderIdentity") == "replica-a", held["spec"]
            return True

        await eventually(leads, within=20, interval=0.2)
        await operator.serving(operator.health, "/readyz")
        taken = {"holderIdentity": "replica-b", "renewTime": micro_time(), "leaseDurationSeconds": 8}
        await cluster.patch(*LEASE, NAMESPACE, "failover-operator-leader", {"spec": taken})
        assert await operator.exited() == 0
    finally:
        await operator.stop()
    lines = operator.lines()
    first, last = lines[0], lines[-1]
    assert first["mode"] == "leader election"
    election = "mode leader election (replica replica-a, Lease failover-operator/failover-operator-leader)"
    assert election in first["message"]
    assert last["message"] == (
        "failover-operator stops: lost the leader Lease: another replica leads; the workloads stay as they are"
    )
