"""deploy/examples on a real kube-apiserver, through the real kubectl: the working example creates everything it
needs (its namespace and the Deployment its FailoverGroup lists), the Failover names that group, and the fuller
example (every kind, resources not included) passes the CRD's validation. That they also *work* -- the group
comes up and the Failover moves it -- is tests/e2e/test_examples.py."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import yaml

from failover_operator.api import FailoverGroupSpec, FailoverSpec, FluxKind, NetworkKind, WorkloadKind

from ..ship.tools import ROOT
from .conftest import Kubectl

EXAMPLES = ROOT / "deploy" / "examples"
WORKING = EXAMPLES / "failovergroup.yaml"
FAILOVER = EXAMPLES / "failover.yaml"
FULL = EXAMPLES / "full" / "failovergroup.yaml"

# The kinds a FailoverGroup lists, as kubectl names them (all in the group's namespace).
RESOURCES = {
    "Deployment": "deployment",
    "StatefulSet": "statefulset",
    "CronJob": "cronjob",
    "Ingress": "ingress",
}


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def listed(group: dict[str, Any]) -> list[tuple[str, str]]:
    spec = group["spec"]
    refs = [*spec.get("workloads", []), *spec.get("networkResources", []), *spec.get("fluxResources", [])]
    return [(ref["kind"], ref["name"]) for ref in refs]


def the(kind: str, docs: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = (doc for doc in docs if doc["kind"] == kind)
    return found


def test_the_working_example_creates_its_namespace_and_everything_its_group_lists(kubectl: Kubectl) -> None:
    """Applied as it is, into a cluster where its namespace does not exist yet (a fresh name stands in for
    `shop`, which the test harness keeps in every cluster)."""
    docs = documents(WORKING)
    assert [doc["kind"] for doc in docs] == ["Namespace", "Deployment", "FailoverGroup"]
    namespace = docs[0]["metadata"]["name"]
    assert all(doc["metadata"].get("namespace") == namespace for doc in docs[1:])
    fresh = f"example-{uuid.uuid4().hex[:8]}"
    assert kubectl("get", "namespace", fresh).returncode != 0
    text = WORKING.read_text().replace(f"name: {namespace}\n", f"name: {fresh}\n", 1)
    text = text.replace(f"namespace: {namespace}\n", f"namespace: {fresh}\n")

    done = kubectl("apply", "-f", "-", input=text)

    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == [
        f"namespace/{fresh} created",
        "deployment.apps/web created",
        "failovergroup.failover.dev/web created",
    ], done.stdout
    assert not done.stderr, done.stderr  # not even a warning
    group = the("FailoverGroup", docs)
    FailoverGroupSpec.model_validate(group["spec"])  # and the operator's own models take it
    assert listed(group), "the working example's group lists nothing"
    for kind, name in listed(group):
        got = kubectl("-n", fresh, "get", f"{RESOURCES[kind]}/{name}", "-o", "name")
        assert got.returncode == 0, f"{kind}/{name} is listed but the example does not create it: {got.stderr}"
    deployment = the("Deployment", docs)
    # Nothing runs until the operator gives each cluster its role; the PRIMARY restores the recorded count.
    assert deployment["spec"]["replicas"] == 0
    assert int(deployment["metadata"]["annotations"]["failover.dev/replicas"]) > 0


def test_the_failover_example_moves_the_working_examples_group(kubectl: Kubectl) -> None:
    group = the("FailoverGroup", documents(WORKING))
    (failover,) = documents(FAILOVER)
    assert failover["metadata"]["namespace"] == group["metadata"]["namespace"]
    assert [ref["name"] for ref in failover["spec"]["failoverGroups"]] == [group["metadata"]["name"]]
    FailoverSpec.model_validate(failover["spec"])
    assert kubectl("apply", "-f", str(WORKING)).returncode == 0
    done = kubectl("apply", "-f", str(FAILOVER))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "failover.failover.dev/web-to-west created", done.stdout


def test_the_full_example_lists_every_kind_and_passes_the_crds_validation(kubectl: Kubectl) -> None:
    (group,) = documents(FULL)
    kinds = {kind for kind, _ in listed(group)}
    assert kinds == {k.value for k in (*WorkloadKind, *NetworkKind, *FluxKind)}
    FailoverGroupSpec.model_validate(group["spec"])
    text = FULL.read_text()
    assert "must exist" in text.split("apiVersion:", 1)[0]  # its comment says its resources are not included

    done = kubectl("apply", "--dry-run=server", "-f", str(FULL))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "failovergroup.failover.dev/web created (server dry run)", done.stdout
    done = kubectl("apply", "-f", str(FULL))
    assert done.returncode == 0, done.stderr
    assert kubectl("-n", "shop", "get", "fg/web", "-o", "jsonpath={.spec.workloads[*].kind}").stdout.split() == [
        "Deployment",
        "StatefulSet",
        "CronJob",
    ]
