"""The Dockerfile (parsed: there is no Docker engine here) and the wheel it installs.

`make image` builds the image where Docker runs. These checks hold the Dockerfile to what the chart and the
operator expect: a slim Python base, a multi-stage build that installs every runtime dependency from
requirements.lock (pinned, hashes required) and then the wheel `pip wheel` makes from this project, a numeric
non-root user (the chart's runAsUser), the operator as entrypoint with `run` as its command, and a build context
(.dockerignore) that holds what the build copies and nothing else.
"""

from __future__ import annotations

import ast
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from packaging.utils import canonicalize_name

import failover_operator
from failover_operator import cli
from failover_operator.settings import Settings

from . import lock
from .manifests import CHART
from .tools import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PACKAGE = ROOT / "operator" / "failover_operator"


@dataclass
class Instruction:
    keyword: str
    args: str

    def json(self) -> list[str]:
        """The exec (JSON) form's list, or fail: the shell form would run under /bin/sh and swallow signals."""
        import json

        value = json.loads(self.args)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), self
        return value


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"stage {self.name or self.image}: no {keyword}"
        return found[-1]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """(global ARG defaults, stages): line continuations joined, comments and parser directives dropped."""
    logical: list[str] = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            words = rest.split()
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), ""), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image, name))
        elif not stages:
            assert keyword == "ARG", f"only ARG may come before the first FROM, not {keyword}"
            key, _, default = rest.partition("=")
            args[key] = default
        else:
            stages[-1].instructions.append(Instruction(keyword, rest))
    return args, stages


DOCKERFILE = (ROOT / "Dockerfile").read_text()
ARGS, STAGES = parse_dockerfile(DOCKERFILE)
FINAL = STAGES[-1]


def test_multi_stage_on_a_slim_python_base() -> None:
    assert len(STAGES) >= 2, "a build stage and a runtime stage"
    minimum = re.search(r">=\s*3\.(\d+)", PROJECT["requires-python"])
    assert minimum
    for stage in STAGES:
        match = re.fullmatch(r"python:3\.(\d+)(\.\d+)?-slim(-\w+)?(@sha256:[0-9a-f]{64})?", stage.image)
        assert match, f"{stage.image}: not a slim Python image"
        assert int(match.group(1)) >= int(minimum.group(1)), f"{stage.image}: older than requires-python"
    assert len({s.image for s in STAGES}) == 1, "the venv built in one stage runs on the other's Python"


def build_stage() -> Stage:
    (build,) = [s for s in STAGES[:-1] if s.name == FINAL.last("COPY").args.split()[0].removeprefix("--from=")]
    return build


def test_the_build_stage_installs_the_lock_with_hashes_then_the_wheel_pip_wheel_makes_without_dependencies() -> None:
    build = build_stage()
    script = " && ".join(i.args for i in build.all("RUN"))
    steps = [step.strip() for step in script.split("&&")]

    def step(pattern: str) -> int:
        found = [n for n, s in enumerate(steps) if re.search(pattern, s)]
        assert len(found) == 1, f"{pattern!r} in {steps}"
        return found[0]

    locked = step(r"pip install --require-hashes --no-deps -r requirements\.lock$")
    built = step(r"pip wheel --no-deps --wheel-dir (\S+) \.$")
    wheel = step(r"pip install --no-deps \S+/failover_operator-\*\.whl$")
    checked = step(r"pip check$")
    assert locked < wheel < checked and built < wheel, steps
    # Nothing else is installed: every other package comes from the lock, hashed
    assert [s for s in steps if re.search(r"pip install", s)] == [steps[locked], steps[wheel]], steps
    copied = {word for i in build.all("COPY") for word in shlex.split(i.args)[:-1]}
    assert {"pyproject.toml", "requirements.lock", "README.md", "LICENSE", "operator/"} <= copied
    assert "constraints.txt" not in copied, "the lock pins everything; constraints.txt is for `make install`"


def test_the_lock_pins_every_runtime_dependency_at_the_tested_version_with_hashes() -> None:
    """pyproject's dependencies and theirs, transitively (extras included), each `==` the version installed
    where the tests run, each with at least one sha256; for the base image the Dockerfile names."""
    text = lock.LOCK.read_text()
    assert lock.problems(text) == []
    pins = lock.parse(text)
    assert all(pin.hashes for pin in pins)
    names = {pin.key for pin in pins}
    for requirement in lock.runtime_requirements():
        assert canonicalize_name(requirement.name) in names, requirement
    assert {"pydantic-core", "botocore", "aiohttp", "urllib3"} <= names  # transitive ones too
    assert ARGS["PYTHON_IMAGE"] == "python:3.11-slim-bookworm", "the lock's hashes are for CPython 3.11, glibc 2.36"
    assert lock.PYTHON == (3, 11) and lock.GLIBC_MINOR == 36


