"""Every text that says how long a forced move waits for the old owner says what the code waits:
FORCE_WAIT_INTERVALS heartbeat intervals (rules/timing.py). The README once said one interval while the code
waited two."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from failover_operator.api import FailoverSpec
from failover_operator.rules import FORCE_WAIT_INTERVALS

ROOT = Path(__file__).resolve().parents[2]
WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}
N = WORDS[FORCE_WAIT_INTERVALS]


def crd_force_description() -> str:
    crd = yaml.safe_load((ROOT / "crds" / "failovers.failover.dev.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return " ".join(spec["properties"]["force"]["description"].split())


# (where, the words that state the wait there)
STATEMENTS = [
    ("README.md", f"the target waits for it at most {N} `heartbeatInterval`s, then transfers"),
    ("README.md", f"no overlap is promised for an owner that does not answer within {N} intervals"),
    ("README.md", f"gives up no-overlap for an owner that does not answer within {N} `heartbeatInterval`s"),
    ("docs/design.md", f"the target transfers after {N} intervals (`FORCE_WAIT_INTERVALS`)"),
    ("deploy/examples/failover.yaml", f"is waited for {N} heartbeatIntervals, then the move goes ahead"),
]


@pytest.mark.parametrize(("where", "words"), STATEMENTS, ids=[w for w, _ in STATEMENTS])
def test_the_docs_state_the_force_wait_the_code_waits(where: str, words: str) -> None:
    text = " ".join((ROOT / where).read_text().replace("#", " ").split())
    assert words in text, f"{where} no longer says {words!r}"


def test_the_crd_and_the_model_state_it_too() -> None:
    wait = f"the target waits {N} heartbeatIntervals for the old primary to confirm it stopped"
    assert wait in crd_force_description()
    assert wait in (FailoverSpec.model_fields["force"].description or "")


def test_no_text_about_force_states_another_wait() -> None:
    """A force passage that counts intervals counts FORCE_WAIT_INTERVALS of them."""
    counted = re.compile(r"\b(one|two|three|four|an?)\s+(?:`heartbeatInterval`s?|heartbeatIntervals?|intervals?)(?!\w)")
    for path in (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))):
        for passage in re.split(r"\n\s*\n|\n(?=- )", path.read_text()):
            if not re.search(r"\*\*force\*\*|\bforced? (?:move|failover)|FORCE_WAIT", passage, re.I):
                continue
            for found in counted.finditer(" ".join(passage.split())):
                assert found.group(1) == N, f"{path.name}: {found.group(0)!r} in a passage about force"
