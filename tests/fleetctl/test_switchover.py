"""`switchover` with the operators running: two clusters' operators in this process (their GroupRunners, on
in-memory API servers), the CLI in a process of its own, both on the in-memory DynamoDB over HTTP. The CLI
writes only to DynamoDB; the operators carry the move out, having heard of it through the CLI's change list
(without it they would see it at their next full read, minutes away). Waits are bounded by the groups'
timeouts (heartbeatInterval 1 s, heartbeat timeout 3 s)."""

from __future__ import annotations

from bench.scale import NS, TABLE

from failover_operator.model import Role
from failover_operator.store import ensure_table
from harness.dynamo import dynamodb_client
from harness.memdynamo_server import memdynamo_process
from tests.bench.test_acting import INTERVAL, _until, serves, two_clusters

from .conftest import acli, environment

MOVE_BUDGET = 2 * INTERVAL + 3 * INTERVAL + 10.0  # two intervals and the scale-up, with room for a loaded machine


async def test_a_switchover_is_carried_out_by_the_operators_and_refusals_are_the_failovers_own() -> None:
    with memdynamo_process() as endpoint:
        async with dynamodb_client(endpoint, parameter_validation=False) as client:
            await ensure_table(client, TABLE)
            async with two_clusters(client, client, groups=2) as pair:
                west, east_kube, west_kube = pair.west, pair.east_kube, pair.west_kube
                assert await _until(lambda: pair.settled(written=True), 60.0), "the groups did not settle"
                env = environment(endpoint, TABLE, "acting")

                refused = await acli(env, "switchover", "shop/g00", "--to", "north", "--reason", "drill", "--yes")
                assert refused.code == 1 and refused.err.count("\n") == 1, refused
                assert "north has never reported status for shop/g00" in refused.err

                followed = await acli(
                    env, "switchover", "shop/g00", "--to", "west", "--reason", "drill", "--wait", "--yes", "-o", "json"
                )
                assert followed.code == 0, followed
                assert followed.json["phase"] == "Succeeded" and followed.json["groups"][0]["epoch"] == 2
                assert serves(west_kube, "g00") and not serves(east_kube, "g00")

                started = await acli(env, "switchover", "shop/g01", "--to", "west", "--reason", "drill two", "--yes")
                assert started.code == 0 and "asked east to hand shop/g01 over to west" in started.out, started

                def moved() -> bool:
                    runner = west.runners[(NS, "g01")]
                    return runner.local_role == Role.PRIMARY and serves(west_kube, "g01")

                assert await _until(moved, MOVE_BUDGET), "the operators did not carry out the switchover"
                assert not serves(east_kube, "g01")

                again = await acli(env, "switchover", "shop/g01", "--to", "west", "--reason", "drill three", "--yes")
                assert again.code == 0 and "west already owns shop/g01; nothing to do" in again.out, again

                history = await acli(env, "history", "shop/g00", "-o", "json")
                (record,) = history.json["history"]
                assert (record["from"], record["to"], record["reason"]) == ("east", "west", "drill")
                assert record["downtimeSeconds"] is not None  # measured by the CLI that followed it
