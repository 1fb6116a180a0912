"""An emulated Kubernetes API server (kmock) for what a real one cannot be made to do in a test.

The suite's end-to-end behaviour runs against a real kube-apiserver (:mod:`harness.apiserver`). The emulator
stays for what a real server cannot be made to do on demand: refuse a request (:meth:`add_fault`), go away
mid-test, answer slowly, compact its watch history; and for the demo on machines without API server binaries.
kmock (from kopf's author) serves a stateful fake API on loopback, but kmock 0.8 breaks kopf and kubectl in
several ways; :class:`FixedKubernetesEmulator` replaces its object-handling core with one that behaves like a
real API server where tests can notice:

* create: 201; ``uid``, ``creationTimestamp``, ``resourceVersion``, ``generation``, ``apiVersion``/``kind``
  and the namespace are filled in; ``generateName`` works; 409 ``AlreadyExists``; 404 for unknown resources;
  ``status`` is dropped when the resource has a status subresource (as a real server does).
* every change bumps ``resourceVersion`` (a cluster-wide counter); changes outside ``metadata``/``status``
  bump ``generation``; a patch that changes nothing changes nothing (no new version, no watch event).
* PATCH: ``application/merge-patch+json`` (RFC 7386), ``application/json-patch+json`` (RFC 6902; a failed
  ``test`` or a bad path answers 422), ``application/strategic-merge-patch+json`` (built-ins only, applied
  as a merge patch; custom resources answer 415 as a real server does), ``application/apply-patch+yaml``
  (applied as a merge patch, creates missing objects; no field ownership). Other types answer 415.
  PUT replaces. A ``metadata.resourceVersion`` in a patch/PUT body is a precondition (409 on mismatch).
* status subresource: ``.../{name}/status`` changes only ``.status``; writes to the main object keep the old
  ``.status`` (for resources whose discovery lists ``<plural>/status``). ``.../{name}/scale`` serves and
  updates ``autoscaling/v1`` ``Scale`` for resources with a ``scale`` subresource.
* DELETE honours finalizers: an object with finalizers gets ``metadata.deletionTimestamp`` (and MODIFIED),
  and is removed (DELETED) when a write empties its finalizers; new finalizers cannot be added then (422).
  ``DeleteOptions.preconditions`` are checked. Built-ins answer a ``Status``; custom resources the object.
* list/watch: lists carry ``apiVersion``/``kind``/``metadata.resourceVersion``; ``labelSelector`` and
  ``fieldSelector`` (equality, set-based labels) are applied to lists and watches; watch streams are
  ``application/json``, honour ``resourceVersion`` (replay from an event log: no duplicate ADDED on
  reconnect), ``timeoutSeconds``, ``sendInitialEvents`` (with the initial-events-end BOOKMARK);
  :meth:`FixedKubernetesEmulator.compact_history` makes older resourceVersions answer 410 Gone.
* paths: ``/api/v1/namespaces`` and ``/api/v1/namespaces/{name}[/status|/finalize]`` parse as the namespaces
  resource (kmock answers 500); ``/api/v1`` reports ``groupVersion: v1``; discovery lists verbs.
* creating a CustomResourceDefinition makes its resources discoverable (and deleting it removes them).
* ``?dryRun=All`` validates and answers without storing anything.
* faults: :meth:`FixedKubernetesEmulator.add_fault` fails matching requests *before* any state change.
* the server does not hook aiohttp's DNS resolver (kmock's does, which forces reverse stop order), and open
  watch streams are ended when a cluster stops, so stopping is instant and order-independent.

Not emulated (tests must not rely on them): controllers (no ReplicaSets/Pods, no Deployment status — patch
``/status`` yourself), garbage collection by ownerReferences, namespace deletion cascading to its contents,
schema validation/defaulting/pruning (validate CRs with ``jsonschema`` against the CRD instead), admission,
field managers/server-side-apply semantics, strategic-merge list merging and ``$patch`` directives (lists are
replaced), list pagination (``limit``/``continue`` are ignored: everything is returned), BOOKMARK events other
than the initial-events-end one, auth (everything is allowed), protobuf/CBOR bodies (415: kubectl's typed
generators such as ``kubectl create namespace`` send protobuf; ``kubectl apply -f --validate=false`` works).

Typical use (``run_kopf`` is in :mod:`harness.kopf_runner`)::

    async with running_cluster("east") as east, run_kopf(registry, east.url) as operator:
        await east.create(failover_group)
        await east.wait_for("failover.dev/v1alpha1", "FailoverGroup", "ns", "fg1", lambda o: o.get("status"))
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime
import json
import logging
import random
import re
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import aiohttp
import aiohttp.web
import attrs
import jsonpatch
import jsonpointer
import kmock
import yaml
from kmock._internal import rendering as _kmock_rendering  # StreamingError: no public alias in kmock 0.8

from .cluster import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, Cluster, Obj, eventually
from .resources import DEFAULT_RESOURCES, ResourceSpec

__all__ = [
    "EmulatedCluster",
    "FixedKubernetesEmulator",
    "register_resources",
    "running_cluster",
    "running_clusters",
    "start_cluster",
]

logger = logging.getLogger(__name__)

DEFAULT_VERBS = frozenset({"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"})
SUBRESOURCE_VERBS = ("get", "patch", "update")
_EVENT_LOG_LIMIT = 100_000


# --------------------------------------------------------------------------------------------------------------
# Resources & discovery
# --------------------------------------------------------------------------------------------------------------


def _kmock_resource(spec: ResourceSpec) -> kmock.resource:
    return kmock.resource(spec.group, spec.version, spec.plural)


def register_resources(emulator: FixedKubernetesEmulator, specs: Iterable[ResourceSpec] = DEFAULT_RESOURCES) -> None:
    """Make the resources discoverable (kopf silently ignores undiscoverable ones) and servable."""
    for spec in specs:
        resource = _kmock_resource(spec)
        emulator.resources[resource] = kmock.ResourceInfo(
            kind=spec.kind,
            singular=spec.singular or spec.kind.lower(),
            namespaced=spec.namespaced,
            verbs=set(DEFAULT_VERBS),
            shortnames=set(spec.shortnames),
            categories=set(spec.categories),
            subresources=set(spec.subresources),
        )
        if spec.custom:
            emulator.custom_resources.add(resource)
        else:
            emulator.custom_resources.discard(resource)


# --------------------------------------------------------------------------------------------------------------
# Small pure helpers
# --------------------------------------------------------------------------------------------------------------


def _api_version(resource: kmock.resource) -> str:
    return f"{resource.group}/{resource.version}" if resource.group else str(resource.version)


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _k8s_error(
    status: int, reason: str, message: str, details: Mapping[str, Any] | None = None
) -> kmock.KubernetesError:
    return kmock.KubernetesError(status=status, reason=reason, message=message, details=dict(details or {}))


def _not_found(resource: kmock.resource, name: str | None) -> kmock.KubernetesError:
    what = f"{resource.plural}.{resource.group}" if resource.group else str(resource.plural)
    return _k8s_error(
        404, "NotFound", f'{what} "{name}" not found', {"name": name, "group": resource.group, "kind": resource.plural}
    )


def _conflict(resource: kmock.resource, name: str, message: str) -> kmock.KubernetesError:
    what = f"{resource.plural}.{resource.group}" if resource.group else str(resource.plural)
    return _k8s_error(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {what} "{name}": {message}',
        {"name": name, "group": resource.group, "kind": resource.plural},
    )


def json_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: dicts merge recursively, ``None`` deletes a key, anything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def _split_selector(selector: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current = ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def match_label_selector(selector: str | None, labels: Mapping[str, str] | None) -> bool:
    """Equality (``a=b``, ``a==b``, ``a!=b``), set (``a in (x,y)``, ``a notin (x)``), existence (``a``, ``!a``)."""
    labels = labels or {}
    for requirement in _split_selector(selector or ""):
        if m := re.fullmatch(r"(\S+)\s+(in|notin)\s+\((.*)\)", requirement):
            key, op, raw_values = m.groups()
            values = {value.strip() for value in raw_values.split(",")}
            if op == "in" and labels.get(key) not in values:
                return False
            if op == "notin" and key in labels and labels[key] in values:
                return False
        elif requirement.startswith("!"):
            if requirement[1:].strip() in labels:
                return False
        elif "!=" in requirement:
            key, value = (s.strip() for s in requirement.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in requirement:
            key, value = (s.strip() for s in requirement.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif requirement not in labels:
            return False
    return True


def match_field_selector(selector: str | None, obj: Mapping[str, Any]) -> bool:
    """``metadata.name=x``, ``metadata.namespace!=y``, any dotted path compared as a string."""
    for requirement in _split_selector(selector or ""):
        negate = "!=" in requirement
        path, value = (s.strip() for s in requirement.replace("!=", "=").replace("==", "=").split("=", 1))
        actual: Any = obj
        for part in path.split("."):
            actual = actual.get(part) if isinstance(actual, Mapping) else None
        actual_str = "" if actual is None else str(actual).lower() if isinstance(actual, bool) else str(actual)
        if (actual_str == value) == negate:
            return False
    return True


@attrs.frozen
class _ParsedPath:
    group: str | None = None
    version: str | None = None
    plural: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None


def parse_k8s_path(path: str) -> _ParsedPath:
    """Like kmock's parser, but ``/api/v1/namespaces[/{name}[/status|/finalize]]`` is the namespaces resource."""
    parts = [part for part in path.strip("/").split("/")] if path.strip("/") else []
    if len(parts) >= 2 and parts[0] == "apis":
        group: str = parts[1]
        version = parts[2] if len(parts) > 2 else None
        rest = parts[3:]
    elif len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    else:
        return _ParsedPath()
    namespace: str | None = None
    if rest and rest[0] == "namespaces":
        if len(rest) <= 2 or (len(rest) == 3 and rest[2] in ("status", "finalize")):
            return _ParsedPath(
                group,
                version,
                "namespaces",
                None,
                rest[1] if len(rest) > 1 else None,
                rest[2] if len(rest) > 2 else None,
            )
        namespace, rest = rest[1], rest[2:]
    plural = rest[0] if rest else None
    name = rest[1] if len(rest) > 1 else None
    subresource = "/".join(rest[2:]) or None
    return _ParsedPath(group, version, plural, namespace, name, subresource)


