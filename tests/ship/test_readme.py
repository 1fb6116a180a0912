"""The README's install section does what it says: its values files install, its IAM recipe yields a policy for
the fleet, and its finalizer recipe clears stuck objects (with the real kubectl, against a real API server)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from failover_operator.handlers.registry import FINALIZER

from .manifests import CHART, objects, run_helm
from .tools import ROOT

README = (ROOT / "README.md").read_text()
INSTALL = README.split("<!-- install:begin -->", 1)[1].split("<!-- install:end -->", 1)[0]


def block_after(marker: str, language: str) -> str:
    """The first fenced block of `language` after `marker` in the install section."""
    found = re.search(re.escape(marker) + r".*?```" + language + r"\n(.*?)```", INSTALL, re.S)
    assert found, f"no ```{language} block after {marker!r} in the README's install section"
    return found.group(1)


def test_the_install_section_covers_what_people_need() -> None:
    for heading in ("### With Helm, in two clusters", "### IAM", "### The table and global tables"):
        assert heading in INSTALL
    for heading in ("### Upgrade", "### Uninstall"):
        assert heading in INSTALL
    for words in ("failover-operator setup-table", "deploy/iam-policy.json", "dynamodb:LeadingKeys", FINALIZER):
        assert words in INSTALL, words


@pytest.mark.parametrize("cluster", ["east", "west"])
def test_the_values_files_for_two_clusters_install(helm: Path, cluster: str, tmp_path: Path) -> None:
    values = yaml.safe_load(block_after(f"`values-{cluster}.yaml`", "yaml"))
    assert values["clusterName"] == cluster
    path = tmp_path / f"values-{cluster}.yaml"
    path.write_text(yaml.safe_dump(values))
    run_helm(helm, "lint", "--strict", str(CHART), "--values", str(path))
    rendered = objects(run_helm(helm, "template", "failover-operator", str(CHART), "--values", str(path)).stdout)
    deployments = [o for o in rendered if o["kind"] == "Deployment"]
    assert len(deployments) == 2  # the operator and its watchdog, with the same settings
    for deployment in deployments:
        env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert (env["CLUSTER_NAME"], env["OPERATOR_ID"], env["AWS_REGION"]) == (cluster, "shop-fleet", "eu-west-1")


def test_both_clusters_share_everything_but_their_name() -> None:
    east = yaml.safe_load(block_after("`values-east.yaml`", "yaml"))
    west = yaml.safe_load(block_after("`values-west.yaml`", "yaml"))
    for key in ("operatorId", "table", "region"):
        assert east[key] == west[key], key


def test_the_iam_recipe_yields_a_policy_for_the_fleet(tmp_path: Path) -> None:
    recipe = block_after("### IAM", "console")
    sed = re.search(r"^\$ (sed .*?deploy/iam-policy\.json) > policy\.json$", recipe, re.S | re.M)
    assert sed, recipe
    command = sed.group(1).replace("\\\n", " ")
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=ROOT, check=True)
    policy = json.loads(result.stdout)
    text = json.dumps(policy)
    assert not re.search(r"REGION|ACCOUNT_ID|OPERATOR_ID", text), text
    assert "GROUP#shop-fleet#*" in text and "arn:aws:dynamodb:eu-west-1:123456789012:table/failover-operator" in text


async def test_the_finalizer_recipe_clears_stuck_objects(kubectl: Path, apiservers, tmp_path: Path) -> None:
    script = block_after("**Finalizers.**", "sh")
    cluster = apiservers("east")["east"]
    stuck = [
        ("FailoverGroup", "failovergroups", {"workloads": [{"kind": "Deployment", "name": "web"}]}),
        ("Failover", "failovers", {"targetCluster": "west", "failoverGroups": [{"name": "web"}]}),
    ]
    for kind, plural, spec in stuck:
        meta = {"name": "web", "namespace": "shop", "finalizers": [FINALIZER]}
        await cluster.create({"apiVersion": "failover.dev/v1alpha1", "kind": kind, "metadata": meta, "spec": spec})
        await cluster.delete("failover.dev/v1alpha1", plural, "shop", "web")  # no operator: it stays
        assert (await cluster.get("failover.dev/v1alpha1", plural, "shop", "web"))["metadata"]["deletionTimestamp"]
    env = {"PATH": f"{kubectl.parent}:{os.environ.get('PATH', '')}", "KUBECONFIG": str(cluster.kubeconfig)}
    process = await asyncio.create_subprocess_exec(
        "bash", "-euo", "pipefail", "-c", script, env={**env, "HOME": str(tmp_path)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    assert out.decode().count("patched") == 2, out.decode()
    for _, plural, _ in stuck:
        await cluster.wait_absent("failover.dev/v1alpha1", plural, "shop", "web")
