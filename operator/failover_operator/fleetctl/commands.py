"""The fleet commands, each a coroutine over the store: argparse wiring below, one function per command."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from ..api import FailoverSpec, Phase
from ..clock import Clock, SystemClock
from ..metrics import Metrics
from ..model import FailoverMode
from ..reconciler.failover import FailoverExecutor, FailoverRefused
from ..reconciler.preflight import Preflight, preflight
from ..settings import check_name
from ..store import DynamoDBService, NotFoundError, Severity, StoreError
from .session import (
    WRITER,
    Publisher,
    Refused,
    UsageError,
    add_store_flags,
    emit,
    group_ref,
    open_store,
    render,
    store_settings,
)
from .views import history_of, history_table, read_states, status_of, status_table

Handler = Callable[[DynamoDBService, argparse.Namespace], Awaitable[int]]


def add_commands(commands: Any) -> None:
    """Add the fleet commands to the `failover-operator` parser's subcommands."""
    p = commands.add_parser("status", help="every group's owner, epoch and clusters (DynamoDB only)")
    p.add_argument("group", nargs="?", metavar="NAMESPACE/NAME", help="one group (default: all)")
    p.add_argument("--cluster", type=_cluster, help="only the groups this cluster reports on")
    _finish(p, status)

    p = commands.add_parser("history", help="a group's failovers, newest first (DynamoDB only)")
    p.add_argument("group", metavar="NAMESPACE/NAME")
    p.add_argument("--limit", type=_positive, default=20, help="at most N records (default 20)")
    _finish(p, history)

    p = commands.add_parser(
        "switchover",
        help="move a group to another cluster, as a Failover does, through DynamoDB (the operators carry it out)",
    )
    p.add_argument("group", metavar="NAMESPACE/NAME")
    _move_flags(p)
    p.add_argument("--force", action="store_true", help="move even if the target is unhealthy or the group suspended")
    p.add_argument("--reason", required=True, help="why (kept in the history)")
    p.add_argument("--wait", action="store_true", help="follow it phase by phase until it succeeded or failed")
    _finish(p, switchover)

    p = commands.add_parser("suspend", help="stop automatic and planned failover of a group (or --all)")
    p.add_argument("group", nargs="?", metavar="NAMESPACE/NAME")
    p.add_argument("--all", action="store_true", help="every group of the operator ID")
    p.add_argument("--reason", required=True, help="why (shown wherever the suspension is)")
    _finish(p, suspend)

    p = commands.add_parser("resume", help="let a suspended group (or --all) fail over again")
    p.add_argument("group", nargs="?", metavar="NAMESPACE/NAME")
    p.add_argument("--all", action="store_true", help="every group of the operator ID")
    _finish(p, resume)

    p = commands.add_parser("preflight", help="a dry run: would a failover to CLUSTER start, and what would happen")
    p.add_argument("group", metavar="NAMESPACE/NAME")
    _move_flags(p)
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


