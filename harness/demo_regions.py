"""`make demo-regions`: one DynamoDB table in three Regions (MRSC), a cluster in each, and three outages.

Starts a local DynamoDB (moto) behind three local Region endpoints -- us-east-1, us-east-2, us-west-2: one
linearizable table, transactions refused, DescribeTable saying MRSC (harness/regions.py) -- and three Kubernetes
API servers, `east` (in us-east-1), `west` (us-east-2) and `north` (us-west-2): real kube-apiservers when their
binaries are there, emulated ones otherwise. Each cluster runs the real operator process (`failover-operator run`)
with DYNAMODB_REGIONS and DYNAMODB_ENDPOINTS. Then, with a FailoverGroup owned by east:

1. the table's first Region, us-east-1, is lost while every operator asks it first: they move to us-east-2, and
   nothing else happens (namespace `first-region`, watched by operators configured that way);
2. every endpoint is lost for twice the heartbeat timeout, then back: the owner fences meanwhile, nobody takes
   over, and the owner serves again as soon as the table answers (namespace `own-region`: each operator asks its
   own Region first);
3. us-east-1 is lost with east in it (east cut off from every Region): east fences itself and another Region's
   cluster takes the group over.

What a person sees is printed: the real kubectl's output (`make demo-regions` fetches kubectl first and passes it
as KUBECTL), a timeline of each cluster's role and replicas, the operators' own log lines, and the fleet CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from failover_operator.api import API_VERSION
from failover_operator.store import ensure_table

from .cluster import Cluster
from .controllers import running_controller
from .demo import BOLD, DIM, GREEN, RESET, kubectl, local_clusters, say, step, table
from .dynamo import dynamodb_client, moto_process
from .manifests import deployment
from .processes import OperatorProcess
from .regions import HOMES, REGIONS, RegionalTable, operators, regional_table, watching

TABLE = "failover-regions-demo"
OPERATOR_ID = "demo"
CLUSTERS = ("east", "west", "north")
H, T = 1.0, 4.0  # heartbeatInterval, timeouts.heartbeat
REQUEST_TIMEOUT = 2.0
AT_REST = 3 * H
"""Seconds the fleet is left alone after it settled, before a fault: a fault within about two intervals of news
about the group meets two operator bugs (tests/e2e/test_regions.py, AT_REST, says which)."""
SPEC = {
    "initialPrimary": "east",
    "heartbeatInterval": f"{H:g}s",
    "timeouts": {"heartbeat": f"{T:g}s", "unhealthyPrimary": f"{2 * T:g}s", "transitoryState": f"{5 * T:g}s"},
    "workloads": [{"kind": "Deployment", "name": "web"}],
}
FIRST_REGION, OWN_REGION = "first-region", "own-region"  # the namespaces (one set of operators each)
INTERESTING = (
    "DynamoDB table ",
    "DynamoDB: moving",
    "fencing",
    "fenced",
    "taking over",
    "failover auto-",
    "promoting",
    "proved",
    "serves; downtime",
)


def group(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "FailoverGroup",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": SPEC,
    }


class Act:
    """One set of operators (one per cluster, watching `namespace`) and what they log from now on."""

    def __init__(self, processes: dict[str, OperatorProcess], namespace: str) -> None:
        self.processes = processes
        self.namespace = namespace
        self.read_to: dict[str, int] = {}

    def mark(self) -> None:
        """From here on, `new_lines` shows only what is logged later."""
        for name, p in self.processes.items():
            self.read_to[name] = len(_lines(p))

    def new_lines(self, name: str, keep: Callable[[str], bool]) -> list[str]:
        lines = _lines(self.processes[name])[self.read_to.get(name, 0) :]
        return [line for line in lines if keep(line)]


def _lines(process: OperatorProcess) -> list[str]:
    try:
        return process.log.read_text(errors="replace").splitlines()
    except OSError:
        return []


_LINE = re.compile(r"^(?P<date>\S+) (?P<time>\S+) (?P<level>\S+)\s+(?P<logger>\S+): (?P<message>.*)$")


def _short(line: str) -> str:
    """A text log line without its date and logger: `00:29:28,725 WARNING DynamoDB: moving ...`."""
    found = _LINE.match(line)
    return f"{found['time']} {found['level']:<7} {found['message']}" if found else line


def interesting(line: str) -> bool:
    return any(word in line for word in INTERESTING) and "watchdog Lease" not in line


async def show_groups(clusters: Mapping[str, Cluster], namespace: str) -> None:
    """What `kubectl get failovergroups -n NS` prints in each cluster, then the Deployments' replicas."""
    rows = [["CLUSTER", "DEPLOYMENT", "READY"]]
    for name, cluster in clusters.items():
        say(f"{DIM}[{name}]{RESET}")
        printed = await kubectl(cluster, "get", "failovergroups", "-n", namespace)
        say(printed or await _fg_table(cluster, namespace))
        dep = await cluster.get("apps/v1", "deployments", namespace, "web")
        ready = (dep.get("status") or {}).get("readyReplicas") or 0
        rows.append([name, f"{namespace}/web", f"{ready}/{dep['spec'].get('replicas', 1)}"])
    say(f"{DIM}(and the Deployments, not a kubectl column:){RESET}")
    say(table(rows))


