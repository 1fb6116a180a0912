"""Resources found serving when this process started (a restart, a new leader), vouched for by one read each
— batched with every other group's — instead of waiting for each group's proof of ownership, which a thousand
groups cannot all finish within the unproved allowance (rules/vouch.py says why a read can vouch, and when).

Nothing is written and nothing is scaled: a vouched-for copy keeps serving as it is, on the usual fence deadline
(our heartbeats move it), until the group's own tick proves ownership — or fences it, if the read was wrong.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..model import Role
from ..rules import vouch
from ..store import StoreError

if TYPE_CHECKING:
    from .group import GroupRunner

log = logging.getLogger("failover_operator.group")

RETRY_SECONDS = 0.1
"""Between tries while no heartbeat of ours was answered yet, or the read failed (the allowance bounds it)."""


def wanted(runner: GroupRunner) -> bool:
    """Our copy serves on the unproved allowance: nothing has vouched for it yet."""
    acting = runner.acting
    return acting.role == Role.PRIMARY and not acting.on_heartbeats


async def vouch_found_serving(runner: GroupRunner) -> None:
    """Until our copy is proved, vouched for, fenced, or its allowance is gone: one consistent read of the
    config and our status after a heartbeat of ours was answered. Never raises."""
    ctx = runner.ctx
    while wanted(runner) and runner.fence_left() > 0:
        if ctx.heartbeat.sent_ok is None:  # no heartbeat of ours answered (landed) before the read below is served
            ctx.heartbeat.soon()
            await asyncio.sleep(RETRY_SECONDS)
            continue
        try:
            config, status = await ctx.store.state.ownership(runner.namespace, runner.name)
        except (StoreError, TimeoutError) as exc:
            log.debug("%s: cannot read what vouches for our copy yet: %s", runner.group, exc)
            await asyncio.sleep(RETRY_SECONDS)
            continue
        verdict = vouch(ctx.cluster, runner.group, config, status)
        if not wanted(runner):
            return  # proved or fenced meanwhile: that stands
        if verdict.ok:
            runner.acting.vouched = True
            runner.fence_moved()
            log.debug("%s: %s", runner.group, verdict.reason)  # a thousand groups at every restart: not said
        else:
            log.info("%s: %s", runner.group, verdict.reason)
        return
