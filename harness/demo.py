"""`make demo`: the operator's real job on one machine, with no cloud account and no cluster.

Starts a local DynamoDB (moto) and two Kubernetes API servers, `east` and `west` -- real kube-apiservers when
their binaries are there (see harness/apiserver.py), emulated ones otherwise -- runs the real operator process
for each (`failover-operator run`, as in a pod), applies a FailoverGroup with a Deployment in both, then a
Failover to west, and shows what a person sees with kubectl: the real kubectl's output (`make demo` fetches it
first and passes it as KUBECTL) when the API servers are real; kubectl's columns printed by hand otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from failover_operator.api import API_VERSION
from failover_operator.store import ensure_table

from . import apiserver
from .cluster import Cluster
from .controllers import running_controller
from .dynamo import dynamodb_client, moto_process
from .emulator import running_cluster
from .manifests import deployment
from .processes import OperatorProcess

ROOT = Path(__file__).resolve().parents[1]


def kubectl_binary(environ: Mapping[str, str] = os.environ) -> Path:
    """The kubectl `make demo` fetched (it passes KUBECTL), else the one `make tools` put in .tools/."""
    return Path(environ.get("KUBECTL") or ROOT / ".tools" / "kubectl")


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


async def get_fg(clusters: dict[str, Cluster]) -> str:
    """What `kubectl get failovergroups -n shop` prints in each cluster, then the Deployments' replicas."""
    out = []
    for name, cluster in clusters.items():
        out.append(f"{DIM}[{name}]{RESET}")
        out.append(await kubectl(cluster, "get", "failovergroups", "-n", "shop") or await _fg_table(cluster))
    replicas = [["CLUSTER", "DEPLOYMENT", "READY"]]
    for name, cluster in clusters.items():
        dep = await cluster.get("apps/v1", "deployments", "shop", "web")
        ready = (dep.get("status") or {}).get("readyReplicas") or 0
        replicas.append([name, "shop/web", f"{ready}/{dep['spec'].get('replicas', 1)}"])
    out.append(f"{DIM}(and the Deployments, not a kubectl column:){RESET}")
    out.append(table(replicas))
    return "\n".join(out)