async def _fg_table(cluster: Cluster, namespace: str) -> str:
    s = (await cluster.get(API_VERSION, "failovergroups", namespace, "web")).get("status") or {}
    header = ["NAME", "OWNER", "ROLE", "HEALTH", "SUSPENDED", "EPOCH"]
    row = ["web", s.get("owner", ""), s.get("role", ""), s.get("health", ""), str(s.get("suspended", "")).lower()]
    return table([header, [*row, str(s.get("epoch", ""))]])


async def snapshot(clusters: Mapping[str, Cluster], namespace: str) -> dict[str, tuple[str, str, str, int]]:
    """Each cluster's (owner, role, ready/replicas, epoch), as its FailoverGroup and Deployment say."""
    return {name: (o, r, rep, e) for name, (o, r, rep, e, _) in (await _statuses(clusters, namespace)).items()}


async def _statuses(clusters: Mapping[str, Cluster], namespace: str) -> dict[str, tuple[str, str, str, int, str]]:
    """snapshot, and each cluster's health."""
    out = {}
    for name, cluster in clusters.items():
        s = (await cluster.get(API_VERSION, "failovergroups", namespace, "web")).get("status") or {}
        dep = await cluster.get("apps/v1", "deployments", namespace, "web")
        ready = (dep.get("status") or {}).get("readyReplicas") or 0
        replicas = f"{ready}/{dep['spec'].get('replicas', 1)}"
        out[name] = (
            s.get("owner") or "",
            s.get("role") or "",
            replicas,
            int(s.get("epoch") or 0),
            s.get("health") or "",
        )
    return out


def _timeline_line(t: float, snap: dict[str, tuple[str, str, str, int]], regions: RegionalTable) -> str:
    cells = "   ".join(f"{name} {role or '-':<8} {replicas}" for name, (_, role, replicas, _) in snap.items())
    owners = {o for o, _, _, _ in snap.values() if o}
    epochs = {e for _, _, _, e in snap.values() if e}
    down = ", ".join(r for r in REGIONS if r in regions.lost) or "none"
    cut = f"; cut off: {', '.join(sorted(regions.cut))}" if regions.cut else ""
    owner = "/".join(sorted(owners)) or "-"
    epoch = "/".join(str(e) for e in sorted(epochs)) or "-"
    return f"  {t:5.1f}s  {cells}   owner {owner} epoch {epoch}   {DIM}lost: {down}{cut}{RESET}"


async def timeline(
    clusters: Mapping[str, Cluster],
    namespace: str,
    regions: RegionalTable,
    started: float,
    until: Callable[[dict[str, tuple[str, str, str, int]], float], bool],
    limit: float,
) -> dict[str, tuple[str, str, str, int]]:
    """Print a line whenever a cluster's role or replicas change (read every 0.1 s) until `until(snapshot,
    seconds since started)`; return the last snapshot."""
    shown: str | None = None
    shown_at = 0.0
    while True:
        now = time.monotonic() - started
        last = await snapshot(clusters, namespace)
        key = _timeline_line(0.0, last, regions)  # what the line shows, whenever it is
        if key != shown:
            say(_timeline_line(now, last, regions))
            shown, shown_at = key, now
        if until(last, now):
            if now - shown_at > 1.0:
                say(f"  {now:5.1f}s  {DIM}(no change since {shown_at:.1f}s){RESET}")
            return last
        if now > limit:
            raise TimeoutError(f"the timeline did not reach its end within {limit:.0f}s")
        await asyncio.sleep(0.1)


