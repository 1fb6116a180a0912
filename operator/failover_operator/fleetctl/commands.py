"""The fleet commands, each a coroutine over the store: argparse wiring below, one function per command."""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import logging
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from ..api import FailoverSpec, Phase
from ..clock import Clock, SystemClock
from ..metrics import Metrics
from ..model import FailoverMode
from ..reconciler.preflight import Preflight, preflight
from ..rules import refusal
from ..settings import StoreSettings, check_name
from ..store import DynamoDBService, GroupState, Severity, StoreError
from . import pending, schedule
from .fencing import add_fence_commands
from .session import (
    PROG,
    WRITER,
    Fleet,
    Publisher,
    Refused,
    UsageError,
    add_store_flags,
    add_yes_flag,
    check_can_ask,
    confirm,
    emit,
    group_ref,
    missing_table,
    open_store,
    reason_text,
    render,
    store_settings,
)
from .showconfig import config_of, config_table
from .views import (
    history_of,
    history_table,
    known_clusters,
    not_registered,
    read_states,
    stale_of,
    status_of,
    status_table,
)

Handler = Callable[[Fleet, argparse.Namespace], Awaitable[int]]


def add_commands(commands: Any) -> None:
    """Add the fleet commands to a parser's subcommands (`failover-operator`'s, or the kubectl plugin's)."""
    p = commands.add_parser("status", help="every group's owner, epoch and clusters (DynamoDB only)")
    p.add_argument("group", nargs="?", metavar="NAMESPACE/NAME", help="one group (default: all)")
    p.add_argument("--cluster", type=_cluster, help="only the groups this cluster reports on")
    _finish(p, status)

    p = commands.add_parser("history", help="a group's failovers, newest first (DynamoDB only)")
    p.add_argument("group", metavar="NAMESPACE/NAME")
    p.add_argument("--limit", type=_positive, default=20, help="at most N records (default 20)")
    _finish(p, history)

    p = commands.add_parser(
        "show-config",
        help="a group's configuration as DynamoDB holds it: owner, epoch, suspension, timeouts (DynamoDB only)",
    )
    p.add_argument("group", metavar="NAMESPACE/NAME")
    _finish(p, show_config)

    p = commands.add_parser(
        "switchover",
        help="move a group to another cluster, as a Failover does, through DynamoDB (the operators carry it out); "
        "asks first",
        description="Move a group to another cluster: the request a Failover makes, written to DynamoDB and carried "
        "out by the operators. It says what it will do and asks for confirmation (--yes: without asking). "
        "--at TIME schedules it instead: kept in DynamoDB, the target's operator asks for it at that time (never "
        "forced; dropped, saying why, if it would be refused then). "
        "--cancel NAMESPACE/NAME withdraws a move that has not transferred the group yet, or a scheduled one (as "
        "`cancel` does).",
    )
    p.add_argument("group", nargs="?", metavar="NAMESPACE/NAME")
    p.add_argument("--to", type=_cluster, metavar="CLUSTER", help="the cluster that becomes primary (required)")
    p.add_argument("--mode", choices=[m.value for m in FailoverMode], help="CONSISTENCY (default) or UPTIME")
    p.add_argument("--force", action="store_true", help="move even if the target is unhealthy or the group suspended")
    p.add_argument("--reason", required=True, type=reason_text, help="why (kept in the history)")
    p.add_argument("--wait", action="store_true", help="follow it phase by phase until it succeeded or failed")
    p.add_argument(
        "--at",
        type=schedule.parse_when,
        metavar="TIME",
        help="schedule it for TIME instead: ISO 8601 with a timezone (2026-12-07T02:00:00Z, 2026-12-07T03:00+01:00) "
        f"or from now (+30m, +2h); at most {schedule.MAX_AHEAD.days} days ahead",
    )
    p.add_argument(
        "--cancel",
        metavar="NAMESPACE/NAME",
        help="withdraw the group's pending or scheduled move instead (no NAMESPACE/NAME before it, no --to)",
    )
    add_yes_flag(p)
    _finish(p, switchover)

    p = commands.add_parser(
        "cancel",
        help="withdraw a group's pending request (a move that has not transferred it yet, or a scheduled switchover "
        "not started yet); asks first",
        description="Withdraw what is pending for a group and has not taken effect: a move (a Failover's or a "
        "switchover's) that has not transferred the group yet, or a switchover scheduled for later (--at) that has "
        "not started. Its source serves on. Too late once the group has moved.",
    )
    p.add_argument("group", metavar="NAMESPACE/NAME")
    p.add_argument("--reason", required=True, type=reason_text, help="why (shown with the answer)")
    add_yes_flag(p)
    _finish(p, cancel)

    add_fence_commands(commands, _finish, _cluster)

    p = commands.add_parser("suspend", help="stop automatic and planned failover of a group (or --all)")
    p.add_argument("group", nargs="?", metavar="NAMESPACE/NAME")
    p.add_argument("--all", action="store_true", help="every group of the operator ID")
    p.add_argument("--reason", required=True, type=reason_text, help="why (shown wherever the suspension is)")
    p.add_argument(
        "--replace-reason",
        action="store_true",
        help="a group already suspended takes this --reason (without it, it keeps its own and says so)",
    )
    _finish(p, suspend)

    p = commands.add_parser("resume", help="let a suspended group (or --all) fail over again")
    p.add_argument("group", nargs="?", metavar="NAMESPACE/NAME")
    p.add_argument("--all", action="store_true", help="every group of the operator ID")
    _finish(p, resume)

    p = commands.add_parser("preflight", help="a dry run: would a failover to CLUSTER start, and what would happen")
    p.add_argument("group", metavar="NAMESPACE/NAME")
    p.add_argument("--to", required=True, type=_cluster, metavar="CLUSTER", help="the cluster that becomes primary")
    p.add_argument("--mode", choices=[m.value for m in FailoverMode], help="CONSISTENCY (default) or UPTIME")
    p.add_argument("--force", action="store_true", help="judge a forced failover")
    _finish(p, preflight_command)

    p = commands.add_parser("problems", help="every group's problems; exit 1 when any is an error")
    _finish(p, problems)


