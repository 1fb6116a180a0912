"""The Helm chart: lint, render, validate every built-in object, and check what the Deployment promises.

helm comes from `make tools` (tests/ship/tools.py); without it these tests skip, unless REQUIRE_HELM=1.
"""

from __future__ import annotations

import json
import re
import tomllib
import typing
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from failover_operator import api
from failover_operator.settings import Settings

from .manifests import (
    CHART,
    CUSTOM,
    MINIMAL,
    NAMESPACED,
    REGIONS,
    RELEASE,
    VALUE_SETS,
    HelmError,
    objects,
    run_helm,
    template,
)
from .tools import ROOT

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) that kubernetes-validate knows, and the newest.
K8S_VERSIONS = ["1.25.0", kubernetes_validate.utils.latest_version()]
NOT_BUILT_IN = {("monitoring.coreos.com/v1", "ServiceMonitor")}  # prometheus-operator's CRD: checked by hand
SCHEMA = json.loads((CHART / "values.schema.json").read_text())


def render(helm: Path, values: dict[str, Any]) -> list[dict[str, Any]]:
    return objects(template(helm, "--include-crds", values=values).stdout)


def one(objs: list[dict[str, Any]], kind: str, *, watchdog: bool = False) -> dict[str, Any]:
    """The one object of this kind that belongs to the operator (or, `watchdog`, to the watchdog): the watchdog's
    objects are named `<release>-watchdog...`, the Leases' Roles `...-lease` and `...-leader`, the replicas'
    election Lease `<release>-leader`."""

    def belongs(obj: dict[str, Any]) -> bool:
        name = obj["metadata"]["name"]
        if kind in ("Role", "RoleBinding", "Lease") and name.endswith(("-lease", "-leader")):
            return False
        return ("-watchdog" in name) == watchdog

    (found,) = [o for o in objs if o["kind"] == kind and belongs(o)]
    return found


