"""README passages newcomers tripped over say what the code does: how to wait for a Failover, what happens to a
StatefulSet's data, and where the examples are."""

from __future__ import annotations

import re

from .tools import ROOT

README = (ROOT / "README.md").read_text()
FLAT = " ".join(README.split())


def section(heading: str) -> str:
    found = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#+ )", README, re.S | re.M)
    assert found, heading
    return " ".join(found.group(1).split())


def test_it_says_to_wait_for_complete_not_for_succeeded() -> None:
    assert "wait with `kubectl wait --for=condition=Complete failover/NAME" in FLAT
    assert "Do not wait for `--for=condition=Succeeded`" in FLAT
    # every other mention of waiting on Succeeded is that warning
    assert FLAT.count("--for=condition=Succeeded") == 1


def test_the_limits_say_nothing_replicates_a_statefulsets_volumes() -> None:
    limits = section("Limits worth knowing")
    assert "Nothing replicates a StatefulSet's volumes." in limits
    for words in ("storage-level", "application-level", "the operator never copies, reads or checks data"):
        assert words in limits, words


def test_the_examples_it_names_exist() -> None:
    for path in re.findall(r"`(deploy/examples/[^`]+)`", README):
        assert (ROOT / path).exists(), path
    assert "deploy/examples/full/failovergroup.yaml" in README
