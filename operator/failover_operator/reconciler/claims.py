"""Resources listed by two FailoverGroups of this cluster: the group the rulebook names manages each
(rules.claimant); the other leaves it alone, never scales it, and says so (an ERROR component, a condition
and an event).

Which groups list which resource is kept as an index, updated when a group's plan changes: a thousand groups
each asking every tick must not each walk the others."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..rules import claimant
from ..workloads.converge import ref_key
from .plan import GroupPlan

if TYPE_CHECKING:
    from .context import OperatorContext
    from .group import GroupRunner

Listed = tuple[str, str]  # (namespace, "Kind/name")


class Claims:
    def __init__(self, ctx: OperatorContext) -> None:
        self.ctx = ctx
        self._listing: dict[Listed, dict[str, datetime | None]] = {}  # resource -> {group: its creation}
        self._lists: dict[str, tuple[tuple[Listed, ...], datetime | None]] = {}  # group -> (resources, creation)

    def claimed(self, runner: GroupRunner, plan: GroupPlan) -> dict[str, str]:
        """ "Kind/name" -> the group that manages it instead, for each resource `plan` lists that another group
        of this cluster lists too and manages."""
        listed = self._note(runner.group, runner.namespace, plan)
        found: dict[str, str] = {}
        refs = {ref_key(r): r for r in plan.resources}
        for resource in listed:
            listing = self._listing.get(resource, {})
            annotated = self.ctx.workloads.managed_by(runner.namespace, refs[resource[1]])
            if len(listing) > 1:
                manager = claimant(annotated, listing)
            else:  # only we list it, as far as we know: unless its manager runs here and has not said yet
                manager = annotated if self._not_known_yet(annotated) else None
            if manager is not None and manager != runner.group:
                found[resource[1]] = manager
        return found

    def _not_known_yet(self, group: str | None) -> bool:
        """`group` runs here but has not yet said what it lists (an operator that just started): a resource it
        manages is left alone until it has."""
        if group is None:
            return False
        namespace, _, name = group.partition("/")
        other = self.ctx.runners.get((namespace, name))
        return other is not None and other.plan is None

    def forget(self, group: str) -> None:
        """The group is gone from this cluster: it claims nothing any more."""
        for resource in self._lists.pop(group, ((), None))[0]:
            listing = self._listing.get(resource)
            if listing is not None:
                listing.pop(group, None)
                if not listing:
                    del self._listing[resource]

    def _note(self, group: str, namespace: str, plan: GroupPlan) -> tuple[Listed, ...]:
        listed = tuple((namespace, ref_key(r)) for r in plan.resources)
        if self._lists.get(group) == (listed, plan.created):
            return listed  # the same resources as last time (every tick of every group)
        self.forget(group)
        self._lists[group] = (listed, plan.created)
        for resource in listed:
            self._listing.setdefault(resource, {})[group] = plan.created
        return listed
