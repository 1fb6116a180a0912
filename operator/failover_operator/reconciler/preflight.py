"""A dry run of a failover: every precondition the move would meet, what would happen step by step, and what
the last failovers of the group measured. Pure: the fleet CLI's `preflight` and a Failover with
`spec.dryRun: true` both judge from one read of the group.

The refusal is the operators' own (rules.refusal, the sentence a Failover's status shows); the checks
around it say more than its first reason: a move that would be accepted can still be slow (the target is not
up to date) or wait for ever (a CONSISTENCY move whose owner does not answer). The verdict takes both: it is
ok only when no check failed, and `why_not` says why when it is not."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import ClusterStatus, FailoverMode, Health, Outcome
from ..rules import FORCE_WAIT_INTERVALS, refusal
from ..rules.fenced import fence_text
from ..store import GroupState


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str


@dataclass(frozen=True)
class Preflight:
    group: str
    target: str
    mode: FailoverMode
    force: bool
    refusal: str | None  # what a Failover would be refused with (None: it would start)
    checks: list[Check] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    downtimes: list[float] = field(default_factory=list)  # measured by the group's last failovers, newest first

    @property
    def ok(self) -> bool:
        """It would start, and nothing found would keep it from finishing."""
        return self.refusal is None and all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    @property
    def why_not(self) -> str | None:
        """Why it would not go through (None: it would): the refusal, else every failed check."""
        if self.refusal is not None:
            return self.refusal
        return "; ".join(f"{c.name}: {c.message}" for c in self.failed) or None

    @property
    def verdict(self) -> str:
        """One line that agrees with the checks: `would start` only when none failed."""
        if self.refusal is not None:
            return f"would be refused: {self.refusal}"
        if self.failed:
            return f"would not succeed: {self.why_not}"
        return "would start"


def heard(status: ClusterStatus | None) -> bool:
    """The cluster has heartbeated: its liveness record exists (liveness_seq 0: read, and there is none; None:
    not read with it, judged by staleness alone). A status record alone may be all a cluster ever wrote."""
    return status is not None and status.liveness_seq != 0


def force_wait_text() -> str:
    """The force wait as the rule applies it (rules.FORCE_WAIT_INTERVALS), in words."""
    n = FORCE_WAIT_INTERVALS
    return f"{n} heartbeat interval{'s' if n != 1 else ''}"


def preflight(state: GroupState, target: str, mode: FailoverMode, stale: set[str], *, force: bool = False) -> Preflight:
    config = state.config
    group = f"{config.namespace}/{config.name}"
    owner = config.owner
    status = state.clusters.get(target)
    checks = [
        Check("target-is-not-owner", target != owner, f"{owner} owns {group} at epoch {config.epoch}"),
        Check(
            "not-suspended",
            force or not config.suspended,
            f"{group} is suspended ({config.suspension_reason or 'no reason given'})"
            + ("; forced, so it moves anyway" if force else "")
            if config.suspended
            else f"{group} is not suspended",
        ),
        Check(
            "lock-free",
            state.lock is None,
            "no lock held" if state.lock is None else f"locked by {state.lock.holder} ({state.lock.reason})",
        ),
        Check(
            "no-move-in-progress",
            config.transition is None,
            "no failover in progress"
            if config.transition is None
            else f"failover {config.transition.failover_name} ({config.transition.source_cluster} -> "
            f"{config.transition.target_cluster}) is in progress",
        ),
        _fence_check(state, target, "target-not-fenced", "nothing moves to it, forced or not", allowed=False),
        _fence_check(
            state, owner, "owner-fence", "its copy is already down: a move away from it is allowed", allowed=True
        ),
        Check(
            "target-reports",
            status is not None,
            f"{target} reports {status.state.value}" if status else f"{target} has never reported status for {group}",
        ),
    ]
    if status is not None:
        checks += [
            Check(
                "target-healthy",
                force or status.health == Health.OK,
                f"{target} reports {status.health.value}" + (f": {status.message}" if status.message else ""),
            ),
            Check(
                "target-up-to-date",
                status.observed_epoch == config.epoch,
                f"{target} has seen epoch {status.observed_epoch} (current {config.epoch})",
            ),
            Check(
                "target-heartbeating",
                target not in stale and heard(status),
                f"{target} has never heartbeated (DynamoDB holds no liveness record of it): is its operator running?"
                if not heard(status)
                else f"{target}'s heartbeat "
                + ("has not changed for over" if target in stale else "changed within")
                + f" {config.timeouts.heartbeat:g}s",
            ),
        ]
    owner_status = state.clusters.get(owner)
    if not force:
        checks.append(
            Check(
                "owner-can-act",
                owner_status is None or owner_status.health != Health.UNKNOWN,
                f"{owner} reports {owner_status.health.value}"
                + (
                    ": it cannot act on its resources, so it could not stop serving them (a forced move would not "
                    "wait for it)"
                    if owner_status.health == Health.UNKNOWN
                    else ""
                )
                if owner_status is not None
                else f"{owner} has never reported status for {group}",
            )
        )
    if mode == FailoverMode.CONSISTENCY and not force:
        reachable = owner_status is not None and owner not in stale and heard(owner_status)
        if owner_status is None:
            said = f"{owner} has never reported status for {group} (use force, or let automatic failover take over)"
        elif not heard(owner_status):
            said = (
                f"{owner} must confirm it stopped serving, and has never heartbeated (DynamoDB holds no liveness "
                f"record of it): use force, or let automatic failover take over"
            )
        elif owner in stale:
            said = (
                f"{owner} must confirm it stopped serving; its heartbeat has not changed for over "
                f"{config.timeouts.heartbeat:g}s (use UPTIME, force, or let automatic failover take over)"
            )
        else:
            said = (
                f"{owner} must confirm it stopped serving; its heartbeat changed within {config.timeouts.heartbeat:g}s"
            )
        checks.append(Check("owner-reachable", reachable, said))
    refused = refusal(state.config, state.clusters, target, stale, check_suspension=not force, check_health=not force)
    limit = config.timeouts.transitory_state
    e = config.epoch
    if mode == FailoverMode.CONSISTENCY:
        steps = [
            f"ask {owner} to hand {group} over: the request is written to the group's config at epoch {e}",
            f"{owner} scales its resources down and reports it has stopped"
            + (
                f" (forced: {target} waits {force_wait_text()} for it, then the move goes ahead whether {owner} "
                "confirmed or not)"
                if force
                else ""
            ),
            f"{target} takes ownership (epoch {e + 1}) in one conditional write that requires it to have stopped",
            f"{target} proves ownership, scales up, and reports ready: the failover has succeeded",
            f"if {target} has not taken over within {limit:g}s, the request is withdrawn and {owner} serves again",
        ]
    else:
        steps = [
            f"{target} takes ownership of {group} at once (epoch {e + 1}); {owner} serves on meanwhile",
            f"{target} scales up; once it reports ready, {owner} scales down",
            f"if {target} is not ready within {limit:g}s, ownership returns to {owner} (history: ROLLED_BACK)",
        ]
    if owner in config.fences:
        steps = _from_fenced(steps, owner, target, mode)
    downtimes = [
        h.downtime_seconds for h in state.history if h.downtime_seconds is not None and h.outcome == Outcome.SUCCEEDED
    ]
    return Preflight(group, target, mode, force, refused, checks, steps, downtimes[:5])


def _fence_check(state: GroupState, cluster: str, name: str, meaning: str, *, allowed: bool) -> Check:
    """Whether `cluster` is fenced by hand, and what that means to the move; the check fails only for a fence not
    `allowed` (the target's; the owner's `owner-fence` passes either way, and says what it means)."""
    fence = state.config.fences.get(cluster)
    group = f"{state.config.namespace}/{state.config.name}"
    if fence is None:
        return Check(name, True, f"{cluster} is not fenced by hand")
    said = f"{cluster} is fenced by hand for {group} ({fence_text(fence)}): {meaning}"
    return Check(name, allowed, said)


def _from_fenced(steps: list[str], owner: str, target: str, mode: FailoverMode) -> list[str]:
    """The steps of a move away from an owner fenced by hand: it serves nothing, and stays down throughout."""
    if mode == FailoverMode.CONSISTENCY:
        return [
            steps[0],
            f"{owner} is fenced by hand: its copy is already down, and it reports so (drained)",
            *steps[2:4],
            steps[4].replace(f"{owner} serves again", f"{owner} stays fenced (its copy down until it is unfenced)"),
        ]
    return [
        f"{steps[0].split(';')[0]}; {owner}, fenced by hand, serves nothing meanwhile",
        f"{target} scales up and reports ready; {owner} ends the hand-off at once (it has nothing to take back)",
    ]
