"""What a real API server does that the emulator did not, and how the operator answers it: a plain-text 404 for a
resource type that is not installed, and a 429 on the first list after a CRD is created."""

from __future__ import annotations

import logging

import pytest

from failover_operator.logs import KopfRetries
from failover_operator.workloads import KubeClient, KubeError
from harness.apiserver import RealCluster, our_crds, third_party_crds
from harness.cluster import eventually
from harness.fleet import running_fleet

from ..e2e.helpers import status_of
from ..e2e.manifests import deployment, group

HELMRELEASES = "helmreleases.helm.toolkit.fluxcd.io"
NOT_SERVED = (
    "reading HelmRelease shop/web: the API server does not serve helmreleases.helm.toolkit.fluxcd.io/v2 (404): "
    "is the resource type installed in this cluster?"
)


def without_flux(cluster: RealCluster) -> None:
    for crd in third_party_crds():
        cluster.delete_crd(crd["metadata"]["name"])
    assert HELMRELEASES not in cluster.crd_names()


async def test_a_kind_that_is_not_installed_is_one_clear_line(apiservers) -> None:
    east = apiservers("east")["east"]
    without_flux(east)
    with pytest.raises(Exception) as plain:  # what the server itself answers: plain text, not a Status
        await east.request("GET", "/apis/helm.toolkit.fluxcd.io/v2/namespaces/shop/helmreleases/web")
    assert plain.value.status == 404 and plain.value.body == "404 page not found\n"
    async with KubeClient(east.api_client()) as kube:
        with pytest.raises(KubeError) as err:
            await kube.get("HelmRelease", "shop", "web")
    assert err.value.status == 404 and str(err.value) == NOT_SERVED


async def test_a_missing_kind_is_reported_once_and_a_new_crd_is_no_error(
    moto_endpoint, table, apiservers, caplog
) -> None:
    """The group lists a HelmRelease in a cluster without Flux, and the CRDs are created as the operator starts
    (so its first lists may meet a 429 "storage is (re)initializing"): a clear status message, one WARNING for
    the missing kind however many ticks pass, and no ERROR at all."""
    bare = apiservers("bare")["bare"]
    without_flux(bare)
    for crd in our_crds():
        bare.delete_crd(crd["metadata"]["name"])
    caplog.handler.addFilter(KopfRetries())  # what `failover-operator run` installs on its log handler
    caplog.set_level(logging.INFO)
    for crd in our_crds():
        bare.apply_sync(crd)  # and do not wait: the operator starts at once
    async with running_fleet(moto_endpoint, table, "bare", clusters={"bare": bare}) as fleet:
        member = fleet["bare"]
        await member.apply(deployment(replicas=1))
        await member.apply(group(initialPrimary="bare", fluxResources=[{"kind": "HelmRelease", "name": "web"}]))

        async def reported() -> bool:
            status = await status_of(member)
            assert NOT_SERVED in (status.get("message") or ""), status.get("message")
            return True

        await eventually(reported, within=15)
        seq = (await member.store.state.get_cluster_status("shop", "web", "bare")).liveness_seq

        async def ticked_on() -> bool:  # many ticks (200ms each) with the kind still missing
            now = (await member.store.state.get_cluster_status("shop", "web", "bare")).liveness_seq
            assert now >= seq + 10
            return True

        await eventually(ticked_on, within=15)
    records = [r for r in caplog.records if r.name.startswith(("kopf", "failover_operator"))]
    errors = [r.getMessage() for r in records if r.levelno >= logging.ERROR]
    assert not errors, errors
    missing = [r for r in records if r.levelno == logging.WARNING and "HelmRelease" in r.getMessage()]
    assert len(missing) == 1, [r.getMessage() for r in missing]
    assert "\n" not in missing[0].getMessage() and "404 404" not in missing[0].getMessage()
