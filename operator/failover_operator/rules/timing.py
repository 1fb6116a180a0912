"""How long each rule waits: the timeouts as they apply right now, the order and grace of standbys that
contend, the wait of a forced move, and when an owner must have stopped serving. Pure: the caller measures
every duration on its own monotonic clock."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ..model import GroupConfig

FORCE_WAIT_INTERVALS = 2
"""A forced move waits this many heartbeat intervals for the owner to confirm it stopped: the owner hears of the
request with the requester's next heartbeat and acts on its next tick. An owner that answers within that stops
before the target starts; one that does not is what force gives up."""

PRIORITY_MARGIN_SECONDS = 1.0
"""Added to each rank's wait for a tick's own time (a DynamoDB round trip, a busy event loop)."""


@dataclass(frozen=True)
class Timing:
    """A group's durations as this cluster must apply them right now (see `effective_timing`)."""

    heartbeat: float  # a standby's wait before the owner is stale
    fence_after: float  # an owner's limit without a written heartbeat
    unhealthy: float
    transitory: float
    interval: float

    @property
    def force_wait(self) -> float:
        return FORCE_WAIT_INTERVALS * self.interval

    @property
    def unproved_allowance(self) -> float:
        """How long a process may keep resources it found serving (a restart, a new leader) before it has proved
        that its cluster still owns the group: half of the shorter of the fence limit and the rest of the
        heartbeat timeout. Its predecessor's fence deadline is unknown to it; had the predecessor just written a
        heartbeat, no standby may take over before a whole timeout from then, so a process that starts within
        the predecessor's fence limit and fences after this allowance is down with half the remaining margin
        to spare. A predecessor that died longer ago was fenced by the watchdog (or both are gone: inherent)."""
        return min(self.fence_after, self.heartbeat - self.fence_after) / 2


def effective_timing(
    config: GroupConfig | None,
    fallback_heartbeat: float,
    fraction: float,
    interval: float,
    change_seen_for: float | None,
) -> Timing:
    """The durations to apply now. Right after the heartbeat timeout changed (the config keeps the timeouts
    from before), nobody's wait may shorten before the old timeout has passed: standbys wait max(old, new) and
    owners fence on min(old, new) until this cluster has seen the change for the old timeout."""
    if config is None:
        h = fallback_heartbeat
        return Timing(h, fraction * h, 60.0, 300.0, interval)
    new = config.timeouts
    old = config.timeouts_before
    wait, fence = new.heartbeat, new.heartbeat
    if old is not None and (change_seen_for is None or change_seen_for <= old.heartbeat):
        wait, fence = max(old.heartbeat, new.heartbeat), min(old.heartbeat, new.heartbeat)
    return Timing(wait, fraction * fence, new.unhealthy_primary, new.transitory_state, interval)


def fence_left(
    now: float,
    timing: Timing,
    *,
    heartbeat_sent: float | None,
    proved: bool,
    started: float,
    following: float | None = None,
    held: bool = False,
) -> float:
    """Seconds until this cluster must have stopped serving the group (0 or less: now).

    Proved in this process (or vouched for by a read after one of its heartbeats: rules/vouch.py): the fence
    limit from when its last written heartbeat was *sent* (it may have landed any moment before its answer, and
    the standbys' wait starts when it landed). Found serving and neither proved nor vouched for yet (a
    restarted process, a new leader): the unproved allowance from when it started — its own heartbeats do not
    extend it, since they vouch for resources it has not yet shown it still owns. `following`: it serves
    only by an UPTIME hand-off to another owner, whose records it last read then: it may serve beside the new
    owner while it follows the hand-off, so no longer than the fence limit without a read. `held`: it holds the
    group in maintenance (it said so, and nobody takes the group over from it while it does): no deadline of
    its own, only a hand-off's."""
    if held:
        left = math.inf
    elif not proved:
        left = started + timing.unproved_allowance - now
    elif heartbeat_sent is None:
        left = 0.0
    else:
        left = heartbeat_sent + timing.fence_after - now
    if following is not None:
        left = min(left, following + timing.fence_after - now)
    return left


def takeover_grace(rank: int, heartbeat_interval: float) -> float:
    """How long the standby at `rank` waits, after it judges the owner gone, before it contends.

    Each standby starts its staleness clock when it first sees the owner's last heartbeat, which is up to one
    interval after the write, and notices the timeout at its next tick, up to one more interval later; so two
    standbys judge the same owner stale up to two intervals apart. Each rank therefore yields two intervals,
    plus a margin for the tick itself: then the preferred standby wins whenever it is working, and a later one
    still steps in when it is not.
    """
    return rank * (2 * heartbeat_interval + max(heartbeat_interval, PRIORITY_MARGIN_SECONDS))


def takeover_order(candidates: Iterable[str], priority: Iterable[str]) -> list[str]:
    """Who contends first: clusters in `priority` order, then the others by name."""
    candidates = set(candidates)
    ranked = [c for c in dict.fromkeys(priority) if c in candidates]
    return ranked + sorted(candidates - set(ranked))
