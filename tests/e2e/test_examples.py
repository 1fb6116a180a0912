"""deploy/examples work as they are: applied with the real kubectl to two real API servers, each with the real
operator, the group comes up (east serves the Deployment, west keeps it at zero, both healthy), and the Failover
moves it to west -- waited for as the README says, with `kubectl wait --for=condition=Complete`."""

from __future__ import annotations

import yaml

from ..ship.tools import ROOT
from .helpers import failover_status, kubectl, settle

EXAMPLES = ROOT / "deploy" / "examples"


def example_replicas() -> int:
    docs = [d for d in yaml.safe_load_all((EXAMPLES / "failovergroup.yaml").read_text()) if d]
    (deployment,) = (d for d in docs if d["kind"] == "Deployment")
    return int(deployment["metadata"]["annotations"]["failover.dev/replicas"])


async def test_the_examples_bring_a_group_up_and_move_it(fleet_of) -> None:
    replicas = example_replicas()
    async with fleet_of("east", "west") as fleet:
        east, west = fleet["east"], fleet["west"]
        for member in (east, west):
            done = await kubectl(member.cluster, "apply", "-f", str(EXAMPLES / "failovergroup.yaml"))
            assert done.returncode == 0, done.stderr
        # initialPrimary: east. Its heartbeat interval is 5s, so this takes a few of them.
        await settle(fleet, "east", replicas=replicas, epoch=1, within=60)

        done = await kubectl(west.cluster, "apply", "-f", str(EXAMPLES / "failover.yaml"))
        assert done.returncode == 0, done.stderr
        waited = await kubectl(
            west.cluster, "wait", "--for=condition=Complete", "--timeout=90s", "-n", "shop", "failover/web-to-west"
        )
        assert waited.returncode == 0, waited.stderr
        assert waited.stdout.strip() == "failover.failover.dev/web-to-west condition met", waited.stdout
        status = await failover_status(west, "web-to-west")
        assert status["phase"] == "Succeeded", status.get("message")
        await settle(fleet, "west", replicas=replicas, epoch=2, within=30)
