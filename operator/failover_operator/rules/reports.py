"""What a cluster's status record says, and what a cluster says of itself. Pure.

A status is the truth about a cluster's resources, not its intentions: PRIMARY while they are scaled up,
whatever it converges to; FAILOVER (drained for a move) only once no pod runs; UNKNOWN health when they cannot
be observed (its API server does not answer) — not knowing is not failing, but such a cluster cannot act on its
resources either.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..model import ClusterState, ClusterStatus, FailoverMode, GroupConfig, Health, Role


def serving(status: ClusterStatus | None, epoch: int) -> bool:
    """The cluster reports itself PRIMARY, healthy and up to date with `epoch`: it serves the group."""
    return (
        status is not None
        and status.state == ClusterState.PRIMARY
        and status.health == Health.OK
        and status.observed_epoch == epoch
    )


def claims_serving(status: ClusterStatus | None, epoch: int) -> bool:
    """The cluster reports PRIMARY at `epoch` (healthy or not): what only a proof of ownership writes."""
    return status is not None and status.state == ClusterState.PRIMARY and status.observed_epoch == epoch


def drained(status: ClusterStatus | None, epoch: int) -> bool:
    """The cluster reports that it stopped serving at `epoch` for a move."""
    return status is not None and status.state == ClusterState.FAILOVER and status.observed_epoch == epoch


def able_to_act(status: ClusterStatus | None) -> bool:
    """The cluster can observe its resources (so it could stop them): its health is not UNKNOWN."""
    return status is not None and status.health != Health.UNKNOWN


def reported_state(
    role: Role | None,
    draining_me: bool,
    down: bool | None,
    previous: ClusterState,
    scaled_down: bool = False,
) -> ClusterState:
    """What this cluster's status says: the truth about its resources, not its intentions.

    A cluster whose workloads are scaled up reports PRIMARY whatever it is converging to (a standby that has
    not scaled down yet serves). Once they are scaled to zero (`scaled_down`) it no longer serves; while pods
    still terminate it reports its own role (STANDBY, FENCED), except an owner draining for a move, which
    reports PRIMARY until no pod runs: FAILOVER (drained) means confirmed down, and the transfer waits for it.
    `down` None: the resources could not be observed: the previous report stands.
    """
    if role == Role.PRIMARY:
        return ClusterState.PRIMARY
    if down is None:
        return previous
    if down:
        if draining_me:
            return ClusterState.FAILOVER
    elif draining_me or not scaled_down:
        return ClusterState.PRIMARY
    return ClusterState.FENCED if role == Role.FENCED else ClusterState.STANDBY


def recalled_role(managed_roles: Iterable[str | None]) -> Role | None:
    """A process that starts (a restart, a new leader): what its cluster's resources say it was doing, before it
    has read anything.

    Resources last converged PRIMARY: it may be the owner, and standbys may be taking over right now (no
    heartbeat was written while it started): they are PRIMARY but not proved, and fence unless proved within
    the unproved allowance (see Timing.unproved_allowance). FENCED: they stay down. Nothing of ours on them:
    nothing is touched before the config has been read."""
    roles = set(managed_roles)
    if Role.PRIMARY.value in roles:
        return Role.PRIMARY
    if Role.FENCED.value in roles:
        return Role.FENCED
    return None


@dataclass(frozen=True)
class ConfigWord:
    """What the owner (or an UPTIME move's source) must say on the group's config, where the moves that depend
    on it are conditioned (no transaction can check its status record with them). Each is written before the
    status that says the same, so that a status never says more than the config."""

    stop: bool = False
    """Clear `serving`: our resources are down (we scale nothing up again without a new proof)."""
    following: bool | None = None
    """Set (True) or clear (False) the UPTIME move's `following`: we have seen it and can act on our resources."""
    ready: bool = False
    """Set the hand-off's `ready`: we, its new owner, serve healthily; the source no longer takes it back."""
    reason: str = ""


def config_word(config: GroupConfig | None, me: str, reported: ClusterState, health: Health) -> ConfigWord | None:
    """What we must say on the config that it does not say yet (our copy of it); None: nothing.

    An owner that stopped only because DynamoDB was out for everyone says so too, once it answers: the standbys,
    blind as long as it was, count its silence afresh from then (reconciler/fleet.py: `sighted_at`), and it
    proves ownership again well within that."""
    if config is None:
        return None
    t = config.transition
    if config.owner == me and config.serving and reported != ClusterState.PRIMARY:
        return ConfigWord(stop=True, reason=f"{me} reports {reported.value}: its resources are down")
    asked = t is not None and t.mode == FailoverMode.UPTIME and t.source_cluster == me == config.owner
    if asked and t is not None and t.epoch == config.epoch and (health != Health.UNKNOWN) != t.following:
        if health == Health.UNKNOWN:
            why = f"{me} cannot act on its resources: it no longer follows UPTIME move {t.failover_name}"
            return ConfigWord(following=False, reason=why)
        return ConfigWord(following=True, reason=f"{me} follows UPTIME move {t.failover_name}")
    if (
        t is not None
        and t.mode == FailoverMode.UPTIME
        and t.target_cluster == me == config.owner
        and t.epoch == config.epoch
        and not t.ready
        and reported == ClusterState.PRIMARY
        and health == Health.OK
    ):
        return ConfigWord(ready=True, reason=f"{me} serves healthily: the hand-off of {t.failover_name} is done")
    return None
