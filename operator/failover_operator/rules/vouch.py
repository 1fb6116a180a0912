"""Whether a read vouches for resources found serving when this process started (a restart, a new leader).

Such resources may serve for the unproved allowance only (rules.Timing.unproved_allowance) unless this process
proves ownership — two writes per group, which a thousand groups cannot all finish within a second or two of a
new leader's start. A heartbeat of this process that was answered before a strongly consistent read does as
well, when that read shows the group ours at its epoch, no move under way, not fenced by hand, the config saying
we serve (`serving`) and our status saying PRIMARY at that epoch: every takeover of us as stale waits a whole
timeout after it first saw that heartbeat's liveness number and re-reads it unchanged before its write, and
every takeover of us "as not serving" is conditioned on `serving` clear, which only we clear. So the usual fence
deadline — the heartbeat's send time plus the fence limit, moved
on by each later heartbeat — holds from then on, as after a proof. Nothing is scaled up on it: only a proof
lets a process scale up. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import ClusterState, ClusterStatus, GroupConfig


@dataclass(frozen=True)
class Vouch:
    ok: bool
    reason: str


def vouch(me: str, group: str, config: GroupConfig | None, status: ClusterStatus | None) -> Vouch:
    """Does this read (taken after a heartbeat of ours was answered) vouch for our copy of `group`?"""
    if config is None:
        return Vouch(False, f"{group} is not registered: only a proof of ownership vouches for {me}'s copy")
    if config.owner != me:
        return Vouch(False, f"{config.owner} owns {group} at epoch {config.epoch}, not {me}: {me}'s copy fences")
    if me in config.fences:
        return Vouch(False, f"{me}'s copy of {group} is fenced by hand: it fences")
    if config.transition is not None:
        return Vouch(False, f"a move of {group} is under way: only a proof of ownership vouches for {me}'s copy")
    if not config.serving:
        return Vouch(
            False, f"the config of {group} does not say {me} serves it: only a proof of ownership vouches for its copy"
        )
    if status is None:
        return Vouch(False, f"{me} has no status for {group}: only a proof of ownership vouches for its copy")
    if status.leaving:
        return Vouch(False, f"{me}'s status says it leaves {group}: only a proof of ownership vouches for its copy")
    if status.state != ClusterState.PRIMARY or status.observed_epoch != config.epoch:
        return Vouch(
            False,
            f"{me}'s status for {group} says {status.state.value} at epoch {status.observed_epoch}, not PRIMARY at "
            f"{config.epoch}: only a proof of ownership vouches for its copy",
        )
    return Vouch(
        True,
        f"{me} owns {group} at epoch {config.epoch} and its status says PRIMARY: its heartbeats vouch for the copy "
        f"it found serving (it keeps it as it is until it proves ownership)",
    )
