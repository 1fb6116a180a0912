"""The layer rule: workloads/ knows nothing of DynamoDB or kopf."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import failover_operator.workloads

PACKAGE = Path(failover_operator.workloads.__file__).parent
FORBIDDEN = ("kopf", "failover_operator.store", "aioboto3", "boto3", "botocore", "aiobotocore")


def test_no_forbidden_imports_in_the_source() -> None:
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else [f"failover_operator.{node.module or ''}"]
                if node.level == 1:
                    names = [f"failover_operator.workloads.{node.module or ''}"]
            else:
                continue
            for name in names:
                assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"


def test_importing_the_package_loads_neither_kopf_nor_the_store() -> None:
    code = f"import sys, failover_operator.workloads; print([m for m in sys.modules if m.startswith({FORBIDDEN!r})])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
