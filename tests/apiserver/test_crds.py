"""The CRDs on a real kube-apiserver, through the real kubectl: applied, enforced, updatable, server-side applied.

What people see when the API server refuses an object is the server's own message; these tests pin the ones
the schema and its CEL rules produce, so a schema change that loses a message (or a rule the server cannot
evaluate, which is how every Failover update once failed with 422) fails here -- and that the message is all
they see: no line of the server's about rules it skipped (NOISE), none about a rule that failed to evaluate.
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


# What the API server adds when a missing field, a wrong type, a value not allowed or a size limit made it skip
# every CEL rule of the object (crdgen.unblocking keeps that from happening for what people write wrong most).
NOISE = "some validation rules were not checked because the object was invalid"


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
        group(heartbeatInterval="0s"),
        'spec.heartbeatInterval: Invalid value: "0s": must be a duration greater than zero',
    ),
    (
        group(heartbeatInterval="1m", timeouts={"heartbeat": "soon"}),
        'spec.timeouts.heartbeat: Invalid value: "soon": spec.timeouts.heartbeat in body should match',
    ),
    (
        group(workloads=[{"kind": "Pod", "name": "web"}]),
        'spec.workloads[0].kind: Invalid value: "Pod": supported values: "Deployment", "StatefulSet", "CronJob"',
    ),
    (
        group(networkResources=[{"kind": "Service", "name": "web"}]),
        'spec.networkResources[0].kind: Invalid value: "Service": supported values: "Ingress", "VirtualService"',
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
    ({**group(), "spec": None}, "<nil>: Invalid value: spec is required: which resources fail over together"),
]

REFUSED_FAILOVERS = [
    (
        failover(targetCluster=None),
        "spec: Invalid value: targetCluster is required: the cluster that becomes primary of every listed group",
    ),
    (
        failover(failoverGroups=None),
        "spec: Invalid value: failoverGroups is required: the FailoverGroups to move",
    ),
    (
        failover(failoverGroups=[{"name": "web"}, {"namespace": "shop"}]),
        "spec.failoverGroups[1]: Invalid value: name is required: name of the FailoverGroup",
    ),
    (
        failover(failoverGroups=[]),
        "spec.failoverGroups: Invalid value: 0: spec.failoverGroups in body should have at least 1 items",
    ),
    (
        failover(failoverGroups=[{"name": "web"}, {"name": "db"}, {"name": "web"}]),
        "spec.failoverGroups: Invalid value: must not list a group twice",
    ),
    (failover(mode="FAST"), 'spec.mode: Invalid value: "FAST": supported values: "CONSISTENCY", "UPTIME"'),
    (failover(failoverGroups=[{"name": "Web"}]), 'spec.failoverGroups[0].name: Invalid value: "Web"'),
]


def _without_nulls(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["spec"] is None:
        return {k: v for k, v in obj.items() if k != "spec"}
    return {**obj, "spec": {k: v for k, v in obj["spec"].items() if v is not None}}


@pytest.mark.parametrize(("obj", "message"), REFUSED_GROUPS + REFUSED_FAILOVERS, ids=lambda v: None)
def test_the_server_refuses_an_invalid_spec_with_only_a_message_people_understand(
    kubectl: Kubectl, obj: dict[str, Any], message: str
) -> None:
    obj = _without_nulls(obj)
    code, out = apply(kubectl, obj)
    assert code != 0, out
    assert f'The {obj["kind"]} "{obj["metadata"]["name"]}" is invalid: {message}' in out, out
    assert "\n" not in out, f"one message, not a list: {out}"
    assert NOISE not in out and "evaluating rule" not in out, out
    if "spec" in obj:  # (the models are given a spec: an object without one is the schema's alone to refuse)
        model = FailoverGroupSpec if obj["kind"] == "FailoverGroup" else FailoverSpec
        with pytest.raises(ValueError):
            model.model_validate(obj["spec"])
    assert kubectl("-n", "shop", "get", obj["kind"].lower(), obj["metadata"]["name"]).returncode != 0


def test_several_mistakes_are_each_named_and_nothing_else(kubectl: Kubectl) -> None:
    code, out = apply(kubectl, failover(targetCluster=None, mode="FAST", failoverGroups=[{"namespace": "shop"}]))
    assert code != 0
    lines = out.splitlines()
    assert lines[0] == 'The Failover "to-west" is invalid: ', out
    assert sorted(lines[1:]) == [
        "* spec.failoverGroups[0]: Invalid value: name is required: name of the FailoverGroup",
        '* spec.mode: Invalid value: "FAST": supported values: "CONSISTENCY", "UPTIME"',
        "* spec: Invalid value: targetCluster is required: the cluster that becomes primary of every listed group",
    ], out


# Where the server's note cannot be avoided while the schema has any rule (a Failover's immutability is one): a
# value of the wrong type, and a list-map item without one of its keys (which the server requires the schema to
# require). The real message comes first; the note says, truthfully, that the rules wait for it to be fixed.
REFUSED_WITH_THE_SERVERS_NOTE = [
    (
        group(suspended="yes"),
        'spec.suspended: Invalid value: "string": spec.suspended in body must be of type boolean: "string"',
    ),
    (group(workloads=[{"name": "web"}]), "spec.workloads[0].kind: Required value"),
]


@pytest.mark.parametrize(("obj", "message"), REFUSED_WITH_THE_SERVERS_NOTE, ids=lambda v: None)
def test_a_wrong_type_or_a_missing_list_key_comes_first_then_the_servers_note(
    kubectl: Kubectl, obj: dict[str, Any], message: str
) -> None:
    code, out = apply(kubectl, obj)
    assert code != 0
    lines = out.splitlines()
    assert lines[1] == f"* {message}", out
    assert len(lines) == 3 and NOISE in lines[2], out


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


def test_a_groups_status_shows_a_scheduled_switchover_and_its_merge_patch_clears_it(kubectl: Kubectl) -> None:
    """What the operator writes (reconciler/status.py): the server takes the schedule as the model dumps it, and
    the null the merge patch sends once it is gone removes it."""
    from datetime import UTC, datetime

    from failover_operator.api import FailoverGroupStatus, ScheduledSwitchoverReport
    from failover_operator.model import FailoverMode, ScheduledSwitchover

    code, out = apply(kubectl, group())
    assert code == 0, out
    scheduled = ScheduledSwitchover(
        name="scheduled-20261207-020000-ab12",
        source_cluster="east",
        target_cluster="west",
        mode=FailoverMode.UPTIME,
        at=datetime(2026, 12, 7, 2, tzinfo=UTC),
        requested_by="fleet-cli",
        requested_at=datetime(2026, 12, 6, 20, tzinfo=UTC),
        reason="east: kernel upgrade",
    )
    shown = FailoverGroupStatus(owner="east", scheduled_switchover=ScheduledSwitchoverReport.from_schedule(scheduled))
    cleared = FailoverGroupStatus(owner="east")
    seen = []
    for status in (shown, cleared):
        patch = json.dumps({"status": status.to_merge_patch()})
        done = kubectl("-n", "shop", "patch", "failovergroup/web", "--type=merge", "--subresource=status", "-p", patch)
        assert done.returncode == 0, done.stderr
        seen.append(json.loads(kubectl("-n", "shop", "get", "failovergroup/web", "-o", "json").stdout)["status"])
    assert seen[0]["scheduledSwitchover"] == {
        "name": "scheduled-20261207-020000-ab12",
        "sourceCluster": "east",
        "targetCluster": "west",
        "mode": "UPTIME",
        "at": "2026-12-07T02:00:00Z",
        "requestedBy": "fleet-cli",
        "reason": "east: kernel upgrade",
    }
    assert "scheduledSwitchover" not in seen[1] and seen[1]["owner"] == "east"
