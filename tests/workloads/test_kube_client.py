"""KubeClient against the emulated API (the real kubernetes client underneath), and the ApiClient factories."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp.web
import kubernetes.client
import pytest
import yaml

from failover_operator.workloads import (
    KINDS,
    KubeClient,
    KubeError,
    UnknownKindError,
    api_client_from_environment,
)
from failover_operator.workloads.kinds import FAILOVER_GROUP, any_kind, managed_kind
from harness.cluster import kubernetes_api_client
from harness.emulator import EmulatedCluster, running_cluster
from harness.resources import DEFAULT_RESOURCES, ResourceSpec


def deployment(name: str = "web", namespace: str = "shop", replicas: int = 3) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "annotations": {"team": "shop"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": {}},
    }


def virtual_service(name: str = "web", namespace: str = "shop") -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"hosts": ["web.example.com"]},
    }


# -------------------------------------------------------------------------------------------------------------
# kinds
# -------------------------------------------------------------------------------------------------------------


def test_kinds_and_paths() -> None:
    assert set(KINDS) == {
        "Deployment",
        "StatefulSet",
        "CronJob",
        "Ingress",
        "VirtualService",
        "HelmRelease",
        "Kustomization",
    }
    assert {k.category for k in KINDS.values()} == {"workload", "network", "flux"}
    deploy = managed_kind("Deployment")
    assert deploy.api_version == "apps/v1" and deploy.scalable
    assert deploy.path("shop", "web") == "/apis/apps/v1/namespaces/shop/deployments/web"
    assert deploy.path("shop", "web", "status") == "/apis/apps/v1/namespaces/shop/deployments/web/status"
    assert deploy.path("shop") == "/apis/apps/v1/namespaces/shop/deployments"
    assert managed_kind("helmrelease").path("a", "b") == "/apis/helm.toolkit.fluxcd.io/v2/namespaces/a/helmreleases/b"
    assert managed_kind("Kustomization").api_version == "kustomize.toolkit.fluxcd.io/v1"
    assert managed_kind("VirtualService").api_version == "networking.istio.io/v1beta1"
    assert not managed_kind("CronJob").scalable
    assert any_kind("FailoverGroup") is FAILOVER_GROUP
    assert FAILOVER_GROUP.path("shop", "web", "status") == (
        "/apis/failover.dev/v1alpha1/namespaces/shop/failovergroups/web/status"
    )
    with pytest.raises(UnknownKindError, match="unknown kind 'FailoverGroup'"):
        managed_kind("FailoverGroup")  # not something a FailoverGroup lists
    with pytest.raises(ValueError):
        deploy.path("shop", None, "status")


async def test_kinds_match_the_harness_discovery(cluster: EmulatedCluster) -> None:
    """Our coordinates agree with what the emulated API serves (its resource list mirrors the real ones)."""
    for kind in [*KINDS.values(), FAILOVER_GROUP]:
        resource = cluster.emulator.find_resource(kind.api_version, kind.kind)
        assert (resource.group, resource.version, resource.plural) == (kind.group, kind.version, kind.plural)


# -------------------------------------------------------------------------------------------------------------
# get / patch / patch_status
# -------------------------------------------------------------------------------------------------------------


async def test_get_patch_and_status(cluster: EmulatedCluster, kube: KubeClient) -> None:
    assert await kube.get("Deployment", "shop", "web") is None
    created = await cluster.create(deployment())
    got = await kube.get("Deployment", "shop", "web")
    assert got == created

    patched = await kube.patch(
        "Deployment", "shop", "web", {"spec": {"replicas": 0}, "metadata": {"annotations": {"team": None, "x": "1"}}}
    )
    assert patched["spec"]["replicas"] == 0
    assert patched["metadata"]["annotations"] == {"x": "1"}  # merge patch: null deletes, others merge
    assert patched["spec"]["selector"] == created["spec"]["selector"]

    with_status = await kube.patch_status("Deployment", "shop", "web", {"replicas": 3, "readyReplicas": 2})
    assert with_status["status"] == {"replicas": 3, "readyReplicas": 2} and with_status["spec"]["replicas"] == 0
    await kube.patch_status("Deployment", "shop", "web", {"readyReplicas": None})
    assert (await cluster.get("apps/v1", "Deployment", "shop", "web"))["status"] == {"replicas": 3}


async def test_custom_resources_take_the_same_merge_patch(cluster: EmulatedCluster, kube: KubeClient) -> None:
    """Custom resources refuse strategic merge (415): a merge patch works for them and built-ins alike."""
    await cluster.create(virtual_service())
    patched = await kube.patch("VirtualService", "shop", "web", {"metadata": {"annotations": {"a": "b"}}})
    assert patched["metadata"]["annotations"] == {"a": "b"} and patched["spec"]["hosts"] == ["web.example.com"]

    fg = {
        "apiVersion": "failover.dev/v1alpha1",
        "kind": "FailoverGroup",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"resources": [{"kind": "Deployment", "name": "web"}]},
    }
    await cluster.create(fg)
    after = await kube.patch_status("FailoverGroup", "shop", "web", {"health": "OK", "components": {"a": {}}})
    assert after["status"] == {"health": "OK", "components": {"a": {}}}
    assert (await kube.get(FAILOVER_GROUP, "shop", "web"))["status"]["health"] == "OK"  # type: ignore[index]


async def test_resource_version_is_a_precondition(cluster: EmulatedCluster, kube: KubeClient) -> None:
    created = await cluster.create(deployment())
    await cluster.patch("apps/v1", "Deployment", "shop", "web", {"spec": {"replicas": 5}})
    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}, "spec": {"replicas": 0}}
    with pytest.raises(KubeError) as err:
        await kube.patch("Deployment", "shop", "web", stale)
    assert err.value.status == 409 and err.value.conflict
    assert (await cluster.get("apps/v1", "Deployment", "shop", "web"))["spec"]["replicas"] == 5


async def test_api_errors_are_kube_errors(cluster: EmulatedCluster, kube: KubeClient) -> None:
    await cluster.create(deployment())
    cluster.emulator.add_fault(verb="get", plural="deployments", status=503, reason="ServiceUnavailable")
    with pytest.raises(KubeError) as err:
        await kube.get("Deployment", "shop", "web")
    assert (err.value.status, err.value.reason) == (503, "ServiceUnavailable")
    assert str(err.value) == "reading Deployment shop/web: 503 ServiceUnavailable: injected fault"
    assert not isinstance(err.value, kubernetes.client.ApiException)

    cluster.emulator.add_fault(verb="patch", name="web", subresource="status", status=422, reason="Invalid")
    with pytest.raises(KubeError, match=r"^patching the status of Deployment shop/web: 422 Invalid"):
        await kube.patch_status("Deployment", "shop", "web", {"replicas": 1})

    with pytest.raises(KubeError) as err:
        await kube.patch("Deployment", "shop", "missing", {"spec": {"replicas": 1}})
    assert err.value.not_found and 'deployments.apps "missing" not found' in str(err.value)


async def test_an_unserved_resource_type_is_an_error_not_a_missing_object() -> None:
    """A 404 for the type (the CRD is not installed) must not read as "this object does not exist"."""
    without_istio: list[ResourceSpec] = [r for r in DEFAULT_RESOURCES if r.kind != "VirtualService"]
    async with running_cluster("no-istio", resources=without_istio) as cluster:
        kube = KubeClient(kubernetes_api_client(cluster.url))
        with pytest.raises(KubeError) as err:
            await kube.get("VirtualService", "shop", "web")
        kube.close()
    assert err.value.status == 404 and "is the resource type installed" in str(err.value)


async def test_unreachable_api_server_is_status_0() -> None:
    async with KubeClient(kubernetes_api_client("http://127.0.0.1:9"), timeout=1) as kube:
        with pytest.raises(KubeError) as err:
            await kube.get("Deployment", "shop", "web")
    assert err.value.status == 0 and err.value.reason == "Unreachable"
    assert str(err.value).startswith("reading Deployment shop/web: cannot reach the API server")


# -------------------------------------------------------------------------------------------------------------
# What goes over the wire, and the event loop never blocks
# -------------------------------------------------------------------------------------------------------------


class Recorder:
    """A tiny HTTP server that records requests; ``hang`` makes it never answer."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.hang = False
        self.answer: aiohttp.web.Response | None = None

    async def handle(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        body = await request.read()
        self.requests.append((request.method, request.path, dict(request.headers), json.loads(body) if body else None))
        if self.hang:
            await asyncio.sleep(30)
        if self.answer is not None:
            return self.answer
        return aiohttp.web.json_response({"kind": "Deployment", "metadata": {"name": "web"}})


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[Recorder, str]]:
    rec = Recorder()
    app = aiohttp.web.Application()
    app.router.add_route("*", "/{tail:.*}", rec.handle)
    runner = aiohttp.web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield rec, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_wire_format(recorder: tuple[Recorder, str]) -> None:
    rec, url = recorder
    async with KubeClient(kubernetes_api_client(url)) as kube:
        await kube.patch("HelmRelease", "shop", "app", {"spec": {"suspend": True}})
        await kube.patch_status("Deployment", "shop", "web", {"replicas": 0})
        await kube.get("Ingress", "shop", "web")
    (m1, p1, h1, b1), (m2, p2, h2, b2), (m3, p3, h3, b3) = rec.requests
    assert (m1, p1, b1) == (
        "PATCH",
        "/apis/helm.toolkit.fluxcd.io/v2/namespaces/shop/helmreleases/app",
        {"spec": {"suspend": True}},
    )
    assert h1["Content-Type"] == "application/merge-patch+json" and h1["Accept"] == "application/json"
    assert (m2, p2, b2) == (
        "PATCH",
        "/apis/apps/v1/namespaces/shop/deployments/web/status",
        {"status": {"replicas": 0}},
    )
    assert h2["Content-Type"] == "application/merge-patch+json"
    assert (m3, p3, b3) == ("GET", "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web", None)
    assert "Authorization" not in h3


