"""`make demo`: the operator's real job on one machine, with no cloud account and no cluster.

Starts a local DynamoDB (moto) and two emulated Kubernetes API servers, `east` and `west`, runs the real
operator process for each (`failover-operator run`, as in a pod), applies a FailoverGroup with a Deployment
in both, then a Failover to west, and shows what a person would see with kubectl.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from failover_operator.api import API_VERSION
from failover_operator.store import DynamoDBService, ensure_table
from .controllers import running_controller
from .dynamo import FAKE_CREDENTIALS, dynamodb_client, free_port, moto_process
from .kube import KubeCluster, running_cluster
from .kubeconfig import write_kubeconfig
from .manifests import deployment

TABLE = "failover-demo"
OPERATOR_ID = "demo"
GROUP_SPEC = {
    "heartbeatInterval": "1s",
    "timeouts": {"heartbeat": "5s", "unhealthyPrimary": "20s", "transitoryState": "30s"},
    "workloads": [{"kind": "Deployment", "name": "web"}],
}
BOLD, DIM, GREEN, RESET = ("\033[1m", "\033[2m", "\033[32m", "\033[0m") if sys.stdout.isatty() else ("",) * 4


def say(text: str = "") -> None:
    print(text, flush=True)


def step(text: str) -> None:
    say(f"\n{BOLD}==> {text}{RESET}")


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


async def get_fg(clusters: dict[str, KubeCluster]) -> str:
    rows = [["CLUSTER", "NAME", "OWNER", "ROLE", "HEALTH", "SUSPENDED", "EPOCH", "REPLICAS"]]
    for name, cluster in clusters.items():
        fg = await cluster.get(API_VERSION, "failovergroups", "shop", "web")
        s = fg.get("status") or {}
        dep = await cluster.get("apps/v1", "deployments", "shop", "web")
        ready = (dep.get("status") or {}).get("readyReplicas") or 0
        rows.append(
            [
                name,
                "web",
                s.get("owner", ""),
                s.get("role", ""),
                s.get("health", ""),
                str(s.get("suspended", "")).lower(),
                str(s.get("epoch", "")),
                f"{ready}/{dep['spec'].get('replicas', 1)}",
            ]
        )
    return table(rows)


async def wait(check: Any, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


class Operator:
    """One `failover-operator run` process, as it would run in a pod of that cluster."""

    def __init__(self, cluster: KubeCluster, endpoint: str, workdir: Path) -> None:
        self.cluster = cluster
        self.endpoint = endpoint
        self.log = workdir / f"operator-{cluster.name}.log"
        self.kubeconfig = write_kubeconfig(workdir / f"kubeconfig-{cluster.name}", cluster.url, cluster.name)
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {
            **os.environ,
            "CLUSTER_NAME": self.cluster.name,
            "OPERATOR_ID": OPERATOR_ID,
            "DYNAMODB_TABLE": TABLE,
            "DYNAMODB_ENDPOINT": self.endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
            "KUBECONFIG": str(self.kubeconfig),
            "HEALTH_PORT": str(free_port()),
            "METRICS_PORT": str(free_port()),
        }
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "failover_operator",
            "run",
            env=env,
            stdout=self.log.open("wb"),
            stderr=asyncio.subprocess.STDOUT,
        )

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), timeout=10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def demo(workdir: Path) -> int:
    started = time.monotonic()
    step("Starting a local DynamoDB and two Kubernetes API servers, east and west")
    with moto_process() as endpoint:
        async with (
            dynamodb_client(endpoint) as client,
            running_cluster("east", forget_requests=True) as east,
            running_cluster("west", forget_requests=True) as west,
            running_controller(east, startup_seconds=1.5),
            running_controller(west, startup_seconds=1.5),
        ):
            clusters = {"east": east, "west": west}
            await ensure_table(client, TABLE)
            say(f"  DynamoDB {endpoint} (table {TABLE}); east {east.url}; west {west.url}")
            say(f"  {DIM}(pods take 1.5 s to become ready in these emulated clusters){RESET}")

            step("Running the operator for each cluster (failover-operator run)")
            operators = [Operator(c, endpoint, workdir) for c in clusters.values()]
            for op in operators:
                await op.start()
            try:
                for c in clusters.values():
                    await c.wait_watched(API_VERSION, "failovergroups", within=30)
                say("  both operators are up and watching FailoverGroups")

                step("kubectl apply: Deployment shop/web (3 replicas) and FailoverGroup shop/web, in both clusters")
                for c in clusters.values():
                    await c.create(deployment())
                await east.create(
                    {
                        "apiVersion": API_VERSION,
                        "kind": "FailoverGroup",
                        "metadata": {"name": "web", "namespace": "shop"},
                        "spec": GROUP_SPEC,
                    }
                )
                await asyncio.sleep(0.3)  # east registers first: the first cluster to register owns the group
                await west.create(
                    {
                        "apiVersion": API_VERSION,
                        "kind": "FailoverGroup",
                        "metadata": {"name": "web", "namespace": "shop"},
                        "spec": GROUP_SPEC,
                    }
                )

                async def settled(owner: str, epoch: int) -> bool:
                    for name, c in clusters.items():
                        s = (await c.get(API_VERSION, "failovergroups", "shop", "web")).get("status") or {}
                        if (s.get("owner"), s.get("epoch"), s.get("health")) != (owner, epoch, "OK"):
                            return False
                        dep = await c.get("apps/v1", "deployments", "shop", "web")
                        want = 3 if name == owner else 0
                        if (
                            dep["spec"].get("replicas") != want
                            or ((dep.get("status") or {}).get("readyReplicas") or 0) != want
                        ):
                            return False
                    return True

                await wait(lambda: settled("east", 1), 30, "east to become PRIMARY")
                step("kubectl get failovergroups (in each cluster)")
                say(await get_fg(clusters))

                step("kubectl apply -f failover-to-west.yaml   (in west; mode CONSISTENCY)")
                await west.create(
                    {
                        "apiVersion": API_VERSION,
                        "kind": "Failover",
                        "metadata": {"name": "to-west", "namespace": "shop"},
                        "spec": {"targetCluster": "west", "failoverGroups": [{"name": "web"}], "reason": "demo drill"},
                    }
                )
                t0 = time.monotonic()
                last = None
                while True:
                    fo = (await west.get(API_VERSION, "failovers", "shop", "to-west")).get("status") or {}
                    replicas = []
                    for name, c in clusters.items():
                        dep = await c.get("apps/v1", "deployments", "shop", "web")
                        ready = (dep.get("status") or {}).get("readyReplicas") or 0
                        replicas.append(f"{name} {ready}/{dep['spec'].get('replicas', 1)} ready")
                    line = (fo.get("phase") or "Pending", ", ".join(replicas))
                    if line != last:
                        say(f"  {time.monotonic() - t0:5.1f}s  phase {line[0]:<13} {line[1]}")
                        last = line
                    if fo.get("phase") in ("Succeeded", "Failed"):
                        break
                    if time.monotonic() - t0 > 60:
                        raise TimeoutError("the failover did not finish within 60 s")
                    await asyncio.sleep(0.1)
                ok = fo["phase"] == "Succeeded"
                step("kubectl get failovers")
                say(
                    table(
                        [
                            ["NAME", "PHASE", "TARGET", "MODE", "DURATION", "DOWNTIME"],
                            [
                                "to-west",
                                fo["phase"],
                                "west",
                                "CONSISTENCY",
                                f"{fo.get('durationSeconds', 0):.1f}s",
                                f"{fo.get('measuredDowntimeSeconds', 0):.2f}s",
                            ],
                        ]
                    )
                )
                say(f"  {fo.get('message', '')}")
                if ok:
                    await wait(lambda: settled("west", 2), 30, "west to become PRIMARY")
                step("kubectl get failovergroups (in each cluster)")
                say(await get_fg(clusters))

                step("Failover history (DynamoDB)")
                store = DynamoDBService(client, TABLE, "demo", OPERATOR_ID)
                rows = [["EPOCH", "NAME", "FROM", "TO", "MODE", "AUTOMATIC", "DOWNTIME", "REASON"]]
                for h in await store.state.get_failover_history("shop", "web"):
                    rows.append(
                        [
                            str(h.epoch),
                            h.failover_name,
                            h.source_cluster,
                            h.target_cluster,
                            h.mode.value,
                            str(h.automatic).lower(),
                            f"{h.downtime_seconds or 0:.2f}s",
                            h.reason,
                        ]
                    )
                say(table(rows))
            finally:
                for op in operators:
                    await op.stop()
            if not ok:
                for op in operators:
                    say(f"\n--- {op.log.name} (last lines) ---")
                    say("\n".join(op.log.read_text().splitlines()[-30:]))
                return 1
    elapsed = time.monotonic() - started
    say(f"\n{GREEN}Done in {elapsed:.0f}s.{RESET} Every process the demo started is stopped.")
    return 0


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="failover-demo-") as workdir:
        try:
            return asyncio.run(demo(Path(workdir)))
        except (TimeoutError, OSError) as exc:
            print(f"demo failed: {exc}", file=sys.stderr)
            for log in sorted(Path(workdir).glob("operator-*.log")):
                print(
                    f"\n--- {log.name} (last lines) ---\n" + "\n".join(log.read_text().splitlines()[-30:]),
                    file=sys.stderr,
                )
            return 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
