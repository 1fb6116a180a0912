"""A switchover scheduled for later (model.ScheduledSwitchover), kept in the group's config: three conditional
writes. `schedule` adds it (a person, `switchover --at`); `unschedule` removes that very one (a person's
`cancel`, or the operator that drops it); `start` turns it into a move request (the target's operator, at its
time): one write that removes it and sets the transition, so a schedule is started at most once and never
beside another move."""

from __future__ import annotations

from typing import Any

from ..model import GroupConfig, ScheduledSwitchover, Transition
from . import keys
from .context import StoreContext
from .errors import ConflictError, NotFoundError
from .expr import Expr, update_expression
from .records import b, config_from_item, n, s, schedule_to_attr, transition_to_attr, ts


class ScheduleManager:
    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx

    async def schedule(self, namespace: str, name: str, schedule: ScheduledSwitchover) -> GroupConfig:
        """Keep `schedule` in the group's config, only while its source owns the group and no move is pending
        or scheduled. Raises ConflictError saying what is in the way, or NotFoundError."""
        keys.check_part(schedule.target_cluster, "target cluster")
        e = Expr()
        sets = [f"{e.n('schedule')} = {e.v(schedule_to_attr(schedule))}", *self._touch(e)]
        condition = (
            f"attribute_exists({e.n(keys.PK)}) AND attribute_not_exists({e.n('schedule')})"
            f" AND attribute_not_exists({e.n('transition')}) AND {e.n('owner')} = {e.v(s(schedule.source_cluster))}"
        )
        result, old = await self._update(namespace, name, e, sets, [], condition)
        if result is not None:
            return config_from_item(result["Attributes"])
        now = self._found(namespace, name, old)
        if now.schedule is not None:
            raise ConflictError(f"{scheduled_words(now.schedule, namespace, name)} is already scheduled")
        if now.transition is not None:
            t = now.transition
            raise ConflictError(
                f"failover {t.failover_name} ({t.source_cluster} -> {t.target_cluster}, {t.mode.value}) of "
                f"{namespace}/{name} is in progress"
            )
        raise ConflictError(
            f"{namespace}/{name} changed: {now.owner} owns it at epoch {now.epoch} (not {schedule.source_cluster})"
        )

    async def unschedule(self, namespace: str, name: str, schedule_name: str) -> bool:
        """Remove the scheduled switchover `schedule_name` — only that one: True if removed, False if it was not
        there (started, dropped or replaced). Once it returns True, it can no longer start."""
        e = Expr()
        sw = e.n("schedule")
        condition = f"{sw}.{e.n('name')} = {e.v(s(schedule_name))}"
        result, _ = await self._update(namespace, name, e, self._touch(e), [sw], condition, why=False)
        return result is not None

    async def start(self, namespace: str, name: str, transition: Transition) -> GroupConfig:
        """Start the scheduled switchover named `transition.failover_name`: in one write, remove it and ask for
        `transition` — only if it is still scheduled, no move is pending, the group is not suspended, and the
        transition's source still owns the group at its epoch. Raises ConflictError (saying what changed) or
        NotFoundError; then nothing was written."""
        e = Expr()
        sw, moving, suspended = e.n("schedule"), e.n("transition"), e.n("suspended")
        sets = [f"{moving} = {e.v(transition_to_attr(transition))}", *self._touch(e)]
        condition = (
            f"{sw}.{e.n('name')} = {e.v(s(transition.failover_name))} AND attribute_not_exists({moving})"
            f" AND (attribute_not_exists({suspended}) OR {suspended} = {e.v(b(False))})"
            f" AND {e.n('owner')} = {e.v(s(transition.source_cluster))}"
            f" AND {e.n('epoch')} = {e.v(n(transition.epoch))}"
        )
        result, old = await self._update(namespace, name, e, sets, [sw], condition)
        if result is not None:
            return config_from_item(result["Attributes"])
        now = self._found(namespace, name, old)
        group = f"{namespace}/{name}"
        if now.schedule is None or now.schedule.name != transition.failover_name:
            why = f"the switchover {transition.failover_name} of {group} is no longer scheduled"
        elif now.transition is not None:
            why = f"failover {now.transition.failover_name} of {group} is in progress"
        elif now.suspended:
            why = f"{group} was suspended meanwhile"
        else:
            why = f"{group} changed: {now.owner} owns it at epoch {now.epoch}"
        raise ConflictError(f"{why}; nothing was written")

    # --- helpers ----------------------------------------------------------------------------------------

    def _touch(self, e: Expr) -> list[str]:
        return [
            f"{e.n('version')} = {e.n('version')} + {e.v(n(1))}",
            f"{e.n('updatedAt')} = {e.v(ts(self._ctx.clock.now()))}",
        ]

    async def _update(
        self,
        namespace: str,
        name: str,
        e: Expr,
        sets: list[str],
        removes: list[str],
        condition: str,
        *,
        why: bool = True,
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        ctx = self._ctx
        return await ctx.write_if(
            "update_item",
            Key=ctx.key(ctx.pk(namespace, name), keys.CONFIG_SK),
            UpdateExpression=update_expression(sets, removes),
            ConditionExpression=condition,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD" if why else "NONE",
            **e.params(),
        )

    @staticmethod
    def _found(namespace: str, name: str, old: dict[str, Any] | None) -> GroupConfig:
        """The config that refused a write (its old image), or NotFoundError if there is none."""
        if not old:
            raise NotFoundError(f"group {namespace}/{name} does not exist")
        return config_from_item(old)


def scheduled_words(sw: ScheduledSwitchover, namespace: str, name: str) -> str:
    """For people: 'the switchover scheduled-... of shop/web from east to west (CONSISTENCY) at 2026-...Z'."""
    return (
        f"the switchover {sw.name} of {namespace}/{name} from {sw.source_cluster} to {sw.target_cluster} "
        f"({sw.mode.value}) at {sw.when}"
    )
