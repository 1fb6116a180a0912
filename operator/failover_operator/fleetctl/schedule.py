"""`switchover NS/NAME --to CLUSTER --at TIME`: the move scheduled for later, kept in the group's config in
DynamoDB and asked for by the target's operator at that time (rules/schedule.py), as Patroni's scheduled
switchover is kept in its DCS: nothing here has to stay running. `cancel` withdraws it (fleetctl/pending.py).

TIME is ISO 8601 with a timezone (`2026-12-07T02:00:00Z`, `2026-12-07T03:00+01:00`) or a time from now
(`+30m`, `+2h`, `+1d12h`), to the second; a time past, or more than MAX_AHEAD away, is refused."""

from __future__ import annotations

import argparse
import re
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..model import FailoverMode, ScheduledSwitchover
from ..rules import refusal
from ..store import ConflictError, GroupState, NotFoundError
from ..store.schedule import scheduled_words
from .session import WRITER, Fleet, Publisher, Refused, UsageError, confirm, emit, group_ref, span
from .views import read_states, stale_of

MAX_AHEAD = timedelta(days=30)
"""The furthest ahead a switchover may be scheduled: much changes in a month (owners, clusters, who is on call)."""

_RELATIVE = re.compile(r"\+(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_FORMS = (
    "ISO 8601 with a timezone (2026-12-07T02:00:00Z, 2026-12-07T03:00+01:00) or a time from now (+30m, +2h, +1d12h)"
)


@dataclass(frozen=True)
class When:
    """--at as given: a moment, or a time from now (resolved when the command runs)."""

    text: str
    at: datetime | None = None
    after: timedelta | None = None

    def resolve(self, now: datetime) -> datetime:
        """The moment, to the second, UTC; UsageError (exit 2) if it is past or more than MAX_AHEAD away."""
        moment = self.at if self.at is not None else now + (self.after or timedelta())
        moment = moment.astimezone(UTC).replace(microsecond=0)
        if moment <= now:
            raise UsageError(
                f"--at {self.text}: {_iso(moment)} is not in the future (it is {_iso(now)} now); to move the group "
                f"now, leave out --at"
            )
        if moment - now > MAX_AHEAD:
            raise UsageError(
                f"--at {self.text}: {_iso(moment)} is more than {MAX_AHEAD.days} days away; schedule it closer to "
                f"the time (owners, clusters and who is on call change in a month)"
            )
        return moment


def parse_when(text: str) -> When:
    """--at's argparse type: the form is checked here, the moment when the command runs (`When.resolve`)."""
    relative = _RELATIVE.fullmatch(text.strip())
    if relative is not None and any(relative.groups()):
        days, hours, minutes, seconds = (int(part or 0) for part in relative.groups())
        return When(text, after=timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds))
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {_FORMS}, got {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no timezone: add Z (UTC) or an offset such as +01:00 (a local time means another moment "
            f"on every machine)"
        )
    return When(text, at=moment)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def switchover_at(
    fleet: Fleet, args: argparse.Namespace, explain: Callable[[str, GroupState, str], str], now: datetime
) -> int:
    """Schedule the move (after asking). Refused now only for what time cannot change (the target owns the group,
    has never reported, is leaving; another move pending or scheduled); what a move would meet today (a
    suspension, the target's health) is said as a note: the operators judge it again at the time."""
    when: When = args.at
    namespace, name = group_ref(args.group)
    at = when.resolve(now)
    store = fleet.store
    (state,) = await read_states(fleet, (namespace, name))
    config = state.config
    group = f"{namespace}/{name}"
    refused = refusal(config, state.clusters, args.to, set(), check_suspension=False, check_health=False)
    if refused:
        raise Refused(explain(refused, state, args.to))
    cancel = f"`{fleet.prog} cancel {group} --reason ...`"
    if config.schedule is not None:
        raise Refused(
            f"{scheduled_words(config.schedule, namespace, name)} is already scheduled; withdraw it with {cancel}"
        )
    if config.transition is not None:
        t = config.transition
        raise Refused(
            f"failover {t.failover_name} ({t.source_cluster} -> {t.target_cluster}) of {group} is in progress; "
            f"schedule once it is over, or withdraw it with {cancel}"
        )
    today = refusal(config, state.clusters, args.to, stale_of(store, state))
    mode = FailoverMode(args.mode or FailoverMode.CONSISTENCY.value)
    sw = ScheduledSwitchover(
        name=f"scheduled-{at:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}",
        source_cluster=config.owner,
        target_cluster=args.to,
        mode=mode,
        at=at,
        requested_by=WRITER,
        requested_at=now,
        reason=args.reason,
    )
    question = f"Schedule the move of {group} from {config.owner} to {args.to} ({mode.value}) at {sw.when}"
    confirm(args, f"{question} (in {span(at - now)})?")
    publish = Publisher(store)
    try:
        await store.schedules.schedule(namespace, name, sw)
    except (ConflictError, NotFoundError) as exc:
        raise Refused(f"cannot schedule: {exc}") from None
    finally:
        await publish()  # the operators hear of it with their next read of the fleet's liveness
    note = None
    if today is not None:
        note = (
            f"were it now, the move would be refused: {today}; {args.to}'s operator judges it again at {sw.when} and "
            f"drops it, saying why, if it still would be"
        )
        if args.output != "json":
            print(f"{fleet.prog}: note: {note}", file=sys.stderr)
    answer = {
        "name": sw.name,
        "namespace": namespace,
        "group": name,
        "from": sw.source_cluster,
        "to": sw.target_cluster,
        "mode": mode.value,
        "at": sw.when,
        "requestedBy": sw.requested_by,
        "reason": sw.reason,
        "phase": "Scheduled",
        "refusedNow": today,
    }
    emit(
        args,
        answer,
        lambda: (
            f"{sw.name}: {group} moves from {sw.source_cluster} to {sw.target_cluster} ({mode.value}) at {sw.when} "
            f"(in {span(at - now)}), asked for then by {sw.target_cluster}'s operator on its own clock (see it with "
            f"`{fleet.prog} status {group}`; withdraw it with {cancel} until then)"
        ),
    )
    return 0
