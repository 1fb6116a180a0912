"""What a client asked an emulated Kubernetes API server, in RBAC's terms: for checking RBAC rules against real use.

:func:`recording_cluster` starts an emulated cluster (as :func:`~.kube.running_cluster` does) whose emulator,
:class:`RecordingEmulator`, turns every request it serves into an :class:`ApiRequest` (verb, API group, resource,
subresource, namespace, name — what an RBAC authorizer looks at) and tells the operator's requests from the test
harness's by their User-Agent:

* the operator talks to the API through kopf (``kopf/<version>``) and through the official kubernetes client in
  ``workloads/kube.py`` (``OpenAPI-Generator/<version>/python``);
* the harness (``KubeCluster`` helpers, the controller stand-ins) through aiohttp's default
  (``Python/<version> aiohttp/<version>``).

A request from anything else is reported as ``"unknown"``, so a check can insist that the split is complete::

    async with recording_cluster("east") as east:
        log = RequestLog(east)             # where the cluster's request history stands now
        ... run the operator ...
        for request in log.requests("operator"):
            assert allows(grants, request), request

The recording emulator also keeps kmock's own request history short (only requests in flight): kmock matches every
new request against its whole history, so a plain emulator's cost per request grows with the number of requests
it has served, and a long scenario becomes CPU-bound. :class:`RequestLog` also works on a plain emulator (from
kmock's history).

:func:`allows` evaluates Kubernetes RBAC ``PolicyRule`` lists the way the API server's authorizer does
(verbs, apiGroups, resources with ``resource/subresource`` and ``*``, resourceNames, nonResourceURLs with a
trailing ``*``), so rules rendered from a Helm chart can be checked against recorded requests.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import aiohttp.web
import attrs

from .kube import FixedKubernetesEmulator, KubeCluster, parse_k8s_path, running_cluster

Client = Literal["operator", "harness", "unknown"]

OPERATOR_USER_AGENTS = ("kopf/", "OpenAPI-Generator/")
HARNESS_USER_AGENTS = ("Python/",)  # aiohttp's default: "Python/3.11 aiohttp/3.x"


@dataclasses.dataclass(frozen=True, order=True)
class ApiRequest:
    """One request, as the RBAC authorizer sees it. ``resource`` is empty for non-resource URLs (``path``)."""

    verb: str  # get, list, watch, create, update, patch, delete, deletecollection
    group: str  # "" for the core group
    resource: str  # plural, e.g. "deployments"; "" for a non-resource URL
    subresource: str = ""  # e.g. "status"
    namespace: str | None = None
    name: str | None = None
    path: str = ""
    client: Client = "unknown"

    @property
    def is_resource(self) -> bool:
        return bool(self.resource)

    @property
    def resource_path(self) -> str:
        """``resource`` or ``resource/subresource``, as RBAC rules name it."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    @property
    def permission(self) -> tuple[str, str, str]:
        """(apiGroup, resource[/subresource], verb): what a rule must grant, without namespace and name."""
        return (self.group, self.resource_path, self.verb) if self.is_resource else ("", self.path, self.verb)

    def __str__(self) -> str:
        if not self.is_resource:
            return f"{self.verb} {self.path} (non-resource URL)"
        where = f" in {self.namespace}" if self.namespace else " (cluster-wide)"
        return f"{self.verb} {self.group or 'core'}/{self.resource_path}{where}"


def classify(user_agent: str | None) -> Client:
    agent = user_agent or ""
    if agent.startswith(OPERATOR_USER_AGENTS):
        return "operator"
    if agent.startswith(HARNESS_USER_AGENTS):
        return "harness"
    return "unknown"


def rbac_verb(method: str, *, named: bool, watch: bool) -> str:
    """The RBAC verb of an HTTP request (as the API server's request-info resolver derives it)."""
    method = method.upper()
    if method == "GET":
        return "watch" if watch else ("get" if named else "list")
    if method == "DELETE":
        return "delete" if named else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "HEAD": "get"}.get(method, method.lower())


