"""`fence` and `unfence`: stop one cluster's copy of a group by hand and keep it stopped, then release it — as
CloudNativePG fences an instance. Written to the group's config in DynamoDB (store/fences.py); what the operators
make of it is the rulebook's (rules/decide.py): the fenced cluster scales its copy down and keeps it down, a
group whose owner is fenced is served by nobody and taken over by nobody, nothing moves to a fenced cluster."""

from __future__ import annotations

import argparse
import difflib
import getpass
from collections.abc import Awaitable, Callable
from typing import Any

from ..model import Fence
from ..rules.fenced import fence_text
from ..store import GroupState
from .session import WRITER, Fleet, Publisher, Refused, add_yes_flag, confirm, emit, group_ref, reason_text
from .views import iso, known_clusters, read_states

Handler = Callable[[Fleet, argparse.Namespace], Awaitable[int]]


def add_fence_commands(
    commands: Any, finish: Callable[[argparse.ArgumentParser, Handler], None], cluster: Callable[[str], str]
) -> None:
    """The two commands, on a parser's subcommands (`finish` adds the store flags and the handler)."""
    p = commands.add_parser(
        "fence",
        help="stop one cluster's copy of a group and keep it stopped (DynamoDB only); asks first",
        description="Fence CLUSTER's copy of a group, as CloudNativePG fences an instance: its operator scales it "
        "down and keeps it down, whatever it owns, and it takes nothing over; nothing moves to it, forced or not. "
        "Fencing the owner stops the group: nobody serves it, and nobody takes it over automatically, until it is "
        "unfenced (a planned move away from it is still allowed). It says what it will do and asks (--yes: "
        "without asking). A cluster already fenced keeps its fence and its reason.",
    )
    p.add_argument("group", metavar="NAMESPACE/NAME")
    p.add_argument("--cluster", required=True, type=cluster, metavar="CLUSTER", help="the cluster whose copy stops")
    p.add_argument("--reason", required=True, type=reason_text, help="why (kept with the fence, shown wherever it is)")
    add_yes_flag(p)
    finish(p, fence)

    p = commands.add_parser(
        "unfence",
        help="release a cluster's copy of a group fenced by hand (DynamoDB only); asks first",
        description="Lift CLUSTER's fence of a group: an owner proves it still owns the group and serves again "
        "(nobody takes it over meanwhile: its silence counts from now); a standby stands by again. It says what "
        "it will do and asks (--yes: without asking). A cluster that is not fenced is left as it is.",
    )
    p.add_argument("group", metavar="NAMESPACE/NAME")
    p.add_argument("--cluster", required=True, type=cluster, metavar="CLUSTER", help="the cluster to release")
    add_yes_flag(p)
    finish(p, unfence)


