"""deploy/iam-policy.json covers the fleet commands too: every DynamoDB request they make, recorded by the fault
proxy, needs only actions the policy grants, on partition keys its LeadingKeys condition admits (a fleet
command used GSI1's CLUSTER#<name> partition, shared by every fleet in the table, which it must not)."""

from __future__ import annotations

from typing import Any

from failover_operator.store import DynamoDBService
from harness.faults import FaultProxy
from tests.ship.test_iam import POLICY, actions, iam_actions, item_statement, leading_keys, string_like

from .conftest import OPERATOR, acli, environment


async def test_every_fleet_command_stays_within_the_operators_policy(
    fleet: dict[str, DynamoDBService], proxy: FaultProxy, table: str, dynamodb: Any
) -> None:
    env = environment(proxy.endpoint, table, OPERATOR)
    commands = [
        ["status"],
        ["status", "--cluster", "east"],
        ["status", "shop/web", "-o", "json"],
        ["problems"],
        ["history", "shop/web"],
        ["show-config", "shop/web"],
        ["preflight", "shop/web", "--to", "west"],
        ["suspend", "--all", "--reason", "maintenance"],
        ["resume", "--all"],
        ["fence", "shop/web", "--cluster", "west", "--reason", "disk replaced", "--yes"],
        ["unfence", "shop/web", "--cluster", "west", "--yes"],
        ["switchover", "shop/web", "--to", "west", "--at", "+2h", "--reason", "window", "--yes"],
        ["cancel", "shop/web", "--reason", "not tonight", "--yes"],
        ["switchover", "shop/web", "--to", "west", "--reason", "drill", "--yes"],
        ["cancel", "shop/web", "--reason", "not now", "--yes"],
    ]
    for command in commands:
        answer = await acli(env, *command)
        assert answer.code in (0, 1), (command, answer.err)
    recorded = proxy.requests
    assert {r.operation for r in recorded} >= {"Query", "GetItem", "UpdateItem"}, {r.operation for r in recorded}
    assert iam_actions(recorded) <= actions(POLICY), sorted(iam_actions(recorded) - actions(POLICY))
    patterns = item_statement()["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
    patterns = [p.replace("OPERATOR_ID", OPERATOR) for p in patterns]
    touched = {key for r in recorded for key in leading_keys(r)}
    refused = sorted(k for k in touched if not any(string_like(p, k) for p in patterns))
    assert not refused, f"the policy would refuse the fleet commands: {refused}"
