"""Generate the CustomResourceDefinitions in `crds/` from the pydantic models in `api.py`.

    python -m failover_operator.crdgen --write crds/    # what `make crds` runs
    python -m failover_operator.crdgen --check crds/    # exit 1 when the checked-in files are stale
    python -m failover_operator.crdgen                  # print both to stdout

Kubernetes wants a *structural* OpenAPI v3 schema: every node has a type, no $ref, no anyOf/oneOf/allOf
for types, no additionalProperties beside properties. Pydantic emits JSON Schema 2020-12, so `structural()`
inlines references, turns Optional[X] into X (optional fields are simply not required), drops titles, and
keeps only the keywords Kubernetes understands. It refuses anything else rather than emit a schema the API
server would reject.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from . import api

HEADER = "# generated from operator/failover_operator/api.py by `make crds`; do not edit\n"

# Keywords copied as they are, in this order (a stable, readable key order for the YAML).
_SCALAR_KEYWORDS = (
    "description",
    "format",
    "enum",
    "default",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
)
_FORMATS = {"date-time", "date", "int32", "int64", "float", "double", "byte", "uuid"}
_ORDER = ("type", *_SCALAR_KEYWORDS, "nullable", "properties", "required", "items", "additionalProperties")
_DROPPED = {"title"}


class SchemaError(ValueError):
    """The model uses something a Kubernetes structural schema cannot express."""


def structural(model: type[BaseModel]) -> dict[str, Any]:
    """The structural openAPIV3Schema of a pydantic model (camelCase names, as on the wire)."""
    schema = model.model_json_schema(by_alias=True, mode="validation")
    defs = schema.pop("$defs", {})
    return _convert(schema, defs, path=model.__name__)


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any], path: str) -> dict[str, Any]:
    """`node` with $ref, single-item allOf and Optional's anyOf folded in; the outer node's keys win."""
    node = dict(node)
    if "$ref" in node:
        name = node.pop("$ref").removeprefix("#/$defs/")
        node = {**defs[name], **node}
    for combinator in ("allOf", "anyOf", "oneOf"):
        if combinator not in node:
            continue
        branches = [b for b in node.pop(combinator) if b != {"type": "null"}]
        if len(branches) != 1:
            raise SchemaError(f"{path}: {combinator} of {len(branches)} types is not structural")
        inner = _resolve(branches[0], defs, path)
        node = {**inner, **node}
        if node.get("default", ...) is None:  # Optional[X] = None: absent, not a null default
            del node["default"]
    return node


def _convert(raw: Mapping[str, Any], defs: Mapping[str, Any], path: str) -> dict[str, Any]:
    node = _resolve(raw, defs, path)
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if "enum" in node and "type" not in node:
        if not all(isinstance(v, str) for v in node["enum"]):
            raise SchemaError(f"{path}: only string enums are supported")
        node["type"] = "string"
    if node.get("type") not in ("object", "array", "string", "integer", "number", "boolean"):
        raise SchemaError(f"{path}: every node needs one type, got {node.get('type')!r}")
    if node.get("format") not in _FORMATS:
        node.pop("format", None)

    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "properties":
            out[key] = {name: _convert(sub, defs, f"{path}.{name}") for name, sub in value.items()}
        elif key == "items":
            out[key] = _convert(value, defs, f"{path}[]")
        elif key == "additionalProperties":
            if value is False:
                continue  # extra="forbid": the API server prunes unknown fields anyway
            if "properties" in node:
                raise SchemaError(f"{path}: additionalProperties beside properties is not structural")
            out[key] = _convert(value, defs, f"{path}{{}}") if isinstance(value, Mapping) else value
        elif key == "x-kubernetes-validations":  # pydantic sorts keys; rule first reads better
            out[key] = [{"rule": rule["rule"], **rule} for rule in value]
        elif key in _ORDER or key.startswith("x-kubernetes-"):
            out[key] = value
        else:
            raise SchemaError(f"{path}: JSON Schema keyword {key!r} has no Kubernetes equivalent")
    return _ordered(out)


def _ordered(node: dict[str, Any]) -> dict[str, Any]:
    """Known keywords in _ORDER, then x-kubernetes-* keys sorted: the YAML never reorders by itself."""
    known = [k for k in _ORDER if k in node]
    return {k: node[k] for k in [*known, *sorted(k for k in node if k not in _ORDER)]}


# A type, required, enum, maxLength or maxItems violation anywhere in an object makes the API server skip every
# CEL rule of the object and say so in a line of its own after the real message ("<nil>: Invalid value: null:
# some validation rules were not checked because the object was invalid; ..."). In the spec, where people make
# mistakes, the two of those a person meets most -- a field left out, a value not among the allowed ones -- are
# therefore rules themselves (a rule's own failure blocks nothing), with messages that say what to write. Kept
# as they are: `required` on the keys of list-maps (the API server refuses a CRD whose map keys are neither
# required nor defaulted), types, maxLength and maxItems (which bound the rules' cost); and the status, which the
# operator writes, not people.
_CEL_RESERVED = {"namespace", "in", "as", "break", "const", "continue", "else", "false", "for", "function", "if",
                 "import", "let", "loop", "package", "null", "return", "true", "var", "void", "while"}  # fmt: skip


def unblocking(node: Mapping[str, Any], *, keep_required: Sequence[str] = ()) -> dict[str, Any]:
    """`node` (a spec schema) with `enum` and `required` (but for `keep_required`) turned into CEL rules."""
    out = dict(node)
    rules: list[dict[str, str]] = []
    if "enum" in out:
        values = [str(v) for v in out.pop("enum")]
        if not all(re.fullmatch(r"\w+", v) for v in values):
            raise SchemaError(f"enum values must be words to go into a CEL rule: {values}")
        allowed = ", ".join(f"'{v}'" for v in values)
        listed = ", ".join(f'"{v}"' for v in values)
        rules.append({"rule": f"self in [{allowed}]", "message": f"supported values: {listed}"})
    if "properties" in out:
        out["properties"] = {name: unblocking(sub) for name, sub in out["properties"].items()}
        required = list(out.pop("required", []))
        if kept := [name for name in required if name in keep_required]:
            out["required"] = kept
        for name in (n for n in required if n not in keep_required):
            rules.append(required_rule(name, out["properties"][name]))
            out["properties"][name] = _ordered(
                {
                    **out["properties"][name],
                    "description": f"{out['properties'][name].get('description', '')} Required.",
                }
            )
    if "items" in out:
        out["items"] = unblocking(out["items"], keep_required=out.get("x-kubernetes-list-map-keys", ()))
    if rules:
        out["x-kubernetes-validations"] = [*rules, *out.get("x-kubernetes-validations", [])]
    return _ordered(out)


def required_rule(name: str, node: Mapping[str, Any]) -> dict[str, str]:
    """The CEL rule that field `name` (schema `node`) is present, its message saying what belongs there."""
    field = f"__{name}__" if name in _CEL_RESERVED else name
    what = _first_sentence(node.get("description", ""))
    return {"rule": f"has(self.{field})", "message": f"{name} is required" + (f": {what}" if what else "")}


def _first_sentence(description: str) -> str:
    """'The cluster that becomes primary. More.' -> 'the cluster that becomes primary' (for a message's tail)."""
    sentence = description.split(". ", 1)[0].rstrip(".")
    first = sentence.split(" ", 1)[0]
    if first[1:] == first[1:].lower():  # "The", "A", "Name": not "FailoverGroups" or "UPTIME"
        sentence = sentence[:1].lower() + sentence[1:]
    return sentence


def _column(name: str, type_: str, path: str, description: str, priority: int = 0) -> dict[str, Any]:
    column: dict[str, Any] = {"name": name, "type": type_, "jsonPath": path, "description": description}
    if priority:
        column["priority"] = priority
    return column


_AGE = _column("Age", "date", ".metadata.creationTimestamp", "Time since the object was created.")

PRINTER_COLUMNS: dict[str, list[dict[str, Any]]] = {
    api.FAILOVER_GROUP.kind: [
        _column("Owner", "string", ".status.owner", "The cluster that is primary."),
        _column("Role", "string", ".status.role", "The role of this cluster."),
        _column("Health", "string", ".status.health", "Health of this cluster's resources."),
        _column("Suspended", "boolean", ".status.suspended", "Whether automatic failover is suspended."),
        _column("Epoch", "integer", ".status.epoch", "Ownership epoch."),
        _AGE,
        _column("Decision", "string", ".status.decision", "The operator's last decision.", priority=1),
    ],
    api.FAILOVER.kind: [
        _column("Phase", "string", ".status.phase", "Step the Failover has reached."),
        _column("Target", "string", ".spec.targetCluster", "The cluster that becomes primary."),
        _column("Mode", "string", ".spec.mode", "CONSISTENCY or UPTIME."),
        _column("Duration", "string", ".status.duration", "From start to completion."),
        _AGE,
        _column("Executed-By", "string", ".status.executedBy", "The cluster that ran the Failover.", priority=1),
        _column("Message", "string", ".status.message", "Outcome, or why the Failover failed.", priority=1),
    ],
}

_MODELS: dict[str, tuple[type[BaseModel], type[BaseModel], str]] = {
    api.FAILOVER_GROUP.kind: (
        api.FailoverGroupSpec,
        api.FailoverGroupStatus,
        "A set of workloads, network and Flux resources that fail over between clusters together. Apply the "
        "same FailoverGroup in every participating cluster.",
    ),
    api.FAILOVER.kind: (
        api.FailoverSpec,
        api.FailoverStatus,
        "A request to move FailoverGroups to another cluster. Immutable; its status records progress, timings "
        "and the outcome.",
    ),
}


def crd(resource: api.ResourceKind) -> dict[str, Any]:
    """The CustomResourceDefinition (apiextensions.k8s.io/v1) of one kind."""
    spec_model, status_model, description = _MODELS[resource.kind]
    spec = unblocking(structural(spec_model))
    schema = {
        "type": "object",
        "description": description,
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion of this object: failover.dev/v1alpha1."},
            "kind": {"type": "string", "description": f"Kind of this object: {resource.kind}."},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": structural(status_model),
        },
        "x-kubernetes-validations": [required_rule("spec", spec)],  # not `required`: see unblocking()
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": resource.crd_name},
        "spec": {
            "group": api.GROUP,
            "names": {
                "kind": resource.kind,
                "listKind": f"{resource.kind}List",
                "plural": resource.plural,
                "singular": resource.singular,
                "shortNames": list(resource.short_names),
                "categories": list(resource.categories),
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": api.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS[resource.kind],
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


class _Dumper(yaml.SafeDumper):
    """Writes shared sub-objects out in full: kubectl and people read the file, not YAML anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(manifest: Mapping[str, Any]) -> str:
    """The YAML file: header, then the manifest with keys in generation order."""
    body = yaml.dump(
        dict(manifest), Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True
    )
    return HEADER + body


def generated() -> dict[str, str]:
    """File name -> content of every CRD file."""
    return {f"{r.crd_name}.yaml": render(crd(r)) for r in (api.FAILOVER_GROUP, api.FAILOVER)}


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in generated().items():
        path = directory / name
        if not path.exists() or path.read_text() != content:
            path.write_text(content)
            written.append(path)
    return written


def check(directory: Path) -> list[str]:
    """One diff per file that is missing or differs from what the models generate (empty: up to date)."""
    problems = []
    for name, content in generated().items():
        path = directory / name
        current = path.read_text() if path.exists() else ""
        if current != content:
            diff = difflib.unified_diff(
                current.splitlines(keepends=True),
                content.splitlines(keepends=True),
                fromfile=f"{path} (checked in)",
                tofile=f"{path} (generated)",
            )
            problems.append(f"{path} is {'out of date' if path.exists() else 'missing'}:\n{''.join(diff)}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m failover_operator.crdgen", description=__doc__.split("\n")[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", metavar="DIR", type=Path, help="write the CRD files into DIR")
    action.add_argument("--check", metavar="DIR", type=Path, help="exit 1 if the CRD files in DIR are stale")
    args = parser.parse_args(argv)
    if args.write:
        for path in write(args.write):
            print(f"wrote {path}")
        return 0
    if args.check:
        problems = check(args.check)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("CRDs differ from operator/failover_operator/api.py: run `make crds`", file=sys.stderr)
            return 1
        return 0
    sys.stdout.write("---\n".join(generated().values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
