"""`make tools` elsewhere than Linux x86-64: the pinned package's binaries would not run there, so the ones
installed on the machine are used, or none (and the chart checks skip, saying why) — never a broken binary."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import tools


def test_nothing_is_fetched_where_the_binaries_would_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tools, "supported", lambda: False)
    monkeypatch.setattr(tools.shutil, "which", lambda name: None)
    monkeypatch.setattr(tools, "fetch", lambda dest: pytest.fail("fetched on an unsupported platform"))
    assert tools.main([str(tmp_path / "tools")]) == 0
    assert "the chart and manifest checks skip" in capsys.readouterr().out
    assert not (tmp_path / "tools").exists()


def test_the_installed_ones_are_used_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed = {name: tmp_path / "bin" / name for name in ("helm", "kubectl")}
    for path in installed.values():
        path.parent.mkdir(exist_ok=True)
        path.write_text("#!/bin/sh\n")
    monkeypatch.setattr(tools, "supported", lambda: False)
    monkeypatch.setattr(tools.shutil, "which", lambda name: str(installed[name]))
    assert tools.main([str(tmp_path / "tools")]) == 0
    assert {p.name: p.resolve() for p in (tmp_path / "tools").iterdir()} == {
        name: path.resolve() for name, path in installed.items()
    }


def test_only_linux_x86_64_is_fetched() -> None:
    assert tools.supported("linux", "x86_64") and tools.supported("linux", "AMD64")
    assert not tools.supported("darwin", "arm64") and not tools.supported("linux", "aarch64")
