"""A dry run of a failover: every precondition the move would meet, what would happen step by step, and what
the last failovers of the group measured. Pure: the fleet CLI's `preflight` and a Failover with
`spec.dryRun: true` both judge from one read of the group.

The verdict is the operators' own (`failover_refusal`, the sentence a Failover's status shows); the checks
around it say more than its first reason: a move that would be accepted can still be slow (the target is not
up to date) or wait for ever (a CONSISTENCY move whose owner does not answer)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import FailoverMode, Health, Outcome
from ..store import GroupState, failover_refusal


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
                target not in stale,
                f"{target}'s heartbeat "
                + ("has not changed for over" if target in stale else "changed within")
                + f" {config.timeouts.heartbeat:g}s",
            ),
        ]
    if mode == FailoverMode.CONSISTENCY and not force:
        checks.append(
            Check(
                "owner-reachable",
                owner not in stale,
                f"{owner} must confirm it stopped serving; its heartbeat "
                + (
                    f"has not changed for over {config.timeouts.heartbeat:g}s (use UPTIME, force, or let automatic "
                    "failover take over)"
                    if owner in stale
                    else f"changed within {config.timeouts.heartbeat:g}s"
                ),
            )
        )
    refusal = failover_refusal(state, target, stale, check_suspension=not force, check_health=not force)
    limit = config.timeouts.transitory_state
    e = config.epoch
    if mode == FailoverMode.CONSISTENCY:
        steps = [
            f"ask {owner} to hand {group} over: the request is written to the group's config at epoch {e}",
            f"{owner} scales its resources down and reports it has stopped"
            + (" (forced: after one interval, whether it confirms or not)" if force else ""),
            f"{target} takes ownership (epoch {e + 1}) in one transaction that requires that report",
            f"{target} proves ownership, scales up, and reports ready: the failover has succeeded",
            f"if {target} has not taken over within {limit:g}s, the request is withdrawn and {owner} serves again",
        ]
    else:
        steps = [
            f"{target} takes ownership of {group} at once (epoch {e + 1}); {owner} serves on meanwhile",
            f"{target} scales up; once it reports ready, {owner} scales down",
            f"if {target} is not ready within {limit:g}s, ownership returns to {owner} (history: ROLLED_BACK)",
        ]
    downtimes = [
        h.downtime_seconds for h in state.history if h.downtime_seconds is not None and h.outcome == Outcome.SUCCEEDED
    ]
    return Preflight(group, target, mode, force, refusal, checks, steps, downtimes[:5])
