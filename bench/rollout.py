"""A restart and an upgrade of the owner cluster's operator, on real API servers (harness/rollout.py): two
replicas of `failover-operator run` in east electing a leader, east owning `--groups` groups (100), its watchdog
running, west standing by; a SIGTERM to the leader, then a rollout (a third replica, then SIGTERM to the leader).

Prints one JSON object per line {"figure", "value", "unit"}: fencings, owner changes, the fewest replicas any of
the owner's Deployments had meanwhile (every one has 1), the standby's Deployments ever scaled up, and each
hand-over's time from the SIGTERM to the next leader's term (wall clock: a loaded machine makes it longer).
Needs the envtest binaries (`make envtest`). `python -m bench.rollout [--groups N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import uuid
from pathlib import Path

from failover_operator.store import ensure_table
from harness import apiserver
from harness.dynamo import dynamodb_client
from harness.memdynamo_server import memdynamo_process
from harness.rollout import run_rollout


async def _run(endpoint: str, plane: apiserver.ControlPlane, groups: int, workdir: Path) -> list[dict[str, object]]:
    table = f"rollout-{uuid.uuid4().hex[:8]}"
    async with dynamodb_client(endpoint) as client:
        await ensure_table(client, table)
    clusters = plane.ensure("east", "west")
    for cluster in clusters.values():
        cluster.fresh()
    result = await run_rollout(clusters, endpoint, table, workdir, groups=groups)
    for cluster in clusters.values():
        await cluster.close()
    return result.lines()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rollout", description=__doc__)
    parser.add_argument("--groups", type=int, default=100)
    args = parser.parse_args(argv)
    assets = apiserver.assets_dir()
    if assets is None:
        raise SystemExit(apiserver.missing_reason())
    with (
        memdynamo_process() as endpoint,
        apiserver.running_control_plane(assets) as plane,
        tempfile.TemporaryDirectory() as work,
    ):
        for line in asyncio.run(_run(endpoint, plane, args.groups, Path(work))):
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