async def settled(clusters: Mapping[str, Cluster], namespace: str, owner: str, epoch: int, within: float) -> None:
    """Every cluster says `owner` at `epoch`, its own role, health OK; the owner runs 3/3, the others 0/0."""
    deadline = time.monotonic() + within
    while True:
        found = await _statuses(clusters, namespace)
        if all(
            (o, e, health) == (owner, epoch, "OK")
            and role == ("PRIMARY" if name == owner else "STANDBY")
            and replicas == ("3/3" if name == owner else "0/0")
            for name, (o, role, replicas, e, health) in found.items()
        ):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the clusters did not settle on {owner} at epoch {epoch}: {found}")
        await asyncio.sleep(0.1)


async def fleet_cli(regions: RegionalTable, *args: str) -> str:
    """The fleet CLI from a laptop, through the table's Regions (DYNAMODB_REGIONS, DYNAMODB_ENDPOINTS)."""
    env = {
        **os.environ,
        "OPERATOR_ID": OPERATOR_ID,
        "DYNAMODB_TABLE": TABLE,
        "DYNAMODB_REGIONS": ",".join(REGIONS),
        "DYNAMODB_ENDPOINTS": ",".join(regions.endpoints[r].endpoint for r in REGIONS),
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "demo"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "demo"),
    }
    for unset in ("CLUSTER_NAME", "DYNAMODB_ENDPOINT", "AWS_REGION"):
        env.pop(unset, None)
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "failover_operator", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    return (done.stdout + done.stderr).rstrip()


async def start_act(
    stack: contextlib.AsyncExitStack,
    clusters: Mapping[str, Cluster],
    regions: RegionalTable,
    workdir: Path,
    namespace: str,
    order: list[str] | None,
) -> Act:
    """The operators for `namespace` (each cluster's order of Regions: `order`, or its own Region first), and the
    group in it, owned by east."""
    env = {"WATCH_NAMESPACE": namespace, "DYNAMODB_TIMEOUT_SECONDS": f"{REQUEST_TIMEOUT:g}"}
    act_dir = workdir / namespace
    act_dir.mkdir()
    say(f"  {'CLUSTER':<8}{'IN':<11}DYNAMODB_REGIONS (its order of preference)")
    for name in clusters:
        say(f"  {name:<8}{HOMES[name]:<11}{','.join(order or regions.order(name))}")
    processes = await stack.enter_async_context(
        operators(clusters, regions, TABLE, act_dir, operator_id=OPERATOR_ID, order=order, env=env)
    )
    act = Act(processes, namespace)
    say("  the operators are up; each says what kind of table it found:")
    for name in clusters:
        for line in act.new_lines(name, lambda line: "DynamoDB table " in line):
            say(f"  {DIM}{name}:{RESET} {_short(line)}")
    say(f"\n$ kubectl apply -f web.yaml   {DIM}(Deployment and FailoverGroup {namespace}/web, in every cluster){RESET}")
    for cluster in clusters.values():
        await cluster.create(deployment(namespace=namespace))
    for cluster in clusters.values():
        await cluster.create(group(namespace))
    await settled(clusters, namespace, "east", 1, within=60)
    step(f"kubectl get failovergroups -n {namespace}   (in each cluster)")
    await show_groups(clusters, namespace)
    return act


def show_logs(act: Act, keep: Callable[[str], bool] = interesting, most: int = 6) -> None:
    """What each operator logged since the act's mark (the lines that say something happened)."""
    for name in act.processes:
        lines = act.new_lines(name, keep)
        moves = [line for line in lines if "DynamoDB: moving" in line]
        others = [line for line in lines if "DynamoDB: moving" not in line]
        say(f"{DIM}[{name}]{RESET}")
        shown = moves[:2] + others[:most]
        for line in sorted(shown, key=lambda line: line.split(" ", 2)[:2]):
            say(f"  {_short(line)}")
        if len(moves) > 2:
            say(f"  {DIM}... and {len(moves) - 2} more moves between Regions{RESET}")
        if not lines:
            say(f"  {DIM}(nothing){RESET}")


