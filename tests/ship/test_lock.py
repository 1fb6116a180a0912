"""The lock's offline checks (tests/ship/lock.py) catch what makes a lock wrong: a dependency missing, one the
project no longer needs, a version other than the tested one, a line without a hash. Making the lock asks the
package index (`make lock`); its result is checked by tests/ship/test_image.py."""

from __future__ import annotations

import re

import pytest
from packaging.requirements import Requirement

from . import lock

# A small closure from the test environment: pydantic needs pydantic-core, annotated-types, typing-extensions and
# typing-inspection (and nothing else on Linux).
REQUIREMENTS = [Requirement("pydantic>=2.5")]


def locked(**versions: str) -> str:
    pins = lock.tested_closure(REQUIREMENTS, "x86_64")
    pins = {k: lock.Pin(p.name, versions.get(p.name, p.version), ("0" * 64,)) for k, p in pins.items()}
    return lock.render(pins.values())


def test_the_tested_closure_follows_dependencies_and_their_requirements() -> None:
    closure = lock.tested_closure(REQUIREMENTS, "x86_64")
    assert set(closure) == {"pydantic", "pydantic-core", "annotated-types", "typing-extensions", "typing-inspection"}
    # extras asked for are followed: aioboto3 needs aiobotocore[boto3], so boto3 is in, and its s3transfer
    aws = lock.tested_closure([Requirement("aioboto3")], "x86_64")
    assert {"aiobotocore", "boto3", "s3transfer", "botocore"} <= set(aws)
    assert "chalice" not in aws  # an extra nobody asked for is not


def test_a_lock_of_the_tested_closure_passes() -> None:
    text = locked()
    assert lock.problems(text, REQUIREMENTS) == []
    assert [p.key for p in lock.parse(text)] == sorted(p.key for p in lock.parse(text))


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (lambda t: t.replace("annotated-types==", "annotated-typos=="), "annotated-types"),
        (lambda t: t + "six==1.17.0 \\\n    --hash=sha256:" + "1" * 64 + "\n", "six is locked but is no runtime"),
        (lambda t: locked(pydantic="2.5.0"), "pydantic is locked at 2.5.0, the tests run with"),
    ],
    ids=["missing", "extra", "stale"],
)
def test_a_wrong_lock_is_named_with_what_to_do(edit, said: str) -> None:
    found = lock.problems(edit(locked()), REQUIREMENTS)
    assert any(said in problem for problem in found), found
    assert found[-1] == "run `make lock`"


def test_a_line_without_a_hash_is_refused() -> None:
    with pytest.raises(lock.LockError, match=re.escape("not a pinned requirement with hashes: 'pydantic==2.14.4'")):
        lock.parse("pydantic==2.14.4\n")
    with pytest.raises(lock.LockError, match="not a pinned requirement"):
        lock.parse("pydantic>=2 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    assert "not a pinned requirement" in lock.problems("pydantic==2.14.4\n", REQUIREMENTS)[0]


def test_pip_is_asked_for_the_files_the_images_pip_would_pick() -> None:
    """glibc 2.36's manylinux tags, most specific first, then the legacy aliases: pip ranks files by this order."""
    tags = lock.platform_tags("x86_64")
    assert tags[0] == "manylinux_2_36_x86_64" and tags[-1] == "linux_x86_64"
    assert tags.index("manylinux_2_28_x86_64") < tags.index("manylinux_2_17_x86_64") < tags.index("manylinux1_x86_64")
    assert "manylinux2014_aarch64" in lock.platform_tags("aarch64")
