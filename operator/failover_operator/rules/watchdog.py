"""When the watchdog fences. Pure.

The operator renews its Lease after its heartbeats, carrying the time left before the first group it serves
must fence (or "none": nothing served). The watchdog watches the Lease on its own monotonic clock and fences
every PRIMARY resource of the cluster once the last renewal that vouched for serving has run out.

A renewal that says "nothing served" never extends a running deadline: only a process that vouches for what it
serves does. A restarted operator that has not yet looked at its resources says "nothing served" at first,
while its predecessor's pods may still serve: its renewal alone must not satisfy the watchdog (issue 18,
finding 2), so the predecessor's deadline keeps running until the new process vouches, or the watchdog fences.
"""

from __future__ import annotations


def watchdog_deadline(
    deadline: float | None,
    changed: bool,
    now: float,
    allowed: float | None,
    *,
    blind_for: float = 0.0,
    renewed_every: float | None = None,
) -> float | None:
    """The watchdog's fence deadline after one look at the Lease (None: nothing to fence).

    `changed`: the Lease was renewed since the last look (now is when the watchdog saw it); `allowed`: the time
    left that the renewal carried (None: it said nothing is served). `blind_for`: how long before this look the
    watchdog last saw the Lease (its API server did not answer meanwhile); `renewed_every`: how often the
    operator renews it. A renewal first seen after the watchdog could not look for longer than that may be as
    old as the blindness: it vouches only until the next renewal is due (a living operator renews by then; the
    one that wrote it may have died long ago, its pods serving while the API server was gone)."""
    if not changed or allowed is None:
        return deadline
    if renewed_every is not None and blind_for > renewed_every:
        allowed = min(allowed, 2 * renewed_every)
    return now + allowed
