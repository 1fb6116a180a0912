"""The CRDs on a real kube-apiserver, through the real kubectl: applied, enforced, updatable, server-side applied.

What people see when the API server refuses an object is the server's own message; these tests pin the ones
the schema and its CEL rules produce, so a schema change that loses a message (or a rule the server cannot
evaluate, which is how every Failover update once failed with 422) fails here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from failover_operator.api import FailoverGroupSpec, FailoverSpec
from harness.apiserver import CRDS, RealCluster

from .conftest import Kubectl


def group(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "failover.dev/v1alpha1",
        "kind": "FailoverGroup",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"workloads": [{"kind": "Deployment", "name": "web"}], **spec},
    }


def failover(name: str = "to-west", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "failover.dev/v1alpha1",
        "kind": "Failover",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"targetCluster": "west", "failoverGroups": [{"name": "web"}], **spec},
    }


def apply(kubectl: Kubectl, obj: dict[str, Any], *flags: str) -> tuple[int, str]:
    done = kubectl("apply", *flags, "-f", "-", input=yaml.safe_dump(obj))
    return done.returncode, (done.stdout + done.stderr).strip()


def test_every_crd_applies_with_kubectl_client_and_server_side(kubectl: Kubectl) -> None:
    files = sorted(CRDS.glob("*.yaml"))
    assert len(files) == 2
    for flags in (("--server-side", "--force-conflicts"), ()):
        done = kubectl("apply", *flags, "-f", str(CRDS))
        assert done.returncode == 0, done.stderr
        for path in files:
            name = yaml.safe_load(path.read_text())["metadata"]["name"]
            assert f"customresourcedefinition.apiextensions.k8s.io/{name}" in done.stdout, done.stdout
    done = kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=30s",
        "crd/failovergroups.failover.dev",
        "crd/failovers.failover.dev",
    )
    assert done.returncode == 0, done.stderr
    names = kubectl("api-resources", "--api-group=failover.dev", "-o", "name").stdout.split()
    assert sorted(names) == ["failovergroups.failover.dev", "failovers.failover.dev"]


def test_a_failover_can_be_updated_by_the_operator(east: RealCluster, kubectl: Kubectl) -> None:
    """kopf adds its finalizer, annotations and status to every Failover: a real server refused all of them
    (422) while failoverGroups was a `set` of objects under the spec's `self == oldSelf` rule."""
    code, out = apply(kubectl, failover())
    assert code == 0, out
    for patch in (
        ["--type=merge", "-p", '{"metadata": {"finalizers": ["failover.dev/finalizer"]}}'],
        ["--type=merge", "-p", '{"metadata": {"annotations": {"failover.dev/last-handled-configuration": "{}"}}}'],
        ["--type=merge", "--subresource=status", "-p", '{"status": {"phase": "Validating"}}'],
        ["--type=json", "-p", '[{"op": "test", "path": "/metadata/finalizers", "value": ["failover.dev/finalizer"]}]'],
    ):
        done = kubectl("-n", "shop", "patch", "failover/to-west", *patch)
        assert done.returncode == 0, done.stderr
    obj = json.loads(kubectl("-n", "shop", "get", "failover/to-west", "-o", "json").stdout)
    assert obj["metadata"]["finalizers"] == ["failover.dev/finalizer"]
    assert obj["status"]["phase"] == "Validating"
    assert (
        kubectl(
            "-n", "shop", "patch", "failover/to-west", "--type=merge", "-p", '{"metadata": {"finalizers": null}}'
        ).returncode
        == 0
    )


# (object, the server's message people see) -- and the operator's own models must refuse the same object.
REFUSED_GROUPS = [
    (
        group(heartbeatInterval="5"),
        'spec.heartbeatInterval: Invalid value: "5": spec.heartbeatInterval in body should match',
    ),
    (
        group(heartbeatInterval="20s", timeouts={"heartbeat": "15s"}),
        "spec: Invalid value: heartbeatInterval must be shorter than timeouts.heartbeat",
    ),
    (
        group(timeouts={"heartbeat": "0s"}),
        'spec.timeouts.heartbeat: Invalid value: "0s": must be a duration greater than zero',
    ),
    (
        group(workloads=[{"kind": "Pod", "name": "web"}]),
        'spec.workloads[0].kind: Unsupported value: "Pod": supported values: "Deployment", "StatefulSet", "CronJob"',
    ),
    (
        group(workloads=[{"kind": "Deployment", "name": "web"}, {"kind": "Deployment", "name": "web"}]),
        'spec.workloads[1]: Duplicate value: {"kind":"Deployment","name":"web"}',
    ),
    (
        group(clusterPriority=["east", "west", "east"]),
        "spec.clusterPriority: Invalid value: must not list a cluster twice",
    ),
    (
        group(initialPrimary="east#1"),
        'spec.initialPrimary: Invalid value: "east#1": spec.initialPrimary in body should match',
    ),
    (
        group(suspended="yes"),
        'spec.suspended: Invalid value: "string": spec.suspended in body must be of type boolean: "string"',
    ),
]