def test_the_runtime_stage_runs_the_operator_as_a_numeric_non_root_user() -> None:
    assert not FINAL.all("RUN"), "the runtime stage only copies the built environment in"
    user = FINAL.last("USER").args
    assert re.fullmatch(r"\d+:\d+", user), f"USER {user}: numeric uid:gid (runAsNonRoot can only check numbers)"
    uid, gid = (int(x) for x in user.split(":"))
    assert uid != 0 and gid != 0
    security = yaml.safe_load((CHART / "values.yaml").read_text())["podSecurityContext"]
    assert (security["runAsUser"], security["runAsGroup"]) == (uid, gid), "the chart runs the image as its own user"
    assert FINAL.last("ENTRYPOINT").json() == ["failover-operator"]
    assert FINAL.last("CMD").json() == ["run"]
    env = " ".join(i.args for i in FINAL.all("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "PATH=/opt/venv/bin:$PATH" in env
    exposed = {int(p) for i in FINAL.all("EXPOSE") for p in i.args.split()}
    assert exposed == {Settings.model_fields["health_port"].default, Settings.model_fields["metrics_port"].default}


def test_the_entrypoint_is_the_packages_console_script_and_run_is_its_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert PROJECT["scripts"]["failover-operator"] == "failover_operator.cli:main"
    with pytest.raises(SystemExit) as done:
        cli.main(["run", "--help"])
    assert done.value.code == 0 and "usage: failover-operator run" in capsys.readouterr().out


# --- the build context -------------------------------------------------------------------------------------------


def _regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parent directories decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:].strip().strip("/") if negate else raw.strip().strip("/")
        regex = _regex(pattern)
        if any(regex.fullmatch(c) for c in candidates):
            excluded = not negate
    return excluded


PATTERNS = [
    line.strip()
    for line in (ROOT / ".dockerignore").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]


def context_files() -> list[str]:
    """The files of the build context that the Dockerfile's COPY instructions need."""
    files = ["pyproject.toml", "requirements.lock", "README.md", "LICENSE"]
    files += [p.relative_to(ROOT).as_posix() for p in (ROOT / "operator").rglob("*") if p.is_file()]
    return [f for f in files if not dockerignored(f, PATTERNS)]


def test_the_build_context_holds_what_the_build_copies_and_nothing_else() -> None:
    for needed in ("pyproject.toml", "requirements.lock", "README.md", "LICENSE", "operator/failover_operator/cli.py"):
        assert not dockerignored(needed, PATTERNS), needed
    for excluded in (
        "constraints.txt",
        ".venv/bin/python",
        ".git/HEAD",
        ".tools/helm",
        "tests/conftest.py",
        "charts/failover-operator/Chart.yaml",
        "operator/failover_operator/__pycache__/cli.cpython-311.pyc",
        "operator/failover_operator.egg-info/PKG-INFO",
        "Dockerfile",
    ):
        assert dockerignored(excluded, PATTERNS), excluded


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel the image's build stage makes: `pip wheel --no-deps .` over the Docker build context."""
    context = tmp_path_factory.mktemp("context")
    for relative in context_files():
        target = context / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(context)],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("failover_operator-*.whl")
    return built


def test_the_wheel_is_the_package_the_tests_run(wheel: Path) -> None:
    assert Path(failover_operator.__file__).resolve().parent == PACKAGE.resolve(), "tests import this source tree"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (dist_info,) = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
        metadata = archive.read(f"{dist_info}/METADATA").decode()
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    modules = {n for n in names if n.startswith("failover_operator/")}
    sources = {
        "failover_operator/" + p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix in (".py", ".typed") and "__pycache__" not in p.parts
    }
    assert modules == sources, f"missing: {sorted(sources - modules)}; extra: {sorted(modules - sources)}"
    assert re.search(rf"^Name: {re.escape(PROJECT['name'])}$", metadata, re.M)
    assert re.search(rf"^Version: {re.escape(PROJECT['version'])}$", metadata, re.M)
    assert "failover-operator = failover_operator.cli:main" in entry_points
    assert f"{dist_info}/licenses/LICENSE" in names, "the licence travels with the wheel"
    assert wheel.name == f"failover_operator-{PROJECT['version']}-py3-none-any.whl"


# Packages only the `test` extra installs: nothing in the wheel may import them (it would fail on import in the
# image, which has the runtime dependencies only).
TEST_ONLY = {"moto", "kmock", "pytest", "looptime", "jsonschema", "kubernetes_validate", "werkzeug", "harness", "tests"}


def test_the_wheel_holds_no_test_harness_and_imports_only_runtime_dependencies(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        sources = {n: archive.read(n).decode() for n in names if n.endswith(".py")}
    assert all(n.startswith(("failover_operator/", "failover_operator-")) for n in names), names
    assert not [n for n in names if "/testing/" in n or n.endswith("demo.py")], names
    imported = set()
    for source in sources.values():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    assert not imported & TEST_ONLY, sorted(imported & TEST_ONLY)
