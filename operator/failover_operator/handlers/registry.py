"""All handlers of one operator, on a fresh kopf registry (so that several operators can share a process)."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from ..api import GROUP, VERSION
from ..reconciler.context import OperatorContext
from ..workloads.kube import KubeClient
from .failovergroups import GroupHandlers
from .failovers import FailoverHandlers

FINALIZER = "failover.dev/finalizer"


def configure(settings: kopf.OperatorSettings) -> None:
    """Production hardening of kopf (see README, "Operating")."""
    settings.peering.standalone = True  # one replica per cluster; no peering resources needed
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="failover.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="failover.dev", key="last-handled-configuration"
    )
    # A watch that the server or a load balancer silently drops must not leave the operator deaf.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    settings.networking.connect_timeout = 30
    settings.networking.request_timeout = 60
    apply_posting_settings(settings)
    settings.scanning.disabled = True  # no cluster-wide CRD/namespace scans: fewer RBAC rights needed
    settings.execution.max_workers = 16
    apply_daemon_settings(settings)


def apply_posting_settings(settings: kopf.OperatorSettings) -> None:
    """Events come from failover-operator (`kubectl describe` shows it as From), and only ours: kopf's own log
    lines below WARNING are not posted."""
    settings.posting.level = logging.WARNING
    settings.posting.reporting_component = "failover-operator"


def apply_daemon_settings(settings: kopf.OperatorSettings) -> None:
    """Daemons stop on request within a poll interval and undo half-done work (a Failover deleted in flight);
    give them that long before kopf moves on, so deletions complete at once instead of after a backoff."""
    settings.background.instant_exit_timeout = 2.0


def build_registry(
    ctx: OperatorContext, kube: KubeClient, *, login: bool = True, tune: bool = True
) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    groups = GroupHandlers(ctx, kube)
    failovers = FailoverHandlers(ctx, kube)

    if tune:

        @kopf.on.startup(registry=registry)
        def _configure(settings: kopf.OperatorSettings, **_: Any) -> None:
            configure(settings)

    if login:

        @kopf.on.login(registry=registry)
        def _login(**kwargs: Any) -> kopf.ConnectionInfo | None:
            return kopf.login_via_client(**kwargs)

    fg = (GROUP, VERSION, "failovergroups")
    kopf.on.create(*fg, registry=registry)(groups.on_create)
    kopf.on.resume(*fg, registry=registry)(groups.on_create)
    kopf.on.update(*fg, registry=registry)(groups.on_update)
    kopf.daemon(*fg, registry=registry, cancellation_backoff=5.0, cancellation_timeout=5.0)(groups.daemon)
    kopf.on.delete(*fg, registry=registry)(groups.on_delete)
    kopf.daemon(GROUP, VERSION, "failovers", registry=registry, cancellation_backoff=5.0, cancellation_timeout=5.0)(
        failovers.daemon
    )
    return registry
