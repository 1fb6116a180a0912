"""Where the tests find kube-apiserver and etcd, and how `make envtest` unpacks them."""

from __future__ import annotations

import hashlib
import lzma
from pathlib import Path

import pytest

from harness import apiserver, envtest_assets


def binaries(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("#!/bin/sh\n")
        (folder / name).chmod(0o755)
    return folder


def test_kubebuilder_assets_first_then_the_repositorys_tools(tmp_path: Path) -> None:
    configured = binaries(tmp_path / "setup-envtest", "etcd", "kube-apiserver")
    local = binaries(tmp_path / "local", "etcd", "kube-apiserver")
    assert apiserver.assets_dir({"KUBEBUILDER_ASSETS": str(configured)}, local) == configured
    assert apiserver.assets_dir({}, local) == local
    half = binaries(tmp_path / "half", "etcd")  # an incomplete folder does not count
    assert apiserver.assets_dir({"KUBEBUILDER_ASSETS": str(half)}, local) == local
    assert apiserver.assets_dir({"KUBEBUILDER_ASSETS": str(half)}, tmp_path / "none") is None


def test_without_binaries_one_line_says_how_to_get_them(tmp_path: Path) -> None:
    reason = apiserver.missing_reason({"KUBEBUILDER_ASSETS": "/opt/nothing"}, tmp_path / "none")
    assert "\n" not in reason
    assert "KUBEBUILDER_ASSETS=/opt/nothing" in reason and "setup-envtest use 1.34 -p path" in reason
    assert apiserver.required({"REQUIRE_ENVTEST": "1"}) and not apiserver.required({"REQUIRE_ENVTEST": "0"})
    assert not apiserver.required({})


def packed(source: Path, content: dict[str, bytes], sums: dict[str, bytes] | None = None) -> Path:
    source.mkdir()
    lines = []
    for name, data in content.items():
        (source / f"{name}.xz").write_bytes(lzma.compress(data))
        lines.append(f"{hashlib.sha256((sums or content)[name]).hexdigest()}  {name}")
    (source / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return source


def test_unpack_verifies_checksums_and_is_idempotent(tmp_path: Path) -> None:
    source = packed(tmp_path / "src", {"kube-apiserver": b"apiserver", "etcd": b"etcd"})
    dest = tmp_path / "dest"
    assert all("unpacked" in line for line in envtest_assets.unpack(source, dest))
    assert (dest / "etcd").read_bytes() == b"etcd" and (dest / "kube-apiserver").stat().st_mode & 0o111
    assert all("present" in line for line in envtest_assets.unpack(source, dest))


def test_a_checksum_mismatch_fails_and_leaves_nothing(tmp_path: Path) -> None:
    content = {"kube-apiserver": b"apiserver", "etcd": b"tampered"}
    source = packed(tmp_path / "src", content, sums={**content, "etcd": b"etcd"})
    dest = tmp_path / "dest"
    with pytest.raises(SystemExit, match="etcd: checksum mismatch"):
        envtest_assets.unpack(source, dest)
    assert not (dest / "etcd").exists() and not list(dest.glob("*.partial"))
