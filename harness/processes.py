"""`failover-operator run` (or `watchdog`) as a real process per cluster, exactly as in a pod: settings from the
environment, the cluster from a kubeconfig (the admin's, or a ServiceAccount's token), DynamoDB at a local
endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from .cluster import Cluster, eventually
from .dynamo import FAKE_CREDENTIALS, REGION, free_port

__all__ = ["OperatorProcess"]


class OperatorProcess:
    """One operator process for ``cluster`` (``command`` run, or watchdog); its output goes to
    ``<workdir>/<command>-<cluster>.log`` (``-<replica>`` instead of the cluster: one of several replicas)."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        endpoint: str,
        table: str,
        workdir: Path,
        operator_id: str = "fleet",
        token: str | None = None,
        env: Mapping[str, str] | None = None,
        command: str = "run",
        replica: str | None = None,
    ) -> None:
        self.cluster = cluster
        self.name = cluster.name
        self.command = command
        what = "operator" if command == "run" else command
        own = f"{what}-{replica or cluster.name}"  # one of several replicas per cluster: its pod name
        self.log = workdir / f"{own}.log"
        self.kubeconfig = cluster.write_kubeconfig(workdir / f"kubeconfig-{own}", token=token)
        self.health_port = free_port()
        self.env = {
            **os.environ,
            "CLUSTER_NAME": cluster.name,
            "OPERATOR_ID": operator_id,
            "DYNAMODB_TABLE": table,
            "DYNAMODB_ENDPOINT": endpoint,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
            "KUBECONFIG": str(self.kubeconfig),
            "HEALTH_PORT": str(self.health_port),
            "METRICS_PORT": "0",
            **(env or {}),
        }
        self.process: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        """Start (or restart) the process; output is appended to the log."""
        if self.running:
            return
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "failover_operator",
                self.command,
                env=self.env,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )

    async def wait_healthy(self, within: float = 30.0) -> None:
        """Until `/healthz` answers 200 (kopf is up), or raise with the process's last output."""
        url = f"http://127.0.0.1:{self.health_port}/healthz"

        def probe() -> bool:
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    return response.status == 200
            except OSError:
                return False

        async def healthy() -> bool:
            assert self.running, f"the operator for {self.name} exited:\n{self.output()}"
            return await asyncio.to_thread(probe)

        await eventually(
            healthy, within=within, interval=0.1, message=f"{self.name}'s operator was not healthy:\n{self.output()}"
        )

    async def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM, as Kubernetes stops a pod; SIGKILL after ``grace``. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
                self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout=grace)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode

    def pause(self) -> None:
        """SIGSTOP: the process freezes (a stuck node, a debugger, a kernel that stopped scheduling it)."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGCONT)

    async def kill(self) -> None:
        """SIGKILL: the operator dies at once, with no clean-up (a crash, an OOM kill, a lost node)."""
        if self.running:
            assert self.process is not None
            self.process.kill()
            await self.process.wait()

    def output(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no output)"
