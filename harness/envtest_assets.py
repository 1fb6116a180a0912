"""Unpack xz-compressed kube-apiserver and etcd binaries into a folder, their checksums verified.

    python -m harness.envtest_assets SOURCE .tools/envtest   # what `make envtest` runs

SOURCE holds `kube-apiserver.xz`, `etcd.xz` and `SHA256SUMS` (sums of the unpacked binaries). Idempotent: a
binary whose checksum already matches is left alone. A mismatch removes what was unpacked and fails.
"""

from __future__ import annotations

import argparse
import hashlib
import lzma
import sys
from pathlib import Path

BINARIES = ("kube-apiserver", "etcd")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def expected_sums(source: Path) -> dict[str, str]:
    sums = {}
    for line in (source / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            digest, name = line.split()
            sums[name.lstrip("*")] = digest
    return sums


def unpack(source: Path, dest: Path) -> list[str]:
    """Unpack what is missing or stale; returns one line per binary for people."""
    sums = expected_sums(source)
    dest.mkdir(parents=True, exist_ok=True)
    report = []
    for name in BINARIES:
        if name not in sums:
            raise SystemExit(f"{source / 'SHA256SUMS'} has no checksum for {name}")
        target = dest / name
        if target.exists() and sha256(target) == sums[name]:
            report.append(f"{target}: present, checksum OK")
            continue
        partial = target.with_suffix(".partial")
        with lzma.open(source / f"{name}.xz") as packed, partial.open("wb") as out:
            while chunk := packed.read(1 << 20):
                out.write(chunk)
        if sha256(partial) != sums[name]:
            partial.unlink()
            raise SystemExit(f"{name}: checksum mismatch after unpacking {source / (name + '.xz')}")
        partial.chmod(0o755)
        partial.replace(target)
        report.append(f"{target}: unpacked, checksum OK")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    for line in unpack(args.source, args.dest):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
