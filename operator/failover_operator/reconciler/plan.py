"""A FailoverGroup spec reduced to the plain values the reconciler works with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..store.records import Timeouts


@dataclass(frozen=True)
class GroupPlan:
    heartbeat_interval: float
    timeouts: Timeouts
    auto_failover: bool = True
    priority: tuple[str, ...] = ()
    initial_primary: str | None = None
    suspended: bool = False
    suspension_reason: str | None = None
    resources: tuple[Any, ...] = ()  # items with .kind, .name and optionally .trigger_reconcile
    generation: int | None = None
    spec_error: str | None = None  # the current spec is invalid; this plan is the last valid one