REFUSED_FAILOVERS = [
    (failover(targetCluster=None), "spec.targetCluster: Required value"),
    (
        failover(failoverGroups=[]),
        "spec.failoverGroups: Invalid value: 0: spec.failoverGroups in body should have at least 1 items",
    ),
    (
        failover(failoverGroups=[{"name": "web"}, {"name": "db"}, {"name": "web"}]),
        "spec.failoverGroups: Invalid value: must not list a group twice",
    ),
    (failover(mode="FAST"), 'spec.mode: Unsupported value: "FAST": supported values: "CONSISTENCY", "UPTIME"'),
    (failover(failoverGroups=[{"name": "Web"}]), 'spec.failoverGroups[0].name: Invalid value: "Web"'),
]


def _without_nulls(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if v is not None}


@pytest.mark.parametrize(("obj", "message"), REFUSED_GROUPS + REFUSED_FAILOVERS, ids=lambda v: None)
def test_the_server_refuses_an_invalid_spec_with_a_message_people_understand(
    kubectl: Kubectl, obj: dict[str, Any], message: str
) -> None:
    obj = {**obj, "spec": _without_nulls(obj["spec"])}
    code, out = apply(kubectl, obj)
    assert code != 0, out
    assert f'The {obj["kind"]} "{obj["metadata"]["name"]}" is invalid' in out, out
    assert message in out, out
    model = FailoverGroupSpec if obj["kind"] == "FailoverGroup" else FailoverSpec
    with pytest.raises(ValueError):
        model.model_validate(obj["spec"])
    assert kubectl("-n", "shop", "get", obj["kind"].lower(), obj["metadata"]["name"]).returncode != 0


def test_a_failover_spec_is_immutable_but_a_group_spec_is_not(kubectl: Kubectl) -> None:
    assert apply(kubectl, failover())[0] == 0
    code, out = apply(kubectl, failover(targetCluster="north"))
    assert code != 0
    assert 'The Failover "to-west" is invalid: spec: Invalid value: spec is immutable: create a new Failover' in out
    assert apply(kubectl, group())[0] == 0
    code, out = apply(kubectl, group(suspended=True, suspensionReason="migration"))
    assert code == 0, out


def test_an_unknown_field_is_refused_by_kubectl_and_pruned_by_the_server(kubectl: Kubectl) -> None:
    code, out = apply(kubectl, group(heartbeatIntervall="1s"))
    assert code != 0 and 'unknown field "spec.heartbeatIntervall"' in out, out
    code, out = apply(kubectl, group(heartbeatIntervall="1s"), "--validate=false")
    assert code == 0, out
    stored = json.loads(kubectl("-n", "shop", "get", "fg/web", "-o", "json").stdout)
    assert "heartbeatIntervall" not in stored["spec"]
    assert stored["spec"]["heartbeatInterval"] == "5s"  # defaulted by the server, from the models


def test_server_side_apply_works_for_both_kinds_and_merges_managers(kubectl: Kubectl) -> None:
    """Flux and `kubectl apply --server-side` send apply patches; map lists merge per item across managers."""
    assert apply(kubectl, group(), "--server-side", "--field-manager=flux")[0] == 0
    ingress_only = {
        **group(),
        "spec": {
            "networkResources": [{"kind": "Ingress", "name": "web"}],
            "workloads": [{"kind": "CronJob", "name": "reports"}],
        },
    }
    code, out = apply(kubectl, ingress_only, "--server-side", "--field-manager=person")
    assert code == 0, out
    stored = json.loads(kubectl("-n", "shop", "get", "fg/web", "-o", "json", "--show-managed-fields").stdout)
    assert stored["spec"]["workloads"] == [
        {"kind": "Deployment", "name": "web"},
        {"kind": "CronJob", "name": "reports"},
    ]
    assert stored["spec"]["networkResources"] == [{"kind": "Ingress", "name": "web"}]
    managers = {m["manager"] for m in stored["metadata"]["managedFields"]}
    assert {"flux", "person"} <= managers

    code, out = apply(kubectl, failover(), "--server-side", "--field-manager=flux")
    assert code == 0, out
    code, out = apply(kubectl, failover(), "--server-side", "--field-manager=flux")  # unchanged: a no-op
    assert code == 0 and "serverside-applied" in out, out
    code, out = apply(kubectl, failover(reason="again"), "--server-side", "--field-manager=flux")
    assert code != 0 and "spec is immutable" in out, out
    assert (
        kubectl(
            "-n",
            "shop",
            "patch",
            "failover/to-west",
            "--type=merge",
            "--subresource=status",
            "-p",
            '{"status": {"phase": "Pending"}}',
        ).returncode
        == 0
    )
