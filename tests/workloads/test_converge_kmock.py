"""Workloads.converge / observe with the real kubernetes client against an emulated cluster (kmock).

kmock runs no controllers: the tests play the Deployment/StatefulSet/Flux controllers with ``patch_status``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from failover_operator.workloads import KubeClient, ResourceRef, Role, Workloads
from failover_operator.workloads import annotations as ann
from harness.cluster import kubernetes_api_client
from harness.counting_kube import CountingKube
from harness.emulator import EmulatedCluster

NS = "shop"
GROUP = "shop/web"
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
HOST = "web.example.com"

REFS = [
    ResourceRef("Deployment", "web"),
    ResourceRef("StatefulSet", "db"),
    ResourceRef("CronJob", "report"),
    ResourceRef("Ingress", "web"),
    ResourceRef("HelmRelease", "app", trigger_reconcile=True),
]


def meta(name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"name": name, "namespace": NS, "annotations": dict(annotations or {"team": "shop"})}


def objects() -> list[dict[str, Any]]:
    template = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta("web"),
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "x"}}, "template": template},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta("db"),
            "spec": {
                "replicas": 2,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "x"}},
                "template": template,
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": meta("report"),
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {}}},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": meta("web", {"team": "shop", ann.EXTERNAL_DNS_HOSTNAME: HOST}),
            "spec": {"rules": [{"host": HOST}]},
        },
        {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": meta("app"),
            "spec": {"interval": "5m", "chart": {"spec": {"chart": "app"}}},
        },
    ]


API = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "CronJob": "batch/v1"}
API |= {"Ingress": "networking.k8s.io/v1", "HelmRelease": "helm.toolkit.fluxcd.io/v2"}


async def read(cluster: EmulatedCluster, kind: str, name: str) -> dict[str, Any]:
    return await cluster.get(API[kind], kind, NS, name)


async def play_controllers(cluster: EmulatedCluster, *, ready: bool = True) -> None:
    """What the controllers would write: pods match spec.replicas (all ready, or none), Flux Ready."""
    for kind, name in (("Deployment", "web"), ("StatefulSet", "db")):
        obj = await read(cluster, kind, name)
        n = obj["spec"].get("replicas", 1)
        status = {
            "replicas": n,
            "readyReplicas": n if ready else 0,
            "updatedReplicas": n,
            "observedGeneration": obj["metadata"]["generation"],
        }
        await cluster.patch_status(API[kind], kind, NS, name, status)
    hr = await read(cluster, "HelmRelease", "app")
    condition = {"type": "Ready", "status": "True", "reason": "UpgradeSucceeded", "message": ""}
    await cluster.patch_status(
        API["HelmRelease"],
        "HelmRelease",
        NS,
        "app",
        {"observedGeneration": hr["metadata"]["generation"], "conditions": [condition]},
    )


@pytest.fixture
async def shop(cluster: EmulatedCluster) -> EmulatedCluster:
    for obj in objects():
        await cluster.create(obj)
    await play_controllers(cluster)
    return cluster


@pytest.fixture
def workloads(kube: KubeClient) -> Workloads:
    return Workloads(kube, now=lambda: NOW)


def managed(role: str, epoch: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"team": "shop", ann.GROUP: GROUP, ann.EPOCH: str(epoch), ann.ROLE: role, **(extra or {})}


async def test_standby_primary_standby_round_trip(
    shop: EmulatedCluster, workloads: Workloads, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="failover_operator.workloads")

    # PRIMARY -> STANDBY: DNS first, then Flux, CronJobs, workloads last.
    result = await workloads.converge(NS, REFS, Role.STANDBY, group=GROUP, epoch=7)
    assert result.errors == []
    assert result.changed[:3] == ["Ingress/web", "HelmRelease/app", "CronJob/report"]
    assert set(result.changed[3:]) == {"Deployment/web", "StatefulSet/db"}
    assert "scaled Deployment shop/web 3 -> 0 (STANDBY, epoch 7)" in result.actions
    assert "scaled Deployment shop/web 3 -> 0 (STANDBY, epoch 7)" in caplog.messages

    web = await read(shop, "Deployment", "web")
    assert web["spec"]["replicas"] == 0
    assert web["metadata"]["annotations"] == managed("STANDBY", 7, {ann.REPLICAS: "3"})
    db = await read(shop, "StatefulSet", "db")
    assert (db["spec"]["replicas"], db["metadata"]["annotations"][ann.REPLICAS]) == (0, "2")
    cron = await read(shop, "CronJob", "report")
    assert cron["spec"]["suspend"] is True and cron["metadata"]["annotations"][ann.SUSPEND] == "false"
    ingress = await read(shop, "Ingress", "web")
    assert ingress["metadata"]["annotations"] == managed(
        "STANDBY", 7, {ann.DNS: "disabled", ann.STASHED_HOSTNAME: HOST}
    )
    hr = await read(shop, "HelmRelease", "app")
    assert hr["spec"]["suspend"] is True and ann.FLUX_RECONCILE_REQUESTED_AT not in hr["metadata"]["annotations"]

    again = await workloads.converge(NS, REFS, Role.STANDBY, group=GROUP, epoch=7)
    assert (again.changed, again.errors) == ([], [])  # idempotent: no write at all
    rv = shop.emulator.resource_version
    await workloads.converge(NS, REFS, Role.STANDBY, group=GROUP, epoch=7)
    assert shop.emulator.resource_version == rv

    # The pods are still there until the controllers catch up: demotion not confirmed yet.
    seen = await workloads.observe(NS, REFS, Role.STANDBY)
    assert not seen.all_down and seen.health == "DEGRADED"
    assert seen.components["Deployment/web"]["message"] == "scaling down (3 pods left)"
    await play_controllers(shop)
    seen = await workloads.observe(NS, REFS, Role.STANDBY)
    assert (seen.health, seen.message, seen.all_down, seen.all_ready) == ("OK", "all 5 resources OK", True, False)
    assert seen.components["Deployment/web"] == {
        "desired": 0,
        "ready": 0,
        "replicas": 0,
        "updated": 0,
        "recordedReplicas": 3,
        "managedRole": "STANDBY",
        "health": "OK",
        "message": "scaled down",
    }
    assert seen.components["CronJob/report"]["suspended"] is True
    assert seen.components["Ingress/web"]["dns"] == "disabled"

    # STANDBY -> PRIMARY at the next epoch: workloads first, DNS last; Flux asked to reconcile once.
    result = await workloads.converge(NS, REFS, Role.PRIMARY, group=GROUP, epoch=8)
    assert result.errors == []
    assert set(result.changed[:2]) == {"Deployment/web", "StatefulSet/db"}
    assert result.changed[2:] == ["CronJob/report", "HelmRelease/app", "Ingress/web"]
    web = await read(shop, "Deployment", "web")
    assert web["spec"]["replicas"] == 3 and web["metadata"]["annotations"] == managed("PRIMARY", 8)
    assert (await read(shop, "StatefulSet", "db"))["spec"]["replicas"] == 2
    cron = await read(shop, "CronJob", "report")
    assert cron["spec"]["suspend"] is False and ann.SUSPEND not in cron["metadata"]["annotations"]
    ingress = await read(shop, "Ingress", "web")
    assert ingress["metadata"]["annotations"] == managed(
        "PRIMARY", 8, {ann.DNS: "enabled", ann.EXTERNAL_DNS_HOSTNAME: HOST}
    )
    hr = await read(shop, "HelmRelease", "app")
    assert hr["spec"]["suspend"] is False
    assert hr["metadata"]["annotations"][ann.FLUX_RECONCILE_REQUESTED_AT] == NOW.isoformat()

    later = Workloads(workloads.kube, now=lambda: datetime(2027, 1, 1, tzinfo=UTC))
    again = await later.converge(NS, REFS, Role.PRIMARY, group=GROUP, epoch=8)
    assert (again.changed, again.errors) == ([], [])  # no new reconcile request on later ticks

    seen = await workloads.observe(NS, REFS, Role.PRIMARY)
    assert seen.health == "ERROR" and not seen.all_ready  # scaled up, no pod ready yet
    assert seen.message.startswith("Deployment/web: 0 of 3 ready")
    await play_controllers(shop)
    seen = await workloads.observe(NS, REFS, Role.PRIMARY)
    assert (seen.health, seen.all_ready, seen.all_down) == ("OK", True, False)
    assert seen.components["Deployment/web"]["message"] == "3 of 3 ready"

    # And back to STANDBY: the same counts are recorded again.
    result = await workloads.converge(NS, REFS, Role.STANDBY, group=GROUP, epoch=9)
    assert result.errors == [] and len(result.changed) == 5
    web = await read(shop, "Deployment", "web")
    assert web["spec"]["replicas"] == 0 and web["metadata"]["annotations"][ann.REPLICAS] == "3"
    assert (await read(shop, "HelmRelease", "app"))["spec"]["suspend"] is True


async def test_observe_primary_health_from_status_fields(shop: EmulatedCluster, workloads: Workloads) -> None:
    await workloads.converge(NS, REFS, Role.PRIMARY, group=GROUP, epoch=1)
    await play_controllers(shop)
    await shop.patch_status("apps/v1", "Deployment", NS, "web", {"readyReplicas": 1})
    seen = await workloads.observe(NS, REFS, Role.PRIMARY)
    assert (seen.health, seen.message) == ("DEGRADED", "Deployment/web: 1 of 3 ready")
    assert seen.components["Deployment/web"] == {
        "desired": 3,
        "ready": 1,
        "replicas": 3,
        "updated": 3,
        "managedRole": "PRIMARY",
        "health": "DEGRADED",
        "message": "1 of 3 ready",
    }
    assert not seen.all_ready

    await shop.patch_status("apps/v1", "StatefulSet", NS, "db", {"readyReplicas": 0})
    failed = {"type": "Ready", "status": "False", "reason": "UpgradeFailed", "message": "timeout"}
    await shop.patch_status("helm.toolkit.fluxcd.io/v2", "HelmRelease", NS, "app", {"conditions": [failed]})
    seen = await workloads.observe(NS, REFS, Role.PRIMARY)
    assert seen.health == "ERROR"
    assert seen.message == (
        "StatefulSet/db: 0 of 2 ready; Deployment/web: 1 of 3 ready; HelmRelease/app: not ready: UpgradeFailed: timeout"
    )


async def test_gitops_scaling_a_standby_back_up(shop: EmulatedCluster, workloads: Workloads) -> None:
    await workloads.converge(NS, REFS, Role.STANDBY, group=GROUP, epoch=3)
    await shop.patch("apps/v1", "Deployment", NS, "web", {"spec": {"replicas": 5}})  # a GitOps sync
    seen = await workloads.observe(NS, REFS, Role.STANDBY)
    assert seen.components["Deployment/web"]["health"] == "DEGRADED"
    assert seen.components["Deployment/web"]["message"].startswith("scaled up on a standby")

    result = await workloads.converge(NS, REFS, Role.STANDBY, group=GROUP, epoch=3)
    assert result.changed == ["Deployment/web"]
    web = await read(shop, "Deployment", "web")
    assert web["spec"]["replicas"] == 0 and web["metadata"]["annotations"][ann.REPLICAS] == "5"
    await workloads.converge(NS, REFS, Role.PRIMARY, group=GROUP, epoch=4)
    assert (await read(shop, "Deployment", "web"))["spec"]["replicas"] == 5


async def test_missing_resource_is_reported_and_the_others_converge(
    shop: EmulatedCluster, workloads: Workloads
) -> None:
    refs: list[Any] = [ResourceRef("Deployment", "ghost"), *REFS, SimpleNamespace(kind="Pod", name="p")]
    result = await workloads.converge(NS, refs, Role.STANDBY, group=GROUP, epoch=2)
    assert result.errors[0].startswith("Pod/p: unknown kind 'Pod'")
    assert "Deployment shop/ghost not found" in result.errors and len(result.errors) == 2
    assert len(result.changed) == 5 and not result.ok
    assert (await read(shop, "Deployment", "web"))["spec"]["replicas"] == 0

    await play_controllers(shop)
    seen = await workloads.observe(NS, refs, Role.STANDBY)
    assert seen.components["Deployment/ghost"] == {"missing": True, "health": "DEGRADED", "message": "not found"}
    assert seen.components["Pod/p"]["health"] == "ERROR"
    assert seen.health == "ERROR"
    assert seen.message.startswith("Pod/p: unknown kind 'Pod'") and "Deployment/ghost: not found" in seen.message
    assert seen.all_down  # a missing Deployment runs no pods

    seen = await workloads.observe(NS, [ResourceRef("Deployment", "ghost"), *REFS], Role.STANDBY)
    assert (seen.health, seen.message) == ("DEGRADED", "Deployment/ghost: not found")


async def test_api_faults_are_errors_not_exceptions(shop: EmulatedCluster, workloads: Workloads) -> None:
    shop.emulator.add_fault(verb="patch", plural="deployments", name="web")  # once: 500 InternalError
    result = await workloads.converge(NS, REFS, Role.STANDBY, group=GROUP, epoch=5)
    assert result.errors == ["patching Deployment shop/web: 500 InternalError: injected fault"]
    assert "Deployment/web" not in result.changed and len(result.changed) == 4
    assert (await read(shop, "Deployment", "web"))["spec"]["replicas"] == 3  # the fault came before any change
    assert (await read(shop, "StatefulSet", "db"))["spec"]["replicas"] == 0

    result = await workloads.converge(NS, REFS, Role.STANDBY, group=GROUP, epoch=5)  # the next tick
    assert (result.changed, result.errors) == (["Deployment/web"], [])

    shop.emulator.add_fault(verb="get", plural="statefulsets", status=503, reason="ServiceUnavailable", times=None)
    seen = await workloads.observe(NS, REFS, Role.STANDBY)
    assert seen.components["StatefulSet/db"] == {
        "error": "reading StatefulSet shop/db: 503 ServiceUnavailable: injected fault",
        "health": "UNKNOWN",
        "message": "reading StatefulSet shop/db: 503 ServiceUnavailable: injected fault",
    }
    assert seen.health == "UNKNOWN" and not seen.all_down  # not knowing is neither failing nor down
    shop.emulator.clear_faults()


async def test_an_object_converged_for_a_later_epoch_is_never_scaled_up_for_an_earlier_one(
    shop: EmulatedCluster, workloads: Workloads
) -> None:
    """The epoch on the object is the fencing token where the action happens."""
    web = [ResourceRef("Deployment", "web")]
    await workloads.converge(NS, web, Role.STANDBY, group=GROUP, epoch=7)
    result = await workloads.converge(NS, web, Role.PRIMARY, group=GROUP, epoch=6)
    assert result.errors == ["refusing to make Deployment shop/web PRIMARY for epoch 6: it was converged at epoch 7"]
    assert (await read(shop, "Deployment", "web"))["spec"]["replicas"] == 0
    assert (await workloads.converge(NS, web, Role.FENCED, group=GROUP, epoch=6)).errors == []  # down is always safe
    assert (await read(shop, "Deployment", "web"))["metadata"]["annotations"]["failover.dev/role"] == "FENCED"
    result = await workloads.converge(NS, web, Role.PRIMARY, group=GROUP, epoch=8)
    assert result.errors == [] and (await read(shop, "Deployment", "web"))["spec"]["replicas"] == 3


async def test_conflicts_are_retried_with_a_fresh_read(shop: EmulatedCluster, workloads: Workloads) -> None:
    shop.emulator.add_fault(verb="patch", name="web", plural="deployments", status=409, reason="Conflict", times=2)
    result = await workloads.converge(NS, [ResourceRef("Deployment", "web")], Role.STANDBY, group=GROUP, epoch=1)
    assert (result.changed, result.errors) == (["Deployment/web"], [])

    shop.emulator.add_fault(verb="patch", name="db", status=409, reason="Conflict", times=None)
    result = await workloads.converge(NS, [ResourceRef("StatefulSet", "db")], Role.STANDBY, group=GROUP, epoch=1)
    assert result.changed == [] and result.errors[0].startswith("patching StatefulSet shop/db: 409 Conflict")
    shop.emulator.clear_faults()


async def test_a_patch_is_conditioned_on_the_version_read(shop: EmulatedCluster) -> None:
    """If the object changes between our read and our patch, the patch is refused and decided again."""

    class RacingKube(KubeClient):
        raced = False

        async def patch(self, kind: Any, namespace: str, name: str, patch: Any) -> dict[str, Any]:
            if not RacingKube.raced:  # GitOps scales the Deployment right after we read it
                RacingKube.raced = True
                await shop.patch("apps/v1", "Deployment", NS, "web", {"spec": {"replicas": 6}})
            return await super().patch(kind, namespace, name, patch)

    racing = RacingKube(kubernetes_api_client(shop.url))
    result = await Workloads(racing).converge(
        NS, [ResourceRef("Deployment", "web")], Role.STANDBY, group=GROUP, epoch=1
    )
    racing.close()
    assert result.errors == []
    web = await read(shop, "Deployment", "web")
    assert web["spec"]["replicas"] == 0 and web["metadata"]["annotations"][ann.REPLICAS] == "6"  # not a stale "3"


async def test_bounded_parallelism(cluster: EmulatedCluster) -> None:
    names = [f"w{i}" for i in range(12)]
    for name in names:
        await cluster.create(
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(name), "spec": {"replicas": 2}}
        )

    class InFlightKube(KubeClient):
        in_flight = 0
        most = 0

        async def _call(self, *args: Any, **kwargs: Any) -> Any:
            InFlightKube.in_flight += 1
            InFlightKube.most = max(InFlightKube.most, InFlightKube.in_flight)
            try:
                return await super()._call(*args, **kwargs)
            finally:
                InFlightKube.in_flight -= 1

    counting = InFlightKube(kubernetes_api_client(cluster.url), workers=8)
    refs = [ResourceRef("Deployment", n) for n in names]
    result = await Workloads(counting, concurrency=3).converge(NS, refs, Role.STANDBY, group=GROUP, epoch=1)
    assert sorted(result.changed) == sorted(f"Deployment/{n}" for n in names) and result.errors == []
    assert InFlightKube.most == 3  # in parallel, but never more than `concurrency` requests at once
    seen = await Workloads(counting, concurrency=3).observe(NS, refs, Role.STANDBY)
    counting.close()
    assert len(seen.components) == 12


async def test_an_observation_right_after_a_converge_reads_nothing_again(shop: EmulatedCluster) -> None:
    """What converging read (or the API server stored for its patch) is what the observation grades: one read
    per resource per tick. The grade is the same as a fresh read's."""

    counting = CountingKube(kubernetes_api_client(shop.url), workers=4)
    workloads = Workloads(counting, now=lambda: NOW)
    try:
        result = await workloads.converge(NS, REFS, Role.STANDBY, group=GROUP, epoch=3)
        assert sorted(result.objects) == sorted(f"{r.kind}/{r.name}" for r in REFS)
        assert result.objects["Deployment/web"]["spec"]["replicas"] == 0  # as stored after the scale-down
        counting.gets = 0
        graded = await workloads.observe(NS, REFS, Role.STANDBY, known=result.objects)
        assert counting.gets == 0
        fresh = await workloads.observe(NS, REFS, Role.STANDBY)
        assert counting.gets == len(REFS)
        assert graded == fresh
    finally:
        counting.close()


