"""The chart's RBAC rules against the Kubernetes API calls the operator really makes, on a real API server.

Dynamic: tests/ship/scenario.py runs the real operator processes (production settings) through a representative
life of a FailoverGroup listing every kind it manages, on real kube-apiservers with RBAC enforced, each operator
authenticated as the chart's ServiceAccount bound to the rules `helm template` renders (the ClusterRole by
default, Roles in `rbac.namespaced` mode). The API servers' audit logs then show every request: none may have
been refused (403), and every permission the chart grants must have been used (least privilege).

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
from failover_operator.workloads import kinds

from . import scenario
from .conftest import NAMESPACED_STORY
from .manifests import MINIMAL, NAMESPACE, objects, template
from .tools import ROOT

PACKAGE = ROOT / "operator" / "failover_operator"

# kopf functions that send requests of their own (the operator's handlers must not use them unknown to the chart)
KOPF_API_HELPERS = ("patch", "adopt", "append_owner_reference", "build_object_reference")
# What every authenticated client may read without any binding of ours (Kubernetes' system:discovery role).
DISCOVERY_PATHS = ("/api", "/apis", "/version")

Permission = tuple[str, str, str]  # (apiGroup, resource[/subresource], verb)


def rules_of(helm: Path, values: dict[str, Any], process: str = "run") -> list[tuple[str | None, dict[str, Any]]]:
    """(namespace of the binding, or None for a ClusterRoleBinding; rule) of every rule bound to the ServiceAccount
    the chart runs `process` ("run": the operator, "watchdog") as."""
    objs = objects(template(helm, values=values).stdout)
    account = scenario.accounts(objs)[process]
    roles = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objs if "rules" in o}
    found = []
    for binding in (o for o in objs if o["kind"] in ("ClusterRoleBinding", "RoleBinding")):
        if not any(s["kind"] == "ServiceAccount" and s["name"] == account for s in binding["subjects"]):
            continue
        ref = binding["roleRef"]
        namespace = binding["metadata"].get("namespace")
        role = roles[(ref["kind"], namespace if ref["kind"] == "Role" else None, ref["name"])]
        found.extend((namespace, rule) for rule in role["rules"])
    assert found, f"the chart binds no rules to {process}'s ServiceAccount {account}"
    return found


def granted(rules: Iterable[tuple[str | None, dict[str, Any]]]) -> set[Permission]:
    """Every (apiGroup, resource, verb) the rules grant, wildcards refused (least privilege)."""
    out = set()
    for _, rule in rules:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule.get(field, []), f"a wildcard in {field}: {rule}"
        assert not rule.get("nonResourceURLs"), rule
        out |= {(g, r, v) for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}
        if rule.get("resourceNames"):
            assert rule["resources"] == ["leases"], f"named resources other than the Lease: {rule}"
    return out


def permission(event: dict[str, Any]) -> Permission | None:
    """What an audited request needed; None for a non-resource request (discovery)."""
    ref = event.get("objectRef")
    if not ref:
        return None
    resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
    return ref.get("apiGroup", ""), resource, event["verb"]


def used(events: Iterable[dict[str, Any]]) -> set[Permission]:
    return {p for e in events if (p := permission(e)) is not None}


def explain(events: Iterable[dict[str, Any]]) -> str:
    return "\n".join(sorted({f"  {e['verb']} {e['requestURI']} -> {e['responseStatus']['code']}" for e in events}))


# --- dynamic --------------------------------------------------------------------------------------------------


STORIES = [(mode, process) for mode in ("clusterwide", "namespaced") for process in ("run", "watchdog")]


@pytest.mark.parametrize(("mode", "process"), STORIES)
def test_the_api_server_never_refused_the_operator_or_its_watchdog(
    mode: str, process: str, request: pytest.FixtureRequest
) -> None:
    recording: scenario.Recording = request.getfixturevalue(mode)
    events = recording.requests(process)
    user = recording.users[process]
    assert len(events) > 20, f"the audit logs show {len(events)} requests of {user}: recording broken?"
    refused = [e for e in events if e.get("responseStatus", {}).get("code") == 403]
    assert not refused, f"the chart's RBAC ({mode}) refused {process}:\n{explain(refused)}"


def test_the_scenario_exercised_every_kind(clusterwide: scenario.Recording) -> None:
    patched = {(g, r) for g, r, v in used(clusterwide.operator_requests()) if v == "patch"}
    for kind in kinds.ALL_KINDS.values():
        assert (kind.group, kind.plural) in patched, f"the scenario never patched a {kind.kind}"
    fenced = {(g, r) for g, r, v in used(clusterwide.requests("watchdog")) if v == "patch"}
    for kind in kinds.KINDS.values():
        assert (kind.group, kind.plural) in fenced, f"the watchdog never fenced a {kind.kind}"


@pytest.mark.parametrize("process", ["run", "watchdog"])
def test_a_namespaced_operator_needs_nothing_cluster_wide(
    helm: Path, namespaced: scenario.Recording, process: str
) -> None:
    rules = rules_of(helm, NAMESPACED_STORY, process)
    # RoleBindings only: in the watched namespaces, and for the Lease in the release's own.
    assert {ns for ns, _ in rules} == {scenario.NS, "payments", NAMESPACE}
    allowed = [*(namespaced.namespaces or []), NAMESPACE]
    outside = [
        e for e in namespaced.requests(process) if e.get("objectRef") and e["objectRef"].get("namespace") not in allowed
    ]
    assert not outside, f"a namespaced {process} must not need access outside its namespaces:\n{explain(outside)}"


@pytest.mark.parametrize(("mode", "process"), STORIES)
def test_every_granted_permission_is_used(helm: Path, mode: str, process: str, request: pytest.FixtureRequest) -> None:
    recording: scenario.Recording = request.getfixturevalue(mode)
    values = MINIMAL if mode == "clusterwide" else NAMESPACED_STORY
    unused = granted(rules_of(helm, values, process)) - used(recording.requests(process))
    assert not unused, f"the chart grants {process} what it never used (least privilege): {sorted(unused)}"


def test_the_leases_are_the_only_objects_touched_by_name(clusterwide: scenario.Recording) -> None:
    """Both processes reach coordination.k8s.io only for the Leases the chart created: the watchdog's (renewed by
    the operator, read by the watchdog) and the operator's leader election."""
    expected = {
        "run": {(NAMESPACE, "failover-operator"), (NAMESPACE, "failover-operator-leader")},
        "watchdog": {(NAMESPACE, "failover-operator")},
    }
    for process, names in expected.items():
        leases = [e for e in clusterwide.requests(process) if (e.get("objectRef") or {}).get("resource") == "leases"]
        assert {(e["objectRef"]["namespace"], e["objectRef"]["name"]) for e in leases} == names, process


