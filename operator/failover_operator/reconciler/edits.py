"""Edits people make to a FailoverGroup's spec that the whole fleet must see: written to DynamoDB once, when
they are made (never every tick: clusters whose copies differ would otherwise undo each other forever)."""

from __future__ import annotations

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
        changed = current.model_copy(update={"timeouts": timeouts, "timeouts_before": current.timeouts})
        try:
            await store.state.update_group_config(changed)
            return
        except ConflictError:
            continue
    raise ConflictError(f"{namespace}/{name} kept changing while its timeouts were being updated")
