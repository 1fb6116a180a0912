"""What every fleet command shares: settings (environment, overridden by flags), the store, the way
answers are printed, and the exit codes (0 done, 1 refused or problems found, 2 usage or settings)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..settings import StoreSettings, explain
from ..store import DynamoDBService

WRITER = "fleet-cli"
"""The name the CLI writes under: `requestedBy` of what it asks, and its change list in the fleet partition."""


class UsageError(Exception):
    """Bad arguments or settings: exit 2."""


class Refused(Exception):
    """The command was refused (or found what it was asked to look for): exit 1."""


def add_store_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--operator-id", help="the operators' OPERATOR_ID (default: $OPERATOR_ID)")
    parser.add_argument("--table", help="the DynamoDB table (default: $DYNAMODB_TABLE, else failover-operator)")
    parser.add_argument("--region", help="the table's AWS region (default: $AWS_REGION / $AWS_DEFAULT_REGION)")
    parser.add_argument("--endpoint", help="a custom DynamoDB endpoint URL (default: $DYNAMODB_ENDPOINT)")
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table", help="table (default) or json")


def store_settings(args: argparse.Namespace) -> StoreSettings:
    given = {
        "operator_id": args.operator_id,
        "dynamodb_table": args.table,
        "aws_region": args.region,
        "dynamodb_endpoint": args.endpoint,
    }
    try:
        return StoreSettings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        raise UsageError(explain(exc)) from None


@contextlib.asynccontextmanager
async def open_store(settings: StoreSettings) -> AsyncIterator[DynamoDBService]:
    from ..store.connect import open_client

    region = settings.aws_region or ""
    async with open_client(
        region, settings.dynamodb_endpoint, request_timeout=settings.dynamodb_timeout_seconds, max_pool=10
    ) as client:
        yield DynamoDBService(client, settings.dynamodb_table, WRITER, settings.operator_id)


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


def fail(message: str) -> int:
    print(f"failover-operator: {message}", file=sys.stderr)
    return 1


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"
