"""The emulated API server (harness.emulator) behaves like a real one where tests can notice, and kopf runs on it."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import kopf
import pytest
import pytest_asyncio

from harness import manifests
from harness.cluster import KubeApiError, eventually, kubernetes_api_client
from harness.emulator import EmulatedCluster, running_cluster, running_clusters, start_cluster
from harness.kopf_runner import KOPF_FINALIZER, run_kopf

pytestmark = pytest.mark.asyncio

FG_API = "failover.dev/v1alpha1"


def deployment() -> dict[str, Any]:
    return manifests.deployment(namespace="apps", replicas=2)


def failover_group(name: str = "fg1", namespace: str = "apps") -> dict[str, Any]:
    return {
        "apiVersion": FG_API,
        "kind": "FailoverGroup",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"members": ["web"], "primary": "east"},
    }


@pytest_asyncio.fixture
async def cluster() -> AsyncIterator[EmulatedCluster]:
    async with running_cluster("test") as c:
        yield c


async def read_events(response: aiohttp.ClientResponse, count: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(2):
        while len(events) < count:
            line = await response.content.readline()
            assert line, "the watch stream ended early"
            if line.strip():
                events.append(json.loads(line))
    return events


# -------------------------------------------------------------------------------------------------------------
# (a) built-in objects over plain HTTP
# -------------------------------------------------------------------------------------------------------------


async def test_deployment_lifecycle(cluster: EmulatedCluster) -> None:
    url = cluster.url + cluster.path("apps/v1", "Deployment", "apps")
    async with cluster.session.post(url, json=deployment()) as response:
        assert response.status == 201
        created = await response.json()
    meta = created["metadata"]
    assert created["apiVersion"] == "apps/v1" and created["kind"] == "Deployment"
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert meta["generation"] == 1 and meta["namespace"] == "apps"
    rv0 = int(meta["resourceVersion"])

    fetched = await cluster.get("apps/v1", "deployments", "apps", "web")
    assert fetched == created

    scaled = await cluster.patch("apps/v1", "deploy", "apps", "web", {"spec": {"replicas": 5}})
    assert int(scaled["metadata"]["resourceVersion"]) > rv0
    assert scaled["metadata"]["generation"] == 2 and scaled["spec"]["replicas"] == 5
    assert scaled["metadata"]["uid"] == meta["uid"]

    labelled = await cluster.patch(
        "apps/v1", "Deployment", "apps", "web", {"metadata": {"labels": {"tier": "front"}}}, patch_type="strategic"
    )
    assert int(labelled["metadata"]["resourceVersion"]) > int(scaled["metadata"]["resourceVersion"])
    assert labelled["metadata"]["generation"] == 2  # metadata-only: no new generation
    assert labelled["metadata"]["labels"] == {"app": "web", "tier": "front"}

    noop = await cluster.patch("apps/v1", "Deployment", "apps", "web", {"spec": {"replicas": 5}})
    assert noop["metadata"]["resourceVersion"] == labelled["metadata"]["resourceVersion"]

    # Merge-patch null deletes; JSON patch with a stale `test` is 422 (kopf retries only on 422).
    unlabelled = await cluster.patch("apps/v1", "Deployment", "apps", "web", {"metadata": {"labels": {"tier": None}}})
    assert unlabelled["metadata"]["labels"] == {"app": "web"}
    with pytest.raises(KubeApiError) as err:
        await cluster.patch(
            "apps/v1",
            "Deployment",
            "apps",
            "web",
            [
                {"op": "test", "path": "/metadata/resourceVersion", "value": str(rv0)},
                {"op": "replace", "path": "/spec/replicas", "value": 1},
            ],
            patch_type="json",
        )
    assert err.value.status == 422
    current_rv = unlabelled["metadata"]["resourceVersion"]
    jsonpatched = await cluster.patch(
        "apps/v1",
        "Deployment",
        "apps",
        "web",
        [
            {"op": "test", "path": "/metadata/resourceVersion", "value": current_rv},
            {"op": "replace", "path": "/spec/replicas", "value": 1},
        ],
        patch_type="json",
    )
    assert jsonpatched["spec"]["replicas"] == 1

    # Optimistic concurrency on PUT; the scale subresource; a status written by "the controller".
    stale = copy.deepcopy(created)
    with pytest.raises(KubeApiError) as err:
        await cluster.replace(stale)
    assert err.value.status == 409
    scale = await cluster.get("apps/v1", "Deployment", "apps", "web", subresource="scale")
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1 and scale["status"]["selector"] == "app=web"
    await cluster.patch("apps/v1", "Deployment", "apps", "web", {"spec": {"replicas": 3}}, subresource="scale")
    await cluster.patch_status("apps/v1", "Deployment", "apps", "web", {"readyReplicas": 3})
    ready = await cluster.get("apps/v1", "Deployment", "apps", "web")
    assert ready["spec"]["replicas"] == 3 and ready["status"] == {"readyReplicas": 3}

    listing = await cluster.request("GET", cluster.path("apps/v1", "Deployment", "apps"))
    assert listing["apiVersion"] == "apps/v1" and listing["kind"] == "DeploymentList"
    assert [item["metadata"]["name"] for item in listing["items"]] == ["web"]
    assert int(listing["metadata"]["resourceVersion"]) >= int(ready["metadata"]["resourceVersion"])
    assert await cluster.list("apps/v1", "Deployment", label_selector="app in (web,api),tier!=x") != []
    assert await cluster.list("apps/v1", "Deployment", label_selector="app=api") == []
    assert await cluster.list("apps/v1", "Deployment", "other") == []

    with pytest.raises(KubeApiError) as err:
        await cluster.create(deployment())
    assert err.value.status == 409 and err.value.reason == "AlreadyExists"

    deleted = await cluster.delete("apps/v1", "Deployment", "apps", "web")
    assert deleted is not None and deleted["kind"] == "Status" and deleted["status"] == "Success"
    assert await cluster.get_or_none("apps/v1", "Deployment", "apps", "web") is None
    with pytest.raises(KubeApiError) as err:
        await cluster.get("apps/v1", "Deployment", "apps", "web")
    assert err.value.status == 404 and err.value.reason == "NotFound"
    assert not cluster.emulator.internal_errors


async def test_namespaces_and_discovery(cluster: EmulatedCluster) -> None:
    async with cluster.session.post(
        cluster.url + "/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}
    ) as response:
        assert response.status == 201
    namespace = await cluster.request("GET", "/api/v1/namespaces/apps")
    assert namespace["metadata"]["name"] == "apps" and "namespace" not in namespace["metadata"]
    assert namespace["status"]["phase"] == "Active"
    assert [ns["metadata"]["name"] for ns in await cluster.list("v1", "Namespace")] == ["apps"]

    core = await cluster.request("GET", "/api/v1")
    assert core["groupVersion"] == "v1"
    assert {"namespaces", "events"} <= {r["name"] for r in core["resources"]}
    groups = await cluster.request("GET", "/apis")
    assert {
        "apps",
        "failover.dev",
        "networking.istio.io",
        "helm.toolkit.fluxcd.io",
        "kustomize.toolkit.fluxcd.io",
        "events.k8s.io",
        "apiextensions.k8s.io",
    } <= {g["name"] for g in groups["groups"]}
    fo = await cluster.request("GET", "/apis/failover.dev/v1alpha1")
    by_name = {r["name"]: r for r in fo["resources"]}
    assert {"failovergroups", "failovergroups/status", "failovers", "failovers/status"} <= set(by_name)
    assert by_name["failovergroups"]["kind"] == "FailoverGroup"
    assert by_name["failovergroups"]["shortNames"] == ["fg"] and by_name["failovers"]["shortNames"] == ["fo"]
    assert by_name["failovergroups"]["namespaced"] is True and "watch" in by_name["failovergroups"]["verbs"]
    apps = await cluster.request("GET", "/apis/apps/v1")
    assert {"deployments", "deployments/scale", "statefulsets"} <= {r["name"] for r in apps["resources"]}

    with pytest.raises(KubeApiError) as err:
        await cluster.request("GET", "/apis/example.com/v1/namespaces/apps/widgets")
    assert err.value.status == 404

    # Installing a CRD makes its resource servable and discoverable (as kopf's resource observer expects).
    await cluster.create(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}}],
            },
        }
    )
    widget = await cluster.create(
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "apps"}}
    )
    assert widget["metadata"]["generation"] == 1
    discovered = await cluster.request("GET", "/apis/example.com/v1")
    assert {"widgets", "widgets/status"} == {r["name"] for r in discovered["resources"]}


# -------------------------------------------------------------------------------------------------------------
# (b) the status subresource, finalizers and watches
# -------------------------------------------------------------------------------------------------------------


async def test_failovergroup_status_subresource(cluster: EmulatedCluster) -> None:
    created = await cluster.create({**failover_group(), "status": {"phase": "Ignored"}})
    assert "status" not in created  # dropped on create, as with a real status subresource

    after_status = await cluster.patch_status(FG_API, "FailoverGroup", "apps", "fg1", {"phase": "Active"})
    assert after_status["status"] == {"phase": "Active"}
    assert after_status["spec"] == created["spec"] and after_status["metadata"]["generation"] == 1
    assert int(after_status["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])

    # Only .status changes through /status; .status is ignored through the main object.
    sneaky = await cluster.patch(
        FG_API,
        "fg",
        "apps",
        "fg1",
        {"spec": {"primary": "west"}, "metadata": {"labels": {"x": "y"}}, "status": {"phase": "Degraded"}},
        subresource="status",
    )
    assert sneaky["status"] == {"phase": "Degraded"}
    assert sneaky["spec"]["primary"] == "east" and "labels" not in sneaky["metadata"]
    main = await cluster.patch(FG_API, "fg", "apps", "fg1", {"spec": {"primary": "west"}, "status": {"phase": "X"}})
    assert main["spec"]["primary"] == "west" and main["status"] == {"phase": "Degraded"}
    assert main["metadata"]["generation"] == 2
    json_status = await cluster.patch(
        FG_API,
        "fg",
        "apps",
        "fg1",
        [
            {"op": "test", "path": "/metadata/resourceVersion", "value": main["metadata"]["resourceVersion"]},
            {"op": "add", "path": "/status/observedGeneration", "value": 2},
        ],
        patch_type="json",
        subresource="status",
    )
    assert json_status["status"] == {"phase": "Degraded", "observedGeneration": 2}

    with pytest.raises(KubeApiError) as err:  # custom resources do not support strategic merge
        await cluster.patch(FG_API, "fg", "apps", "fg1", {"spec": {"primary": "east"}}, patch_type="strategic")
    assert err.value.status == 415
    assert (await cluster.get(FG_API, "fg", "apps", "fg1", subresource="status"))["status"]["phase"] == "Degraded"


async def test_finalizers_and_watch_events(cluster: EmulatedCluster) -> None:
    path = cluster.path(FG_API, "FailoverGroup", "apps")
    first = await cluster.create({**failover_group("fg0")})
    since = first["metadata"]["resourceVersion"]
    params = {"watch": "true", "resourceVersion": since, "timeoutSeconds": "5"}
    async with cluster.session.get(cluster.url + path, params=params) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
        await cluster.wait_watched(FG_API, "FailoverGroup")

        obj = failover_group()
        obj["metadata"]["finalizers"] = ["example.com/hold"]
        await cluster.create(obj)
        deleting = await cluster.delete(FG_API, "FailoverGroup", "apps", "fg1")
        assert deleting is not None and deleting["metadata"]["deletionTimestamp"]
        assert (await cluster.get(FG_API, "FailoverGroup", "apps", "fg1"))["metadata"]["deletionTimestamp"]
        with pytest.raises(KubeApiError) as err:  # no new finalizers on a deleting object
            await cluster.patch(FG_API, "fg", "apps", "fg1", {"metadata": {"finalizers": ["a", "example.com/hold"]}})
        assert err.value.status == 422
        released = await cluster.patch(FG_API, "fg", "apps", "fg1", {"metadata": {"finalizers": None}})
        assert released["metadata"]["name"] == "fg1"
        assert await cluster.get_or_none(FG_API, "fg", "apps", "fg1") is None

        events = await read_events(response, 3)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "fg1"),
        ("MODIFIED", "fg1"),
        ("DELETED", "fg1"),
    ]  # not fg0: resumed after its version
    assert "deletionTimestamp" in events[1]["object"]["metadata"]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and len(set(versions)) == 3

    # Without a resourceVersion, a watch starts with the current objects; a compacted history answers 410.
    async with cluster.session.get(cluster.url + path, params={"watch": "true", "timeoutSeconds": "5"}) as response:
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in await read_events(response, 1)] == [
            ("ADDED", "fg0")
        ]
    cluster.emulator.compact_history()
    async with cluster.session.get(cluster.url + path, params={"watch": "true", "resourceVersion": since}) as response:
        [error] = await read_events(response, 1)
    assert error["type"] == "ERROR" and error["object"]["code"] == 410


async def test_faults_dry_run_and_generate_name(cluster: EmulatedCluster) -> None:
    cluster.emulator.add_fault(verb="create", plural="deployments", status=503, reason="ServiceUnavailable")
    with pytest.raises(KubeApiError) as err:
        await cluster.create(deployment())
    assert err.value.status == 503
    assert await cluster.list("apps/v1", "Deployment") == []  # the fault came before any state change
    dry = await cluster.create(deployment(), dry_run=True)
    assert dry["metadata"]["name"] == "web" and await cluster.list("apps/v1", "Deployment") == []
    event = await cluster.create(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": "kopf-event-"},
            "involvedObject": {"name": "x"},
        },
        namespace="apps",
    )
    assert event["metadata"]["name"].startswith("kopf-event-") and event["metadata"]["namespace"] == "apps"


# -------------------------------------------------------------------------------------------------------------
# (c) the official kubernetes client
# -------------------------------------------------------------------------------------------------------------


async def test_official_kubernetes_client(cluster: EmulatedCluster) -> None:
    import kubernetes.client

    with kubernetes_api_client(cluster.url) as api:
        apps_api: Any = kubernetes.client.AppsV1Api(api)  # Any: the typed models are not the point here
        custom: Any = kubernetes.client.CustomObjectsApi(api)

        created = await asyncio.to_thread(apps_api.create_namespaced_deployment, "apps", deployment())
        assert created is not None and created.metadata.uid  # 201 -> a model, not None
        read = await asyncio.to_thread(apps_api.read_namespaced_deployment, "web", "apps")
        assert read.spec.replicas == 2 and read.metadata.resource_version == created.metadata.resource_version
        patched = await asyncio.to_thread(
            apps_api.patch_namespaced_deployment, "web", "apps", {"spec": {"replicas": 4}}
        )  # sent as a strategic merge patch
        assert patched.spec.replicas == 4
        assert int(patched.metadata.resource_version) > int(read.metadata.resource_version)
        listed = await asyncio.to_thread(apps_api.list_namespaced_deployment, "apps", label_selector="app=web")
        assert [d.metadata.name for d in listed.items] == ["web"]

        fg = await asyncio.to_thread(
            custom.create_namespaced_custom_object,
            "failover.dev",
            "v1alpha1",
            "apps",
            "failovergroups",
            failover_group(),
        )
        assert fg["metadata"]["resourceVersion"]
        await asyncio.to_thread(
            custom.patch_namespaced_custom_object_status,
            "failover.dev",
            "v1alpha1",
            "apps",
            "failovergroups",
            "fg1",
            {"status": {"phase": "Active"}},
        )
        await asyncio.to_thread(
            custom.patch_namespaced_custom_object,
            "failover.dev",
            "v1alpha1",
            "apps",
            "failovergroups",
            "fg1",
            {"spec": {"primary": "west"}},
        )
        got = await asyncio.to_thread(
            custom.get_namespaced_custom_object, "failover.dev", "v1alpha1", "apps", "failovergroups", "fg1"
        )
        assert got["status"] == {"phase": "Active"} and got["spec"]["primary"] == "west"
        items = await asyncio.to_thread(custom.list_cluster_custom_object, "failover.dev", "v1alpha1", "failovergroups")
        assert [i["metadata"]["name"] for i in items["items"]] == ["fg1"]

        with pytest.raises(kubernetes.client.ApiException) as err:
            await asyncio.to_thread(apps_api.read_namespaced_deployment, "missing", "apps")
        assert err.value.status == 404
        await asyncio.to_thread(apps_api.delete_namespaced_deployment, "web", "apps")
    assert await cluster.get_or_none("apps/v1", "Deployment", "apps", "web") is None


# -------------------------------------------------------------------------------------------------------------
# (d) a real kopf operator
# -------------------------------------------------------------------------------------------------------------


def failover_registry(seen: list[tuple[str, str]], cluster_name: str = "") -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.create("failover.dev", "v1alpha1", "failovergroups", registry=registry)
    async def created(name: str, body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        seen.append(("create", name))
        kopf.info(body, reason="Created", message=f"Created in {cluster_name or 'the cluster'}")
        patch.status["phase"] = "Created"
        patch.status["cluster"] = cluster_name

    @kopf.timer("failover.dev", "v1alpha1", "failovergroups", interval=0.1, registry=registry)
    async def tick(name: str, status: kopf.Status, patch: kopf.Patch, **_: Any) -> None:
        seen.append(("tick", name))
        patch.status["ticks"] = int(status.get("ticks", 0)) + 1

    @kopf.on.delete("failover.dev", "v1alpha1", "failovergroups", registry=registry)
    async def deleted(name: str, **_: Any) -> None:
        seen.append(("delete", name))

    return registry


async def test_kopf_operator_against_the_emulator(cluster: EmulatedCluster) -> None:
    seen: list[tuple[str, str]] = []
    async with run_kopf(failover_registry(seen), cluster.url) as operator:
        assert operator.ready_flag.is_set() and not operator.task.done()
        await cluster.create(failover_group())

        obj = await cluster.wait_for(
            FG_API, "FailoverGroup", "apps", "fg1", lambda o: o.get("status", {}).get("ticks", 0) >= 2
        )
        assert ("create", "fg1") in seen and seen.count(("tick", "fg1")) >= 2
        assert obj["status"]["phase"] == "Created"  # patched by kopf through /status
        assert KOPF_FINALIZER in obj["metadata"]["finalizers"]  # added by kopf with a JSON patch

        await cluster.delete(FG_API, "FailoverGroup", "apps", "fg1")
        await cluster.wait_absent(FG_API, "FailoverGroup", "apps", "fg1")
        assert ("delete", "fg1") in seen
        assert cluster.emulator.objects[cluster.emulator.find_resource(FG_API, "fg"), "apps", "fg1"].deleted

        # kopf posts k8s events (kopf.info() etc.; log messages only with settings.posting.loggers=True).
        events = await eventually(lambda: cluster.list("v1", "Event", "apps"))
        assert events[0]["reason"] == "Created" and events[0]["involvedObject"]["name"] == "fg1"
    assert operator.task.done()
    assert not cluster.emulator.internal_errors


async def test_kopf_namespaced_mode_and_restart(cluster: EmulatedCluster) -> None:
    seen: list[tuple[str, str]] = []
    registry = failover_registry(seen)
    # Namespaced kopf watches only namespaces that exist: creating the object created "apps" implicitly.
    await cluster.create(failover_group("early"))
    assert await cluster.get_or_none("v1", "Namespace", None, "apps") is not None
    await cluster.create(failover_group("elsewhere", namespace="other"))
    async with run_kopf(registry, cluster, namespaces=["apps"]):
        await cluster.wait_for(FG_API, "fg", "apps", "early", lambda o: o.get("status", {}).get("phase"))
    assert ("create", "early") in seen and ("create", "elsewhere") not in seen
    async with run_kopf(registry, cluster, namespaces=["apps"]):  # a restart: already handled, not again
        await cluster.create(failover_group("late"))
        await cluster.wait_for(FG_API, "fg", "apps", "late", lambda o: o.get("status", {}).get("phase"))
    assert seen.count(("create", "early")) == 1


async def test_missing_namespaces_can_be_rejected() -> None:
    async with running_cluster("strict", missing_namespaces="reject") as strict:
        with pytest.raises(KubeApiError) as err:
            await strict.create(deployment())
        assert err.value.status == 404
        await strict.create_namespace("apps")
        await strict.create(deployment())


# -------------------------------------------------------------------------------------------------------------
# (e) several clusters and operators at once
# -------------------------------------------------------------------------------------------------------------


async def test_two_clusters_stop_in_any_order() -> None:
    east = await start_cluster("east")
    west = await start_cluster("west")
    try:
        await east.create(deployment())
        assert await west.list("apps/v1", "Deployment") == []
        assert east.url != west.url
    finally:
        await east.stop()  # not the reverse start order: fine, no resolver hook
        await west.stop()
    async with running_clusters("a", "b") as (a, b):
        await a.create_namespace("x")
        assert [n["metadata"]["name"] for n in await b.list("v1", "Namespace")] == []


async def test_two_operators_one_registry_stopped_independently() -> None:
    seen: list[tuple[str, str]] = []
    registry = failover_registry(seen)
    async with running_clusters("east", "west") as (east, west):
        started = time.monotonic()
        east_op = await run_kopf(registry, east)
        west_op = await run_kopf(registry, west)
        try:
            await east.create(failover_group("in-east"))
            await west.create(failover_group("in-west"))
            await east.wait_for(FG_API, "fg", "apps", "in-east", lambda o: o.get("status", {}).get("phase"))
            await west.wait_for(FG_API, "fg", "apps", "in-west", lambda o: o.get("status", {}).get("phase"))
            assert await east.get_or_none(FG_API, "fg", "apps", "in-west") is None

            # Stopping the first operator must not cancel the second one's tasks (kopf would, unguarded).
            await east_op.stop()
            assert east_op.task.done() and not west_op.task.done()
            await west.create(failover_group("later"))
            await west.wait_for(FG_API, "fg", "apps", "later", lambda o: o.get("status", {}).get("phase"))
            assert ("create", "later") in seen
        finally:
            await east_op.stop()
            await west_op.stop()
        assert time.monotonic() - started < 10
