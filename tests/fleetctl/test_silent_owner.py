"""Issue 19: the owner's operator is killed (kill -9); its watchdog fences the app but has no AWS credentials, so
the owner's status record still says PRIMARY at the old epoch when a standby takes over. That last report is no
claim to serve: neither `failover-operator problems` nor the new owner's `failover_group_problems` (the series
the critical alert FailoverSplitBrainSuspected watches) may call it split brain. Both read find_problems; both
are checked here, with two clusters' operators in this process and the CLI in a process of its own, on the
in-memory DynamoDB over HTTP (as tests/fleetctl/test_switchover.py). Waits are bounded by the group's timeouts
(heartbeatInterval 1 s, heartbeat timeout 3 s)."""

from __future__ import annotations

import asyncio

from bench.scale import NS, TABLE
from prometheus_client import generate_latest

from failover_operator.model import ClusterState
from failover_operator.store import ensure_table
from harness.dynamo import dynamodb_client
from harness.memdynamo_server import memdynamo_process
from tests.bench.test_acting import INTERVAL, TAKEOVER_BUDGET, _until, two_clusters

from .conftest import acli, environment


def _split_brain_series(registry: object) -> list[float]:
    """Every exported sample of failover_group_problems{kind="SPLIT_BRAIN"} (none: the kind never came up)."""
    text = generate_latest(registry).decode()  # type: ignore[arg-type]
    return [
        float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith("failover_group_problems{") and 'kind="SPLIT_BRAIN"' in line
    ]


async def test_a_killed_owners_last_primary_report_is_not_split_brain() -> None:
    with memdynamo_process() as endpoint:
        async with dynamodb_client(endpoint, parameter_validation=False) as client:
            await ensure_table(client, TABLE)
            async with two_clusters(client, client, groups=1) as pair:
                assert await _until(lambda: pair.settled(written=True), 60.0), "the group did not settle"
                await pair.kill_east()  # nothing of east writes DynamoDB any more
                assert await _until(pair.served, TAKEOVER_BUDGET), "west did not take over"
                west = pair.west
                runner = west.runners[(NS, "g00")]
                state = await west.store.state.get_group_state(NS, "g00")
                east = state.clusters["east"]
                assert (state.config.owner, state.config.epoch) == ("west", 2)
                assert (east.state, east.observed_epoch) == (ClusterState.PRIMARY, 1)  # its last words stand

                # The new owner's metric, once it has judged east silent after the takeover (and said it is ready:
                # until its pods are, it rightly reports itself unhealthy)
                assert await _until(lambda: runner.metrics.problem_counts.get("STALE_HEARTBEAT", 0) >= 1, 5 * INTERVAL)
                written = lambda: runner.reports.written_key is not None and runner.reports.written_key.health == "OK"  # noqa: E731
                assert await _until(written, TAKEOVER_BUDGET), runner.reports.written_key
                seen: list[float] = []

                async def watch() -> None:
                    while True:
                        seen.append(max(_split_brain_series(west.metrics.registry), default=0.0))
                        await asyncio.sleep(INTERVAL / 10)

                watching = asyncio.ensure_future(watch())
                try:
                    answer = await acli(environment(endpoint, TABLE, "acting"), "problems", "-o", "json")
                finally:
                    watching.cancel()
                assert seen and max(seen) == 0.0, seen  # over the seconds the CLI ran, every look
                assert runner.metrics.problem_counts.get("SPLIT_BRAIN", 0) == 0

                # The CLI: east is what it is, silent; nobody is left to take over (an error), no split brain
                found = {(p["kind"], p["cluster"], p["severity"]) for p in answer.json["problems"]}
                assert found == {
                    ("STALE_HEARTBEAT", "east", "warning"),
                    ("NO_HEALTHY_STANDBY", None, "error"),
                }, answer.json
                assert answer.code == 1
                (silent,) = [p for p in answer.json["problems"] if p["kind"] == "STALE_HEARTBEAT"]
                assert "its last report (PRIMARY at epoch 1) is no claim to serve" in silent["message"]
