"""Requests that wait in DynamoDB until the operators carry them out, and that a person may withdraw before they
take effect (`cancel`, `switchover --cancel`): a move (a Failover's or a switchover's transition) that has not
transferred the group yet, and a switchover scheduled for later (`switchover --at`) that has not started. Each
kind says how to find its request in a group's records, how to withdraw it, and when it is too late; another
kind is cancelled by the same command once it is listed in KINDS."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..model import ClusterState, FailoverMode, GroupConfig, Transition
from ..store import DynamoDBService, GroupState
from .views import iso


@dataclass(frozen=True)
class Pending:
    """One request that has not taken effect yet."""

    kind: str  # what sort of request: "move"
    name: str  # its own name (a move: the Failover's or the switchover's)
    what: str  # for people: "the move of shop/web from east to west (CONSISTENCY), asked by fleet-cli at ..."
    then: str  # what follows its withdrawal: "east serves on"
    withdraw: Callable[[DynamoDBService, str], Awaitable[bool]]
    """Withdraw it (saying why), only if it is still there as found: True if withdrawn, False if it was gone or
    replaced."""
    missed: Callable[[GroupState], str]
    """What became of it, when `withdraw` found it gone: the group as read afterwards in, a sentence out."""
    detail: dict[str, Any] = field(default_factory=dict)  # for -o json


class PendingKind(Protocol):
    def pending(self, state: GroupState) -> Pending | None:
        """The group's request of this kind that may still be withdrawn, if any."""
        ...

    def landed(self, state: GroupState) -> str | None:
        """A request of this kind that has taken effect already and can no longer be withdrawn: what it did and
        who owns the group now. None if there is none."""
        ...


def _group(config: GroupConfig) -> str:
    return f"{config.namespace}/{config.name}"


def _move_words(t: Transition) -> str:
    flags = [t.mode.value, *(["forced"] if t.force else []), *(["automatic"] if t.automatic else [])]
    return f"from {t.source_cluster} to {t.target_cluster} ({', '.join(flags)})"


class MoveRequest:
    """A move asked in the group's config (its transition) that has not transferred ownership yet: the source
    still owns the group at the epoch the request was made at. Withdrawn as deleting its Failover does
    (`withdraw_transition`, conditioned on this very request; the history says so): once withdrawn, no transfer
    of it can land."""

    def pending(self, state: GroupState) -> Pending | None:
        config, t = state.config, state.config.transition
        if t is None or t.epoch != config.epoch or t.source_cluster != config.owner:
            return None
        source = state.clusters.get(t.source_cluster)
        drained = source is not None and source.state == ClusterState.FAILOVER and source.observed_epoch == t.epoch
        then = (
            f"{t.source_cluster} had stopped serving for it and serves again"
            if drained
            else f"{t.source_cluster} serves on"
        )
        if t.automatic:
            then += (
                f" (it was asked automatically because {t.source_cluster} reported ERROR: a standby asks again while "
                f"it does; suspend the group to stop that)"
            )
        namespace, name = config.namespace, config.name

        what = (
            f"the move of {_group(config)} {_move_words(t)}, {t.failover_name}, asked by {t.requested_by} at "
            f"{iso(t.requested_at)}"
        )

        async def withdraw(store: DynamoDBService, why: str) -> bool:
            return await store.operations.withdraw_transition(namespace, name, t, why)

        def missed(now: GroupState) -> str:
            c = now.config
            if c.epoch != t.epoch:
                return (
                    f"too late to cancel {what}: it transferred {_group(c)} meanwhile; {c.owner} owns it now "
                    f"(epoch {c.epoch})"
                )
            return (
                f"nothing to cancel any more: {what} was withdrawn or replaced meanwhile; {c.owner} owns "
                f"{_group(c)} (epoch {c.epoch})"
            )

        return Pending(
            kind="move",
            name=t.failover_name,
            what=what,
            then=then,
            withdraw=withdraw,
            missed=missed,
            detail={
                "from": t.source_cluster,
                "to": t.target_cluster,
                "mode": t.mode.value,
                "force": t.force,
                "automatic": t.automatic,
                "epoch": t.epoch,
                "requestedBy": t.requested_by,
                "requestedAt": iso(t.requested_at),
            },
        )

    def landed(self, state: GroupState) -> str | None:
        config, t = state.config, state.config.transition
        if (
            t is not None
            and t.mode == FailoverMode.UPTIME
            and t.epoch == config.epoch
            and t.target_cluster == config.owner
        ):
            return (
                f"the move {t.failover_name} has transferred {_group(config)} already: {config.owner} owns it now "
                f"(epoch {config.epoch}); {t.source_cluster} serves until {config.owner} reports ready"
            )
        return None


class ScheduledRequest:
    """A switchover scheduled for later (`switchover --at`) that has not started: kept in the group's config until
    its time. Withdrawn as it was found (`unschedule`, conditioned on its name): once withdrawn, it cannot start.
    Once started it is a move like any other (MoveRequest), withdrawn by the same command until it transfers."""

    def pending(self, state: GroupState) -> Pending | None:
        config, sw = state.config, state.config.schedule
        if sw is None:
            return None
        namespace, name = config.namespace, config.name
        what = (
            f"the switchover of {_group(config)} from {sw.source_cluster} to {sw.target_cluster} ({sw.mode.value}) "
            f"scheduled for {sw.when}, {sw.name}, asked by {sw.requested_by} at {iso(sw.requested_at)}"
        )

        async def withdraw(store: DynamoDBService, why: str) -> bool:
            del why  # it never became a request: the config says nothing more of it, nor does the history
            return await store.schedules.unschedule(namespace, name, sw.name)

        def missed(now: GroupState) -> str:
            c, t = now.config, now.config.transition
            if t is not None and t.failover_name == sw.name:
                return (
                    f"too late to cancel {what}: its time came and it started; the move {t.failover_name} is pending "
                    f"now: run the same command again to withdraw it before it transfers {_group(c)}"
                )
            return (
                f"nothing to cancel any more: {what} was started, dropped or replaced meanwhile; {c.owner} owns "
                f"{_group(c)} (epoch {c.epoch})"
            )

        return Pending(
            kind="scheduled-switchover",
            name=sw.name,
            what=what,
            then=f"nothing moves at {sw.when}; {config.owner} serves on",
            withdraw=withdraw,
            missed=missed,
            detail={
                "from": sw.source_cluster,
                "to": sw.target_cluster,
                "mode": sw.mode.value,
                "at": sw.when,
                "requestedBy": sw.requested_by,
                "requestedAt": iso(sw.requested_at),
            },
        )

    def landed(self, state: GroupState) -> str | None:
        return None  # a started schedule is a move request (MoveRequest says when that is too late)


KINDS: list[PendingKind] = [MoveRequest(), ScheduledRequest()]
"""Every kind of request `cancel` can withdraw, in the order it looks for them."""


def find(state: GroupState) -> list[Pending]:
    return [p for kind in KINDS if (p := kind.pending(state)) is not None]


def too_late(state: GroupState) -> list[str]:
    return [said for kind in KINDS if (said := kind.landed(state)) is not None]


def nothing_pending(state: GroupState) -> str:
    """Why there is nothing to cancel, and who owns the group now."""
    config = state.config
    late = too_late(state)
    if late:
        return "too late to cancel: " + "; ".join(late)
    said = (
        f"nothing to cancel: no request is pending for {_group(config)}; {config.owner} owns it (epoch {config.epoch})"
    )
    if config.previous_owner and config.last_failover is not None:
        said += f"; its last move, from {config.previous_owner}, landed at {iso(config.last_failover)}"
    return said
