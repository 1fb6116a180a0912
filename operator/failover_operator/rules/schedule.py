"""When a scheduled switchover (`failover-operator switchover --at`) is asked for, and when it is dropped. Pure.

Its target's operator asks for the move once the time has come on its own clock (`Situation.schedule_late`):
the request a Failover makes, carried out by the ordinary rules of a planned move (never forced). A move that
would be refused then (`requests.refusal`: the group suspended, the target unhealthy or silent, the owner
unable to act), a group owned by another cluster than when it was scheduled, an owner gone (the rules of
failover decide who takes it over), or a time missed by more than transitoryState (its operator was down): the
schedule is dropped, saying why, and never retried. The owner drops one that has become pointless (the group
moved to its target meanwhile). A schedule whose target's operator never comes back stays, shown as due, until
a person cancels it.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..model import ClusterStatus, GroupConfig, Role
from .decide import Action, Decision, Situation
from .requests import refusal


def due(s: Situation, config: GroupConfig, clusters: Mapping[str, ClusterStatus], cause: str | None) -> Decision:
    """The target of a scheduled switchover whose time has come (a standby, no move pending): ask, or drop."""
    sw = config.schedule
    assert sw is not None and s.schedule_late is not None
    what = f"the switchover {sw.name} of {s.group} to {s.me} ({sw.mode.value}) scheduled for {sw.when}"
    limit = s.timing.transitory
    why: str | None
    if s.schedule_late > limit:
        why = (
            f"it is {s.schedule_late:.0f}s past its time, more than transitoryState ({limit:g}s): a move is not made "
            f"at another time than asked; schedule it again"
        )
    elif config.owner != sw.source_cluster:
        why = (
            f"{config.owner} owns {s.group} now (epoch {config.epoch}), not {sw.source_cluster} as when it was "
            f"scheduled"
        )
    elif cause is not None:
        why = f"{cause}; who takes the group over is for the rules of failover, not for a schedule"
    else:
        why = refusal(config, clusters, s.me, s.stale)
    if why is not None:
        return Decision(Action.DROP_SCHEDULED, Role.STANDBY, f"dropping {what}: {why}", schedule=sw)
    return Decision(
        Action.START_SCHEDULED,
        Role.STANDBY,
        f"starting {what}: {s.me} asks {config.owner} to hand {s.group} at epoch {config.epoch} over",
        schedule=sw,
    )


def obsolete(s: Situation, config: GroupConfig) -> Decision | None:
    """The owner, steady: a scheduled switchover to itself (the group moved there meanwhile) is dropped at once. Only
    its target judges the time: two clusters' wall clocks may disagree, and one that ran ahead must not drop a
    schedule before its target has seen its time come."""
    sw = config.schedule
    if sw is None or sw.target_cluster != s.me:
        return None
    return Decision(
        Action.DROP_SCHEDULED,
        Role.PRIMARY,
        f"dropping the switchover {sw.name} of {s.group} to {s.me} scheduled for {sw.when}: {s.me} owns {s.group} "
        f"already (epoch {config.epoch})",
        schedule=sw,
    )
