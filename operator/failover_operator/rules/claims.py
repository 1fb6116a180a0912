"""One resource listed by two FailoverGroups: which of them manages it. Pure.

A resource is managed by one group only, or two groups could scale it in opposite directions, and a cluster
could serve it as one group's owner while another cluster serves it as the other's. A CEL rule cannot see other
objects, so this is decided by the operator, the same way in every cluster: the group that the resource says
manages it (its `failover.dev/group` annotation), as long as that group still lists it; otherwise (a resource
no group has converged yet) the oldest FailoverGroup, then the first by name. The other group leaves the
resource alone and says so (a condition, an event, an ERROR component), and never scales it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime


def claimant(annotated: str | None, listing: Mapping[str, datetime | None]) -> str | None:
    """The group ("namespace/name") that manages a resource listed by every group in `listing` (group ->
    its creation time, None if unknown); `annotated`: the group the resource names as its manager."""
    if not listing:
        return None
    if annotated is not None and annotated in listing:
        return annotated
    return min(listing, key=lambda group: (listing[group] is None, listing[group] or datetime.max, group))