def test_non_resource_requests_are_discovery_only(clusterwide: scenario.Recording) -> None:
    other = [e for e in clusterwide.operator_requests() if not e.get("objectRef")]
    assert other, "kopf reads discovery at start-up: the audit log should show it"
    paths = {e["requestURI"].split("?")[0] for e in other}
    assert all(p in DISCOVERY_PATHS or p.startswith(("/api/", "/apis/")) for p in paths), paths


# --- static ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster_role(helm: Path) -> set[Permission]:
    return granted(rules_of(helm, MINIMAL))


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


def test_the_operators_client_only_gets_patches_lists_and_posts_events() -> None:
    """workloads/kube.py is the operator's only Kubernetes client besides kopf: GET and PATCH of single objects
    (main object and status), a GET of a list (and a watch: a GET of a list with watch=true), and a POST of an
    Event — the verbs the chart grants. A new method there must come with a new rule."""
    tree = ast.parse((PACKAGE / "workloads" / "kube.py").read_text())
    assert _string_args(tree, "_call", 0) == {"GET", "PATCH"}
    assert _string_args(tree, "_call", 6) == {"status"}
    assert _string_args(tree, "partial", 1) == {"GET", "POST"}  # list, and the event


def test_nothing_else_in_the_operator_talks_to_kubernetes() -> None:
    """Only workloads/kube.py uses the kubernetes client; kopf's API helpers are not used directly."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative == "workloads/kube.py":
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
