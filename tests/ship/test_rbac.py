"""The chart's RBAC rules against the Kubernetes API calls the operator really makes.

Dynamic: tests/ship/scenario.py runs the real operator (production kopf settings) through a representative life
of a FailoverGroup listing every kind it manages, and records every request it sends to the emulated API
servers. Each must be allowed by the rules rendered from the chart — the ClusterRole by default, the Roles in
`rbac.namespaced` mode — and every permission the chart grants must have been used (least privilege).

Static: every kind in workloads/kinds.py, every resource kopf handles, every HTTP method the operator's client
sends, is covered — so a new kind or call fails here even before a scenario exercises it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest

from failover_operator.handlers.registry import build_registry
from failover_operator.testing.requests_log import ApiRequest, Grant, allows, api_request
from failover_operator.workloads import kinds

from . import scenario
from .manifests import MINIMAL, NAMESPACED, objects, template
from .tools import ROOT

PACKAGE = ROOT / "operator" / "failover_operator"

# What every authenticated client may GET without any binding of ours: Kubernetes' system:discovery ClusterRole
# (bound to system:authenticated). kopf reads discovery documents (/api, /apis/{group}/{version}) at start-up.
DISCOVERY = Grant(
    [{"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/version", "/version/"]}],
    source="system:discovery",
)


# kopf functions that send requests of their own (the operator's handlers must not use them unknown to the chart)
KOPF_API_HELPERS = ("patch", "adopt", "append_owner_reference", "build_object_reference")


def grants(helm: Path, values: dict[str, Any]) -> list[Grant]:
    """The rules the chart binds to the operator's ServiceAccount, and where they apply."""
    objs = objects(template(helm, values=values).stdout)
    account = next(o["metadata"]["name"] for o in objs if o["kind"] == "ServiceAccount")
    roles = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objs if "rules" in o}
    found = []
    for binding in (o for o in objs if o["kind"] in ("ClusterRoleBinding", "RoleBinding")):
        assert any(s["kind"] == "ServiceAccount" and s["name"] == account for s in binding["subjects"]), binding
        ref = binding["roleRef"]
        namespace = binding["metadata"].get("namespace")
        role = roles[(ref["kind"], namespace if ref["kind"] == "Role" else None, ref["name"])]
        found.append(Grant(role["rules"], namespace, f"{binding['kind']} {namespace or ''}/{ref['name']}"))
    assert found, "the chart binds no rules to its ServiceAccount"
    return found


def granted(grant_list: Iterable[Grant]) -> set[tuple[str, str, str]]:
    """(apiGroup, resource[/subresource], verb) of every rule, wildcards refused (least privilege)."""
    out = set()
    for grant in grant_list:
        for rule in grant.rules:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule.get(field, []), f"{grant.source}: a wildcard in {field}: {rule}"
            assert not rule.get("nonResourceURLs"), f"{grant.source}: {rule}"
            out |= {(g, r, v) for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}
    return out


def used(requests: Iterable[ApiRequest]) -> set[tuple[str, str, str]]:
    return {r.permission for r in requests if r.is_resource}


def explain(requests: Iterable[ApiRequest]) -> str:
    return "\n".join(sorted({f"  {r}  ({r.path})" for r in requests}))


# --- dynamic --------------------------------------------------------------------------------------------------


def test_every_request_comes_from_a_known_client(clusterwide: scenario.Recording) -> None:
    for cluster, requests in clusterwide.kube.items():
        unknown = [r for r in requests if r.client == "unknown"]
        assert not unknown, f"{cluster}: requests the test cannot attribute:\n{explain(unknown)}"
    assert clusterwide.operator_requests(), "the operator sent nothing: the recording is broken"


def test_the_scenario_exercised_every_kind(clusterwide: scenario.Recording) -> None:
    seen = {(r.group, r.resource) for r in clusterwide.operator_requests() if r.verb == "patch"}
    for kind in kinds.ALL_KINDS.values():
        assert (kind.group, kind.plural) in seen, f"the scenario never patched a {kind.kind}"


def test_the_cluster_role_allows_every_request_of_the_operator(helm: Path, clusterwide: scenario.Recording) -> None:
    chart = grants(helm, MINIMAL)
    assert [g.namespace for g in chart] == [None]  # one ClusterRoleBinding
    denied = [r for r in clusterwide.operator_requests() if not allows([*chart, DISCOVERY], r)]
    assert not denied, f"the ClusterRole (charts/failover-operator/templates/_rbac.tpl) lacks:\n{explain(denied)}"


def test_the_roles_allow_every_request_of_a_namespaced_operator(helm: Path, namespaced: scenario.Recording) -> None:
    values = {**NAMESPACED, "watchNamespaces": [scenario.NS, "payments"]}
    chart = grants(helm, values)
    assert {g.namespace for g in chart} == {scenario.NS, "payments"}  # RoleBindings only
    requests = namespaced.operator_requests()
    cluster_wide = [r for r in requests if r.is_resource and r.namespace is None]
    assert not cluster_wide, f"a namespaced operator must not need cluster-wide access:\n{explain(cluster_wide)}"
    denied = [r for r in requests if not allows([*chart, DISCOVERY], r)]
    assert not denied, f"the Roles lack:\n{explain(denied)}"


