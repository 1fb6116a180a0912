"""A FailoverGroup deleted in this cluster: how the cluster leaves the group. Pure.

One rule above the others: **a cluster never leaves while its copy may serve a group that another cluster
owns, or will own** — whoever owns the group, whatever the deletion missed (it was seen late: the operator
was paused, restarted, or its API server unreachable, while ownership moved). So:

- Not the owner: scale our copy down, confirmed (retried while the API server cannot confirm it), then remove
  our status.
- The owner, with peers: scale our copy down, confirmed, then hand ownership to a live peer that is not leaving
  too (healthy first, in priority order; an unhealthy one is forced), whose own tick proves ownership and scales
  up: no overlap. (A leaving cluster says so in its status first: two leaving at once never hand the group
  back and forth; a peer fenced by hand is handed nothing either.) If
  no peer can take it, the group stays owned by us, serving nothing, and the others take it over once they see
  our status gone (an owner that does not say it serves is taken over "as not serving").
- The last cluster (no other cluster has a status): leave the resources as they are if we own the group (the
  user removes the group, not the application), scaled down otherwise; then remove every record of the group.
- The group's records are gone (the last cluster removed them): nobody owns it; our copy stays as it is.

Until it has left, the cluster keeps heartbeating and fencing as a runner does (reconciler/leave.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ..model import ClusterStatus, GroupConfig, Health
from .timing import takeover_order


class Step(StrEnum):
    STOP = "stop"  # scale our copy down, and wait until nothing of it runs
    HAND_OVER = "hand over"  # move ownership to the first of `targets` that takes it
    LEAVE = "leave"  # remove our status; the group stays with its owner
    REMOVE = "remove"  # the last cluster: remove every record of the group
    DONE = "done"  # nothing of the group is left in DynamoDB


@dataclass(frozen=True)
class Leaving:
    """What the leaving cluster knows, read afresh for each step."""

    me: str
    group: str
    config: GroupConfig | None  # None: the group has no record left
    clusters: Mapping[str, ClusterStatus]
    stale: frozenset[str]
    down: bool | None  # our copy confirmed down (None: it cannot be observed)
    priority: tuple[str, ...] = ()


@dataclass(frozen=True)
class Leave:
    step: Step
    reason: str
    targets: tuple[tuple[str, bool], ...] = ()
    """HAND_OVER: (cluster, forced) in the order to try them."""


def leave(s: Leaving) -> Leave:
    config = s.config
    if config is None:
        return Leave(Step.DONE, f"{s.group} has no record left in DynamoDB; {s.me} leaves its copy as it is")
    owner = config.owner == s.me
    peers = {c: status for c, status in s.clusters.items() if c != s.me}
    if owner and not peers:
        return Leave(
            Step.REMOVE,
            f"{s.me} owns {s.group} and is its last cluster: it leaves its resources as they are and removes every "
            f"record of the group",
        )
    if s.down is not True:
        whose = "it hands it over" if owner else f"it leaves ({config.owner} owns it at epoch {config.epoch})"
        return Leave(Step.STOP, f"{s.me} stops serving {s.group} before {whose}")
    if not owner:
        if not peers:
            return Leave(Step.REMOVE, f"{s.me} is the last cluster of {s.group}: it removes every record of the group")
        return Leave(Step.LEAVE, f"{s.me} has stopped serving {s.group} and leaves it to {config.owner}")
    alive = [c for c, status in peers.items() if c not in s.stale and not status.leaving and c not in config.fences]
    healthy = [c for c in alive if peers[c].health == Health.OK]
    targets = (
        *((c, False) for c in takeover_order(healthy, s.priority)),
        *((c, True) for c in takeover_order(set(alive) - set(healthy), s.priority)),
    )
    if targets:
        return Leave(Step.HAND_OVER, f"{s.me} has stopped serving {s.group} and hands it to a live peer", targets)
    return Leave(
        Step.LEAVE,
        f"no live peer can take {s.group}; {s.me} leaves it owned by itself, serving nothing, and the others take "
        f"it over once they see it gone",
    )
