"""deploy/: the rendered manifests are current and valid; the example CRs are valid against the CRDs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from failover_operator import api
from failover_operator.workloads.kinds import KINDS

from .manifests import DEPLOY, NAMESPACE, PLACEHOLDER, RENDERED, objects, render_deploy
from .tools import ROOT

EXAMPLES = DEPLOY / "examples"
CRDS = {
    crd["spec"]["names"]["kind"]: crd
    for crd in (yaml.safe_load(path.read_text()) for path in sorted((ROOT / "crds").glob("*.yaml")))
}


def schema_of(kind: str) -> dict[str, Any]:
    (version,) = [v for v in CRDS[kind]["spec"]["versions"] if v.get("storage")]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def examples() -> list[dict[str, Any]]:
    """The custom resources of every example (deploy/examples and full/; the Namespace and Deployment the working
    example creates with them are the API server's to judge: tests/apiserver/test_examples.py)."""
    docs = [doc for path in sorted(EXAMPLES.rglob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return [doc for doc in docs if doc["kind"] in CRDS]


def working(kind: str) -> dict[str, Any]:
    """The custom resource of `kind` in the examples that work as they are (not full/)."""
    (doc,) = [
        doc
        for path in sorted(EXAMPLES.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc["kind"] == kind
    ]
    return doc


def test_rendered_manifests_are_up_to_date(helm: Path) -> None:
    assert RENDERED.exists(), "deploy/failover-operator.yaml is missing: run `make deploy-manifests`"
    assert RENDERED.read_text() == render_deploy(helm), (
        "deploy/failover-operator.yaml differs from the chart: run `make deploy-manifests`"
    )


def test_rendered_manifests_are_valid_and_complete() -> None:
    docs = objects(RENDERED.read_text())
    kinds = [d["kind"] for d in docs]
    assert kinds[0] == "Namespace" and docs[0]["metadata"]["name"] == NAMESPACE  # applies in one go
    for kind in ("CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment"):
        assert kind in kinds, kind
    crds = {d["metadata"]["name"]: d for d in docs if d["kind"] == "CustomResourceDefinition"}
    assert crds == {c["metadata"]["name"]: c for c in CRDS.values()}
    for doc in docs:
        kubernetes_validate.validate(doc, kubernetes_validate.utils.latest_version(), strict=True)
        if doc["kind"] not in ("Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"):
            assert doc["metadata"]["namespace"] == NAMESPACE, doc["kind"]
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert sorted(d["spec"]["template"]["spec"]["containers"][0]["args"][0] for d in deployments) == ["run", "watchdog"]
    assert "Lease" in kinds  # the watchdog's: the operator renews it, neither creates it
    for deployment in deployments:
        env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["CLUSTER_NAME"] == env["OPERATOR_ID"] == PLACEHOLDER  # named in the header as what to edit


def test_there_is_an_example_of_each_custom_resource() -> None:
    assert sorted(d["kind"] for d in examples()) == ["Failover", "FailoverGroup", "FailoverGroup"]  # and full/


@pytest.mark.parametrize("example", examples(), ids=lambda d: d["kind"])
def test_example_is_valid_against_its_crd(example: dict[str, Any]) -> None:
    kind = example["kind"]
    crd = CRDS[kind]
    assert example["apiVersion"] == f"{crd['spec']['group']}/{schema_version(crd)}"
    assert example["metadata"]["namespace"] and example["metadata"]["name"]  # both kinds are namespaced
    validator = jsonschema.Draft202012Validator(schema_of(kind))
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(example)]
    assert not errors, errors
    model = api.FailoverGroupSpec if kind == "FailoverGroup" else api.FailoverSpec
    model.model_validate(example["spec"])  # the operator's own (stricter) validation accepts it too


def schema_version(crd: dict[str, Any]) -> str:
    (version,) = [v["name"] for v in crd["spec"]["versions"] if v.get("storage")]
    return str(version)


def test_examples_fit_together() -> None:
    group, failover = working("FailoverGroup"), working("Failover")
    names = {
        (ref.get("namespace") or failover["metadata"]["namespace"], ref["name"])
        for ref in failover["spec"]["failoverGroups"]
    }
    assert (group["metadata"]["namespace"], group["metadata"]["name"]) in names
    spec = group["spec"]
    listed = [r["kind"] for key in ("workloads", "networkResources", "fluxResources") for r in spec.get(key, [])]
    assert set(listed) <= set(KINDS)
    assert failover["spec"]["targetCluster"] != spec.get("initialPrimary")  # it moves something


def test_a_broken_example_would_be_caught() -> None:
    group = working("FailoverGroup")
    broken = {**group, "spec": {**group["spec"], "workloads": [{"kind": "Deployment", "name": "Web"}]}}
    assert list(jsonschema.Draft202012Validator(schema_of("FailoverGroup")).iter_errors(broken))
