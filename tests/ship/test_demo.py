"""`make demo` shows the real kubectl's output, not tables printed by hand: it fetches kubectl first (the
`tools` rule) and hands it to the demo as KUBECTL, which the demo runs against its real API servers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness import demo
from harness.apiserver import RealCluster

from .tools import ROOT, require_tool


@pytest.mark.parametrize(("target", "module"), [("demo", "harness.demo"), ("demo-regions", "harness.demo_regions")])
def test_make_demo_fetches_kubectl_first_and_hands_it_to_the_demo(target: str, module: str) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    # -n prints the recipes without running any; -B as on a fresh machine, where nothing is there yet
    done = subprocess.run([make, "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, check=True)
    lines = done.stdout.splitlines()
    fetch = next(i for i, line in enumerate(lines) if "-m tests.ship.tools .tools" in line)
    run = next(i for i, line in enumerate(lines) if line.endswith(f"-m {module}"))
    assert fetch < run, done.stdout
    assert lines[run].startswith(f"KUBECTL={ROOT}/.tools/kubectl "), lines[run]


def test_the_demo_runs_the_kubectl_it_is_given(tmp_path: Path) -> None:
    assert demo.kubectl_binary({"KUBECTL": str(tmp_path / "kubectl")}) == tmp_path / "kubectl"
    assert demo.kubectl_binary({}) == ROOT / ".tools" / "kubectl"


async def test_the_demo_prints_the_real_kubectls_table(
    apiservers, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    east: RealCluster = apiservers("east")["east"]
    await east.create(demo.group())
    monkeypatch.setenv("KUBECTL", str(require_tool("kubectl")))
    printed = await demo.kubectl(east, "get", "failovergroups", "-n", "shop")
    assert printed is not None
    assert printed.splitlines()[0].split() == ["NAME", "OWNER", "ROLE", "HEALTH", "SUSPENDED", "EPOCH", "AGE"]
    monkeypatch.setenv("KUBECTL", str(tmp_path / "absent"))  # none there: the demo prints the columns itself
    assert await demo.kubectl(east, "get", "failovergroups", "-n", "shop") is None