def _guess_action(parsed: _ParsedPath, method: str, query: Mapping[str, str]) -> kmock.action | None:
    if parsed.group is None:
        return None
    if method == "GET" and query.get("watch") in ("true", "1"):
        return kmock.action.WATCH
    if parsed.name is None:
        return {"GET": kmock.action.LIST, "POST": kmock.action.CREATE}.get(method)
    return {"GET": kmock.action.FETCH, "PATCH": kmock.action.UPDATE, "DELETE": kmock.action.DELETE}.get(method)


def _verb(request: kmock.Request) -> str:
    method = str(request.method.value).upper()
    if method == "GET":
        if request.params.get("watch") in ("true", "1"):
            return "watch"
        return "get" if request.name else "list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, method.lower())


@attrs.define
class _Fault:
    verb: str | None
    plural: str | None
    namespace: str | None
    name: str | None
    subresource: str | None
    error: kmock.KubernetesError
    remaining: int | None

    def matches(self, request: kmock.Request) -> bool:
        assert request.resource is not None
        return (
            (self.verb is None or self.verb == _verb(request))
            and (self.plural is None or self.plural == request.resource.plural)
            and (self.namespace is None or self.namespace == request.namespace)
            and (self.name is None or self.name == request.name)
            and (self.subresource is None or self.subresource == request.subresource)
        )


@attrs.define(eq=False)
class _Watcher:
    resource: kmock.resource
    queue: asyncio.Queue[Obj | None]


