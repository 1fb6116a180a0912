"""What every fleet command shares: settings (environment, overridden by flags), the store, the way
answers are printed, the confirmation a change asks for, and the exit codes (0 done, 1 refused or problems
found, 2 usage or settings)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TextIO

from botocore.exceptions import ClientError
from pydantic import ValidationError

from ..settings import StoreSettings, explain
from ..store import DynamoDBService, GroupConfig

WRITER = "fleet-cli"
"""The name the CLI writes under: `requestedBy` of what it asks, and its change list in the fleet partition."""


class UsageError(Exception):
    """Bad arguments or settings: exit 2."""


class Refused(Exception):
    """The command was refused (or found what it was asked to look for): exit 1."""


PROG = "failover-operator"
"""The name the commands go by in what they print (`kubectl failover` when run as the kubectl plugin)."""


@dataclass(frozen=True)
class Fleet:
    """What a command works on: the fleet's store, the settings that found it, and the name it is called by."""

    store: DynamoDBService
    settings: StoreSettings
    prog: str = PROG

    @property
    def table(self) -> str:
        """The table and its Region(s), as people name them."""
        return f"table {self.settings.dynamodb_table} in {self.settings.region_names}"

    async def groups(self) -> list[GroupConfig]:
        """Every group of the operator ID; none at all is only an answer if the fleet exists (`require`)."""
        configs = await self.store.state.list_groups()
        if not configs:
            await self.require()
        return configs

    async def require(self) -> None:
        """Refuse when the table holds no trace of a fleet of this operator ID: no group, and nobody ever wrote
        in its partition FLEET#<operatorId> (no cluster's liveness, no change list of ours). A mistyped
        --operator-id otherwise reads as an empty, healthy fleet. (The IAM policy grants no Scan: a fleet is
        known only by its own partitions.)"""
        live = await self.store.liveness.read()
        if live or self.store.liveness.publishers:
            return
        operator_id = self.settings.operator_id
        raise Refused(
            f"{self.table} holds no fleet with operator ID {operator_id!r}: no group and no cluster's heartbeat "
            f"(FLEET#{operator_id}); check --operator-id / OPERATOR_ID (the operators' own OPERATOR_ID)"
        )


def missing_table(exc: BaseException) -> bool:
    """The request failed because the table does not exist (in that Region)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ClientError) and seen.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def reason_text(text: str) -> str:
    """--reason: a why for people, kept with what it explains; empty or blank says nothing, so it is refused."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must say why (it is shown wherever the change is); it may not be blank")
    return text.strip()


def add_yes_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="do it without asking (required when stdin is not a terminal: scripts, CI)",
    )
    parser.set_defaults(asks=True)


def check_can_ask(args: argparse.Namespace, stdin: TextIO | None = None) -> None:
    """Before anything is read: a command that asks for confirmation refuses at once (exit 2) when nobody can
    answer (stdin is not a terminal) and --yes was not given. It never waits for an answer that cannot come."""
    if not getattr(args, "asks", False) or args.yes:
        return
    stream = stdin or sys.stdin
    if stream is None or not stream.isatty():
        raise UsageError(f"{args.command} asks for confirmation and stdin is not a terminal: pass --yes to go ahead")


def confirm(args: argparse.Namespace, question: str, stdin: TextIO | None = None, out: TextIO | None = None) -> None:
    """Ask `question` on stderr (stdout keeps the answer alone, for scripts) unless --yes; anything but y/yes
    refuses (exit 1), and nothing is changed."""
    if args.yes:
        return
    check_can_ask(args, stdin)
    stream, said = stdin or sys.stdin, out or sys.stderr
    print(f"{question} [y/N] ", end="", file=said, flush=True)
    answer = stream.readline()
    if answer.strip().lower() not in ("y", "yes"):
        if not answer.endswith("\n"):
            print(file=said)  # end the question's line (end of input)
        raise Refused("not confirmed; nothing was changed")


def add_store_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--operator-id", help="the operators' OPERATOR_ID (default: $OPERATOR_ID)")
    parser.add_argument("--table", help="the DynamoDB table (default: $DYNAMODB_TABLE, else failover-operator)")
    parser.add_argument(
        "--region",
        action="append",
        metavar="REGION[,REGION...]",
        help="the table's AWS Region (default: $DYNAMODB_REGIONS, else $AWS_REGION / $AWS_DEFAULT_REGION); repeated or "
        "comma-separated: the replica Regions of a global table with multi-Region strong consistency, in order of "
        "preference (requests go to the first that answers)",
    )
    parser.add_argument(
        "--endpoint",
        action="append",
        metavar="URL[,URL...]",
        help="a custom DynamoDB endpoint URL (default: $DYNAMODB_ENDPOINTS, else $DYNAMODB_ENDPOINT); with several "
        "Regions, one per Region in the same order, repeated or comma-separated",
    )
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table", help="table (default) or json")


