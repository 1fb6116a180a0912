"""The quick set of `make chaos`: 200 random fault trials (a fixed seed range, apart from `make chaos`'s
default one), run as `make chaos` runs them; not one violation of safety, liveness or durability."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.ship.tools import ROOT

TRIALS = 200
SEED = 100_000


def test_two_hundred_random_fault_trials_find_nothing() -> None:
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "harness.simulation", "--trials", str(TRIALS), "--seed", str(SEED), "--jobs", "2"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900, check=False)
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    last = re.fullmatch(r"trials=(\d+) faults=(\d+) violations=(\d+)", lines[-1])
    assert last, f"the last line is not the summary: {lines[-1]!r}\n{result.stderr[-2000:]}"
    trials, faults, violations = map(int, last.groups())
    assert trials == TRIALS and faults >= TRIALS  # every trial draws at least one fault
    assert violations == 0 and result.returncode == 0, result.stdout[-6000:]
