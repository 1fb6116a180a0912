"""The layers, each importing only from below (docs/design.md, "Layers"): model (the words) ← rules (pure) ←
store (DynamoDB) and workloads (Kubernetes), which know nothing of each other ← reconciler (joins them; no
kopf) ← handlers (the only kopf). Checked in the source, and in what importing each package loads."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import failover_operator

ROOT = Path(failover_operator.__file__).parent
CLOUD = ("aioboto3", "boto3", "botocore", "aiobotocore")
KUBE = ("kopf", "kubernetes")
OURS = "failover_operator."
LAYERS = {
    "model": (*CLOUD, *KUBE, OURS),  # nothing but pydantic
    "rules": (*CLOUD, *KUBE, *(f"{OURS}{p}" for p in ("store", "workloads", "reconciler", "handlers", "api"))),
    "store": (*KUBE, *(f"{OURS}{p}" for p in ("workloads", "reconciler", "handlers", "api"))),
    "workloads": ("kopf", *CLOUD, *(f"{OURS}{p}" for p in ("store", "reconciler", "handlers", "rules"))),
    "reconciler": ("kopf", f"{OURS}handlers"),
}
ALLOWED = {"model": (f"{OURS}model",), "rules": (f"{OURS}model", f"{OURS}rules")}


def imports(path: Path) -> list[str]:
    """Every module `path` imports, relative imports resolved."""
    package = path.relative_to(ROOT.parent).with_suffix("").parts[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.append(module)
    return found


def sources(layer: str) -> list[Path]:
    single = ROOT / f"{layer}.py"
    return [single] if single.exists() else sorted((ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_no_layer_imports_from_above_in_its_source(layer: str) -> None:
    forbidden, allowed = LAYERS[layer], ALLOWED.get(layer, ())
    for path in sources(layer):
        for name in imports(path):
            if name.startswith(allowed):
                continue
            assert not name.startswith(forbidden), f"{path.relative_to(ROOT)} imports {name}"


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_importing_a_layer_loads_nothing_from_above(layer: str) -> None:
    forbidden = tuple(f for f in LAYERS[layer] if f != OURS)
    code = (
        f"import sys, failover_operator.{layer}; "
        f"print(sorted({{m.split('.')[0] if not m.startswith({OURS!r}) else m for m in sys.modules "
        f"if m.startswith({forbidden!r})}}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"importing failover_operator.{layer} loads {out.strip()}"