def store_settings(args: argparse.Namespace) -> StoreSettings:
    """The settings from the environment, each flag given in place of its variables: `--region` (repeated or
    comma-separated) for DYNAMODB_REGIONS (and AWS_REGION), `--endpoint` likewise for DYNAMODB_ENDPOINTS (and
    DYNAMODB_ENDPOINT). One `--region` and one `--endpoint` are the one-Region form they always were."""
    given: dict[str, Any] = {
        k: v for k, v in {"operator_id": args.operator_id, "dynamodb_table": args.table}.items() if v is not None
    }
    regions, endpoints = _listed(args.region), _listed(args.endpoint)
    if regions:
        given["dynamodb_regions"] = ",".join(regions)
    if len(endpoints) == 1 and len(regions) <= 1:  # one endpoint (for one Region): in place of either variable
        given["dynamodb_endpoint"], given["dynamodb_endpoints"] = endpoints[0], None
    elif endpoints:
        given["dynamodb_endpoint"], given["dynamodb_endpoints"] = None, ",".join(endpoints)
    try:
        return StoreSettings(**given)  # a None given unsets what the environment says
    except ValidationError as exc:
        raise UsageError(explain(exc)) from None


def _listed(values: list[str] | str | None) -> list[str]:
    """A repeated, comma-separated flag's values, in order ([] when it was not given)."""
    if not values:
        return []
    items = [values] if isinstance(values, str) else values
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


@contextlib.asynccontextmanager
async def open_store(settings: StoreSettings) -> AsyncIterator[DynamoDBService]:
    """The fleet's store, through the first of the settings' Regions that answers. With several Regions, the table
    is checked first (one DescribeTable): several Regions are for a global table with multi-Region strong
    consistency only, and only its replica Regions (store.table.check_topology)."""
    from ..store.connect import NoCredentialsError, open_regions

    regions = settings.regions
    async with contextlib.AsyncExitStack() as stack:
        try:
            client = await stack.enter_async_context(
                open_regions(
                    regions,
                    request_timeout=settings.dynamodb_timeout_seconds,
                    max_pool=10,
                    require_credentials=True,
                )
            )
        except NoCredentialsError:
            raise UsageError(
                "no AWS credentials found (the standard AWS chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "AWS_PROFILE and ~/.aws, SSO, a web identity, a container or instance role); the fleet commands "
                f"call DynamoDB ({settings.region_names}) as you: log in or export credentials, then retry"
            ) from None
        store = DynamoDBService(client, settings.dynamodb_table, WRITER, settings.operator_id)
        if len(regions) > 1:
            await check_regions(store, settings)
        yield store


async def check_regions(store: DynamoDBService, settings: StoreSettings) -> None:
    """Refuse (UsageError) several Regions where the table is not an MRSC global table or a Region is not one of
    its replica Regions: the operators' own start-up check (runner.check_table)."""
    from ..store.table import TopologyError, check_topology, topology_of

    description = (await store.call("describe_table", TableName=settings.dynamodb_table))["Table"]
    region = getattr(store.client, "region", settings.regions[0].name)
    try:
        check_topology(topology_of(description, region), [r.name for r in settings.regions])
    except TopologyError as exc:
        raise UsageError(str(exc)) from None


@dataclass
class Publisher:
    """The operators learn what we wrote from the fleet's liveness, as they learn their peers' writes: without
    this, a change made here would wait for their periodic full read (minutes). Each call publishes the writes
    not yet published (a `switchover --wait` calls it at every step, and most steps write nothing)."""

    store: DynamoDBService
    sent: int = 0  # the number of our last write already published

    async def __call__(self) -> None:
        written, _ = self.store.changes.published()
        new = [pk for pk, number in written.items() if number > self.sent]
        if new:
            await self.store.liveness.publish(WRITER, new)
            self.sent = max(written.values())


def group_ref(text: str) -> tuple[str, str]:
    namespace, _, name = text.partition("/")
    if not namespace or not name or "/" in name or "#" in text or any(c.isspace() for c in text):
        raise UsageError(f"expected NAMESPACE/NAME (a FailoverGroup's namespace and name), got {text!r}")
    return namespace, name


def emit(args: argparse.Namespace, data: dict[str, Any], table: Callable[[], str]) -> None:
    if args.output == "json":
        print(json.dumps(data, indent=2, default=str))
    else:
        print(table())


def render(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns as kubectl prints them: upper-case headers, left-aligned, three spaces apart."""
    cells = [[str(h) for h in header], *[["-" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def span(delta: timedelta) -> str:
    """A wait for people: '2h0m', '45m10s', '3d4h'."""
    seconds = max(0, round(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"
