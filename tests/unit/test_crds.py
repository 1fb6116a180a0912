"""The generated CRDs: up to date, structural, and enforcing what the pydantic models enforce.

jsonschema validates example objects against the openAPIV3Schema. It ignores the x-kubernetes-* keys: the CEL
rules that stand for `required` and `enum` in the spec (crdgen.unblocking) are read back as those keywords for it,
the others are checked for presence here and enforced on a real API server in tests/apiserver/test_crds.py.
kubernetes-validate checks the CRD manifests themselves against the apiextensions.k8s.io/v1 schema of real
Kubernetes versions.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel, ValidationError

from failover_operator import api, crdgen

CRDS_DIR = Path(__file__).resolve().parents[2] / "crds"
KINDS = {r.kind: r for r in (api.FAILOVER_GROUP, api.FAILOVER)}
SCALARS = {"string", "integer", "number", "boolean"}
FORBIDDEN = {"$ref", "$defs", "definitions", "anyOf", "allOf", "oneOf", "not", "const", "title", "uniqueItems"}


def schema_of(kind: str) -> dict[str, Any]:
    version = crdgen.crd(KINDS[kind])["spec"]["versions"][0]
    return version["schema"]["openAPIV3Schema"]


def walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from walk(sub, f"{path}.{name}")
    if "items" in node:
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


REQUIRED_RULE = re.compile(r"has\(self\.(?:__)?(\w+?)(?:__)?\)")
ENUM_RULE = re.compile(r"self in \[('\w+'(?:, '\w+')*)\]")


def as_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """`node` with the rules crdgen.unblocking() wrote for `required` and `enum` turned back into them."""
    out = copy.deepcopy(node)
    for _, sub in walk(out):
        for rule in sub.get("x-kubernetes-validations", []):
            if found := REQUIRED_RULE.fullmatch(rule["rule"]):
                sub.setdefault("required", []).append(found.group(1))
            elif found := ENUM_RULE.fullmatch(rule["rule"]):
                sub["enum"] = [v.strip("'") for v in found.group(1).split(", ")]
    return out


def errors(kind: str, obj: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(as_json_schema(schema_of(kind)))
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]


def cr(kind: str, spec: dict[str, Any] | None, status: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": f"{api.GROUP}/{api.VERSION}", "kind": kind, "metadata": {"name": "x"}}
    if spec is not None:
        obj["spec"] = spec
    if status is not None:
        obj["status"] = status
    return obj


# --- generated files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(crdgen.generated()))
def test_checked_in_crds_are_up_to_date(name: str) -> None:
    path = CRDS_DIR / name
    assert path.exists(), f"{path} is missing: run `make crds`"
    expected = crdgen.generated()[name]
    assert path.read_text() == expected, f"{path} differs from operator/failover_operator/api.py: run `make crds`"
    assert path.read_text().startswith("# generated from operator/failover_operator/api.py by `make crds`")


def test_check_reports_stale_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert crdgen.main(["--check", str(tmp_path)]) == 1
    assert "run `make crds`" in capsys.readouterr().err
    assert crdgen.main(["--write", str(tmp_path)]) == 0
    assert crdgen.main(["--check", str(tmp_path)]) == 0
    stale = tmp_path / "failovers.failover.dev.yaml"
    stale.write_text(stale.read_text().replace("minItems: 1", "minItems: 2"))
    assert crdgen.main(["--check", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "-                minItems: 2" in err and "+                minItems: 1" in err


def test_generation_is_deterministic() -> None:
    assert crdgen.generated() == crdgen.generated()


@pytest.mark.parametrize("version", ["1.29.0", kubernetes_validate.utils.latest_version()])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_crd_manifest_is_a_valid_kubernetes_object(kind: str, version: str) -> None:
    kubernetes_validate.validate(crdgen.crd(KINDS[kind]), version, strict=True)


# --- names, columns, subresources ------------------------------------------------------------------------


def test_failover_group_crd_names_and_columns() -> None:
    crd = yaml.safe_load((CRDS_DIR / "failovergroups.failover.dev.yaml").read_text())
    assert crd["metadata"]["name"] == "failovergroups.failover.dev"
    spec = crd["spec"]
    assert spec["group"] == "failover.dev" and spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "FailoverGroup",
        "listKind": "FailoverGroupList",
        "plural": "failovergroups",
        "singular": "failovergroup",
        "shortNames": ["fg"],
        "categories": ["failover"],
    }
    [version] = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}
    columns = [(c["name"].upper(), c["jsonPath"], c["type"]) for c in version["additionalPrinterColumns"]]
    assert columns[:6] == [
        ("OWNER", ".status.owner", "string"),
        ("ROLE", ".status.role", "string"),
        ("HEALTH", ".status.health", "string"),
        ("SUSPENDED", ".status.suspended", "boolean"),
        ("EPOCH", ".status.epoch", "integer"),
        ("AGE", ".metadata.creationTimestamp", "date"),
    ]
    assert all(c.get("priority", 0) > 0 for c in version["additionalPrinterColumns"][6:])


def test_failover_crd_names_and_columns() -> None:
    crd = yaml.safe_load((CRDS_DIR / "failovers.failover.dev.yaml").read_text())
    spec = crd["spec"]
    assert spec["names"]["kind"] == "Failover" and spec["names"]["plural"] == "failovers"
    assert spec["names"]["singular"] == "failover"
    assert spec["names"]["shortNames"] == ["fo"] and spec["names"]["categories"] == ["failover"]
    [version] = spec["versions"]
    assert version["subresources"] == {"status": {}}
    columns = [(c["name"].upper(), c["jsonPath"], c["type"]) for c in version["additionalPrinterColumns"]]
    assert columns[:5] == [
        ("PHASE", ".status.phase", "string"),
        ("TARGET", ".spec.targetCluster", "string"),
        ("MODE", ".spec.mode", "string"),
        ("DURATION", ".status.duration", "string"),  # 1m05s, as kubectl shows ages
        ("AGE", ".metadata.creationTimestamp", "date"),
    ]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_printer_columns_point_at_schema_fields(kind: str) -> None:
    schema = schema_of(kind)
    paths = {path for path, _ in walk(schema)}
    for column in crdgen.crd(KINDS[kind])["spec"]["versions"][0]["additionalPrinterColumns"]:
        if column["jsonPath"].startswith(".metadata."):
            continue
        assert column["jsonPath"] in paths, column
        node = dict(walk(schema))[column["jsonPath"]]
        assert node["type"] == {"date": "string"}.get(column["type"], column["type"]), column


# --- structural ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_schema_is_structural(kind: str) -> None:
    schema = schema_of(kind)
    assert "required" not in schema and [r["rule"] for r in schema["x-kubernetes-validations"]] == ["has(self.spec)"]
    assert schema["properties"]["metadata"] == {"type": "object"}
    assert set(schema["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}
    for path, node in walk(schema):
        where = path or "<root>"
        assert node.get("type") in SCALARS | {"object", "array"}, f"{where}: no type"
        assert not FORBIDDEN & set(node), f"{where}: {FORBIDDEN & set(node)}"
        assert not ("properties" in node and "additionalProperties" in node), where
        assert "exclusiveMinimum" not in node and "exclusiveMaximum" not in node, where
        assert set(node.get("required", [])) <= set(node.get("properties", {})), where
        if node["type"] == "array":
            assert "items" in node, where
        if path != ".metadata" and path:
            assert node.get("description") or path.endswith("[]"), f"{where}: no description (kubectl explain)"
        list_type = node.get("x-kubernetes-list-type")
        if list_type == "map":
            items = node["items"]
            for key in node["x-kubernetes-list-map-keys"]:
                assert items["properties"][key]["type"] in SCALARS, f"{where}: map key {key} not scalar"
                assert key in items.get("required", []) or "default" in items["properties"][key], where
        elif list_type == "set":
            items = node["items"]
            assert items["type"] in SCALARS or items.get("x-kubernetes-map-type") == "atomic", where
        if "default" in node:
            jsonschema.Draft202012Validator(node).validate(node["default"])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_optional_fields_are_not_required(kind: str) -> None:
    """Every field that is Optional in the models may be absent in the schema too."""
    schema = schema_of(kind)
    for model, path in _models(kind):
        node = dict(walk(schema))[path]
        required = set(as_json_schema(node).get("required", []))
        for name, field in model.model_fields.items():
            alias = field.alias or name
            assert (alias in required) == field.is_required(), f"{path}.{alias}"


def _models(kind: str) -> list[tuple[type[BaseModel], str]]:
    if kind == "FailoverGroup":
        return [
            (api.FailoverGroupSpec, ".spec"),
            (api.SpecTimeouts, ".spec.timeouts"),
            (api.WorkloadRef, ".spec.workloads[]"),
            (api.NetworkResourceRef, ".spec.networkResources[]"),
            (api.FluxResourceRef, ".spec.fluxResources[]"),
            (api.FailoverGroupStatus, ".status"),
            (api.ClusterReport, ".status.clusters[]"),
            (api.LastFailover, ".status.lastFailover"),
            (api.Condition, ".status.conditions[]"),
        ]
    return [
        (api.FailoverSpec, ".spec"),
        (api.GroupRef, ".spec.failoverGroups[]"),
        (api.FailoverStatus, ".status"),
        (api.GroupProgress, ".status.groups[]"),
        (api.Condition, ".status.conditions[]"),
    ]


# --- CEL and list semantics --------------------------------------------------------------------------------


def rules(node: dict[str, Any]) -> dict[str, str]:
    return {r["message"]: r["rule"] for r in node.get("x-kubernetes-validations", [])}


def test_failover_group_cel_rules() -> None:
    spec = schema_of("FailoverGroup")["properties"]["spec"]
    rule = rules(spec)["heartbeatInterval must be shorter than timeouts.heartbeat"]
    assert "duration(" in rule and "has(self.heartbeatInterval)" in rule and "has(self.timeouts.heartbeat)" in rule
    assert "'5s'" in rule and "'15s'" in rule  # the defaults, for objects stored before defaulting
    durations = [
        spec["properties"]["heartbeatInterval"],
        *spec["properties"]["timeouts"]["properties"].values(),
    ]
    for node in durations:
        # what is no duration at all is the pattern's to say: the rule passes it rather than fail to parse it
        assert rules(node) == {
            "must be a duration greater than zero": f"!self.matches(r'{api.DURATION_PATTERN}') || "
            "duration(self) > duration('0s')"
        }
        assert node["pattern"] == api.DURATION_PATTERN
    assert rule.startswith(
        f"!(has(self.heartbeatInterval) ? self.heartbeatInterval : '5s').matches(r'{api.DURATION_PATTERN}')"
    )
    priority = spec["properties"]["clusterPriority"]
    assert "must not list a cluster twice" in rules(priority)
    assert priority["x-kubernetes-list-type"] == "atomic"  # ordered: replaced whole, never merged
    for name in ("workloads", "networkResources", "fluxResources"):
        node = spec["properties"][name]
        assert node["x-kubernetes-list-type"] == "map" and node["x-kubernetes-list-map-keys"] == ["kind", "name"]


def test_failover_spec_is_immutable() -> None:
    spec = schema_of("Failover")["properties"]["spec"]
    assert rules(spec)["spec is immutable: create a new Failover"] == "self == oldSelf"
    assert as_json_schema(spec)["required"] == ["targetCluster", "failoverGroups"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_spec_has_no_check_that_would_silence_its_rules(kind: str) -> None:
    """A missing field or a value not allowed anywhere in an object would make the API server skip every CEL rule
    and add a line of noise: in the spec they are rules themselves, with messages saying what to write (only the
    keys of list-maps stay `required`: the API server insists)."""
    spec = schema_of(kind)["properties"]["spec"]
    for path, node in walk(spec, ".spec"):
        assert "enum" not in node, path
        keys = node.get("x-kubernetes-list-map-keys", [])
        if "items" in node:
            assert node["items"].get("required", []) == keys, path
        elif not path.endswith("[]"):
            assert "required" not in node, path
    messages = [r["message"] for _, node in walk(spec) for r in node.get("x-kubernetes-validations", [])]
    if kind == "Failover":
        assert "targetCluster is required: the cluster that becomes primary of every listed group" in messages
        assert 'supported values: "CONSISTENCY", "UPTIME"' in messages
    else:
        assert 'supported values: "Deployment", "StatefulSet", "CronJob"' in messages


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_rule_is_known_to_these_tests(kind: str) -> None:
    """The rules as_json_schema() reads back, plus the ones checked by name above: nothing unread."""
    known = {
        "self == oldSelf",
        api._HEARTBEAT_RULE,
        f"!self.matches(r'{api.DURATION_PATTERN}') || duration(self) > duration('0s')",
    }
    for path, node in walk(schema_of(kind)):
        for rule in node.get("x-kubernetes-validations", []):
            text = rule["rule"]
            simple = REQUIRED_RULE.fullmatch(text) or ENUM_RULE.fullmatch(text)
            assert simple or text in known or "self.all(" in text, f"{path}: {text}"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_conditions_are_a_map_by_type(kind: str) -> None:
    node = schema_of(kind)["properties"]["status"]["properties"]["conditions"]
    assert node["x-kubernetes-list-type"] == "map" and node["x-kubernetes-list-map-keys"] == ["type"]
    assert node["items"]["properties"]["status"]["enum"] == ["True", "False", "Unknown"]
    assert node["items"]["properties"]["lastTransitionTime"]["format"] == "date-time"


# --- examples: the schema and the models agree ----------------------------------------------------------

MINIMAL_GROUP = {"workloads": [{"kind": "Deployment", "name": "web"}]}
FULL_GROUP = {
    "initialPrimary": "east",
    "suspended": False,
    "suspensionReason": "none",
    "heartbeatInterval": "500ms",
    "timeouts": {"heartbeat": "15s", "unhealthyPrimary": "1m", "transitoryState": "1h30m"},
    "autoFailover": True,
    "clusterPriority": ["east", "west", "eu-central-1"],
    "workloads": [
        {"kind": "Deployment", "name": "web"},
        {"kind": "StatefulSet", "name": "db"},
        {"kind": "CronJob", "name": "report.daily"},
    ],
    "networkResources": [{"kind": "Ingress", "name": "web"}, {"kind": "VirtualService", "name": "web"}],
    "fluxResources": [
        {"kind": "HelmRelease", "name": "web", "triggerReconcile": True},
        {"kind": "Kustomization", "name": "app"},
    ],
}
GROUP_STATUS = {
    "owner": "east",
    "role": "PRIMARY",
    "epoch": 7,
    "health": "OK",
    "suspended": False,
    "clusters": [
        {
            "name": "east",
            "role": "PRIMARY",
            "health": "OK",
            "heartbeatAge": "3s",
            "lastHeartbeat": "2026-05-06T07:08:09Z",
            "observedEpoch": 7,
            "message": "all 3 resources ready",
        },
        {"name": "west", "role": "STANDBY", "health": "DEGRADED"},
    ],
    "lastFailover": {
        "name": "move-web",
        "sourceCluster": "west",
        "targetCluster": "east",
        "epoch": 7,
        "time": "2026-05-06T07:00:00Z",
        "automatic": False,
        "forced": False,
    },
    "decision": "no action: I am east, PRIMARY of shop/web at epoch 7",
    "conditions": [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Converged",
            "message": "",
            "lastTransitionTime": "2026-05-06T07:08:09Z",
            "observedGeneration": 1,
        }
    ],
    "observedGeneration": 1,
}
MINIMAL_FAILOVER = {"targetCluster": "west", "failoverGroups": [{"name": "web"}]}
FULL_FAILOVER = {
    "targetCluster": "west",
    "failoverGroups": [{"name": "web", "namespace": "shop"}, {"name": "db"}],
    "mode": "UPTIME",
    "force": True,
    "reason": "draining east",
}
FAILOVER_STATUS = {
    "phase": "Succeeded",
    "groups": [
        {
            "namespace": "shop",
            "name": "web",
            "phase": "Succeeded",
            "sourceCluster": "east",
            "targetCluster": "west",
            "epoch": 8,
            "startTime": "2026-05-06T07:08:09Z",
            "demotedTime": "2026-05-06T07:08:10Z",
            "transferredTime": "2026-05-06T07:08:11Z",
            "promotedTime": "2026-05-06T07:08:12Z",
            "completionTime": "2026-05-06T07:08:12Z",
            "downtimeSeconds": 2.5,
            "message": "moved",
        }
    ],
    "startTime": "2026-05-06T07:08:09Z",
    "completionTime": "2026-05-06T07:08:12Z",
    "durationSeconds": 3.2,
    "measuredDowntimeSeconds": 2.5,
    "message": "moved 1 group",
    "executedBy": "west",
    "conditions": [],
    "observedGeneration": 1,
}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(base)
    out.update(changes)
    return out


VALID = [
    ("FailoverGroup", MINIMAL_GROUP, None),
    ("FailoverGroup", FULL_GROUP, GROUP_STATUS),
    ("FailoverGroup", {}, {}),
    ("Failover", MINIMAL_FAILOVER, None),
    ("Failover", FULL_FAILOVER, FAILOVER_STATUS),
]

INVALID_SPECS = {
    "missing targetCluster": ("Failover", {"failoverGroups": [{"name": "web"}]}),
    "bad mode": ("Failover", _with(MINIMAL_FAILOVER, mode="FAST")),
    "empty failoverGroups": ("Failover", _with(MINIMAL_FAILOVER, failoverGroups=[])),
    "group without name": ("Failover", _with(MINIMAL_FAILOVER, failoverGroups=[{"namespace": "shop"}])),
    "target with #": ("Failover", _with(MINIMAL_FAILOVER, targetCluster="we#st")),
    "namespace with capitals": (
        "Failover",
        _with(MINIMAL_FAILOVER, failoverGroups=[{"name": "a", "namespace": "Shop"}]),
    ),
    "bad duration": ("FailoverGroup", _with(MINIMAL_GROUP, timeouts={"heartbeat": "15 seconds"})),
    "bad interval": ("FailoverGroup", _with(MINIMAL_GROUP, heartbeatInterval="5")),
    "bad workload kind": ("FailoverGroup", {"workloads": [{"kind": "DaemonSet", "name": "web"}]}),
    "workload without kind": ("FailoverGroup", {"workloads": [{"name": "web"}]}),
    "bad network kind": ("FailoverGroup", {"networkResources": [{"kind": "Service", "name": "web"}]}),
    "bad flux kind": ("FailoverGroup", {"fluxResources": [{"kind": "GitRepository", "name": "web"}]}),
    "initialPrimary with #": ("FailoverGroup", _with(MINIMAL_GROUP, initialPrimary="a#b")),
    "priority with #": ("FailoverGroup", _with(MINIMAL_GROUP, clusterPriority=["east", "we#st"])),
    "long cluster name": ("FailoverGroup", _with(MINIMAL_GROUP, initialPrimary="x" * 64)),
    "empty workload name": ("FailoverGroup", {"workloads": [{"kind": "Deployment", "name": ""}]}),
    "workload name with #": ("FailoverGroup", {"workloads": [{"kind": "Deployment", "name": "a#b"}]}),
    "suspended not bool": ("FailoverGroup", _with(MINIMAL_GROUP, suspended="yes")),
}


@pytest.mark.parametrize(("kind", "spec", "status"), VALID)
def test_valid_objects_are_accepted(kind: str, spec: dict[str, Any], status: dict[str, Any] | None) -> None:
    assert errors(kind, cr(kind, spec, status)) == []
    spec_model, status_model = _spec_status(kind)
    spec_model.model_validate(spec)
    if status is not None:
        status_model.model_validate(status)


@pytest.mark.parametrize("case", sorted(INVALID_SPECS))
def test_invalid_specs_are_rejected_by_schema_and_models(case: str) -> None:
    kind, spec = INVALID_SPECS[case]
    assert errors(kind, cr(kind, spec)), f"{case}: accepted by the schema"
    with pytest.raises(ValidationError):
        _spec_status(kind)[0].model_validate(spec)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_spec_is_required(kind: str) -> None:
    assert errors(kind, cr(kind, None))


def test_invalid_status_is_rejected() -> None:
    assert errors("FailoverGroup", cr("FailoverGroup", {}, {"role": "LEADER"}))
    assert errors("FailoverGroup", cr("FailoverGroup", {}, {"clusters": [{"role": "PRIMARY"}]}))
    assert errors("Failover", cr("Failover", MINIMAL_FAILOVER, {"phase": "Running"}))
    assert errors("Failover", cr("Failover", MINIMAL_FAILOVER, {"conditions": [{"type": "Ready", "status": "Yes"}]}))


def test_models_dump_what_the_schema_accepts() -> None:
    group_status = api.FailoverGroupStatus.model_validate(GROUP_STATUS)
    assert errors("FailoverGroup", cr("FailoverGroup", {}, group_status.to_dict())) == []
    failover_status = api.FailoverStatus.model_validate(FAILOVER_STATUS)
    assert errors("Failover", cr("Failover", MINIMAL_FAILOVER, failover_status.to_dict())) == []
    assert (
        errors("FailoverGroup", cr("FailoverGroup", api.FailoverGroupSpec.model_validate(FULL_GROUP).to_dict())) == []
    )


def _spec_status(kind: str) -> tuple[type[BaseModel], type[BaseModel]]:
    if kind == "FailoverGroup":
        return api.FailoverGroupSpec, api.FailoverGroupStatus
    return api.FailoverSpec, api.FailoverStatus


# --- defaults ------------------------------------------------------------------------------------------


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Structural defaulting as the API server does it: absent properties get their default, recursively."""
    if schema["type"] == "object" and isinstance(value, dict):
        value = dict(value)
        for name, sub in schema.get("properties", {}).items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                value[name] = apply_defaults(sub, value[name])
    elif schema["type"] == "array" and isinstance(value, list):
        value = [apply_defaults(schema["items"], item) for item in value]
    return value


