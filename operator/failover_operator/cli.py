"""`failover-operator`: run the operator or its watchdog, set up the DynamoDB table, or look at and steer the
fleet through DynamoDB alone (status, history, show-config, switchover, cancel, fence, unfence, suspend, resume,
preflight, problems). `kubectl-failover` is the same fleet commands as a kubectl plugin (`kubectl failover status`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import textwrap
from typing import Any, NoReturn

from . import __version__


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line on stderr (exit 2), not argparse's usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="failover-operator", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser(
        "run",
        help="run the operator in the foreground (settings from the environment; see README)",
        description="Run the operator against the cluster in KUBECONFIG, or the in-cluster config in a pod. "
        "Settings come from these environment variables:",
        epilog=_environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    commands.add_parser(
        "watchdog",
        help="run the watchdog: scale this cluster's PRIMARY resources down when the operator stops (see README)",
        description="Watch the Lease the operator renews; when it goes quiet for longer than it said, fence every "
        "resource this cluster serves as PRIMARY. Needs only the Kubernetes API; the same settings as run.",
    )

    setup = commands.add_parser("setup-table", help="create the DynamoDB table (idempotent) and wait until ACTIVE")
    setup.add_argument(
        "--table",
        default=os.environ.get("DYNAMODB_TABLE") or "failover-operator",
        help="table name (default: $DYNAMODB_TABLE, else failover-operator)",
    )
    setup.add_argument("--endpoint", default=os.environ.get("DYNAMODB_ENDPOINT"), help="custom endpoint URL")
    setup.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION); with --replica-region, the table's home Region, "
        "where it is created",
    )
    setup.add_argument(
        "--replica-region",
        action="append",
        default=[],
        metavar="REGION",
        help="make the table a global table with multi-Region strong consistency (MRSC): a replica in REGION besides "
        "the home Region (repeatable or comma-separated); three Regions in all: two of these, or one and "
        "--witness-region. Only a new or empty table can become MRSC (see README: Surviving a Region)",
    )
    setup.add_argument(
        "--witness-region",
        metavar="REGION",
        help="the MRSC table's witness Region (with exactly one --replica-region): it takes part in every write but "
        "serves no reads or writes",
    )

    from .fleetctl.commands import add_commands

    add_commands(commands)

    args = parser.parse_args(argv)
    if getattr(args, "fleet", None) is not None:
        from .fleetctl.commands import run as run_fleet

        return run_fleet(args)
    if args.command == "setup-table":
        return _setup_table(args)
    if args.command == "run":
        from .runner import run

        return run()
    if args.command == "watchdog":
        from .runner import watch

        return watch()
    return 2  # pragma: no cover - argparse enforces a command


KUBECTL_PLUGIN = "kubectl failover"
"""What the fleet commands are called as a kubectl plugin: kubectl runs `kubectl-failover` from PATH."""


def kubectl_main(argv: list[str] | None = None) -> int:
    """`kubectl failover ...`: the fleet commands (DynamoDB only, as `failover-operator` runs them), named as
    kubectl shows them in usage, help and errors. The kubectl plugin's entry point (`kubectl-failover`)."""
    parser = _Parser(
        prog=KUBECTL_PLUGIN,
        description="The failover-operator fleet commands as a kubectl plugin: read and steer the fleet through "
        "DynamoDB alone (no cluster access; kubectl's context is not used). Settings as for failover-operator: "
        "OPERATOR_ID, DYNAMODB_TABLE, AWS_REGION or DYNAMODB_REGIONS, DYNAMODB_ENDPOINT(S), or the flags.",
    )
    parser.add_argument("--version", action="version", version=f"failover-operator {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    from .fleetctl.commands import add_commands
    from .fleetctl.commands import run as run_fleet

    add_commands(commands)
    parser.set_defaults(prog=KUBECTL_PLUGIN)
    return run_fleet(parser.parse_args(argv))


def _environment_help() -> str:
    from .settings import reference

    lines = []
    for variable, default, description in reference():
        lines.append(f"  {variable}  (default: {default})")
        lines += textwrap.wrap(description, 100, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)


def _setup_table(args: Any) -> int:
    from .store import StoreError, ensure_table
    from .store.table import GlobalTableLayout, ensure_mrsc_table, mrsc_layout, region_set_note

    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        print("failover-operator: --region (or AWS_REGION) is required", file=sys.stderr)
        return 2
    layout: GlobalTableLayout | None = None
    if args.replica_region or args.witness_region:
        try:  # every check that needs no request, before any request
            layout = mrsc_layout(region, args.replica_region, args.witness_region)
        except ValueError as exc:
            print(f"failover-operator: {exc}", file=sys.stderr)
            return 2
        if note := region_set_note(layout):
            print(f"note: {note}", file=sys.stderr)
    if "," in region:
        print(
            f"failover-operator: setup-table creates the table in one home Region, not {region}: give one --region "
            "and the others as --replica-region / --witness-region",
            file=sys.stderr,
        )
        return 2

    async def go() -> dict[str, Any]:
        from .store.connect import open_client

        def say(line: str) -> None:
            print(line, flush=True)

        async with open_client(region, args.endpoint) as client:
            if layout is not None:
                return await ensure_mrsc_table(client, args.table, layout, progress=say)
            return await ensure_table(client, args.table, progress=say)

    try:
        description = asyncio.run(go())
    except StoreError as exc:
        print(f"failover-operator: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"failover-operator: cannot set up table {args.table}: {exc}", file=sys.stderr)
        return 1
    where = f" in {layout}, multi-Region strong consistency" if layout is not None else ""
    print(
        f"table {description['TableName']} is {description['TableStatus']}{where} ({description.get('TableArn', '')})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