def _move_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--to", required=True, type=_cluster, metavar="CLUSTER", help="the cluster that becomes primary")
    p.add_argument("--mode", choices=[m.value for m in FailoverMode], default=FailoverMode.CONSISTENCY.value)


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
    # What the store logs for an operator (each problem found, each retry) is said here in the output, once.
    logging.getLogger("failover_operator").setLevel(logging.ERROR)
    try:
        settings = store_settings(args)

        async def go() -> int:
            async with open_store(settings) as store:
                return await handler(store, args)

        return asyncio.run(go())
    except UsageError as exc:
        print(f"failover-operator: {exc}", file=sys.stderr)
        return 2
    except Refused as exc:
        print(f"failover-operator: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:
        print(f"failover-operator: DynamoDB: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("failover-operator: interrupted", file=sys.stderr)
        return 1


# --- reading ----------------------------------------------------------------------------------------


async def status(store: DynamoDBService, args: argparse.Namespace) -> int:
    group = group_ref(args.group) if args.group else None
    states = await read_states(store, group)
    if args.cluster:
        reported = set(await store.state.list_groups_for_cluster(args.cluster))
        states = [s for s in states if (s.config.namespace, s.config.name) in reported]
    groups = [status_of(store, state) for state in states]
    emit(args, {"groups": groups}, lambda: status_table(groups))
    return 0


async def history(store: DynamoDBService, args: argparse.Namespace) -> int:
    namespace, name = group_ref(args.group)
    if await store.state.get_group_config(namespace, name) is None:
        raise Refused(f"group {namespace}/{name} is not registered in DynamoDB")
    records = [history_of(r) for r in await store.state.get_failover_history(namespace, name, limit=args.limit)]
    emit(args, {"history": records}, lambda: history_table(records))
    return 0


async def problems(store: DynamoDBService, args: argparse.Namespace) -> int:
    found: list[dict[str, Any]] = []
    for state in await read_states(store, None):
        config = state.config
        # Dated as read_states dated them: the same values, read again here, keep their age.
        for p in await store.operations.detect_and_report_problems(config.namespace, config.name):
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


async def preflight_command(store: DynamoDBService, args: argparse.Namespace) -> int:
    namespace, name = group_ref(args.group)
    (state,) = await read_states(store, (namespace, name))
    stale = set(store.state.stale_clusters(namespace, name, state.clusters, state.config.timeouts.heartbeat))
    verdict = preflight(state, args.to, FailoverMode(args.mode), stale, force=args.force)
    # The store's own check, as an operator would make it: the same verdict (the first reason), or a refusal.
    try:
        await store.operations.validate_failover_preconditions(namespace, name, args.to, force=args.force)
    except StoreError as exc:
        if verdict.refusal is None:  # the store refused where the pure rule did not: say so, do not hide it
            verdict = Preflight(**{**verdict.__dict__, "refusal": str(exc)})
    emit(args, preflight_json(verdict), lambda: preflight_table(verdict))
    return 0 if verdict.ok else 1


def preflight_json(p: Preflight) -> dict[str, Any]:
    return {
        "group": p.group,
        "target": p.target,
        "mode": p.mode.value,
        "force": p.force,
        "ok": p.ok,
        "refusal": p.refusal,
        "checks": [{"name": c.name, "ok": c.ok, "message": c.message} for c in p.checks],
        "steps": p.steps,
        "recentDowntimeSeconds": p.downtimes,
    }


def preflight_table(p: Preflight) -> str:
    verdict = "would start" if p.refusal is None else f"would be refused: {p.refusal}"
    lines = [f"Failover of {p.group} to {p.target} ({p.mode.value}{', forced' if p.force else ''}): {verdict}", ""]
    lines.append(render(["CHECK", "OK", "DETAIL"], [[c.name, "yes" if c.ok else "NO", c.message] for c in p.checks]))
    lines += ["", "What would happen:"] + [f"  {i}. {step}" for i, step in enumerate(p.steps, 1)]
    downtimes = ", ".join(f"{d:.2f}s" for d in p.downtimes) or "none measured yet"
    lines += ["", f"Downtime of the last failovers: {downtimes}"]
    return "\n".join(lines)


# --- changing -----------------------------------------------------------------------------------------


async def _suspension(store: DynamoDBService, args: argparse.Namespace, suspended: bool) -> int:
    if bool(args.all) == bool(args.group):
        raise UsageError("name one group (NAMESPACE/NAME) or --all")
    if args.all:
        targets = sorted((c.namespace, c.name) for c in await store.state.list_groups())
    else:
        targets = [group_ref(args.group)]
    reason = args.reason if suspended else None
    publish = Publisher(store)
    done: list[dict[str, Any]] = []
    try:
        for namespace, name in targets:
            config = await store.operations.update_suspension(namespace, name, suspended, reason)
            done.append(
                {
                    "namespace": namespace,
                    "name": name,
                    "suspended": config.suspended,
                    "suspensionReason": config.suspension_reason,
                }
            )
    except NotFoundError as exc:
        raise Refused(str(exc)) from None
    finally:
        await publish()  # whatever was written, the operators hear of it
    word = "suspended" if suspended else "resumed"
    emit(
        args,
        {"groups": done},
        lambda: "\n".join(f"{g['namespace']}/{g['name']} {word}" for g in done) or "No groups.",
    )
    return 0


async def suspend(store: DynamoDBService, args: argparse.Namespace) -> int:
    return await _suspension(store, args, True)


async def resume(store: DynamoDBService, args: argparse.Namespace) -> int:
    return await _suspension(store, args, False)


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


async def switchover(store: DynamoDBService, args: argparse.Namespace) -> int:
    namespace, name = group_ref(args.group)
    failover_name = f"switchover-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"
    try:
        spec = FailoverSpec.model_validate(
            {
                "targetCluster": args.to,
                "failoverGroups": [{"namespace": namespace, "name": name}],
                "mode": args.mode,
                "force": args.force,
                "reason": args.reason,
            }
        )
    except ValidationError as exc:
        raise UsageError("; ".join(e["msg"] for e in exc.errors())) from None
    publish = Publisher(store)
    printer = _Printer(args, publish)
    executor = FailoverExecutor(_CliContext(store, SystemClock(), Metrics()))
    if not args.wait:
        try:
            t = await executor.request(failover_name, namespace, name, spec, printer)
        except FailoverRefused as exc:
            raise Refused(str(exc)) from None
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
                f"({t.mode.value}); the operators carry it out (follow it with `failover-operator status {args.group}`)"
            ),
        )
        return 0
    status = await executor.run(namespace, failover_name, spec, None, printer, asyncio.Event(), None, datetime.now(UTC))
    await publish()
    if args.output == "json":
        print(json.dumps({"name": failover_name, **status.to_merge_patch()}, indent=2, default=str))
    return 0 if status.phase == Phase.SUCCEEDED else 1