def env_of(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


# --- static: no helm needed -------------------------------------------------------------------------------------


def test_app_version_is_the_package_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert chart["appVersion"] == project["version"], "Chart.yaml appVersion must follow pyproject.toml's version"
    assert chart["name"] == "failover-operator" and chart["apiVersion"] == "v2"


def test_chart_crds_are_the_top_level_crds() -> None:
    top = {p.name: p.read_bytes() for p in (ROOT / "crds").glob("*.yaml")}
    chart = {p.name: p.read_bytes() for p in (CHART / "crds").glob("*.yaml")}
    assert sorted(chart) == sorted(top), "charts/failover-operator/crds/ must hold exactly the files of crds/"
    for name, content in top.items():
        assert chart[name] == content, f"charts/failover-operator/crds/{name} differs from crds/{name}: run `make crds`"


def test_schema_requires_the_names_with_the_operators_own_rules() -> None:
    assert SCHEMA["required"] == ["clusterName", "operatorId"]
    for key in ("clusterName", "operatorId"):
        prop = SCHEMA["properties"][key]
        assert prop["pattern"] == api.CLUSTER_NAME_PATTERN, f"{key}: the pattern of CLUSTER_NAME (api.py)"
        assert prop["maxLength"] == 63 and prop["minLength"] == 1
    literal = typing.get_args(Settings.model_fields["log_format"].annotation)
    assert set(SCHEMA["properties"]["logFormat"]["enum"]) == set(literal)
    literal = typing.get_args(Settings.model_fields["log_level"].annotation)
    assert set(SCHEMA["properties"]["logLevel"]["enum"]) == set(literal)


def test_values_yaml_and_the_value_sets_meet_the_schema() -> None:
    validator = jsonschema.Draft7Validator(SCHEMA)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = sorted(e.message for e in validator.iter_errors(defaults))
    assert missing == ["'clusterName' is a required property", "'operatorId' is a required property"]
    for name, values in VALUE_SETS.items():
        merged = _merge(defaults, values)
        assert not list(validator.iter_errors(merged)), name
    for bad in ("we#st", "-east", "east-", "x" * 64, ""):
        assert list(validator.iter_errors({**defaults, **MINIMAL, "clusterName": bad})), bad
    assert list(validator.iter_errors({**defaults, **MINIMAL, "rbac": {"namespaced": True}}))


def test_chart_defaults_match_the_operators_defaults() -> None:
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    fields = Settings.model_fields
    assert defaults["table"] == fields["dynamodb_table"].default
    assert defaults["healthPort"] == fields["health_port"].default
    assert defaults["metrics"]["port"] == fields["metrics_port"].default
    assert defaults["logFormat"] == fields["log_format"].default
    assert defaults["logLevel"] == fields["log_level"].default


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _merge(base[key], value)
        else:
            merged[key] = value
    return merged


# --- helm lint, helm template -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_helm_lint_strict(helm: Path, name: str, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(VALUE_SETS[name]))
    result = run_helm(helm, "lint", "--strict", str(CHART), "--values", str(values), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_every_rendered_built_in_object_is_valid(helm: Path, name: str) -> None:
    rendered = render(helm, VALUE_SETS[name])
    kinds = {(o["apiVersion"], o["kind"]) for o in rendered}
    assert ("apps/v1", "Deployment") in kinds and ("v1", "ServiceAccount") in kinds
    assert ("apiextensions.k8s.io/v1", "CustomResourceDefinition") in kinds
    for obj in rendered:
        if (obj["apiVersion"], obj["kind"]) in NOT_BUILT_IN:
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{obj['kind']} {obj['metadata'].get('name')} (Kubernetes {version}): {exc.message}")


def test_the_deployment_is_locked_down(helm: Path) -> None:
    deployment = one(render(helm, MINIMAL), "Deployment")
    spec = deployment["spec"]
    # Two replicas electing a leader; a rollout starts the new pod before it stops an old one.
    assert spec["replicas"] == 2
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    pod = spec["template"]["spec"]
    (term,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == spec["selector"]["matchLabels"]
    (container,) = pod["containers"]
    pod_sc, sc = pod["securityContext"], container["securityContext"]
    assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] > 0 and pod_sc["runAsGroup"] > 0
    assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    resources = container["resources"]
    assert set(resources["requests"]) == {"cpu", "memory"} and set(resources["limits"]) == {"cpu", "memory"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    defaults = Settings.model_fields
    assert ports == {"health": defaults["health_port"].default, "metrics": defaults["metrics_port"].default}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    service = one(render(helm, MINIMAL), "Service")
    assert service["spec"]["publishNotReadyAddresses"] is True  # metrics scraped while not ready (DynamoDB down)
    assert container["args"] == ["run"] and "command" not in container  # the image's entrypoint runs
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]], "a writable /tmp on the read-only root filesystem"
    env = env_of(deployment)
    assert env["CLUSTER_NAME"] == "east" and env["OPERATOR_ID"] == "shop-fleet"
    assert env["HEALTH_PORT"] == "8080" and env["METRICS_PORT"] == "9090"
    assert "AWS_REGION" not in env and "WATCH_NAMESPACE" not in env  # unset values stay unset


def test_every_variable_the_chart_sets_is_a_setting_or_aws(helm: Path) -> None:
    settings = {name.upper() for name in Settings.model_fields}
    for values in VALUE_SETS.values():
        deployment = one(render(helm, values), "Deployment")
        extra = {e["name"] for e in values.get("extraEnv", [])}
        for name in env_of(deployment):
            assert name in settings or name.startswith("AWS_") or name in extra, name


def test_custom_values_reach_the_objects(helm: Path) -> None:
    objs = render(helm, CUSTOM)
    deployment = one(objs, "Deployment")
    env = env_of(deployment)
    assert env["CLUSTER_NAME"] == "west" and env["DYNAMODB_TABLE"] == "failover-prod"
    assert env["AWS_REGION"] == "eu-west-1" and env["DYNAMODB_ENDPOINT"] == CUSTOM["endpoint"]
    assert env["WATCH_NAMESPACE"] == "shop,payments" and env["LOG_FORMAT"] == "json" and env["LOG_LEVEL"] == "DEBUG"
    assert env["HEALTH_PORT"] == "8081" and env["METRICS_PORT"] == "9091" and env["LOCK_LEASE_SECONDS"] == "60"
    for name, key in [("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"), ("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")]:
        assert env[name] == {"secretKeyRef": {"name": "aws-keys", "key": key}}
    assert env["AWS_SESSION_TOKEN"] == {"secretKeyRef": {"name": "aws-keys", "key": "AWS_SESSION_TOKEN"}}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "failover"
    assert pod["containers"][0]["image"] == "registry.example.com/platform/failover-operator:0.1.0-rc1"
    assert pod["priorityClassName"] == "system-cluster-critical" and pod["imagePullSecrets"] == [{"name": "registry"}]
    account = one(objs, "ServiceAccount")
    assert account["metadata"]["name"] == "failover"
    assert account["metadata"]["annotations"] == CUSTOM["serviceAccount"]["annotations"]  # the IRSA slot
    binding = one(objs, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "failover", "namespace": "failover-operator"}]
    service = one(objs, "Service")
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9091, "targetPort": "metrics", "protocol": "TCP"}]
    monitor = one(objs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert (
        monitor["spec"]["endpoints"][0]["port"] == "metrics" and monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    )
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]


