"""Issue 19: a restart or an upgrade of the owner cluster's operator never touches the application. On real API
servers, with real processes: two replicas of `failover-operator run` in east (leader election on the chart's
Lease), east owning 100 groups, its watchdog running, west standing by. A rollout (a third replica first, then
SIGTERM to the leader; bench/rollout.py also restarts the leader before it): zero fencings, zero owner changes,
every Deployment of the owner stays up and none of the standby's comes up (harness/rollout.py; bench/rollout.py
reports the figures)."""

from __future__ import annotations

import uuid
from pathlib import Path

from failover_operator.store import ensure_table
from harness.dynamo import dynamodb_client
from harness.memdynamo_server import memdynamo_process
from harness.rollout import run_rollout

from ..conftest import RealClusters


async def test_sigterm_and_a_rollout_of_the_owners_leader_touch_nothing(
    apiservers: RealClusters, tmp_path: Path
) -> None:
    # The in-memory DynamoDB over HTTP (as bench/ uses): the serialized moto server takes seconds to answer while
    # two clusters start 100 groups each, and the owners rightly fence on heartbeats that slow.
    table = f"rollout-{uuid.uuid4().hex[:8]}"
    with memdynamo_process() as endpoint:
        async with dynamodb_client(endpoint) as client:
            await ensure_table(client, table)
        result = await run_rollout(
            apiservers("east", "west"), endpoint, table, tmp_path, groups=100, sigterm_first=False
        )
    assert len(result.handovers) == 1
    assert result.fenced_events == [], result.fenced_events
    assert result.owner_changes == 0
    assert result.fewest_replicas == 1, "an owner's Deployment was scaled down"
    assert result.west_scaled_up == 0