async def test_a_plain_text_error_is_one_line(recorder: tuple[Recorder, str]) -> None:
    """Proxies and load balancers answer in plain text, over several lines."""
    rec, url = recorder
    rec.answer = aiohttp.web.Response(status=502, text="upstream connect error\n  or disconnect\n")
    async with KubeClient(kubernetes_api_client(url)) as kube:
        with pytest.raises(KubeError) as err:
            await kube.get("Deployment", "shop", "web")
    assert err.value.status == 502 and err.value.reason == "BadGateway"
    assert str(err.value) == "reading Deployment shop/web: 502 BadGateway: upstream connect error or disconnect"


async def test_requests_run_off_the_event_loop_and_time_out(recorder: tuple[Recorder, str]) -> None:
    rec, url = recorder
    rec.hang = True
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    try:
        async with KubeClient(kubernetes_api_client(url), timeout=0.1) as kube:
            with pytest.raises(KubeError) as err:
                await kube.get("Deployment", "shop", "web")
    finally:
        task.cancel()
    assert err.value.status == 0
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert ticks >= elapsed / 0.01 / 4  # the loop kept running while the request waited


# -------------------------------------------------------------------------------------------------------------
# ApiClient factories
# -------------------------------------------------------------------------------------------------------------


def kubeconfig(path: Path, servers: dict[str, str], current: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": n, "cluster": {"server": s}} for n, s in servers.items()],
                "users": [{"name": n, "user": {"token": f"token-{n}"}} for n in servers],
                "contexts": [{"name": n, "context": {"cluster": n, "user": n}} for n in servers],
                "current-context": current,
            }
        )
    )
    return path


