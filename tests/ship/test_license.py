"""The licence pyproject declares (Apache-2.0) is in the repository, as the Apache License 2.0 itself, unchanged,
and ships in the wheel (setuptools picks up LICENSE by name)."""

from __future__ import annotations

import hashlib
import tomllib

from .tools import ROOT

# sha256 of the Apache License 2.0 as the Apache Software Foundation publishes it (LICENSE-2.0.txt).
APACHE_2_0_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def test_the_license_is_the_one_pyproject_declares() -> None:
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_bytes()
    assert b"Apache License\n                           Version 2.0, January 2004" in text
    assert hashlib.sha256(text).hexdigest() == APACHE_2_0_SHA256
