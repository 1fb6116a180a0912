"""The rulebook: who may serve a group, take it over, transfer it, fence it or leave it — pure functions, every
decision ending in a one-line reason, in the manner of Patroni's `ha.py` without its side effects. Everything
else in the operator measures (what the rules look at) and acts (what they decide).

The promise they keep together with the store's conditional writes: **at no moment do two clusters serve a
group.** A cluster scales up only after it has *proved* ownership (its status PRIMARY at the epoch, written on
the condition that the config names it owner at that epoch), and every takeover is conditioned on what the
owner's records say, so that a proof and a takeover can never both succeed.

**When does a standby take over?** (`decide`, `_as_other`) When, on its own monotonic clock, it has not seen
the owner show afresh that it serves — a new heartbeat while its status says PRIMARY at the current epoch — for
`timeouts.heartbeat` (the longer of the old and the new for one old timeout after an edit: `timing`); and the
group is not suspended, `autoFailover` is on, no planned move is in progress (unless the owner is stale), and
it is itself healthy, heartbeating and up to date. The first eligible standby in `clusterPriority` order (then
by name) contends at once, each later one after its grace (`takeover_grace`). Its takeover is one conditional
write: the config still at the epoch, and the owner's numbers unchanged (STALE: it said PRIMARY and went
silent) or its status still not PRIMARY at the epoch (NOT_SERVING: fenced, drained, never reported). Then it
proves ownership, and only then scales up. An owner observed ERROR for `unhealthyPrimary` is not taken over
while it may serve: it is asked to drain, as for a planned move (UNHEALTHY).

**When must an owner stop serving?** (`decide`, `timing.fence_left`, `leave`, `watchdog`)
- When it cannot prove it still owns the group in time: `fence_after` (SELF_FENCE_FRACTION of the timeout; the
  shorter of the old and the new after an edit) after its last written heartbeat was *sent* — before any
  standby's wait of a whole timeout is over. A process that finds its resources serving when it starts (a
  restart, a new leader) has not proved anything yet: it keeps them for the unproved allowance at most, unless
  it proves ownership meanwhile (`Timing.unproved_allowance`).
- When a planned CONSISTENCY move asks it to drain (the target transfers only once it reports FAILOVER), or
  the new owner of an UPTIME hand-off reports ready.
- When the config names another owner (it was taken over, or a forced move did not wait for it).
- When the FailoverGroup is deleted in its cluster and another cluster owns, or will own, the group.
- When its operator stops renewing the watchdog's Lease: the watchdog fences it.
- When a person fenced its copy by hand (`failover-operator fence`, `rules/fenced.py`): it stays down, whatever it
  owns, until it is unfenced; nobody takes the group over meanwhile, and nothing moves to a fenced cluster.

**Moves** (`decide._transfer`, `requests.refusal`): a planned move is refused when the group is suspended, the
target unhealthy or silent, or the owner cannot act on its resources (health UNKNOWN) — unless forced. Force
waits `FORCE_WAIT_INTERVALS` heartbeat intervals for the owner to confirm it stopped, then moves anyway: what
force gives up, and the move's outcome says so.

**Scheduled switchovers** (`schedule`): its target asks for the move once the time has come on its own clock, or
drops it, saying why, when the move would be refused then, the group changed hands, the owner is gone, or the
time was missed by more than transitoryState. A wall-clock time decides when a move is asked for, never who
may serve.
"""

from .claims import claimant
from .decide import (
    Action,
    Decision,
    Move,
    Situation,
    StatusCheck,
    TakeoverCause,
    decide,
    draining,
    eligible,
    handing_off,
    uptime_party,
    uptime_source,
)
from .leave import Leave, Leaving, Step, leave
from .reports import (
    ConfigWord,
    able_to_act,
    claims_serving,
    config_word,
    drained,
    recalled_role,
    reported_state,
    serving,
)
from .requests import readiness, refusal
from .timing import (
    FORCE_WAIT_INTERVALS,
    Timing,
    effective_timing,
    fence_left,
    takeover_grace,
    takeover_order,
)
from .vouch import Vouch, vouch
from .watchdog import watchdog_deadline

__all__ = [
    "FORCE_WAIT_INTERVALS",
    "Action",
    "ConfigWord",
    "Decision",
    "Leave",
    "Leaving",
    "Move",
    "Situation",
    "StatusCheck",
    "Step",
    "TakeoverCause",
    "Timing",
    "Vouch",
    "able_to_act",
    "claimant",
    "claims_serving",
    "config_word",
    "decide",
    "drained",
    "draining",
    "effective_timing",
    "eligible",
    "fence_left",
    "handing_off",
    "leave",
    "readiness",
    "recalled_role",
    "refusal",
    "reported_state",
    "serving",
    "takeover_grace",
    "takeover_order",
    "uptime_party",
    "uptime_source",
    "vouch",
    "watchdog_deadline",
]