async def test_a_quiet_tick_keeps_its_observation_until_an_object_changes(
    shop: EmulatedCluster, workloads: Workloads
) -> None:
    """Grading is pure: the very objects read before (their resourceVersions) graded for the same role give the
    previous observation itself, graded nothing again. A status update of one object, another role, or an
    object that cannot be compared (missing) grades afresh."""
    await workloads.converge(NS, REFS, Role.PRIMARY, group=GROUP, epoch=1)
    await play_controllers(shop)
    first = await workloads.observe(NS, REFS, Role.PRIMARY)
    assert first.health == "OK" and first.graded is not None
    assert await workloads.observe(NS, REFS, Role.PRIMARY, previous=first) is first

    as_standby = await workloads.observe(NS, REFS, Role.STANDBY, previous=first)
    assert as_standby is not first and as_standby.health != first.health  # scaled up on a standby

    await shop.patch_status("apps/v1", "Deployment", NS, "web", {"readyReplicas": 1})  # no spec change
    changed = await workloads.observe(NS, REFS, Role.PRIMARY, previous=first)
    assert changed is not first
    assert (changed.health, changed.message) == ("DEGRADED", "Deployment/web: 1 of 3 ready")
    assert changed == await workloads.observe(NS, REFS, Role.PRIMARY)  # as a fresh grading says
    assert await workloads.observe(NS, REFS, Role.PRIMARY, previous=changed) is changed

    with_ghost = [ResourceRef("Deployment", "ghost"), *REFS]
    missing = await workloads.observe(NS, with_ghost, Role.PRIMARY, previous=changed)
    assert missing.graded is None and missing.components["Deployment/ghost"]["missing"] is True
    assert await workloads.observe(NS, with_ghost, Role.PRIMARY, previous=missing) is not missing
