"""Resources listed by two FailoverGroups of this cluster: the group the rulebook names manages each
(rules.claimant); the other leaves it alone, never scales it, and says so (an ERROR component, a condition
and an event)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..rules import claimant
from ..workloads.converge import ref_key
from .plan import GroupPlan

if TYPE_CHECKING:
    from .context import OperatorContext
    from .group import GroupRunner


class Claims:
    def __init__(self, ctx: OperatorContext) -> None:
        self.ctx = ctx

    def claimed(self, runner: GroupRunner, plan: GroupPlan) -> dict[str, str]:
        """ "Kind/name" -> the group that manages it instead, for each resource `plan` lists that another group
        of this cluster lists too and manages."""
        others = [
            r
            for r in list(self.ctx.runners.values())
            if r is not runner and r.namespace == runner.namespace and r.plan is not None
        ]
        if not others:
            return {}
        listed_by: dict[str, dict[str, GroupPlan]] = {}
        for other in others:
            assert other.plan is not None
            for ref in other.plan.resources:
                listed_by.setdefault(ref_key(ref), {})[other.group] = other.plan
        found: dict[str, str] = {}
        for ref in plan.resources:
            key = ref_key(ref)
            rivals = listed_by.get(key)
            if not rivals:
                continue
            listing = {runner.group: plan.created, **{group: p.created for group, p in rivals.items()}}
            manager = claimant(self.ctx.workloads.managed_by(runner.namespace, ref), listing)
            if manager is not None and manager != runner.group:
                found[key] = manager
        return found