def api_request(method: str, path: str, query: Mapping[str, str], user_agent: str | None = None) -> ApiRequest:
    """The :class:`ApiRequest` of one HTTP request."""
    parsed = parse_k8s_path(path)
    watch = str(query.get("watch", "")).lower() in ("true", "1")
    client = classify(user_agent)
    if parsed.group is None or parsed.plural is None:  # /api, /apis, /apis/{group}[/{version}], /version, ...
        return ApiRequest(rbac_verb(method, named=True, watch=False), "", "", path=path, client=client)
    return ApiRequest(
        rbac_verb(method, named=parsed.name is not None, watch=watch),
        parsed.group,
        parsed.plural,
        parsed.subresource or "",
        parsed.namespace,
        parsed.name,
        path,
        client,
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def _of_raw(raw: aiohttp.web.BaseRequest) -> ApiRequest:
    return api_request(raw.method, raw.path, dict(raw.query), raw.headers.get("User-Agent"))


@attrs.define(kw_only=True)
class RecordingEmulator(FixedKubernetesEmulator):
    """:class:`~.kube.FixedKubernetesEmulator` that records every request as an :class:`ApiRequest` in ``served``
    (in order of arrival) and drops it from kmock's history once it is answered."""

    served: list[ApiRequest] = attrs.field(factory=list, init=False)
    forget_requests: bool = True  # `served` is the record; kmock's history would only slow every request down

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        self.served.append(_of_raw(raw_request))
        return await super().__call__(raw_request)


def recording_cluster(name: str, **options: Any) -> contextlib.AbstractAsyncContextManager[KubeCluster]:
    """``async with recording_cluster("east") as east:`` -- :func:`~.kube.running_cluster` with a
    :class:`RecordingEmulator`."""
    return running_cluster(name, emulator_class=RecordingEmulator, **options)


def api_requests(cluster: KubeCluster, *, since: int = 0) -> list[ApiRequest]:
    """Every request the cluster has served (from the ``since``-th on), in order of arrival.

    A :class:`RecordingEmulator` knows them all; a plain emulator, what kmock's history holds.
    """
    emulator = cluster.emulator
    if isinstance(emulator, RecordingEmulator):
        return emulator.served[since:]
    return [
        api_request(str(r.method.value), r.url.path, dict(r.params), _header(dict(r.headers), "User-Agent"))
        for r in list(emulator)[since:]
    ]


class RequestLog:
    """The requests a cluster serves from now on (``log.requests()``), optionally of one client only."""

    def __init__(self, cluster: KubeCluster) -> None:
        self.cluster = cluster
        self.start = len(api_requests(cluster))

    def requests(self, client: Client | None = None) -> list[ApiRequest]:
        found = api_requests(self.cluster, since=self.start)
        return [r for r in found if client is None or r.client == client]


# --------------------------------------------------------------------------------------------------------------
# RBAC evaluation
# --------------------------------------------------------------------------------------------------------------


def _resource_matches(rule_resources: Sequence[str], request: ApiRequest) -> bool:
    for allowed in rule_resources:
        if allowed == "*" or allowed == request.resource_path:
            return True
        if request.subresource and allowed == f"*/{request.subresource}":
            return True
    return False


def _url_matches(rule_urls: Sequence[str], path: str) -> bool:
    for allowed in rule_urls:
        if allowed == "*" or allowed == path:
            return True
        if allowed.endswith("*") and path.startswith(allowed[:-1]):
            return True
    return False


def rule_allows(rule: Mapping[str, Any], request: ApiRequest) -> bool:
    """Does one RBAC ``PolicyRule`` allow the request (the namespace is the binding's business, not the rule's)?"""
    verbs = rule.get("verbs") or []
    if "*" not in verbs and request.verb not in verbs:
        return False
    if not request.is_resource:
        return _url_matches(rule.get("nonResourceURLs") or [], request.path)
    groups = rule.get("apiGroups") or []
    if "*" not in groups and request.group not in groups:
        return False
    if not _resource_matches(rule.get("resources") or [], request):
        return False
    names = rule.get("resourceNames") or []
    return not names or (request.name is not None and request.name in names)


@dataclasses.dataclass
class Grant:
    """Rules that apply everywhere (a ClusterRole bound by a ClusterRoleBinding: ``namespace=None``) or in one
    namespace (a Role, or a ClusterRole bound by a RoleBinding)."""

    rules: Sequence[Mapping[str, Any]]
    namespace: str | None = None
    source: str = ""

    def allows(self, request: ApiRequest) -> bool:
        if self.namespace is not None and (not request.is_resource or request.namespace != self.namespace):
            return False
        return any(rule_allows(rule, request) for rule in self.rules)


def allows(grants: Iterable[Grant], request: ApiRequest) -> bool:
    """RBAC is a union: the request is allowed if any grant allows it."""
    return any(grant.allows(request) for grant in grants)


__all__ = [
    "HARNESS_USER_AGENTS",
    "OPERATOR_USER_AGENTS",
    "ApiRequest",
    "Grant",
    "RecordingEmulator",
    "RequestLog",
    "allows",
    "api_request",
    "api_requests",
    "classify",
    "rbac_verb",
    "recording_cluster",
    "rule_allows",
]