async def demo(workdir: Path) -> int:
    started = time.monotonic()
    step("Starting a local DynamoDB, its three Regions' endpoints, and three Kubernetes API servers")
    with moto_process() as endpoint:
        async with (
            dynamodb_client(endpoint) as client,
            local_clusters(*CLUSTERS, namespaces=(FIRST_REGION, OWN_REGION)) as clusters,
            regional_table(endpoint, CLUSTERS) as regions,
            contextlib.AsyncExitStack() as stack,
        ):
            for cluster in clusters.values():
                await stack.enter_async_context(running_controller(cluster, startup_seconds=1.0))
            await ensure_table(client, TABLE)
            say(f"  DynamoDB table {TABLE} (moto at {endpoint}), one linearizable table behind three endpoints:")
            for region in REGIONS:
                say(f"    {region:<10} {regions.endpoints[region].endpoint}   (transactions refused, as MRSC)")
            for name, cluster in clusters.items():
                say(f"  cluster {name:<6} in {HOMES[name]:<10} API server {cluster.url}")
            say(f"  {DIM}(no kubelet here: a stand-in controller makes pods 'ready' 1 s after a scale-up){RESET}")
            say(f"  {DIM}group timing: heartbeatInterval h = {H:g}s, timeouts.heartbeat T = {T:g}s{RESET}")
            ok = True
            try:
                ok = await first_region_lost(stack, clusters, regions, workdir)
                if ok:
                    ok = await table_out_of_reach_then_region_lost(stack, clusters, regions, workdir)
            finally:
                say(f"\n{DIM}stopping every operator (SIGTERM){RESET}")
            if not ok:
                return 1
    say(f"\n{GREEN}Done in {time.monotonic() - started:.0f}s.{RESET} Every process the demo started is stopped.")
    return 0


async def first_region_lost(
    stack: contextlib.AsyncExitStack, clusters: Mapping[str, Cluster], regions: RegionalTable, workdir: Path
) -> bool:
    ns = FIRST_REGION
    step(f"1. The table's first Region lost. Operators for namespace {ns}, each asking us-east-1 first")
    async with contextlib.AsyncExitStack() as act_stack:
        act = await start_act(act_stack, clusters, regions, workdir, ns, list(REGIONS))
        await asyncio.sleep(AT_REST)  # the fleet at rest
        step(f"us-east-1's endpoint refuses every connection; every cluster runs on. Watching for 2T = {2 * T:g}s")
        act.mark()
        async with watching(clusters, ns) as seen:
            t0 = time.monotonic()
            await regions.lose("us-east-1")
            last = await timeline(clusters, ns, regions, t0, lambda _s, t: t >= 2 * T, limit=2 * T + 30)
        step("What the operators logged meanwhile")
        show_logs(act)
        step(f"kubectl get failovergroups -n {ns}   (in each cluster)")
        await show_groups(clusters, ns)
        ok = all((o, e) == ("east", 1) for o, _, _, e in last.values()) and seen.replicas_of("east") == {3}
        ok = ok and not seen.overlaps()
        say(
            f"\n{GREEN if ok else BOLD}{'Nothing moved' if ok else 'SOMETHING MOVED'}:{RESET} east still owns the "
            f"group at epoch 1 and its Deployment never scaled down (read every 20 ms: "
            f"{sorted(seen.replicas_of('east'))}); nobody else ran it."
        )
        await regions.restore("us-east-1")
        say(f"  {DIM}us-east-1 answers again; these operators stop (SIGTERM){RESET}")
    return ok