async def kubectl(cluster: Cluster, *args: str) -> str | None:
    """The real kubectl's output, when the binary and a real API server are there (else None)."""
    kubeconfig = getattr(cluster, "kubeconfig", None)
    binary = kubectl_binary()
    if kubeconfig is None or not binary.exists():
        return None
    done = await asyncio.to_thread(
        subprocess.run, [str(binary), "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True
    )
    return (done.stdout or done.stderr).rstrip()


async def _fg_table(cluster: Cluster) -> str:
    """kubectl's columns, printed by hand (emulated clusters: kubectl needs a real server's table output)."""
    fg = await cluster.get(API_VERSION, "failovergroups", "shop", "web")
    s = fg.get("status") or {}
    return table(
        [
            ["NAME", "OWNER", "ROLE", "HEALTH", "SUSPENDED", "EPOCH"],
            [
                "web",
                s.get("owner", ""),
                s.get("role", ""),
                s.get("health", ""),
                str(s.get("suspended", "")).lower(),
                str(s.get("epoch", "")),
            ],
        ]
    )


async def wait(check: Any, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def two_clusters() -> AsyncIterator[dict[str, Cluster]]:
    """east and west: real API servers if the binaries are there, else emulated ones."""
    async with local_clusters("east", "west") as clusters:
        yield clusters


@contextlib.asynccontextmanager
async def local_clusters(*names: str, namespaces: tuple[str, ...] = ("shop",)) -> AsyncIterator[dict[str, Cluster]]:
    """Clusters `names`, each with `namespaces`: real API servers if the binaries are there, else emulated ones."""
    assets = apiserver.assets_dir()
    if assets is not None:
        # Started from this (the main) thread, which outlives them: see ControlPlane.ensure. Nothing else runs yet.
        plane = apiserver.ControlPlane.start(assets)
        try:
            clusters = plane.ensure(*names)
            for cluster in clusters.values():
                for namespace in namespaces:
                    await cluster.ensure_namespace(namespace)
            say(f"  real kube-apiservers (envtest binaries in {assets}), one etcd")
            if not kubectl_binary().exists():
                say(f"  {DIM}no kubectl at {kubectl_binary()} (`make tools`): its columns are printed by hand{RESET}")
            yield dict(clusters)
            for cluster in clusters.values():
                await cluster.close()
        finally:
            plane.stop()
    else:
        async with contextlib.AsyncExitStack() as stack:
            emulated: dict[str, Cluster] = {}
            for name in names:
                emulated[name] = await stack.enter_async_context(running_cluster(name, forget_requests=True))
            say(f"  {DIM}emulated API servers (no kube-apiserver binaries: see README, 'Tests'){RESET}")
            yield emulated


def group() -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "FailoverGroup",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": GROUP_SPEC,
    }


async def demo(workdir: Path) -> int:
    started = time.monotonic()
    step("Starting a local DynamoDB and two Kubernetes API servers, east and west")
    with moto_process() as endpoint:
        async with dynamodb_client(endpoint) as client, two_clusters() as clusters:
            east, west = clusters["east"], clusters["west"]
            async with running_controller(east, startup_seconds=1.5), running_controller(west, startup_seconds=1.5):
                await ensure_table(client, TABLE)
                say(f"  DynamoDB {endpoint} (table {TABLE}); east {east.url}; west {west.url}")
                say(f"  {DIM}(no kubelet here: a stand-in controller makes pods 'ready' 1.5 s after a scale-up){RESET}")

                step("Running the operator for each cluster (failover-operator run)")
                operators = [
                    OperatorProcess(c, endpoint=endpoint, table=TABLE, workdir=workdir, operator_id=OPERATOR_ID)
                    for c in clusters.values()
                ]
                try:
                    for op in operators:
                        await op.start()
                    for op in operators:
                        await op.wait_healthy()
                    say("  both operators are up")
                    ok = await _story(client, clusters, endpoint)
                finally:
                    for op in operators:
                        await op.stop()
                if not ok:
                    for op in operators:
                        say(f"\n--- {op.log.name} (last lines) ---\n{op.output(30)}")
                    return 1
    elapsed = time.monotonic() - started
    say(f"\n{GREEN}Done in {elapsed:.0f}s.{RESET} Every process the demo started is stopped.")
    return 0


async def _story(client: Any, clusters: dict[str, Cluster], endpoint: str) -> bool:
    east, west = clusters["east"], clusters["west"]
    step("kubectl apply: Deployment shop/web (3 replicas) and FailoverGroup shop/web, in both clusters")
    for c in clusters.values():
        await c.create(deployment())

    async def owner_of(cluster: Cluster) -> str | None:
        status = (await cluster.get(API_VERSION, "failovergroups", "shop", "web")).get("status") or {}
        return status.get("owner")

    await east.create(group())
    # east registers first: the first cluster to register owns the group
    await wait(lambda: owner_of(east), 30, "east to register the group")
    await west.create(group())

    async def settled(owner: str, epoch: int) -> bool:
        for name, c in clusters.items():
            s = (await c.get(API_VERSION, "failovergroups", "shop", "web")).get("status") or {}
            if (s.get("owner"), s.get("epoch"), s.get("health")) != (owner, epoch, "OK"):
                return False
            dep = await c.get("apps/v1", "deployments", "shop", "web")
            want = 3 if name == owner else 0
            if dep["spec"].get("replicas") != want or ((dep.get("status") or {}).get("readyReplicas") or 0) != want:
                return False
        return True

    await wait(lambda: settled("east", 1), 30, "east to become PRIMARY")
    step("kubectl get failovergroups -n shop   (in each cluster)")
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
    ok = bool(fo["phase"] == "Succeeded")
    step("kubectl get failovers -n shop   (in west)")
    printed = await kubectl(west, "get", "failovers", "-n", "shop")
    say(
        printed
        or table(
            [
                ["NAME", "PHASE", "TARGET", "MODE", "DURATION"],
                ["to-west", fo["phase"], "west", "CONSISTENCY", str(fo.get("duration", ""))],
            ]
        )
    )
    say(f"  {fo.get('message', '')}")
    if ok:
        await wait(lambda: settled("west", 2), 30, "west to become PRIMARY")
    step("kubectl get failovergroups -n shop   (in each cluster)")
    say(await get_fg(clusters))

    if ok:
        ok = await _fleet_commands(endpoint)
    return ok


FLEET_COMMANDS = [
    ["status"],
    ["history", "shop/web"],
    ["preflight", "shop/web", "--to", "east"],
    ["problems"],
    ["switchover", "shop/web", "--to", "east", "--reason", "demo: back to east", "--wait", "--yes"],
    ["suspend", "shop/web", "--reason", "demo: maintenance"],
    ["resume", "shop/web"],
]


async def _fleet_commands(endpoint: str) -> bool:
    """The fleet CLI against the demo's DynamoDB: what an SRE runs from a laptop, with no cluster access."""
    env = {
        **os.environ,
        "OPERATOR_ID": OPERATOR_ID,
        "DYNAMODB_TABLE": TABLE,
        "DYNAMODB_ENDPOINT": endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "demo"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "demo"),
    }
    env.pop("CLUSTER_NAME", None)
    step("The fleet from anywhere: failover-operator commands, DynamoDB only (no cluster access)")
    for args in FLEET_COMMANDS:
        say(f"\n$ failover-operator {' '.join(_quoted(a) for a in args)}")
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "failover_operator", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        say((done.stdout + done.stderr).rstrip())
        if args[0] != "problems" and done.returncode != 0:
            return False
    return True


def _quoted(arg: str) -> str:
    return f'"{arg}"' if " " in arg else arg


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
