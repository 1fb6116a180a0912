"""A handle on one Kubernetes API server, real (envtest) or emulated (kmock): plain HTTP, as any client.

Tests, the demo and the stand-in controllers talk to clusters only through :class:`Cluster`, so the same test
body runs against a real kube-apiserver and the emulator. ``kind`` arguments accept the kind, plural, singular
or a short name: ``("apps/v1", "Deployment")``, ``("apps/v1", "deployments")``, ``("failover.dev/v1alpha1",
"fg")``. ``namespace`` is ``None`` for cluster-scoped resources (and for cluster-wide lists).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast, overload

import aiohttp
import kubernetes.client
import yaml

from .resources import ResourceSpec, find_spec

__all__ = [
    "APPLY_PATCH",
    "JSON_PATCH",
    "MERGE_PATCH",
    "PATCH_TYPES",
    "STRATEGIC_MERGE_PATCH",
    "Cluster",
    "KubeApiError",
    "Obj",
    "eventually",
    "kubernetes_api_client",
    "write_kubeconfig",
]

T = TypeVar("T")

Obj = dict[str, Any]

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = {"merge": MERGE_PATCH, "json": JSON_PATCH, "strategic": STRATEGIC_MERGE_PATCH, "apply": APPLY_PATCH}


class KubeApiError(Exception):
    """A non-2xx answer from the API, with the decoded ``Status`` body."""

    def __init__(self, status: int, body: Any, method: str, url: str) -> None:
        self.status = status
        self.body = body
        self.method = method
        self.url = url
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"{method} {url} -> {status}: {message}")

    @property
    def reason(self) -> str | None:
        return self.body.get("reason") if isinstance(self.body, dict) else None


class Cluster:
    """One API server at ``url``; ``token`` (a bearer token) and ``ca_file`` for a real, secured one.

    All helpers are real HTTP calls. Close with :meth:`close` (the emulated and real cluster fixtures do).
    """

    def __init__(self, name: str, url: str, *, token: str | None = None, ca_file: Path | None = None) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.token = token
        self.ca_file = ca_file
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} at {self.url}>"

    @property
    def session(self) -> aiohttp.ClientSession:
        """Created on first use, in the running loop (a session-scoped handle serves many tests' loops)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
            ssl_context: ssl.SSLContext | bool = (
                ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else False
            )
            self._session = aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(ssl=ssl_context))
            self._session_loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    # ---- clients of other kinds ---------------------------------------------------------------------------

    def api_client(self, token: str | None = None) -> kubernetes.client.ApiClient:
        """An official-client ``ApiClient`` for this server (this handle's identity unless ``token``)."""
        return kubernetes_api_client(self.url, token=token or self.token, ca_file=self.ca_file)

    def write_kubeconfig(self, path: Path, token: str | None = None) -> Path:
        """A kubeconfig file for processes that read KUBECONFIG (kubectl, `failover-operator run`)."""
        return write_kubeconfig(path, self.url, self.name, token=token or self.token, ca_file=self.ca_file)

    # ---- paths --------------------------------------------------------------------------------------------

    def resource(self, api_version: str, kind: str) -> ResourceSpec:
        return find_spec(api_version, kind)

    def path(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
    ) -> str:
        return self.resource(api_version, kind).path(namespace, name, subresource)

    # ---- raw requests -------------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | str | None = None,
        params: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> Any:
        """One HTTP request; returns the decoded JSON body, raises :class:`KubeApiError` on non-2xx."""
        headers = {"Accept": "application/json"}
        if json_body is not None:
            data = json.dumps(json_body)
            content_type = content_type or "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        url = self.url + path
        async with self.session.request(method, url, data=data, params=params, headers=headers) as response:
            text = await response.text()
            try:
                body: Any = json.loads(text) if text else None
            except ValueError:
                body = text
            if response.status >= 400:
                raise KubeApiError(response.status, body, method, url)
            return body

    # ---- object helpers -----------------------------------------------------------------------------------

    async def create(self, obj: Mapping[str, Any], *, namespace: str | None = None, dry_run: bool = False) -> Obj:
        """POST the object (apiVersion/kind are taken from it); returns the created object."""
        namespace = namespace or (obj.get("metadata") or {}).get("namespace")
        params = {"dryRun": "All"} if dry_run else None
        path = self.path(obj["apiVersion"], obj["kind"], namespace)
        result: Obj = await self.request("POST", path, json_body=obj, params=params)
        return result

    async def create_namespace(self, name: str, *, labels: Mapping[str, str] | None = None) -> Obj:
        return await self.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(labels or {})}}
        )

    async def get(
        self, api_version: str, kind: str, namespace: str | None, name: str, *, subresource: str | None = None
    ) -> Obj:
        """GET one object; raises :class:`KubeApiError` (``.status == 404``) if absent."""
        result: Obj = await self.request("GET", self.path(api_version, kind, namespace, name, subresource))
        return result

    async def get_or_none(self, api_version: str, kind: str, namespace: str | None, name: str) -> Obj | None:
        try:
            return await self.get(api_version, kind, namespace, name)
        except KubeApiError as e:
            if e.status == 404:
                return None
            raise

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        """The items of a list (cluster-wide if ``namespace`` is ``None``)."""
        params = {k: v for k, v in {"labelSelector": label_selector, "fieldSelector": field_selector}.items() if v}
        body = await self.request("GET", self.path(api_version, kind, namespace), params=params)
        items: list[Obj] = body["items"]
        return items

    async def patch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        patch: Any,
        *,
        patch_type: str = "merge",
        subresource: str | None = None,
    ) -> Obj:
        """PATCH; ``patch_type`` is merge | json | strategic | apply (or a full content type)."""
        content_type = PATCH_TYPES.get(patch_type, patch_type)
        params = {"fieldManager": "tests"} if content_type == APPLY_PATCH else None
        result: Obj = await self.request(
            "PATCH",
            self.path(api_version, kind, namespace, name, subresource),
            json_body=patch,
            content_type=content_type,
            params=params,
        )
        return result

    async def patch_status(
        self, api_version: str, kind: str, namespace: str | None, name: str, status: Mapping[str, Any]
    ) -> Obj:
        """Merge-patch ``.status`` through the status subresource (e.g. to play a Deployment controller)."""
        return await self.patch(api_version, kind, namespace, name, {"status": dict(status)}, subresource="status")

    async def replace(self, obj: Mapping[str, Any], *, subresource: str | None = None) -> Obj:
        """PUT the whole object (optimistic concurrency if it carries ``metadata.resourceVersion``)."""
        meta = obj.get("metadata") or {}
        path = self.path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"], subresource)
        result: Obj = await self.request("PUT", path, json_body=obj)
        return result

    async def delete(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        *,
        missing_ok: bool = False,
        preconditions: Mapping[str, str] | None = None,
    ) -> Obj | None:
        """DELETE; returns the object (with ``deletionTimestamp`` if finalizers hold it) or a ``Status``."""
        body = (
            {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": dict(preconditions)}
            if preconditions
            else None
        )
        try:
            result: Obj = await self.request("DELETE", self.path(api_version, kind, namespace, name), json_body=body)
            return result
        except KubeApiError as e:
            if missing_ok and e.status == 404:
                return None
            raise

    async def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        name: str | None = None,
        resource_version: str | None = None,
        timeout_seconds: int = 600,
    ) -> AsyncIterator[Obj]:
        """The watch events (``{"type", "object"}``) of a kind, of one object if ``name``: every change after
        ``resource_version``, in order, as any controller sees them."""
        params = {"watch": "true", "timeoutSeconds": str(timeout_seconds), "allowWatchBookmarks": "false"}
        if name is not None:
            params["fieldSelector"] = f"metadata.name={name}"
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        url = self.url + self.path(api_version, kind, namespace)
        async with self.session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=None)) as response:
            if response.status >= 400:
                raise KubeApiError(response.status, await response.text(), "GET", url)
            async for line in response.content:
                if line.strip():
                    yield json.loads(line)

    async def wait_for(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        predicate: Callable[[Obj], Any] = bool,
        *,
        within: float = 5.0,
    ) -> Obj:
        """Poll until the object exists and ``predicate(obj)`` is truthy; returns the object."""

        async def check() -> Obj | None:
            obj = await self.get_or_none(api_version, kind, namespace, name)
            return obj if obj is not None and predicate(obj) else None

        found = await eventually(
            check, within=within, message=f"{kind} {namespace}/{name} in {self.name!r} did not match in {within}s"
        )
        return cast(Obj, found)

    async def wait_absent(
        self, api_version: str, kind: str, namespace: str | None, name: str, *, within: float = 5.0
    ) -> None:
        async def check() -> bool:
            return await self.get_or_none(api_version, kind, namespace, name) is None

        await eventually(check, within=within, message=f"{kind} {namespace}/{name} in {self.name!r} still exists")