def test_metrics_can_be_turned_off(helm: Path) -> None:
    objs = render(helm, {**MINIMAL, "metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}})
    assert not [o for o in objs if o["kind"] in ("Service", "ServiceMonitor")]
    for watchdog in (False, True):
        deployment = one(objs, "Deployment", watchdog=watchdog)
        assert env_of(deployment)["METRICS_PORT"] == "0"
        assert [p["name"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]] == ["health"]


def test_namespaced_mode_has_roles_and_no_cluster_role(helm: Path) -> None:
    objs = render(helm, NAMESPACED)
    assert not [o for o in objs if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    roles = {o["metadata"]["namespace"]: o for o in objs if o["kind"] == "Role" and o["metadata"]["name"] == RELEASE}
    bindings = {
        o["metadata"]["namespace"]: o for o in objs if o["kind"] == "RoleBinding" and o["metadata"]["name"] == RELEASE
    }
    assert sorted(roles) == sorted(bindings) == ["payments", "shop"]
    for namespace, binding in bindings.items():
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": RELEASE}
        assert binding["subjects"][0]["namespace"] == "failover-operator", namespace
    assert env_of(one(objs, "Deployment"))["WATCH_NAMESPACE"] == "shop,payments"


def test_rbac_and_service_account_can_be_brought_along(helm: Path) -> None:
    values = {**MINIMAL, "rbac": {"create": False}, "serviceAccount": {"create": False, "name": "mine"}}
    objs = render(helm, values)
    kinds = {"CustomResourceDefinition", "Deployment", "Service", "Lease", "PodDisruptionBudget"}
    assert {o["kind"] for o in objs} == kinds
    for watchdog in (False, True):
        pod = one(objs, "Deployment", watchdog=watchdog)["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "mine"


# --- the watchdog -------------------------------------------------------------------------------------------------


def test_the_watchdog_runs_beside_the_operator_with_its_settings_but_no_aws_credentials(helm: Path) -> None:
    objs = render(helm, CUSTOM)
    operator, watchdog = one(objs, "Deployment"), one(objs, "Deployment", watchdog=True)
    pod = watchdog["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["watchdog"] and container["image"] == operator_image(operator)
    assert watchdog["spec"]["replicas"] == 1 and watchdog["spec"]["strategy"] == {"type": "Recreate"}
    assert container["securityContext"] == operator["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    credentials = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    election = {"POD_NAME", "POD_NAMESPACE", "LEADER_LEASE_NAME", "LEADER_LEASE_SECONDS"}  # one watchdog, no election
    assert env_of(watchdog) == {k: v for k, v in env_of(operator).items() if k not in credentials | election}
    assert env_of(watchdog)["LEASE_NAME"] == RELEASE and env_of(watchdog)["LEASE_NAMESPACE"] == "failover-operator"
    # Its own identity and its own pods: neither Deployment's selector matches the other's pods.
    assert pod["serviceAccountName"] == f"{RELEASE}-watchdog"
    for a, b in ((operator, watchdog), (watchdog, operator)):
        selector = a["spec"]["selector"]["matchLabels"].items()
        assert not selector <= b["spec"]["template"]["metadata"]["labels"].items()
    # Away from the operator's pod, so that one lost node does not take both.
    (term,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == operator["spec"]["selector"]["matchLabels"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"


def operator_image(deployment: dict[str, Any]) -> str:
    image: str = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


def test_the_lease_is_created_by_the_chart_and_only_named_rules_reach_it(helm: Path) -> None:
    objs = render(helm, MINIMAL)
    lease = one(objs, "Lease")
    assert lease["metadata"] == {**lease["metadata"], "name": RELEASE, "namespace": "failover-operator"}
    (leader,) = [o for o in objs if o["kind"] == "Lease" and o["metadata"]["name"] == f"{RELEASE}-leader"]
    assert leader["metadata"]["namespace"] == "failover-operator" and "holderIdentity" not in leader["spec"]
    assert str(leader["spec"]["leaseDurationSeconds"]) == env_of(one(objs, "Deployment"))["LEADER_LEASE_SECONDS"]
    assert env_of(one(objs, "Deployment"))["LEADER_LEASE_NAME"] == f"{RELEASE}-leader"
    for name, lease_name, verbs in (
        (f"{RELEASE}-lease", RELEASE, ["get", "patch"]),  # get: what its predecessor held in maintenance
        (f"{RELEASE}-watchdog-lease", RELEASE, ["get"]),
        (f"{RELEASE}-leader", f"{RELEASE}-leader", ["get", "patch"]),
    ):
        (role,) = [o for o in objs if o["kind"] == "Role" and o["metadata"]["name"] == name]
        rule = {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": [lease_name]}
        assert role["rules"] == [{**rule, "verbs": verbs}], name


def test_a_disruption_budget_keeps_one_replica_only_when_there_is_a_spare(helm: Path) -> None:
    (pdb,) = [o for o in render(helm, MINIMAL) if o["kind"] == "PodDisruptionBudget"]
    assert pdb["spec"]["minAvailable"] == 1
    assert (
        pdb["spec"]["selector"]["matchLabels"]
        == one(render(helm, MINIMAL), "Deployment")["spec"]["selector"]["matchLabels"]
    )
    # One replica and a budget of one would block every node drain.
    assert not [o for o in render(helm, {**MINIMAL, "replicaCount": 1}) if o["kind"] == "PodDisruptionBudget"]


def test_the_watchdogs_metrics_are_served_and_scraped_like_the_operators(helm: Path) -> None:
    objs = render(helm, CUSTOM)  # metrics on port 9091, a ServiceMonitor
    watchdog = one(objs, "Deployment", watchdog=True)
    pod = watchdog["spec"]["template"]["spec"]
    ports = {p["name"]: p["containerPort"] for p in pod["containers"][0]["ports"]}
    assert ports == {"health": 8081, "metrics": 9091} and env_of(watchdog)["METRICS_PORT"] == "9091"
    service = one(objs, "Service", watchdog=True)
    assert service["metadata"]["name"] == f"{RELEASE}-watchdog-metrics"
    assert service["spec"]["selector"] == watchdog["spec"]["selector"]["matchLabels"]  # the watchdog's pod only
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9091, "targetPort": "metrics", "protocol": "TCP"}]
    assert service["metadata"]["annotations"] == CUSTOM["metrics"]["service"]["annotations"]
    monitor = one(objs, "ServiceMonitor", watchdog=True)
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    ]
    # Neither ServiceMonitor selects the other's Service (one job each: the alerts tell them apart by it).
    operator_service, operator_monitor = one(objs, "Service"), one(objs, "ServiceMonitor")
    assert not operator_monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert not monitor["spec"]["selector"]["matchLabels"].items() <= operator_service["metadata"]["labels"].items()
    # No ServiceMonitor without the operator's CRDs being asked for.
    assert not [o for o in render(helm, MINIMAL) if o["kind"] == "ServiceMonitor"]


def test_the_watchdog_can_be_turned_off(helm: Path) -> None:
    objs = render(helm, {**MINIMAL, "watchdog": {"enabled": False}})
    assert not [o for o in objs if "-watchdog" in o["metadata"]["name"]]
    assert one(objs, "Lease")  # the operator still renews it: turning the watchdog on later needs no restart


# --- clear failures, and what the person sees -------------------------------------------------------------------


def test_helm_install_without_cluster_name_fails_naming_it(helm: Path) -> None:
    result = run_helm(
        helm, "install", RELEASE, str(CHART), "--dry-run=client", "--set", "operatorId=shop-fleet", check=False
    )
    assert result.returncode != 0
    assert "missing property 'clusterName'" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"operatorId": "shop-fleet"}, "clusterName"),
        ({"clusterName": "east"}, "operatorId"),
        ({**MINIMAL, "clusterName": "we#st"}, "/clusterName"),
        ({**MINIMAL, "operatorId": "fleet one"}, "/operatorId"),
        ({**MINIMAL, "logFormat": "xml"}, "/logFormat"),
        ({**MINIMAL, "rbac": {"namespaced": True}}, "/watchNamespaces"),
        ({**MINIMAL, "clustername": "east"}, "clustername"),  # a typo is an error, not silently ignored
        ({**MINIMAL, "healthPort": 9090}, "metrics.port and healthPort must differ"),
    ],
)
def test_bad_values_fail_naming_the_value(helm: Path, values: dict[str, Any], named: str) -> None:
    with pytest.raises(HelmError) as failed:
        template(helm, values=values)
    assert named in failed.value.stderr, failed.value.stderr


def test_notes_say_what_to_run_next(helm: Path) -> None:
    result = run_helm(
        helm, "install", RELEASE, str(CHART), "--dry-run=client", "--namespace", "failover-operator",
        "--set", "clusterName=east", "--set", "operatorId=shop-fleet", "--set", "region=eu-west-1",
    )  # fmt: skip
    notes = result.stdout.split("NOTES:", 1)[1]
    assert 'cluster "east"' in notes and "region eu-west-1" in notes
    assert "failover-operator setup-table --table failover-operator --region eu-west-1" in notes
    assert "kubectl -n failover-operator rollout status deployment/failover-operator" in notes
    assert "kubectl get failovergroups -A" in notes and '"GROUP#shop-fleet#*"' in notes
    # The notes name nothing a chart user does not have (the repository's deploy/ is not in the chart)
    assert "deploy/" not in notes
    assert "kind: Failover" in notes and "targetCluster: east" in notes
    # The fleet CLI's settings, Region included (without it the CLI stops: "AWS_REGION ... is required")
    assert "OPERATOR_ID=shop-fleet DYNAMODB_TABLE=failover-operator AWS_REGION=eu-west-1\n" in notes
    assert "WARNING" not in notes
    warned = run_helm(helm, "install", RELEASE, str(CHART), "--dry-run=client", "--set", "clusterName=east",
                      "--set", "operatorId=shop-fleet").stdout  # fmt: skip
    assert re.search(r"WARNING: region is empty", warned)


# --- several Regions: regions and endpoints ------------------------------------------------------------------------


def test_regions_and_endpoints_reach_both_processes_as_the_operator_reads_them(
    helm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objs = render(helm, REGIONS)
    for deployment in (one(objs, "Deployment"), one(objs, "Deployment", watchdog=True)):
        env = env_of(deployment)
        assert env["DYNAMODB_REGIONS"] == "us-east-2,us-east-1,us-west-2"
        assert env["DYNAMODB_ENDPOINTS"] == ",".join(REGIONS["endpoints"])
        assert "AWS_REGION" not in env and "DYNAMODB_ENDPOINT" not in env
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "DYNAMODB_ENDPOINT", "DYNAMODB_REGIONS", "DYNAMODB_ENDPOINTS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env_of(one(objs, "Deployment")).items():
        if isinstance(value, str):
            monkeypatch.setenv(name, value)
    regions = Settings().regions
    assert [(r.name, r.endpoint) for r in regions] == list(zip(REGIONS["regions"], REGIONS["endpoints"], strict=True))
    # one Region through regions, and the one-Region values beside it where they say the same
    env = env_of(one(render(helm, {**MINIMAL, "regions": ["eu-west-1"], "region": "eu-west-1"}), "Deployment"))
    assert (env["DYNAMODB_REGIONS"], env["AWS_REGION"]) == ("eu-west-1", "eu-west-1")
    assert "DYNAMODB_ENDPOINTS" not in env


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({**MINIMAL, "regions": ["us-east-1", "us-east-1"]}, "/regions"),
        ({**MINIMAL, "regions": ["us east 1"]}, "/regions/0"),
        ({**MINIMAL, "regions": ["us-east-1"], "endpoints": ["vpce.example"]}, "/endpoints/0"),
        ({**MINIMAL, "endpoints": ["http://a"]}, "endpoints needs regions"),
        ({**REGIONS, "endpoints": ["http://a"]}, "endpoints has 1 URL(s) for 3 Region(s) in regions"),
        ({**MINIMAL, "regions": ["us-east-1", "us-west-2"], "endpoint": "http://a"}, "with several regions, give"),
        ({**MINIMAL, "regions": ["us-east-1", "us-west-2"], "region": "eu-west-1"}, "region eu-west-1 is not one of"),
    ],
)
def test_regions_that_disagree_fail_naming_the_values(helm: Path, values: dict[str, Any], named: str) -> None:
    with pytest.raises(HelmError) as failed:
        template(helm, values=values)
    assert named in failed.value.stderr, failed.value.stderr


def test_notes_with_regions(helm: Path) -> None:
    result = run_helm(
        helm, "install", RELEASE, str(CHART), "--dry-run=client", "--namespace", "failover-operator",
        "--set", "clusterName=east", "--set", "operatorId=shop-fleet",
        "--set", "regions={us-east-2,us-east-1,us-west-2}",
    )  # fmt: skip
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "regions us-east-2, us-east-1, us-west-2)" in notes and "WARNING" not in notes
    assert "global table with multi-Region strong consistency" in notes and "setup-table" not in notes
    assert (
        "OPERATOR_ID=shop-fleet DYNAMODB_TABLE=failover-operator DYNAMODB_REGIONS=us-east-2,us-east-1,us-west-2\n"
        in (notes)
    )
