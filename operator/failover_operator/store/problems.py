"""What is wrong with a group, judged from one read of its records. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from ..model import ClusterState, ClusterStatus, FailoverMode, GroupConfig, Health
from ..rules.fenced import fence_text, unfence_command
from .records import LockInfo


class ProblemKind(StrEnum):
    STALE_HEARTBEAT = "STALE_HEARTBEAT"
    OWNER_UNHEALTHY = "OWNER_UNHEALTHY"
    OWNER_UNKNOWN = "OWNER_UNKNOWN"
    FENCED_BY_HAND = "FENCED_BY_HAND"  # a person fenced a cluster's copy (`failover-operator fence`): a reminder
    SPLIT_BRAIN = "SPLIT_BRAIN"
    LOCK_STUCK = "LOCK_STUCK"
    CORRUPT_RECORD = "CORRUPT_RECORD"
    NO_HEALTHY_STANDBY = "NO_HEALTHY_STANDBY"


class Severity(StrEnum):
    ERROR = "error"  # the group is at risk now: someone should act
    WARNING = "warning"  # worth a look; nothing is at risk yet


class Problem(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: ProblemKind
    cluster: str | None
    message: str
    severity: Severity = Severity.ERROR


def find_problems(
    config: GroupConfig,
    clusters: Mapping[str, ClusterStatus],
    *,
    stale: Iterable[str] = (),
    lock: LockInfo | None = None,
    lock_age: float | None = None,
    corrupt: Iterable[str] = (),
) -> list[Problem]:
    """`stale` are clusters whose heartbeat we have seen unchanged too long (their last report is no claim to
    serve: not counted toward SPLIT_BRAIN); `lock_age` is how long we have seen the lock record unchanged."""
    group = f"{config.namespace}/{config.name}"
    problems: list[Problem] = []
    stale = set(stale)
    for cluster in sorted(stale):
        last = clusters.get(cluster)
        said = (
            f"; its last report (PRIMARY at epoch {last.observed_epoch}) is no claim to serve: a cluster silent "
            f"that long has fenced itself, or its watchdog has"
            if last is not None and last.state == ClusterState.PRIMARY and cluster != config.owner
            else ""
        )
        problems.append(
            Problem(
                kind=ProblemKind.STALE_HEARTBEAT,
                cluster=cluster,
                message=f"{cluster}'s heartbeat for {group} has not changed for over {config.timeouts.heartbeat:g}s"
                + said,
                severity=Severity.ERROR if cluster == config.owner else Severity.WARNING,
            )
        )
    owner = clusters.get(config.owner)
    if owner is None:
        problems.append(
            Problem(
                kind=ProblemKind.OWNER_UNKNOWN,
                cluster=config.owner,
                message=f"owner {config.owner} has never reported status for {group}",
                severity=Severity.WARNING,
            )
        )
    elif owner.health in (Health.ERROR, Health.UNKNOWN):
        problems.append(
            Problem(
                kind=ProblemKind.OWNER_UNHEALTHY,
                cluster=config.owner,
                message=f"owner {config.owner} reports health {owner.health.value} for {group}",
            )
        )
    ready = [
        name
        for name, status in clusters.items()
        if name != config.owner
        and name not in stale
        and name not in config.fences  # fenced by hand: it takes nothing over
        and status.state == ClusterState.STANDBY
        and status.health == Health.OK
        and status.observed_epoch == config.epoch
    ]
    if not ready:
        problems.append(
            Problem(
                kind=ProblemKind.NO_HEALTHY_STANDBY,
                cluster=None,
                message=f"no cluster could take {group} over now: none but {config.owner} reports STANDBY, OK and "
                f"up to date at epoch {config.epoch} with a live heartbeat",
            )
        )
    for cluster, fence in sorted(config.fences.items()):
        meaning = (
            "nobody serves the group, and nobody takes it over"
            if cluster == config.owner
            else "its copy stays down and takes nothing over"
        )
        problems.append(
            Problem(
                kind=ProblemKind.FENCED_BY_HAND,
                cluster=cluster,
                message=f"{cluster} is fenced by hand for {group} ({fence_text(fence)}): {meaning} until "
                f"{unfence_command(group, cluster)}",
                severity=Severity.WARNING,
            )
        )
    t = config.transition
    handing_off = (
        t.source_cluster
        if t is not None
        and t.mode == FailoverMode.UPTIME
        and t.target_cluster == config.owner
        and t.epoch == config.epoch
        else None
    )  # an UPTIME hand-off: the old owner serves until the new one is ready, by design
    # A silent cluster's last report is not a claim: past the timeout it has stopped serving (it fences itself at
    # a fraction of it, its watchdog when its operator dies), and it is reported above as what it is, stale.
    primaries = sorted(
        name
        for name, status in clusters.items()
        if status.state == ClusterState.PRIMARY and name != handing_off and name not in stale
    )
    if len(primaries) > 1:
        problems.append(
            Problem(
                kind=ProblemKind.SPLIT_BRAIN,
                cluster=None,
                message=f"{len(primaries)} clusters report PRIMARY for {group}: {', '.join(primaries)} "
                f"(owner is {config.owner} at epoch {config.epoch})",
            )
        )
    for name in primaries:
        status = clusters[name]
        if status.observed_epoch is not None and status.observed_epoch < config.epoch:
            problems.append(
                Problem(
                    kind=ProblemKind.SPLIT_BRAIN,
                    cluster=name,
                    message=f"{name} reports PRIMARY for {group} at old epoch {status.observed_epoch} "
                    f"(current epoch {config.epoch}, owner {config.owner})",
                )
            )
    if lock is not None and lock_age is not None and lock_age > lock.lease_seconds:
        problems.append(
            Problem(
                kind=ProblemKind.LOCK_STUCK,
                cluster=lock.holder,
                message=f"lock on {group} held by {lock.holder} ({lock.reason or 'no reason given'}) "
                f"has not been renewed for {lock_age:.0f}s (lease {lock.lease_seconds:g}s)",
            )
        )
    for error in corrupt:
        problems.append(Problem(kind=ProblemKind.CORRUPT_RECORD, cluster=None, message=error))
    return problems