def _without_empty_lists(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if v != []}


@pytest.mark.parametrize(
    ("kind", "spec"),
    [
        ("FailoverGroup", {}),
        ("FailoverGroup", MINIMAL_GROUP),
        ("FailoverGroup", {"timeouts": {"heartbeat": "1m"}, "fluxResources": [{"kind": "Kustomization", "name": "a"}]}),
        ("Failover", MINIMAL_FAILOVER),
        ("Failover", FULL_FAILOVER),
    ],
)
def test_schema_defaults_equal_model_defaults(kind: str, spec: dict[str, Any]) -> None:
    spec_schema = schema_of(kind)["properties"]["spec"]
    defaulted_by_server = apply_defaults(spec_schema, spec)
    parsed = _spec_status(kind)[0].model_validate(spec)
    assert defaulted_by_server == _without_empty_lists(parsed.model_dump(mode="json", by_alias=True, exclude_none=True))


@pytest.mark.parametrize("model", [api.FailoverGroupSpec, api.SpecTimeouts, api.FluxResourceRef, api.FailoverSpec])
def test_every_model_default_is_in_the_schema(model: type[BaseModel]) -> None:
    schema = crdgen.structural(model)
    for name, field in model.model_fields.items():
        alias = field.alias or name
        node = schema["properties"][alias]
        if field.default_factory is not None:
            continue  # lists: absent means empty; timeouts: {} filled by nested defaults
        if field.is_required() or field.default is None:
            assert "default" not in node, alias
        else:
            default = field.default.value if isinstance(field.default, Enum) else field.default
            assert node["default"] == default, alias
