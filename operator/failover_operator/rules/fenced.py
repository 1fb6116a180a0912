"""Fences by hand, in words (`failover-operator fence`; model.Fence). Pure.

What a fence means is said where each rule is: a fenced cluster keeps its copy down and takes nothing over
(decide), a group whose owner is fenced is not taken over automatically (decide), nothing moves to a fenced
cluster, forced or not (requests.refusal)."""

from __future__ import annotations

from ..model import Fence


def reason_of(fence: Fence) -> str:
    """The person's reason, on one line (a decision's reason is one line)."""
    return " ".join(fence.reason.split())


def fence_text(fence: Fence) -> str:
    """The reason, who fenced and when: `drill (by fleet-cli at 2026-01-01T00:00:00Z)`."""
    return f"{reason_of(fence)} (by {fence.fenced_by} at {fence.fenced_at:%Y-%m-%dT%H:%M:%SZ})"


def unfence_command(group: str, cluster: str) -> str:
    return f"`failover-operator unfence {group} --cluster {cluster}`"