def _who() -> str:
    """Who fences: the person's login on this machine, and the CLI (the table keeps no other identity)."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name to be had (a container without a passwd entry): the CLI alone
        return WRITER
    return f"{user} via {WRITER}"


def _unknown(state: GroupState, cluster: str) -> str | None:
    """A cluster the group does not know (a typo?): the clusters it does know, and the closest of them."""
    known = sorted({*known_clusters(state), *state.config.fences})
    if cluster in known:
        return None
    close = difflib.get_close_matches(cluster, known, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    group = f"{state.config.namespace}/{state.config.name}"
    return f"{cluster} is not a cluster of {group}: it knows {', '.join(known)}{hint}"


def _fence_json(f: Fence | None) -> dict[str, Any] | None:
    return None if f is None else {"reason": f.reason, "fencedAt": iso(f.fenced_at), "fencedBy": f.fenced_by}


async def fence(fleet: Fleet, args: argparse.Namespace) -> int:
    namespace, name = group_ref(args.group)
    cluster: str = args.cluster
    group = f"{namespace}/{name}"
    (state,) = await read_states(fleet, (namespace, name))
    unknown = _unknown(state, cluster)
    if unknown is not None:
        raise Refused(f"cannot fence {cluster}: {unknown}")
    config = state.config
    owner = config.owner == cluster
    there = config.fences.get(cluster)
    if there is None:
        if owner:
            effect = (
                f"{cluster} owns it (epoch {config.epoch}): the group stops being served, and nobody takes it over "
                f"until it is unfenced"
            )
        else:
            effect = f"its copy stays down and takes nothing over until it is unfenced ({config.owner} owns the group)"
        confirm(args, f"Fence {cluster}'s copy of {group}? {effect}.")
        publish = Publisher(fleet.store)
        try:
            change = await fleet.store.fences.fence(namespace, name, cluster, args.reason, by=_who())
        finally:
            await publish()  # the operators hear of it with their next read of the fleet's liveness
        config, changed, there = change.config, change.changed, change.fence
    else:
        changed = False
    owner = config.owner == cluster
    unfence_it = f"`{fleet.prog} unfence {group} --cluster {cluster}`"
    if not changed:
        said = (
            f"{cluster} is already fenced by hand for {group} ({fence_text(there)}); its fence and reason are kept "
            f"(unfence it first to fence it with another reason)"
            if there is not None
            else f"{cluster} is not fenced"
        )
    elif owner:
        said = (
            f"fenced {cluster}'s copy of {group} ({args.reason}): {cluster} owns it (epoch {config.epoch}); its "
            f"operator scales it down and keeps it down, and nobody serves the group or takes it over until "
            f"{unfence_it}"
        )
    else:
        said = (
            f"fenced {cluster}'s copy of {group} ({args.reason}): its operator scales it down and keeps it down, and "
            f"it takes nothing over until {unfence_it}; {config.owner} owns the group (epoch {config.epoch})"
        )
    t = config.transition
    if changed and t is not None and t.target_cluster == cluster and t.epoch == config.epoch:
        said += f"; the pending move {t.failover_name} to {cluster} cannot transfer any more: its source withdraws it"
    answer = {
        "namespace": namespace,
        "name": name,
        "cluster": cluster,
        "fenced": True,
        "changed": changed,
        **(_fence_json(there) or {}),
        "owner": config.owner,
        "epoch": config.epoch,
    }
    emit(args, answer, lambda: said)
    return 0


async def unfence(fleet: Fleet, args: argparse.Namespace) -> int:
    namespace, name = group_ref(args.group)
    cluster: str = args.cluster
    group = f"{namespace}/{name}"
    (state,) = await read_states(fleet, (namespace, name))
    config = state.config
    was = config.fences.get(cluster)
    changed = False
    if was is None:
        unknown = _unknown(state, cluster)
        if unknown is not None:
            raise Refused(f"cannot unfence {cluster}: {unknown}")
    else:
        if config.owner == cluster:
            effect = f"{cluster} owns it (epoch {config.epoch}): it proves it still owns the group and serves again"
        else:
            effect = f"it stands by again, and may take the group over ({config.owner} owns it)"
        confirm(args, f"Unfence {cluster}'s copy of {group} (fenced: {fence_text(was)})? {effect}.")
        publish = Publisher(fleet.store)
        try:
            change = await fleet.store.fences.unfence(namespace, name, cluster)
        finally:
            await publish()
        config, changed, was = change.config, change.changed, change.fence
    lifted = f"unfenced {cluster}'s copy of {group}" + (f" (fenced: {fence_text(was)})" if was is not None else "")
    if not changed:
        said = f"{cluster} is not fenced by hand for {group}; nothing was changed"
    elif config.owner == cluster:
        said = f"{lifted}: {cluster} owns it (epoch {config.epoch}); it proves it still owns the group and serves again"
    else:
        said = f"{lifted}: it stands by again ({config.owner} owns the group, epoch {config.epoch})"
    answer = {
        "namespace": namespace,
        "name": name,
        "cluster": cluster,
        "fenced": False,
        "changed": changed,
        "was": _fence_json(was) if changed else None,
        "owner": config.owner,
        "epoch": config.epoch,
    }
    emit(args, answer, lambda: said)
    return 0