# --------------------------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class FixedKubernetesEmulator(kmock.KubernetesEmulator):
    """kmock's emulator with a real-API-server-like object core (see the module docstring for the list).

    kmock's DSL still works on top of it: ``emulator[...] << payload`` reactions replace *responses* (the state
    change still happens, as in kmock); use :meth:`add_fault` to fail a request without changing anything.
    ``emulator.objects[resource, namespace, name]`` gives the stored object and its ``.history``.
    """

    isolate_status: bool = True  # writes to the main object keep .status (resources with a status subresource)
    # Creating an object in a namespace that does not exist: "create" the Namespace first (default: kopf in
    # namespaced mode only watches namespaces that exist), "reject" with 404 (as a real server), or "ignore".
    missing_namespaces: str = "create"
    # kmock matches every request against its whole request history, so a long-running emulator slows down
    # with each request it serves (~13 ms per request after 500, ~100 ms after 1,500). Long scenarios that do
    # not inspect the history (the operator's end-to-end tests, the demo) drop each request once answered.
    forget_requests: bool = False
    _served_count: int = attrs.field(default=0, init=False)

    custom_resources: set[kmock.resource] = attrs.field(factory=set, init=False)
    internal_errors: list[BaseException] = attrs.field(factory=list, init=False)

    _resource_version: int = attrs.field(default=0, init=False)
    _history_floor: int = attrs.field(default=0, init=False)
    _event_log: list[tuple[int, kmock.resource, Obj]] = attrs.field(factory=list, init=False)
    _watchers: set[_Watcher] = attrs.field(factory=set, init=False)
    _closing: bool = attrs.field(default=False, init=False)
    _results: dict[kmock.Request, tuple[int, Obj]] = attrs.field(factory=dict, init=False)
    _faults: list[_Fault] = attrs.field(factory=list, init=False)
    _crd_resources: dict[str, list[kmock.resource]] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()  # registers self._serve_* (our overrides) as fallbacks
        self.fallback[kmock.method.PUT] << self._serve_replace

    # ---- public helpers ----------------------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        """The latest cluster-wide resourceVersion."""
        return self._resource_version

    def add_fault(
        self,
        *,
        verb: str | None = None,
        plural: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
        status: int = 500,
        reason: str = "InternalError",
        message: str = "injected fault",
        times: int | None = 1,
    ) -> None:
        """Fail the next ``times`` matching requests (``None``: forever) before any state change.

        ``verb`` is a Kubernetes verb: get, list, watch, create, update (PUT), patch, delete.
        """
        self._faults.append(
            _Fault(verb, plural, namespace, name, subresource, _k8s_error(status, reason, message), times)
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def compact_history(self) -> None:
        """Forget the watch history: watches from older resourceVersions get ``410 Gone`` (as after compaction)."""
        self._history_floor = self._resource_version
        self._event_log.clear()

    def watchers(self, resource: kmock.resource | None = None) -> int:
        """How many watch streams are open (for a resource, or at all)."""
        return sum(1 for w in self._watchers if resource is None or w.resource == resource)

    def close_watches(self) -> None:
        """End all open watch streams now and refuse new ones (done before the server stops)."""
        self._closing = True
        for watcher in list(self._watchers):
            watcher.queue.put_nowait(None)

    def find_resource(self, api_version: str, kind_or_plural: str) -> kmock.resource:
        """Resolve ``("apps/v1", "Deployment"|"deployments"|"deployment"|"deploy")`` to a registered resource."""
        group, _, version = api_version.rpartition("/")
        candidates = [res for res in self.resources if res.group == group and res.version == version]
        for res in candidates:
            info = self.resources[res]
            names = {res.plural, info.kind, info.singular, *info.shortnames}
            if kind_or_plural in names or kind_or_plural.lower() in {str(n).lower() for n in names if n}:
                return res
        raise KeyError(f"Resource {kind_or_plural!r} is not registered in {api_version!r}.")

    def get_object(self, resource: kmock.resource, namespace: str | None, name: str) -> Obj | None:
        """The current stored object (a deep copy), without going through HTTP; ``None`` if absent."""
        current = self._current((resource, namespace, name))
        return copy.deepcopy(current) if current is not None else None

    # ---- request parsing & dispatching -------------------------------------------------------------------------

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        try:
            return await self._serve(raw_request)
        finally:
            if self.forget_requests:  # only requests in flight stay: kmock needs them while it answers
                for index, request in enumerate(self._requests):
                    if request._raw_request is raw_request:
                        del self._requests[index]
                        break

    async def _serve(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        # A copy of kmock's RawHandler.__call__, but with a path parser that understands /api/v1/namespaces.
        await raw_request.read()
        raw_response: aiohttp.web.StreamResponse | None = None
        try:
            if self.limit is not None and len(self._requests) >= self.limit:
                raise kmock.KMockError("Too many requests have been served so far.")
            self._served_count += 1
            request = await self._parse_request(raw_request, id=self._served_count - 1)
            self._requests.append(request)
            try:
                return await self._handle(request)
            except _kmock_rendering.StreamingError as e:
                raw_response = e.args[0]
                if e.__cause__ is not None:
                    raise e.__cause__ from None
                raise  # pragma: no cover
        except Exception as e:
            if not isinstance(e, kmock.KubernetesError):
                self.internal_errors.append(e)
                logger.error("Kubernetes emulator failed on %s %s", raw_request.method, raw_request.path_qs, exc_info=e)
            if self._errors:
                self._errors[-1].append(e)
            if raw_response is None or not raw_response.prepared:
                return await self._render_error(e)
            await self._stream_error(e, raw_response)
            await raw_response.write_eof()
            return raw_response

    @staticmethod
    async def _parse_request(raw_request: aiohttp.web.BaseRequest, *, id: int) -> kmock.Request:
        body = await raw_request.read()
        text = body.decode("utf-8", errors="replace")
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        parsed = parse_k8s_path(raw_request.path)
        resource = (
            None
            if parsed.group is None
            else kmock.resource(group=parsed.group, version=parsed.version, plural=parsed.plural)
        )
        query = dict(raw_request.query)
        return kmock.Request(
            id=id,
            raw_request=raw_request,
            url=raw_request.url,
            method=raw_request.method,
            params=query,
            headers=dict(raw_request.headers),
            cookies=dict(raw_request.cookies),
            data=data,
            body=body,
            text=text,
            action=_guess_action(parsed, raw_request.method.upper(), query),
            resource=resource,
            namespace=parsed.namespace,
            name=parsed.name,
            subresource=parsed.subresource,
        )

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        # Mutations happen here, before kmock's DSL (user reactions, then our fallbacks) renders the response.
        if request.resource is not None and request.resource.plural is not None:
            for fault in list(self._faults):
                if fault.matches(request):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    raise fault.error
            if str(request.method.value).upper() in ("POST", "PUT", "PATCH", "DELETE"):
                async with self._lock:
                    self._results[request] = self._mutate(request)
        try:
            return await kmock.RawHandler._handle(self, request)
        finally:
            self._results.pop(request, None)

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        if isinstance(exc, kmock.KubernetesError):
            reason = exc.reason or "InternalError"
            if " " in reason:  # kmock's own errors ("Endpoint Not Found") -> the real reason names
                reason = {404: "NotFound", 409: "AlreadyExists"}.get(exc.status, reason.replace(" ", ""))
            details = exc.details if isinstance(exc.details, dict) and "traceback" not in exc.details else {}
            return aiohttp.web.json_response(
                {
                    "apiVersion": "v1",
                    "kind": "Status",
                    "metadata": {},
                    "status": "Failure",
                    "message": exc.message or reason,
                    "reason": reason,
                    "details": details,
                    "code": exc.status,
                },
                status=exc.status,
            )
        return await super()._render_error(exc)

    # ---- discovery ---------------------------------------------------------------------------------------------

    async def _serve_version(self, request: kmock.Request) -> Obj:
        assert request.resource is not None
        wanted = request.resource
        resources = sorted(
            (res for res in self._get_resources() if wanted.check(res) and res.plural),
            key=lambda res: str(res.plural),
        )
        if not resources and wanted.group != "":
            raise kmock.KubernetesResourceNotFoundError()
        entries: list[Obj] = []
        for res in resources:
            info = self.resources[res] if res in self.resources else kmock.ResourceInfo()
            kind = info.kind or str(res.plural).capitalize()
            namespaced = True if info.namespaced is None else info.namespaced
            entries.append(
                {
                    "name": res.plural,
                    "singularName": info.singular or kind.lower(),
                    "namespaced": namespaced,
                    "kind": kind,
                    "verbs": sorted(info.verbs or DEFAULT_VERBS),
                    "shortNames": sorted(info.shortnames),
                    "categories": sorted(info.categories),
                }
            )
            for sub in sorted(info.subresources):
                entries.append(
                    {
                        "name": f"{res.plural}/{sub}",
                        "singularName": "",
                        "namespaced": namespaced,
                        "kind": "Scale" if sub == "scale" else kind,
                        "verbs": list(SUBRESOURCE_VERBS),
                        **({"group": "autoscaling", "version": "v1"} if sub == "scale" else {}),
                    }
                )
        return {
            "apiVersion": "v1",
            "kind": "APIResourceList",
            "groupVersion": f"{wanted.group}/{wanted.version}" if wanted.group else wanted.version,
            "resources": entries,
        }

    def _get_resources(self) -> list[kmock.resource]:
        # Only what is registered (kmock also adds the resources of stored objects and of DSL filters): discovery
        # must agree with what the object endpoints serve.
        return [res for res in self.resources if isinstance(res, kmock.resource)]

    def _info(self, resource: kmock.resource) -> kmock.ResourceInfo:
        if resource not in self.resources:
            raise _k8s_error(404, "NotFound", "the server could not find the requested resource")
        return self.resources[resource]

    def _kind(self, resource: kmock.resource) -> str:
        info = self.resources[resource] if resource in self.resources else kmock.ResourceInfo()
        return info.kind or str(resource.plural).capitalize()

    def _has_status(self, resource: kmock.resource) -> bool:
        return self.isolate_status and "status" in self._info(resource).subresources

    # ---- storage -----------------------------------------------------------------------------------------------

    def _current(self, key: tuple[kmock.resource, str | None, str]) -> Obj | None:
        if key not in self.objects:
            return None
        obj = self.objects[key]
        return None if obj.deleted else obj.raw

    def _next_version(self, dry_run: bool) -> str:
        if dry_run:
            return str(self._resource_version + 1)
        self._resource_version += 1
        return str(self._resource_version)

    def _emit(self, resource: kmock.resource, event_type: str, obj: Obj) -> None:
        event = {"type": event_type, "object": copy.deepcopy(obj)}
        self._event_log.append((int(obj["metadata"]["resourceVersion"]), resource, event))
        if len(self._event_log) > _EVENT_LOG_LIMIT:  # "compaction": older watches get 410 Gone
            dropped = self._event_log[: _EVENT_LOG_LIMIT // 2]
            del self._event_log[: _EVENT_LOG_LIMIT // 2]
            self._history_floor = dropped[-1][0]
        for watcher in list(self._watchers):
            if watcher.resource == resource:
                watcher.queue.put_nowait(event)

    def _store(self, key: tuple[kmock.resource, str | None, str], obj: Obj) -> None:
        if key in self.objects:
            self.objects[key].create(obj)
        else:
            self.objects[key] = obj

    def _remove(self, key: tuple[kmock.resource, str | None, str], final: Obj) -> None:
        self._store(key, final)
        self.objects[key].delete()
        self._emit(key[0], "DELETED", final)
        if key[0] == kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions"):
            for res in self._crd_resources.pop(key[2], []):
                if res in self.resources:
                    del self.resources[res]
                self.custom_resources.discard(res)

    # ---- mutations ---------------------------------------------------------------------------------------------

    def _key(self, request: kmock.Request, info: kmock.ResourceInfo) -> tuple[kmock.resource, str | None, str]:
        assert request.resource is not None and request.name is not None
        if info.namespaced is False and request.namespace is not None:
            raise _k8s_error(404, "NotFound", "the server could not find the requested resource")
        if info.namespaced is not False and request.namespace is None:
            raise _k8s_error(404, "NotFound", "the server could not find the requested resource")
        return request.resource, request.namespace, request.name

    @staticmethod
    def _body(request: kmock.Request, *, yaml_ok: bool = False) -> Any:
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type.endswith("yaml"):
            yaml_ok = True
        elif content_type and not content_type.endswith("json"):  # e.g. protobuf/cbor from kubectl: 415 -> JSON
            raise _k8s_error(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format: "
                f"{content_type}; accepted media types include: "
                f"application/json, application/yaml",
            )
        if not request.body:
            raise _k8s_error(400, "BadRequest", "the request body is empty")
        try:
            return yaml.safe_load(request.body) if yaml_ok else json.loads(request.body)
        except ValueError as e:
            raise _k8s_error(400, "BadRequest", f"the request body is not valid: {e}") from None

    def _mutate(self, request: kmock.Request) -> tuple[int, Obj]:
        assert request.resource is not None
        info = self._info(request.resource)
        method = str(request.method.value).upper()
        dry_run = bool(request.params.get("dryRun"))
        if method == "POST":
            if request.name is not None:
                raise _k8s_error(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                )
            body = self._body(request)
            return 201, self._create(request.resource, info, request.namespace, body, dry_run)
        if request.name is None:
            raise _k8s_error(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if request.subresource is not None and request.subresource not in info.subresources:
            raise _k8s_error(404, "NotFound", "the server could not find the requested resource")
        key = self._key(request, info)
        if method == "DELETE":
            return self._delete(key, request, dry_run)
        if method == "PUT":
            return self._replace(key, info, request, dry_run)
        return self._patch(key, info, request, dry_run)

    def _create(
        self, resource: kmock.resource, info: kmock.ResourceInfo, namespace: str | None, body: Any, dry_run: bool
    ) -> Obj:
        if not isinstance(body, dict) or not isinstance(body.setdefault("metadata", {}), dict):
            raise _k8s_error(400, "BadRequest", "the object must be a JSON object with a metadata object")
        obj: Obj = copy.deepcopy(body)
        meta: Obj = obj["metadata"]
        if info.namespaced is not False:
            if namespace is None:
                namespace = meta.get("namespace") or "default"
            elif meta.get("namespace") and meta["namespace"] != namespace:
                raise _k8s_error(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            meta["namespace"] = namespace
        else:
            if namespace is not None:
                raise _k8s_error(404, "NotFound", "the server could not find the requested resource")
            meta.pop("namespace", None)
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise _k8s_error(422, "Invalid", "metadata.name: Required value: name or generateName is required")
            suffix = "".join(random.choices("bcdfghjklmnpqrstvwxz2456789", k=5))
            meta["name"] = f"{meta['generateName']}{suffix}"
        key = (resource, meta.get("namespace"), meta["name"])
        if self._current(key) is not None:
            what = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
            raise _k8s_error(
                409,
                "AlreadyExists",
                f'{what} "{meta["name"]}" already exists',
                {"name": meta["name"], "group": resource.group, "kind": resource.plural},
            )
        namespaces = kmock.resource("", "v1", "namespaces")
        if key[1] is not None and namespaces in self.resources and self._current((namespaces, None, key[1])) is None:
            if self.missing_namespaces == "reject":
                raise _not_found(namespaces, key[1])
            if self.missing_namespaces == "create" and not dry_run:
                ns_body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": key[1]}}
                self._create(namespaces, self.resources[namespaces], None, ns_body, dry_run)
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        meta["generation"] = 1
        meta["resourceVersion"] = self._next_version(dry_run)
        obj = {
            "apiVersion": _api_version(resource),
            "kind": self._kind(resource),
            **{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")},
        }
        if self._has_status(resource):
            obj.pop("status", None)
        if resource == kmock.resource("", "v1", "namespaces"):
            obj["status"] = {"phase": "Active"}
        if resource == kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions"):
            obj["status"] = self._crd_status(obj)
        if not dry_run:
            if resource == kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions"):
                self._register_crd(obj)
            self._store(key, obj)
            self._emit(resource, "ADDED", obj)
        return copy.deepcopy(obj)

    def _patch(
        self,
        key: tuple[kmock.resource, str | None, str],
        info: kmock.ResourceInfo,
        request: kmock.Request,
        dry_run: bool,
    ) -> tuple[int, Obj]:
        resource = key[0]
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        current = self._current(key)
        if current is None:
            if content_type == APPLY_PATCH and request.subresource is None:
                body = self._body(request, yaml_ok=True)
                if isinstance(body, dict):
                    body.setdefault("metadata", {}).setdefault("name", key[2])
                return 201, self._create(resource, info, key[1], body, dry_run)
            raise _not_found(resource, key[2])
        base = self._scale_of(current) if request.subresource == "scale" else copy.deepcopy(current)
        if content_type in (MERGE_PATCH, APPLY_PATCH) or (
            content_type == STRATEGIC_MERGE_PATCH and resource not in self.custom_resources
        ):
            patch = self._body(request, yaml_ok=content_type == APPLY_PATCH)
            if not isinstance(patch, dict):
                raise _k8s_error(400, "BadRequest", "a merge patch must be a JSON object")
            candidate = json_merge_patch(base, patch)
        elif content_type == JSON_PATCH:
            ops = self._body(request)
            if not isinstance(ops, list):
                raise _k8s_error(400, "BadRequest", "a JSON patch must be a list of operations")
            try:
                candidate = jsonpatch.apply_patch(base, ops, in_place=False)
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as e:
                raise _k8s_error(
                    422, "Invalid", f"the server rejected our request due to an error in our request: {e}"
                ) from None
        else:
            raise _k8s_error(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format: {content_type or '(none)'}; "
                f"accepted media types include: {JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH}"
                + ("" if resource in self.custom_resources else f", {STRATEGIC_MERGE_PATCH}"),
            )
        return self._update(key, current, candidate, request.subresource, dry_run)

    def _replace(
        self,
        key: tuple[kmock.resource, str | None, str],
        info: kmock.ResourceInfo,
        request: kmock.Request,
        dry_run: bool,
    ) -> tuple[int, Obj]:
        current = self._current(key)
        if current is None:
            raise _not_found(key[0], key[2])
        body = self._body(request)
        if not isinstance(body, dict) or not isinstance(body.get("metadata", {}), dict):
            raise _k8s_error(400, "BadRequest", "the object must be a JSON object")
        body_name = body.get("metadata", {}).get("name")
        if body_name is not None and body_name != key[2]:
            raise _k8s_error(400, "BadRequest", "the name of the object does not match the name on the URL")
        candidate = copy.deepcopy(body)
        candidate.setdefault("metadata", {})
        if not candidate["metadata"].get("resourceVersion"):  # unconditional update
            rv_source = self._scale_of(current) if request.subresource == "scale" else current
            candidate["metadata"]["resourceVersion"] = rv_source["metadata"]["resourceVersion"]
        return self._update(key, current, candidate, request.subresource, dry_run)

    def _update(
        self,
        key: tuple[kmock.resource, str | None, str],
        current: Obj,
        candidate: Any,
        subresource: str | None,
        dry_run: bool,
    ) -> tuple[int, Obj]:
        resource, _, name = key
        if not isinstance(candidate, dict) or not isinstance(candidate.get("metadata", {}), dict):
            raise _k8s_error(422, "Invalid", "the patched object is not a valid object")
        old_meta: Obj = current["metadata"]
        new_rv = candidate.get("metadata", {}).get("resourceVersion")
        if new_rv is not None and str(new_rv) != str(old_meta.get("resourceVersion")):
            raise _conflict(
                resource,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            )
        if subresource == "scale":
            new = copy.deepcopy(current)
            replicas = (candidate.get("spec") or {}).get("replicas")
            new.setdefault("spec", {})["replicas"] = replicas
        elif subresource is not None:  # status (or finalize): only .status changes
            new = copy.deepcopy(current)
            if "status" in candidate:
                new["status"] = copy.deepcopy(candidate["status"])
            else:
                new.pop("status", None)
        else:
            new = copy.deepcopy(candidate)
            if self._has_status(resource):
                if "status" in current:
                    new["status"] = copy.deepcopy(current["status"])
                else:
                    new.pop("status", None)
        new["apiVersion"], new["kind"] = current["apiVersion"], current["kind"]
        new_meta: Obj = new.setdefault("metadata", {})
        for field in (
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "generation",
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ):
            if field in old_meta:
                new_meta[field] = old_meta[field]
            else:
                new_meta.pop(field, None)
        if old_meta.get("deletionTimestamp"):
            added = set(new_meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                raise _k8s_error(
                    422,
                    "Invalid",
                    f"metadata.finalizers: Forbidden: no new finalizers can be added "
                    f"if the object is being deleted, found new finalizers {sorted(added)}",
                )
        if new == current:
            return 200, copy.deepcopy(current)  # a no-op: no new version, no event (as a real server)
        if "generation" in old_meta and self._spec_of(new) != self._spec_of(current):
            new_meta["generation"] = int(old_meta["generation"]) + 1
        new_meta["resourceVersion"] = self._next_version(dry_run)
        if not dry_run:
            if new_meta.get("deletionTimestamp") and not new_meta.get("finalizers"):
                self._remove(key, new)
            else:
                self._store(key, new)
                self._emit(resource, "MODIFIED", new)
        return 200, (self._scale_of(new) if subresource == "scale" else copy.deepcopy(new))

    def _delete(
        self, key: tuple[kmock.resource, str | None, str], request: kmock.Request, dry_run: bool
    ) -> tuple[int, Obj]:
        resource, _, name = key
        current = self._current(key)
        if current is None:
            raise _not_found(resource, name)
        options: Any = {}
        if request.body:
            with contextlib.suppress(ValueError):
                options = json.loads(request.body)
        preconditions = (options or {}).get("preconditions") or {} if isinstance(options, dict) else {}
        meta = current["metadata"]
        if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
            raise _conflict(
                resource,
                name,
                f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                f"UID in object meta: {meta.get('uid')}",
            )
        if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != meta.get("resourceVersion"):
            raise _conflict(resource, name, "Precondition failed: the object has been modified")
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return 200, copy.deepcopy(current)
            new = copy.deepcopy(current)
            new["metadata"]["deletionTimestamp"] = _now()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            if "generation" in new["metadata"]:
                new["metadata"]["generation"] = int(new["metadata"]["generation"]) + 1
            new["metadata"]["resourceVersion"] = self._next_version(dry_run)
            if not dry_run:
                self._store(key, new)
                self._emit(resource, "MODIFIED", new)
            return 200, copy.deepcopy(new)
        final = copy.deepcopy(current)
        final["metadata"]["resourceVersion"] = self._next_version(dry_run)
        if not dry_run:
            self._remove(key, final)
        if resource in self.custom_resources:
            return 200, final
        return 200, {
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "group": resource.group, "kind": resource.plural, "uid": meta.get("uid")},
        }

    @staticmethod
    def _spec_of(obj: Obj) -> Obj:
        return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata", "status")}

    @staticmethod
    def _scale_of(obj: Obj) -> Obj:
        meta = obj.get("metadata", {})
        match_labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        return {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {
                k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta
            },
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
            "status": {
                "replicas": (obj.get("status") or {}).get("replicas", 0),
                "selector": ",".join(f"{k}={v}" for k, v in sorted(match_labels.items())),
            },
        }

    @staticmethod
    def _crd_status(crd: Obj) -> Obj:
        names = (crd.get("spec") or {}).get("names") or {}
        return {
            "acceptedNames": names,
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "lastTransitionTime": _now()},
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "lastTransitionTime": _now(),
                },
            ],
            "storedVersions": [
                v.get("name") for v in (crd.get("spec") or {}).get("versions") or [] if v.get("storage")
            ],
        }

    def _register_crd(self, crd: Obj) -> None:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
        if not group or not plural or not kind:
            return
        registered: list[kmock.resource] = []
        for version in spec.get("versions") or []:
            if not version.get("served", True) or not version.get("name"):
                continue
            subresources = version.get("subresources") or {}
            spec_obj = ResourceSpec(
                f"{group}/{version['name']}",
                plural,
                kind,
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                shortnames=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=tuple(sub for sub in ("status", "scale") if sub in subresources),
                custom=True,
                singular=names.get("singular") or kind.lower(),
            )
            register_resources(self, [spec_obj])
            registered.append(_kmock_resource(spec_obj))
        self._crd_resources[crd["metadata"]["name"]] = registered

    # ---- fallbacks: the default responses (after user-defined kmock reactions) ---------------------------------

    def _stashed(self, request: kmock.Request) -> kmock.Response:
        status, body = self._results[request]
        return kmock.Response(status=status, payload=body)

    async def _serve_create(self, request: kmock.Request) -> kmock.Response:
        return self._stashed(request)

    async def _serve_update(self, request: kmock.Request) -> kmock.Response:
        return self._stashed(request)

    async def _serve_delete(self, request: kmock.Request) -> kmock.Response:
        return self._stashed(request)

    async def _serve_replace(self, request: kmock.Request) -> kmock.Response:
        if request not in self._results:  # not a k8s object request
            raise kmock.KubernetesEndpointNotFoundError()
        return self._stashed(request)

    async def _serve_fetch(self, request: kmock.Request) -> Obj:
        assert request.resource is not None
        info = self._info(request.resource)
        if request.subresource is not None and request.subresource not in info.subresources:
            raise _k8s_error(404, "NotFound", "the server could not find the requested resource")
        current = self._current(self._key(request, info))
        if current is None:
            raise _not_found(request.resource, request.name)
        return self._scale_of(current) if request.subresource == "scale" else copy.deepcopy(current)

    def _matching(self, request: kmock.Request, obj: Obj) -> bool:
        meta = obj.get("metadata") or {}
        return (
            (request.namespace is None or meta.get("namespace") == request.namespace)
            and (request.name is None or meta.get("name") == request.name)
            and match_label_selector(request.params.get("labelSelector"), meta.get("labels"))
            and match_field_selector(request.params.get("fieldSelector"), obj)
        )

    def _objects_of(self, request: kmock.Request) -> list[Obj]:
        assert request.resource is not None
        found = [
            obj.raw
            for (res, _, _), obj in self.objects.items()
            if res == request.resource and not obj.deleted and self._matching(request, obj.raw)
        ]
        return sorted(found, key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"].get("name") or ""))

    async def _serve_list(self, request: kmock.Request) -> Obj:
        assert request.resource is not None
        info = self._info(request.resource)
        if info.namespaced is False and request.namespace is not None:
            raise _k8s_error(404, "NotFound", "the server could not find the requested resource")
        return {
            "apiVersion": _api_version(request.resource),
            "kind": f"{self._kind(request.resource)}List",
            "metadata": {"resourceVersion": str(self._resource_version)},
            "items": copy.deepcopy(self._objects_of(request)),
        }

    async def _serve_watch(self, request: kmock.Request) -> kmock.Response:  # type: ignore[override]
        assert request.resource is not None
        self._info(request.resource)
        return kmock.Response(headers={"Content-Type": "application/json"}, payload=self._watch_stream(request))

    async def _watch_stream(self, request: kmock.Request) -> AsyncIterator[Any]:
        assert request.resource is not None
        # Send the headers at once: clients wait for them before they consider the watch established.
        yield b""

        params = request.params
        since = params.get("resourceVersion")
        initial: list[Obj] = []
        if since in (None, "", "0") or params.get("sendInitialEvents") == "true":
            initial = [{"type": "ADDED", "object": copy.deepcopy(obj)} for obj in self._objects_of(request)]
            if params.get("sendInitialEvents") == "true":
                initial.append(
                    {
                        "type": "BOOKMARK",
                        "object": {
                            "apiVersion": _api_version(request.resource),
                            "kind": self._kind(request.resource),
                            "metadata": {
                                "resourceVersion": str(self._resource_version),
                                "annotations": {"k8s.io/initial-events-end": "true"},
                            },
                        },
                    }
                )
        else:
            try:
                since_int = int(since)
            except ValueError:
                since_int = -1
            if since_int < self._history_floor:
                yield {
                    "type": "ERROR",
                    "object": {
                        "apiVersion": "v1",
                        "kind": "Status",
                        "metadata": {},
                        "status": "Failure",
                        "code": 410,
                        "reason": "Expired",
                        "message": f"too old resource version: {since} ({self._history_floor})",
                    },
                }
                return
            initial = [
                event
                for rv, res, event in self._event_log
                if rv > since_int and res == request.resource and self._matching(request, event["object"])
            ]
        if self._closing:
            return

        watcher = _Watcher(request.resource, asyncio.Queue())
        self._watchers.add(watcher)  # no awaits since the snapshot above: nothing is lost or duplicated
        try:
            for event in initial:
                yield event
            timeout = params.get("timeoutSeconds")
            deadline = asyncio.get_running_loop().time() + float(timeout) if timeout else None
            raw = request._raw_request
            while True:
                now = asyncio.get_running_loop().time()
                if deadline is not None and now >= deadline:
                    return
                wait = 1.0 if deadline is None else min(1.0, deadline - now)
                try:
                    async with asyncio.timeout(wait):
                        live = await watcher.queue.get()
                except TimeoutError:
                    if raw is not None and (raw.transport is None or raw.transport.is_closing()):
                        return  # the client has gone
                    continue
                if live is None:  # the cluster is stopping
                    return
                if self._matching(request, live["object"]):
                    yield live
        finally:
            self._watchers.discard(watcher)


# --------------------------------------------------------------------------------------------------------------
# The server & the emulated cluster
# --------------------------------------------------------------------------------------------------------------


@attrs.mutable
class _Server(kmock.Server):
    """kmock's server without the aiohttp resolver hook (which forces a reverse stop order) and a fast shutdown."""

    async def __aenter__(self) -> _Server:
        if self._managed_server is not None or self._managed_client is not None:
            raise RuntimeError("The server can be started/entered only once.")
        self._managed_server = self._server_cls(self.handler, host=self._host, port=self._port)
        await self._managed_server.__aenter__()
        runner = getattr(self._managed_server, "runner", None)
        if runner is not None and hasattr(runner, "_shutdown_timeout"):
            runner._shutdown_timeout = 1.0  # do not wait 60 s for lingering connections on close
        self._managed_client = self._client_fct(self._managed_server.make_url("/"))
        if self.user_agent:
            self._managed_client.headers.update({"User-Agent": self.user_agent})
        await self._managed_client.__aenter__()
        self.handler.servers.append(self)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        with contextlib.suppress(ValueError):
            self.handler.servers.remove(self)
        if self._managed_client is not None:
            await self._managed_client.__aexit__(*exc_info)
        if self._managed_server is not None:
            await self._managed_server.__aexit__(*exc_info)
        self._managed_client = None
        self._managed_server = None


class EmulatedCluster(Cluster):
    """A running emulated cluster: the :class:`~harness.cluster.Cluster` handle plus its emulator, for faults
    and for looking inside (``cluster.emulator.objects``, ``.add_fault``, ``.watchers``)."""

    def __init__(self, name: str, emulator: FixedKubernetesEmulator, server: kmock.Server, *, strict: bool = True):
        super().__init__(name, str(server.url))
        self.emulator = emulator
        self.server = server
        self.strict = strict
        self._stopped = False

    async def __aenter__(self) -> EmulatedCluster:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: Any) -> None:
        await self.stop(check=exc_type is None)

    async def stop(self, *, check: bool = True) -> None:
        """Close watches, stop the server. Raises if the emulator failed internally (``strict``, ``check``)."""
        if self._stopped:
            return
        self._stopped = True
        self.emulator.close_watches()
        await asyncio.sleep(0)  # let the watch handlers see the end of their streams
        try:
            await self.close()
            await self.server.__aexit__(None, None, None)
        finally:
            await self.emulator.__aexit__(None, None, None)
        if check and self.strict and self.emulator.internal_errors:
            raise AssertionError(
                f"The Kubernetes emulator of {self.name!r} failed internally: {self.emulator.internal_errors!r}"
            )

    def resource(self, api_version: str, kind: str) -> ResourceSpec:
        """From the emulator's own registry, so that resources of CRDs created during the test resolve too."""
        res = self.emulator.find_resource(api_version, kind)
        info = self.emulator.resources[res]
        return ResourceSpec(
            api_version=f"{res.group}/{res.version}" if res.group else str(res.version),
            plural=str(res.plural),
            kind=str(info.kind),
            namespaced=info.namespaced is not False,
        )

    async def wait_watched(self, api_version: str, kind: str, *, within: float = 5.0) -> None:
        """Wait until somebody (e.g. a kopf operator) has a watch stream open on the resource."""
        res = self.emulator.find_resource(api_version, kind)
        await eventually(
            lambda: self.emulator.watchers(res) > 0,
            within=within,
            message=f"nobody watches {api_version} {kind} in {self.name!r}",
        )


async def start_cluster(
    name: str,
    *,
    resources: Iterable[ResourceSpec] = DEFAULT_RESOURCES,
    strict: bool = True,
    emulator_class: type[FixedKubernetesEmulator] = FixedKubernetesEmulator,
    **options: Any,
) -> EmulatedCluster:
    """Start an emulated cluster on ``http://127.0.0.1:<random port>``. Stop it with ``await cluster.stop()``.

    ``strict``: ``stop()`` raises if the emulator failed internally (an HTTP 500 that is a harness bug).
    ``options`` go to the emulator (``isolate_status``, ``missing_namespaces``, ``forget_requests``);
    ``emulator_class`` picks a subclass (e.g. ``requests_log.RecordingEmulator``).
    """
    emulator = emulator_class(**options)
    register_resources(emulator, resources)
    await emulator.__aenter__()
    server = _Server(emulator)
    try:
        await server.__aenter__()
    except BaseException:
        await emulator.__aexit__(None, None, None)
        raise
    cluster = EmulatedCluster(name, emulator, server, strict=strict)
    logger.debug("Started the emulated cluster %r at %s", name, cluster.url)
    return cluster


@contextlib.asynccontextmanager
async def running_cluster(name: str, **options: Any) -> AsyncIterator[EmulatedCluster]:
    """``async with running_cluster("east") as east:`` -- see :func:`start_cluster`."""
    cluster = await start_cluster(name, **options)
    ok = False
    try:
        yield cluster
        ok = True
    finally:
        await cluster.stop(check=ok)


@contextlib.asynccontextmanager
async def running_clusters(
    *names: str, resources: Iterable[ResourceSpec] = DEFAULT_RESOURCES, strict: bool = True, **options: Any
) -> AsyncIterator[list[EmulatedCluster]]:
    """``async with running_clusters("east", "west") as (east, west):`` (stopped in reverse order; any works)."""
    async with contextlib.AsyncExitStack() as stack:
        clusters = [
            await stack.enter_async_context(running_cluster(n, resources=resources, strict=strict, **options))
            for n in names
        ]
        yield clusters