async def test_from_kubeconfig(cluster: EmulatedCluster, tmp_path: Path) -> None:
    before = kubernetes.client.Configuration._default
    path = kubeconfig(tmp_path / "config", {"east": cluster.url, "west": "http://127.0.0.1:9"}, "west")

    api = api_client_from_environment(environ={"KUBECONFIG": str(path)}, context="east")
    assert api.configuration.host == cluster.url
    assert api.configuration.api_key["BearerToken"] == "Bearer token-east"
    await cluster.create(deployment())
    async with KubeClient(api) as kube:
        assert (await kube.get("Deployment", "shop", "web")) is not None

    current = api_client_from_environment(environ={"KUBECONFIG": f"{tmp_path / 'absent'}:{path}"})
    assert current.configuration.host == "http://127.0.0.1:9"  # the current context; a KUBECONFIG path list
    current.close()
    assert kubernetes.client.Configuration._default is before  # never the client's global default


async def test_from_kubeconfig_headers(recorder: tuple[Recorder, str], tmp_path: Path) -> None:
    rec, url = recorder
    path = kubeconfig(tmp_path / "config", {"east": url}, "east")
    async with KubeClient(api_client_from_environment(environ={"KUBECONFIG": str(path)})) as kube:
        await kube.get("Deployment", "shop", "web")
    assert rec.requests[0][2]["Authorization"] == "Bearer token-east"


def test_in_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes.config import incluster_config

    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("sa-token")
    ca.write_text("-----BEGIN CERTIFICATE-----\n...\n")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca))
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443", "KUBECONFIG": "/nonexistent"}
    api = api_client_from_environment(environ=env, max_connections=32)
    try:
        config = api.configuration
        assert config.host == "https://10.96.0.1:443" and config.ssl_ca_cert == str(ca)
        assert config.api_key["BearerToken"] == "bearer sa-token"
        assert config.refresh_api_key_hook is not None  # the rotating token is re-read
        assert config.connection_pool_maxsize >= 32
    finally:
        api.close()


def test_needs_the_v7_generated_client() -> None:
    class Legacy:
        pass

    with pytest.raises(TypeError, match="kubernetes >= 37"):
        KubeClient(Legacy())  # type: ignore[arg-type]
