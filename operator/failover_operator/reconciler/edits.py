"""Edits people make to a FailoverGroup's spec that the whole fleet must see: written to DynamoDB once, when
they are made (never every tick: clusters whose copies differ would otherwise undo each other forever)."""

from __future__ import annotations

from ..model import GroupConfig
from ..store import ConflictError, DynamoDBService, Timeouts


async def write_timeouts(
    store: DynamoDBService, namespace: str, name: str, timeouts: Timeouts, attempts: int = 5
) -> None:
    """Write new timeouts to the group config, keeping the ones they replace (`timeoutsBefore`): for one old
    heartbeat timeout, standbys keep waiting at least the old one and owners fence on the shorter one, so a
    cut-off owner that never sees the change is still down before anyone may take over.

    A concurrent writer (another cluster applying the same edit) only means reading again, not an error."""
    for _ in range(attempts):
        current = await store.state.get_group_config(namespace, name)
        if current is None or current.timeouts == timeouts:
            return
        changed = current.model_copy(update={"timeouts": timeouts, "timeouts_before": replaced(current)})
        try:
            await store.state.update_group_config(changed)
            return
        except ConflictError:
            continue
    raise ConflictError(f"{namespace}/{name} kept changing while its timeouts were being updated")


def replaced(current: GroupConfig) -> Timeouts:
    """What the new timeouts replace: the current ones — with the longest heartbeat timeout of any change not
    yet known to be over (a second edit soon after a first must not forget the first's longer wait: a cut-off
    owner may still fence on the first's timeout). It may wait longer than needed for one old timeout: never
    shorter."""
    before = current.timeouts_before
    if before is None or before.heartbeat <= current.timeouts.heartbeat:
        return current.timeouts
    return current.timeouts.model_copy(update={"heartbeat": before.heartbeat})