def _cluster(text: str) -> str:
    """A cluster name as CLUSTER_NAME allows it (what a FailoverGroup's clusters are called)."""
    try:
        return check_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"cluster name {exc}") from None


def _finish(p: argparse.ArgumentParser, handler: Handler) -> None:
    add_store_flags(p)
    p.set_defaults(fleet=handler)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    """Run a fleet command: 0 done, 1 refused or problems found, 2 usage or settings (one line on stderr)."""
    handler: Handler = args.fleet
    prog: str = getattr(args, "prog", PROG)
    # What the store logs for an operator (each problem found, each retry) is said here in the output, once.
    logger = logging.getLogger("failover_operator")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return _run(args, handler, prog)
    finally:
        logger.setLevel(level)


def _run(args: argparse.Namespace, handler: Handler, prog: str) -> int:
    settings: StoreSettings | None = None
    try:
        check_can_ask(args)  # before anything is read: never wait for an answer nobody can give
        settings = store_settings(args)
        given = settings

        async def go() -> int:
            async with open_store(given) as store:
                return await handler(Fleet(store, given, prog), args)

        return asyncio.run(go())
    except UsageError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except Refused as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:
        if settings is not None and missing_table(exc):
            table, region = settings.dynamodb_table, settings.region_names
            if len(settings.regions) == 1:
                create = f"create it with `failover-operator setup-table --table {table} --region {region}`"
            else:
                create = "create it as a global table with multi-Region strong consistency (see the README)"
            print(
                f"{prog}: DynamoDB table {table} does not exist in {region}; {create}, or check --table / "
                f"DYNAMODB_TABLE and --region / AWS_REGION / DYNAMODB_REGIONS",
                file=sys.stderr,
            )
            return 2
        print(f"{prog}: DynamoDB: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 1


def _mode(args: argparse.Namespace) -> FailoverMode:
    return FailoverMode(args.mode or FailoverMode.CONSISTENCY.value)


def _with_known(message: str, state: GroupState, target: str) -> str:
    """A refusal naming a cluster the group does not know (a typo?) lists the clusters it does know."""
    known = known_clusters(state)
    if target in known:
        return message
    close = difflib.get_close_matches(target, known, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"{message} ({target} is not a cluster of {state.config.namespace}/{state.config.name}: it knows " + (
        f"{', '.join(known)}{hint})"
    )


# --- reading ----------------------------------------------------------------------------------------


async def status(fleet: Fleet, args: argparse.Namespace) -> int:
    group = group_ref(args.group) if args.group else None
    states = await read_states(fleet, group)
    if args.cluster:
        # From the groups read anyway (their status records), not GSI1's CLUSTER#<name> partition: that one is
        # shared by every fleet in the table, and the IAM policy keeps each fleet to its own keys.
        states = [s for s in states if args.cluster in s.clusters]
    groups = [status_of(fleet.store, state) for state in states]
    emit(args, {"groups": groups}, lambda: status_table(groups))
    return 0


async def history(fleet: Fleet, args: argparse.Namespace) -> int:
    namespace, name = group_ref(args.group)
    store = fleet.store
    if await store.state.get_group_config(namespace, name) is None:
        raise Refused(not_registered(fleet, namespace, name))
    records = [history_of(r) for r in await store.state.get_failover_history(namespace, name, limit=args.limit)]
    emit(args, {"history": records}, lambda: history_table(records))
    return 0


async def show_config(fleet: Fleet, args: argparse.Namespace) -> int:
    namespace, name = group_ref(args.group)
    (state,) = await read_states(fleet, (namespace, name))
    config = config_of(state, await fleet.store.liveness.read())
    emit(args, config, lambda: config_table(config))
    return 0


async def problems(fleet: Fleet, args: argparse.Namespace) -> int:
    found: list[dict[str, Any]] = []
    for state in await read_states(fleet, None):
        config = state.config
        # Dated as read_states dated them: the same values, read again here, keep their age.
        for p in await fleet.store.operations.detect_and_report_problems(config.namespace, config.name):
            found.append(
                {
                    "namespace": config.namespace,
                    "name": config.name,
                    "kind": p.kind.value,
                    "severity": p.severity.value,
                    "cluster": p.cluster,
                    "message": p.message,
                }
            )

    def table() -> str:
        if not found:
            return "No problems."
        rows = [[f"{p['namespace']}/{p['name']}", p["severity"], p["kind"], p["cluster"], p["message"]] for p in found]
        return render(["GROUP", "SEVERITY", "KIND", "CLUSTER", "MESSAGE"], rows)

    emit(args, {"problems": found}, table)
    return 1 if any(p["severity"] == Severity.ERROR.value for p in found) else 0


async def preflight_command(fleet: Fleet, args: argparse.Namespace) -> int:
    namespace, name = group_ref(args.group)
    store = fleet.store
    (state,) = await read_states(fleet, (namespace, name))
    verdict = preflight(state, args.to, _mode(args), stale_of(store, state), force=args.force)
    # The store's own check, as an operator would make it: the same verdict (the first reason), or a refusal.
    try:
        await store.operations.validate_failover_preconditions(namespace, name, args.to, force=args.force)
    except StoreError as exc:
        if verdict.refusal is None:  # the store refused where the pure rule did not: say so, do not hide it
            verdict = replace(verdict, refusal=str(exc))
    if verdict.refusal is not None:
        verdict = replace(verdict, refusal=_with_known(verdict.refusal, state, args.to))
    emit(args, preflight_json(verdict), lambda: preflight_table(verdict))
    return 0 if verdict.ok else 1


def preflight_json(p: Preflight) -> dict[str, Any]:
    return {
        "group": p.group,
        "target": p.target,
        "mode": p.mode.value,
        "force": p.force,
        "ok": p.ok,
        "verdict": p.verdict,
        "refusal": p.why_not,
        "checks": [{"name": c.name, "ok": c.ok, "message": c.message} for c in p.checks],
        "steps": p.steps,
        "recentDowntimeSeconds": p.downtimes,
    }


def preflight_table(p: Preflight) -> str:
    lines = [f"Failover of {p.group} to {p.target} ({p.mode.value}{', forced' if p.force else ''}): {p.verdict}", ""]
    lines.append(render(["CHECK", "OK", "DETAIL"], [[c.name, "yes" if c.ok else "NO", c.message] for c in p.checks]))
    lines += ["", "What would happen:"] + [f"  {i}. {step}" for i, step in enumerate(p.steps, 1)]
    downtimes = ", ".join(f"{d:.2f}s" for d in p.downtimes) or "none measured yet"
    lines += ["", f"Downtime of the last failovers: {downtimes}"]
    return "\n".join(lines)


# --- changing -----------------------------------------------------------------------------------------


async def _suspension(fleet: Fleet, args: argparse.Namespace, suspended: bool) -> int:
    if bool(args.all) == bool(args.group):
        raise UsageError("name one group (NAMESPACE/NAME) or --all")
    store = fleet.store
    if args.all:
        configs = await fleet.groups()
    else:
        namespace, name = group_ref(args.group)
        found = await store.state.get_group_config(namespace, name)
        if found is None:
            raise Refused(not_registered(fleet, namespace, name))
        configs = [found]
    reason = args.reason if suspended else None
    replacing = suspended and args.replace_reason
    publish = Publisher(store)
    done: list[dict[str, Any]] = []
    try:
        for before in sorted(configs, key=lambda c: (c.namespace, c.name)):
            unchanged = before.suspended == suspended and (not replacing or before.suspension_reason == reason)
            config = before
            if not unchanged:
                try:
                    config = await store.operations.update_suspension(before.namespace, before.name, suspended, reason)
                except StoreError as exc:  # deleted since it was listed, or DynamoDB failed: say what was done
                    raise Refused(f"{before.namespace}/{before.name}: {exc}{_so_far(done)}") from None
            done.append(
                {
                    "namespace": config.namespace,
                    "name": config.name,
                    "suspended": config.suspended,
                    "suspensionReason": config.suspension_reason,
                    "changed": not unchanged,
                }
            )
    finally:
        await publish()  # whatever was written, the operators hear of it
    emit(args, {"groups": done}, lambda: "\n".join(_suspension_line(g, suspended) for g in done) or "No groups.")
    return 0


def _so_far(done: list[dict[str, Any]]) -> str:
    changed = [f"{g['namespace']}/{g['name']}" for g in done if g["changed"]]
    return f" (done before it: {', '.join(changed)})" if changed else ""


def _suspension_line(g: dict[str, Any], suspended: bool) -> str:
    group = f"{g['namespace']}/{g['name']}"
    if g["changed"]:
        return f"{group} {'suspended' if suspended else 'resumed'}"
    if suspended:
        return (
            f"{group} is already suspended ({g['suspensionReason'] or 'no reason given'}); its reason is kept "
            f"(--replace-reason replaces it)"
        )
    return f"{group} was not suspended"


async def suspend(fleet: Fleet, args: argparse.Namespace) -> int:
    return await _suspension(fleet, args, True)


async def resume(fleet: Fleet, args: argparse.Namespace) -> int:
    return await _suspension(fleet, args, False)


async def cancel(fleet: Fleet, args: argparse.Namespace) -> int:
    return await _cancel(fleet, args, args.group)


async def _cancel(fleet: Fleet, args: argparse.Namespace, ref: str) -> int:
    """Withdraw whatever is pending for the group (fleetctl/pending.py: every kind it knows), after asking."""
    namespace, name = group_ref(ref)
    (state,) = await read_states(fleet, (namespace, name))
    found = pending.find(state)
    if not found:
        raise Refused(pending.nothing_pending(state))
    confirm(args, f"Cancel {' and '.join(p.what for p in found)}?")
    publish = Publisher(fleet.store)
    done: list[pending.Pending] = []
    try:
        for request in found:
            if not await request.withdraw(fleet.store, f"cancelled with the fleet CLI: {args.reason}"):
                (now,) = await read_states(fleet, (namespace, name))
                raise Refused(request.missed(now))
            done.append(request)
    finally:
        await publish()  # the operators hear of the withdrawal with their next read of the fleet's liveness
    answer = {
        "namespace": namespace,
        "name": name,
        "reason": args.reason,
        "cancelled": [{"kind": p.kind, "name": p.name, **p.detail} for p in done],
    }
    emit(args, answer, lambda: "\n".join(f"cancelled {p.what} ({args.reason}): {p.then}" for p in done))
    return 0


@dataclass
class _CliContext:
    """What a FailoverExecutor needs, for a process that is no cluster (ExecutorContext)."""

    store: DynamoDBService
    clock: Clock
    metrics: Metrics
    failover_poll_seconds: float = 1.0

    @property
    def cluster(self) -> str:
        return WRITER

    def wake(self, namespace: str, name: str) -> None:
        """No runner here to wake: the operators hear of our writes through `publish`."""

    async def announce(self, namespace: str, name: str) -> None:
        """The printer publishes what we wrote after each step (`_Printer.patch_status`)."""


class _Printer:
    """The Failover's status and events, as lines: what `kubectl describe` would show, as it happens."""

    def __init__(self, args: argparse.Namespace, publish: Publisher) -> None:
        self.args = args
        self.publish = publish
        self.last: object = None
        self.final: dict[str, Any] = {}

    def _say(self, text: str) -> None:
        if self.args.output != "json":
            print(f"{datetime.now(UTC):%H:%M:%S}  {text}", flush=True)

    def event(self, reason: str, message: str, *, warning: bool = False) -> None:
        self._say(f"{'Warning' if warning else 'Normal'}  {reason}: {message}")

    async def patch_status(self, status: dict[str, Any]) -> None:
        self.final = status
        groups = self.final.get("groups") or []
        detail = "; ".join(g.get("message") or "" for g in groups if g.get("message"))
        line = f"{self.final.get('phase')}{': ' + detail if detail else ''}"
        if line != self.last:
            self.last = line
            self._say(line)
        await self.publish()  # each step the executor wrote (the request, a withdrawal) reaches the operators


async def switchover(fleet: Fleet, args: argparse.Namespace) -> int:
    if args.cancel is not None:
        given = [
            flag
            for flag, value in (
                ("NAMESPACE/NAME", args.group),
                ("--to", args.to),
                ("--mode", args.mode),
                ("--force", args.force),
                ("--wait", args.wait),
                ("--at", args.at),
            )
            if value
        ]
        if given:
            raise UsageError(
                f"switchover --cancel NAMESPACE/NAME takes no {', '.join(given)}: it withdraws the group's pending move"
            )
        return await _cancel(fleet, args, args.cancel)
    if not args.group or not args.to:
        raise UsageError("switchover needs NAMESPACE/NAME and --to CLUSTER (or --cancel NAMESPACE/NAME)")
    if args.at is not None:
        flags = [flag for flag, value in (("--force", args.force), ("--wait", args.wait)) if value]
        if flags:
            raise UsageError(
                f"switchover --at takes no {', '.join(flags)}: a scheduled move is never forced, and it is asked for "
                f"at its time (follow it with `{fleet.prog} status {args.group}`)"
            )
        return await schedule.switchover_at(fleet, args, _with_known, datetime.now(UTC))
    namespace, name = group_ref(args.group)
    mode = _mode(args)
    store = fleet.store
    (state,) = await read_states(fleet, (namespace, name))
    config = state.config
    if not (config.owner == args.to and config.transition is None):  # else there is nothing to do, nor to ask
        check = not args.force
        refused = refusal(
            config, state.clusters, args.to, stale_of(store, state), check_suspension=check, check_health=check
        )
        if refused:  # the Failover's own sentence, before anyone is asked to confirm a move that cannot start
            raise Refused(_with_known(refused, state, args.to))
        how = f"{mode.value}, forced" if args.force else mode.value
        confirm(args, f"Move {namespace}/{name} from {config.owner} to {args.to} ({how})?")
    failover_name = f"switchover-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"
    try:
        spec = FailoverSpec.model_validate(
            {
                "targetCluster": args.to,
                "failoverGroups": [{"namespace": namespace, "name": name}],
                "mode": mode.value,
                "force": args.force,
                "reason": args.reason,
            }
        )
    except ValidationError as exc:
        raise UsageError("; ".join(e["msg"] for e in exc.errors())) from None
    publish = Publisher(store)
    printer = _Printer(args, publish)
    # Imported here: the executor brings the Kubernetes client, which no other command needs (a second off
    # every command's start).
    from ..reconciler.failover import FailoverExecutor, FailoverRefused

    executor = FailoverExecutor(_CliContext(store, SystemClock(), Metrics()))
    if not args.wait:
        try:
            t = await executor.request(failover_name, namespace, name, spec, printer)
        except FailoverRefused as exc:
            raise Refused(_with_known(str(exc), state, args.to)) from None
        finally:
            await publish()
        if t is None:
            said = f"{args.to} already owns {namespace}/{name}; nothing to do"
            emit(
                args,
                {"name": None, "namespace": namespace, "group": name, "to": args.to, "phase": "Succeeded"},
                lambda: said,
            )
            return 0
        answer = {
            "name": failover_name,
            "namespace": namespace,
            "group": name,
            "from": t.source_cluster,
            "to": t.target_cluster,
            "mode": t.mode.value,
            "epoch": t.epoch,
            "phase": "Requested",
        }
        emit(
            args,
            answer,
            lambda: (
                f"{failover_name}: asked {t.source_cluster} to hand {namespace}/{name} over to {t.target_cluster} "
                f"({t.mode.value}); the operators carry it out (follow it with `{fleet.prog} status {args.group}`; "
                f"withdraw it with `{fleet.prog} cancel {args.group} --reason ...` until it has moved)"
            ),
        )
        return 0
    status = await executor.run(namespace, failover_name, spec, None, printer, asyncio.Event(), None, datetime.now(UTC))
    await publish()
    if args.output == "json":
        print(json.dumps({"name": failover_name, **status.to_merge_patch()}, indent=2, default=str))
    return 0 if status.phase == Phase.SUCCEEDED else 1
