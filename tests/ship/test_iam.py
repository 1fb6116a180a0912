"""deploy/iam-policy.json against the DynamoDB calls the operator really makes.

Dynamic: during tests/ship/scenario.py every DynamoDB request of the operators goes through the fault proxy,
which records its X-Amz-Target and body. The policy's actions must equal the IAM actions of those requests (a
TransactWriteItems needs the action of each item in it: IAM has no action of its own for it), and the
`dynamodb:LeadingKeys` condition must allow every partition key they touched.

Static: the DynamoDB operations named anywhere in the operator's code must map onto the same actions, so a call
the scenario does not exercise still cannot slip past the policy.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
from collections.abc import Iterable
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from failover_operator.store import keys
from harness.faults import RecordedRequest

from . import scenario
from .manifests import DEPLOY
from .tools import ROOT

PACKAGE = ROOT / "operator" / "failover_operator"
POLICY = json.loads((DEPLOY / "iam-policy.json").read_text())
SETUP_POLICY = json.loads((DEPLOY / "iam-policy-setup-table.json").read_text())
TABLE_ARN = "arn:aws:dynamodb:REGION:ACCOUNT_ID:table/failover-operator"
TRANSACTION_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# store/table.py is `failover-operator setup-table` (ensure_table, ensure_mrsc_table): the admin's policy, not the
# operator's.
SETUP_MODULES = {"store/table.py", "cli.py"}


def actions(policy: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        listed = statement["Action"]
        found |= {listed} if isinstance(listed, str) else set(listed)
    return found


def iam_actions(requests: Iterable[RecordedRequest]) -> set[str]:
    """The IAM actions a list of DynamoDB requests needs."""
    needed = set()
    for request in requests:
        if request.operation == "TransactWriteItems":
            for item in request.body["TransactItems"]:
                (action,) = item
                needed.add(f"dynamodb:{TRANSACTION_ACTIONS[action]}")
        else:
            needed.add(f"dynamodb:{request.operation}")
    return needed


def leading_keys(request: RecordedRequest) -> list[str]:
    """The partition key values a request touches (what IAM's dynamodb:LeadingKeys is compared with)."""
    body = request.body
    if request.operation == "TransactWriteItems":
        parts = [next(iter(item.values())) for item in body["TransactItems"]]
    elif request.operation == "Query":
        names = body.get("ExpressionAttributeNames", {})
        partition = keys.GSI1PK if body.get("IndexName") else keys.PK
        for name, placeholder in re.findall(r"(#?\w+)\s*=\s*(:\w+)", body["KeyConditionExpression"]):
            if names.get(name, name) == partition:
                return [body["ExpressionAttributeValues"][placeholder]["S"]]
        raise AssertionError(f"no partition key condition in {body['KeyConditionExpression']!r}")
    elif request.operation == "DescribeTable":
        return []
    elif request.operation == "BatchGetItem":
        parts = [{"Key": key} for spec in body["RequestItems"].values() for key in spec["Keys"]]
    else:
        parts = [body]
    found = []
    for part in parts:
        key = part.get("Key") or part.get("Item")
        found.append(key[keys.PK]["S"])
    return found


def item_statement() -> dict[str, Any]:
    (statement,) = [s for s in POLICY["Statement"] if "Condition" in s]
    return statement


def string_like(pattern: str, value: str) -> bool:
    """IAM StringLike: `*` any run of characters, `?` one character, everything else literal."""
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


# --- dynamic --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["clusterwide", "namespaced"])
def test_policy_actions_are_exactly_what_the_operator_called(mode: str, request: pytest.FixtureRequest) -> None:
    recording: scenario.Recording = request.getfixturevalue(mode)
    operations = {r.operation for r in recording.dynamodb}
    # no transaction (an MRSC table refuses them); DescribeTable once, at start-up (the table's topology)
    assert "TransactWriteItems" not in operations and "DescribeTable" in operations, operations
    assert iam_actions(recording.dynamodb) == actions(POLICY), (
        f"deploy/iam-policy.json must allow exactly what the operator calls: {sorted(iam_actions(recording.dynamodb))}"
    )


def test_leading_keys_condition_allows_every_key_the_operator_touched(clusterwide: scenario.Recording) -> None:
    patterns = item_statement()["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
    patterns = [p.replace("OPERATOR_ID", scenario.OPERATOR_ID) for p in patterns]
    touched = {key for r in clusterwide.dynamodb for key in leading_keys(r)}
    assert touched, "no keyed request was recorded"
    refused = sorted(k for k in touched if not any(string_like(p, k) for p in patterns))
    assert not refused, f"the LeadingKeys condition would refuse: {refused}"
    # ... and it is not a blank cheque: another fleet's groups and listing, and GSI1's cluster partitions (shared
    # by every fleet in the table), are refused.
    others = ("GROUP#other-fleet#shop#web", "GROUP#fleet2#shop#web", keys.operator_gsi1pk("fleet2"), "CLUSTER#east")
    for other in others:
        assert not any(string_like(p, other) for p in patterns), other


def test_the_operator_never_queries_the_index(clusterwide: scenario.Recording) -> None:
    """GSI1 queries would be matched against GSI1PK (OPERATOR#…, CLUSTER#…), which the LeadingKeys condition on
    GROUP#<operatorId>#* refuses: a new index query needs a new statement (see the README, IAM)."""
    indexed = [r.body for r in clusterwide.dynamodb if r.operation == "Query" and r.body.get("IndexName")]
    assert not indexed, indexed


def test_every_item_action_is_conditioned_on_the_operators_partitions() -> None:
    statement = item_statement()
    condition = statement["Condition"]
    assert list(condition) == ["ForAllValues:StringLike"]
    leading = {"dynamodb:LeadingKeys": ["GROUP#OPERATOR_ID#*", "FLEET#OPERATOR_ID", "OPERATOR#OPERATOR_ID"]}
    assert condition["ForAllValues:StringLike"] == leading
    assert keys.group_pk("OPERATOR_ID", "ns", "name").startswith("GROUP#OPERATOR_ID#")  # the key formats it relies on
    assert keys.fleet_pk("OPERATOR_ID") == "FLEET#OPERATOR_ID"
    assert keys.operator_gsi1pk("OPERATOR_ID") == "OPERATOR#OPERATOR_ID"  # the fleet CLI's listing of its groups
    assert statement["Resource"] == [TABLE_ARN, f"{TABLE_ARN}/index/*"]
    unconditioned = [s for s in POLICY["Statement"] if "Condition" not in s]
    assert [(s["Action"], s["Resource"]) for s in unconditioned] == [(["dynamodb:DescribeTable"], TABLE_ARN)]
    assert POLICY["Version"] == "2012-10-17"


# --- static ---------------------------------------------------------------------------------------------------


def dynamodb_operations_named_in(modules: Iterable[str]) -> set[str]:
    """DynamoDB operations named in the code (`call("put_item", …)`, `client.describe_table(…)`), as IAM actions;
    transaction items ({"Put": …}) count as their own actions."""
    model = botocore.session.get_session().get_service_model("dynamodb")
    by_snake = {xform_name(name): name for name in model.operation_names}
    found = set()
    for relative in modules:
        tree = ast.parse((PACKAGE / relative).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in by_snake:
                found.add(by_snake[node.value])
            elif isinstance(node, ast.Attribute) and node.attr in by_snake:
                found.add(by_snake[node.attr])
            elif isinstance(node, ast.Dict):
                for key in node.keys:
                    if isinstance(key, ast.Constant) and key.value in TRANSACTION_ACTIONS:
                        found.add(f"transaction:{key.value}")
    return found


def operator_modules() -> list[str]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative not in SETUP_MODULES:
            out.append(relative)
    return out


def as_iam(operations: set[str]) -> set[str]:
    out = set()
    for operation in operations:
        if operation == "TransactWriteItems":
            continue  # authorized per item
        if operation.startswith("transaction:"):
            out.add(f"dynamodb:{TRANSACTION_ACTIONS[operation.split(':')[1]]}")
        else:
            out.add(f"dynamodb:{operation}")
    return out


def test_every_operation_in_the_code_is_in_the_policy() -> None:
    named = dynamodb_operations_named_in(operator_modules())
    assert "TransactWriteItems" not in named and "transaction:ConditionCheck" not in named, named  # no transaction
    assert as_iam(named) == actions(POLICY), sorted(named)


# What creating a replica (UpdateTable's ReplicaUpdates Create) and a witness need beyond the requests setup-table makes
# in the home Region, as the DynamoDB developer guide ("DynamoDB global tables security": UpdateTable in the source
# Region; CreateTable, CreateTableReplica, Scan, Query, UpdateItem, PutItem, GetItem, DeleteItem, BatchWriteItem in the
# destination Regions) and the AWS::DynamoDB::GlobalTable reference (CreateGlobalTableWitness,
# iam:CreateServiceLinkedRole for the replication role) list them: IAM checks them, setup-table never names them.
REPLICA_ACTIONS = {
    "dynamodb:BatchWriteItem",
    "dynamodb:CreateGlobalTableWitness",
    "dynamodb:CreateTable",
    "dynamodb:CreateTableReplica",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
}
ANY_REGION_TABLE_ARN = "arn:aws:dynamodb:*:ACCOUNT_ID:table/failover-operator"


def test_the_setup_table_policy_covers_setup_table() -> None:
    named = as_iam(dynamodb_operations_named_in(["store/table.py"]))
    assert named == {"dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable"}
    home, replicas, role = SETUP_POLICY["Statement"]
    # in the home Region, exactly the requests setup-table makes (all of them, single-Region or MRSC)
    assert set(home["Action"]) == named and home["Resource"] == TABLE_ARN
    # the replicas and the witness (only with --replica-region): the table in every Region, nothing else
    assert set(replicas["Action"]) == REPLICA_ACTIONS and replicas["Resource"] == ANY_REGION_TABLE_ARN
    assert role["Action"] == "iam:CreateServiceLinkedRole"
    assert role["Condition"] == {"StringEquals": {"iam:AWSServiceName": "replication.dynamodb.amazonaws.com"}}
    assert role["Resource"].endswith("/replication.dynamodb.amazonaws.com/AWSServiceRoleForDynamoDBReplication")
    # and nothing of it in the operators' own policy: they never create or change a table
    assert not (actions(POLICY) & {"dynamodb:CreateTable", "dynamodb:UpdateTable", "dynamodb:CreateTableReplica"})