def kubernetes_api_client(
    url: str, *, token: str | None = None, ca_file: Path | None = None, max_connections: int = 8
) -> kubernetes.client.ApiClient:
    """An official-client ``ApiClient`` for the API server at ``url`` (no kubeconfig). Its calls block: the
    operator's KubeClient runs them in threads. Close it with ``api.close()`` or ``with ... as api``."""
    configuration = kubernetes.client.Configuration(host=url.rstrip("/"))
    if ca_file is not None:
        configuration.ssl_ca_cert = str(ca_file)
    else:
        configuration.verify_ssl = False
    if token:
        configuration.api_key = {"BearerToken": token}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
    configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize or 0, max_connections)
    return kubernetes.client.ApiClient(configuration)


def write_kubeconfig(
    path: Path, url: str, name: str = "cluster", *, token: str | None = None, ca_file: Path | None = None
) -> Path:
    """A kubeconfig with one context: ``url``, trusted through ``ca_file`` (else unverified), as ``token``."""
    cluster: dict[str, Any] = {"server": url}
    if ca_file is not None:
        cluster["certificate-authority"] = str(ca_file)
    elif url.startswith("https:"):
        cluster["insecure-skip-tls-verify"] = True
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": {"token": token} if token else {}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
    path.write_text(yaml.safe_dump(config))
    return path


@overload
async def eventually(
    check: Callable[[], Awaitable[T]], *, within: float = ..., interval: float = ..., message: str | None = ...
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T], *, within: float = ..., interval: float = ..., message: str | None = ...
) -> T: ...


async def eventually(
    check: Callable[[], Any], *, within: float = 5.0, interval: float = 0.05, message: str | None = None
) -> Any:
    """Poll ``check()`` (sync or async) until it returns something truthy (returned) or ``within`` s pass.

    An ``AssertionError`` raised by the check counts as "not yet" (and is chained on timeout).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last_error: AssertionError | None = None
    while True:
        try:
            result = check()
            if isinstance(result, Awaitable):
                result = await result
            if result:
                return result
        except AssertionError as e:
            last_error = e
        if loop.time() >= deadline:
            raise AssertionError(message or f"The condition was not met within {within}s.") from last_error
        await asyncio.sleep(interval)