async def table_out_of_reach_then_region_lost(
    stack: contextlib.AsyncExitStack, clusters: Mapping[str, Cluster], regions: RegionalTable, workdir: Path
) -> bool:
    ns = OWN_REGION
    step(f"2. The whole table out of reach. Operators for namespace {ns}, each asking its own Region first")
    act = await start_act(stack, clusters, regions, workdir, ns, None)
    outage = 2 * T
    await asyncio.sleep(AT_REST)  # the fleet at rest
    step(f"Every endpoint refuses connections for 2T = {outage:g}s, then answers again")
    act.mark()
    async with watching(clusters, ns) as seen:
        t0 = time.monotonic()
        await regions.lose(*REGIONS)
        await timeline(clusters, ns, regions, t0, lambda _s, t: t >= outage, limit=outage + 30)
        await regions.restore(*REGIONS)
        back = time.monotonic() - t0
        say(f"  {back:5.1f}s  {DIM}the table answers again{RESET}")
        serving: list[float] = []

        def served_again(snap: dict[str, tuple[str, str, str, int]], t: float) -> bool:
            if snap["east"][2] == "3/3" and not serving:
                serving.append(t)
            return bool(serving) and t >= serving[0] + T  # then T more: a late takeover would show

        last = await timeline(clusters, ns, regions, t0, served_again, limit=back + 60)
    step("What the operators logged meanwhile")
    show_logs(act)
    step(f"kubectl get failovergroups -n {ns}   (in each cluster)")
    await show_groups(clusters, ns)
    say(f"\n$ failover-operator history {ns}/web")
    say(await fleet_cli(regions, "history", f"{ns}/web"))
    ok = all((o, e) == ("east", 1) for o, _, _, e in last.values()) and not seen.overlaps()
    ok = ok and seen.replicas_of("west") == seen.replicas_of("north") == {0}
    again = f"{serving[0] - back:.1f}s after the return" if serving else "never"
    say(
        f"\n{GREEN if ok else BOLD}{'Nothing moved' if ok else 'SOMETHING MOVED'}:{RESET} east fenced while it could "
        f"not prove it owns the group, nobody took over, and east served again {again} (at epoch 1)."
    )
    if not ok:
        return False

    step("3. us-east-1 lost, with east in it: its endpoint refuses everyone, and east reaches no Region any more")
    say(f"  {DIM}(east's operator runs on and its API server answers: it must fence itself){RESET}")
    act.mark()
    async with watching(clusters, ns) as seen:
        t0 = time.monotonic()
        await regions.lose("us-east-1")
        await regions.cut_off("east")

        def moved(snap: dict[str, tuple[str, str, str, int]], t: float) -> bool:
            return any(snap[n][1] == "PRIMARY" and snap[n][2] == "3/3" for n in ("west", "north"))

        last = await timeline(clusters, ns, regions, t0, moved, limit=60)
    new_owner = next(n for n in ("west", "north") if last[n][1] == "PRIMARY")
    survivors = {n: c for n, c in clusters.items() if n != "east"}
    await settled(survivors, ns, new_owner, 2, within=30)  # its pods ready, its health reported OK
    up = seen.first_up(("west", "north"), t0)
    step("What the operators logged meanwhile")
    show_logs(act)
    step(f"kubectl get failovergroups -n {ns}   (in each cluster)")
    await show_groups(clusters, ns)
    say(f"\n$ failover-operator history {ns}/web   {DIM}(us-east-1 refuses: the CLI asks us-east-2){RESET}")
    say(await fleet_cli(regions, "history", f"{ns}/web"))
    took = (up[0] - t0) if up else float("nan")
    ok = not seen.overlaps() and up is not None
    say(
        f"\n{GREEN if ok else BOLD}{'Served elsewhere' if ok else 'NOT AS EXPECTED'}:{RESET} {new_owner} scaled up "
        f"{took:.1f}s after the loss (T + 2h = {T + 2 * H:g}s); read every 20 ms, no two clusters ever ran it at once."
    )
    return ok


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="failover-demo-regions-") as workdir:
        try:
            return asyncio.run(demo(Path(workdir)))
        except (TimeoutError, OSError) as exc:
            print(f"demo failed: {exc}", file=sys.stderr)
            for log in sorted(Path(workdir).glob("*/operator-*.log")):
                print(
                    f"\n--- {log.parent.name}/{log.name} (last lines) ---\n"
                    + "\n".join(log.read_text().splitlines()[-30:]),
                    file=sys.stderr,
                )
            return 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
