"""Fences by hand (`failover-operator fence` / `unfence`): a cluster added to, or removed from, the group's config.

One conditional update of the config per change: the whole `fences` map written on the condition that the
config's `version` is still the one read (bumped by the write), so a fence written meanwhile by someone else, or
any other change of the config, is never lost: the write is made again on what it found. The operators read the
map with the config; what it means to them is the rulebook's (rules/decide.py)."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Fence, GroupConfig
from . import keys
from .context import StoreContext
from .errors import ConflictError, NotFoundError
from .expr import Expr, update_expression
from .records import FENCES, config_from_item, fences_to_attr, n, ts

ATTEMPTS = 5
"""Writes made on a config that changed meanwhile (each found what the last one did not): a person's command, so a
few are enough; a config that changes this often is reported, not fought over."""


@dataclass(frozen=True)
class FenceChange:
    """What a fence or unfence did: the config as it now is, whether it changed it, and the fence concerned (the
    one written, the one already there, or the one removed; None: there was none to remove)."""

    config: GroupConfig
    changed: bool
    fence: Fence | None


class FenceManager:
    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx

    async def fence(self, namespace: str, name: str, cluster: str, reason: str, by: str | None = None) -> FenceChange:
        """Fence `cluster`'s copy of the group: recorded with `reason`, when, and by whom (`by`, else this store's
        writer name). A cluster already fenced keeps its fence (its reason and time): nothing is written."""
        keys.check_part(cluster, "cluster name")
        if not reason.strip():
            raise ValueError("a fence needs a reason")
        ctx = self._ctx
        wanted = Fence(reason=reason, fenced_at=ctx.clock.now(), fenced_by=by or ctx.cluster_name)
        config = await self._read(namespace, name)
        for _ in range(ATTEMPTS):
            there = config.fences.get(cluster)
            if there is not None:
                return FenceChange(config, False, there)
            written, found = await self._write(config, {**config.fences, cluster: wanted})
            if written is not None:
                return FenceChange(written, True, wanted)
            config = found
        raise self._busy(namespace, name)

    async def unfence(self, namespace: str, name: str, cluster: str) -> FenceChange:
        """Lift `cluster`'s fence of the group; a cluster not fenced is left as it is (nothing is written)."""
        config = await self._read(namespace, name)
        for _ in range(ATTEMPTS):
            there = config.fences.get(cluster)
            if there is None:
                return FenceChange(config, False, None)
            written, found = await self._write(config, {c: f for c, f in config.fences.items() if c != cluster})
            if written is not None:
                return FenceChange(written, True, there)
            config = found
        raise self._busy(namespace, name)

    async def _read(self, namespace: str, name: str) -> GroupConfig:
        ctx = self._ctx
        got = await ctx.call(
            "get_item", TableName=ctx.table, Key=ctx.key(ctx.pk(namespace, name), keys.CONFIG_SK), ConsistentRead=True
        )
        item = got.get("Item")
        if not item:
            raise NotFoundError(f"group {namespace}/{name} does not exist")
        return config_from_item(item)

    async def _write(self, config: GroupConfig, fences: dict[str, Fence]) -> tuple[GroupConfig | None, GroupConfig]:
        """The map written if the config is still at `config.version`: (the config written, None) — else (None,
        the config as found)."""
        ctx = self._ctx
        e = Expr()
        sets = [
            f"{e.n('version')} = {e.n('version')} + {e.v(n(1))}",
            f"{e.n('updatedAt')} = {e.v(ts(ctx.clock.now()))}",
        ]
        removes: list[str] = []
        if fences:
            sets.append(f"{e.n(FENCES)} = {e.v(fences_to_attr(fences))}")
        else:
            removes.append(e.n(FENCES))
        result, old = await ctx.write_if(
            "update_item",
            Key=ctx.key(ctx.pk(config.namespace, config.name), keys.CONFIG_SK),
            UpdateExpression=update_expression(sets, removes),
            ConditionExpression=f"{e.n('version')} = {e.v(n(config.version))}",
            ReturnValues="ALL_NEW",
            **e.params(),
        )
        if result is not None:
            return config_from_item(result["Attributes"]), config
        if not old:
            raise NotFoundError(f"group {config.namespace}/{config.name} does not exist")
        return None, config_from_item(old)

    @staticmethod
    def _busy(namespace: str, name: str) -> ConflictError:
        return ConflictError(
            f"the config of {namespace}/{name} changed {ATTEMPTS} times while the fence was being written; nothing "
            f"was changed: retry"
        )


def member(e: Expr, cluster: str) -> str:
    """The condition-expression path of `cluster`'s fence in the config (for `attribute_not_exists(...)`)."""
    return f"{e.n(FENCES)}.{e.n(cluster)}"