@pytest.mark.parametrize("mode", ["clusterwide", "namespaced"])
def test_every_granted_permission_is_used(helm: Path, mode: str, request: pytest.FixtureRequest) -> None:
    recording: scenario.Recording = request.getfixturevalue(mode)
    values = MINIMAL if mode == "clusterwide" else NAMESPACED
    unused = granted(grants(helm, values)) - used(recording.operator_requests())
    assert not unused, f"the chart grants what the operator never used (least privilege): {sorted(unused)}"


def test_non_resource_requests_are_discovery_only(clusterwide: scenario.Recording) -> None:
    other = [r for r in clusterwide.operator_requests() if not r.is_resource]
    assert other, "kopf reads discovery at start-up: the recording should show it"
    assert all(DISCOVERY.allows(r) for r in other), explain(other)


# --- static ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster_role(helm: Path) -> set[tuple[str, str, str]]:
    return granted(grants(helm, MINIMAL))


def test_every_kind_a_group_can_list_is_readable_and_patchable(cluster_role: set[tuple[str, str, str]]) -> None:
    for kind in kinds.KINDS.values():
        for verb in ("get", "patch"):
            assert (kind.group, kind.plural, verb) in cluster_role, f"{kind.kind}: {verb} is missing from the chart"


def test_our_own_resources_are_watchable_patchable_and_have_status(cluster_role: set[tuple[str, str, str]]) -> None:
    for kind in (kinds.FAILOVER_GROUP, kinds.FAILOVER):
        for verb in ("list", "watch", "patch"):
            assert (kind.group, kind.plural, verb) in cluster_role, f"{kind.kind}: {verb}"
        assert (kind.group, f"{kind.plural}/status", "patch") in cluster_role, f"{kind.kind}: status patch"
    assert ("", "events", "create") in cluster_role


def test_kopf_handles_only_our_own_resources() -> None:
    registry = build_registry(MagicMock(), MagicMock(), login=False, tune=False)
    handled = set()
    for part in (registry._spawning, registry._changing, registry._watching, registry._indexing, registry._webhooks):
        for handler in part.get_all_handlers():
            selector = handler.selector
            handled.add((selector.group, selector.version, selector.any_name))
    ours = {(k.group, k.version, k.plural) for k in (kinds.FAILOVER_GROUP, kinds.FAILOVER)}
    assert handled == ours, f"kopf handlers for resources the chart does not grant list/watch on: {handled - ours}"


def _string_args(tree: ast.AST, function: str, position: int) -> set[str]:
    """String constants passed at `position` to calls of `*.function(...)`."""
    found = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == function):
            continue
        if len(node.args) > position and isinstance(node.args[position], ast.Constant):
            found.add(node.args[position].value)
    return found


def test_the_operators_client_only_gets_and_patches() -> None:
    """workloads/kube.py is the operator's only Kubernetes client besides kopf: GET and PATCH (main object and
    status) — the verbs the chart grants on the managed kinds. A new method there must come with a new rule."""
    tree = ast.parse((PACKAGE / "workloads" / "kube.py").read_text())
    assert _string_args(tree, "_call", 0) == {"GET", "PATCH"}
    assert _string_args(tree, "_call", 6) == {"status"}
    for method, verb in (("GET", "get"), ("PATCH", "patch")):
        assert api_request(method, "/apis/apps/v1/namespaces/x/deployments/y", {}).verb == verb


def test_nothing_else_in_the_operator_talks_to_kubernetes() -> None:
    """Only workloads/kube.py uses the kubernetes client; kopf's API helpers are not used directly."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("testing/") or relative in ("workloads/kube.py", "demo.py"):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                if any(n == "kubernetes" or n.startswith("kubernetes.") for n in names):
                    offenders.append(relative)
            kopf_call = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "kopf"
            if kopf_call and node.attr in KOPF_API_HELPERS:
                offenders.append(f"{relative}: kopf.{node.attr}")
    assert not offenders, (
        f"{offenders}: route Kubernetes calls through workloads/kube.py (whose verbs this module checks against "
        "the chart), or teach tests/ship/test_rbac.py about the new client"
    )


def test_the_rbac_evaluator_denies_what_it_should() -> None:
    """The evaluator the tests rely on is not a rubber stamp."""
    rules = [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}]
    get = api_request("GET", "/apis/apps/v1/namespaces/shop/deployments/web", {})
    assert allows([Grant(rules)], get)
    assert not allows([Grant(rules, namespace="other")], get)
    for method, path, query in [
        ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/web", {}),
        ("GET", "/apis/apps/v1/namespaces/shop/deployments/web/scale", {}),
        ("GET", "/apis/apps/v1/namespaces/shop/deployments", {}),
        ("GET", "/apis/apps/v1/deployments", {"watch": "true"}),
        ("GET", "/apis/apps/v1/namespaces/shop/statefulsets/db", {}),
        ("GET", "/api/v1/namespaces/shop/pods/web", {}),
        ("GET", "/version", {}),
    ]:
        assert not allows([Grant(rules)], api_request(method, path, query)), (method, path)
    assert allows([DISCOVERY], api_request("GET", "/apis/failover.dev/v1alpha1", {}))
