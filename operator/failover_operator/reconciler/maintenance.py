"""Maintenance: the owner of a suspended group holds it exactly as it is, as Patroni does in pause — it does not
fence itself when its heartbeats fail, does not reshape its resources, and its watchdog leaves them alone; and
nobody takes the group over. So a person can restart, upgrade or repair anything (DynamoDB included).

Holding is safe only while nobody may take over from us, whatever happens to the config meanwhile (a resume
that we cannot read, say). So the owner says it holds the group before it starts holding, in both places that
could otherwise act on its silence, and stops holding before it stops saying so:

1. Entering: our status record says `maintenance` (confirmed written) — from then on no standby takes the group
   over from us until our status says otherwise, even once the group is resumed (rules.decide); then the
   watchdog's Lease lists the group (confirmed renewed) — from then on the watchdog leaves it alone. Only then
   do we hold (no fence deadline: rules.fence_left `held`).
2. Leaving (the group resumed, moved away, or being deleted): we stop holding at once — our fence deadline is
   back — and only then do our status and the Lease stop saying so.

A process that starts (a restart, a new leader) recalls what the Lease listed: its predecessor held those
groups, and its status still says so (only this cluster writes it), so it holds them until it reads otherwise.
One that cannot read the Lease (its API server unreachable) keeps its status saying maintenance wherever it
said so before, until a renewal of its own lands: its watchdog may still read the old listing and leave those
copies alone, so no standby may take them over meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..model import ClusterStatus, GroupConfig

if TYPE_CHECKING:
    from .group import GroupRunner

log = logging.getLogger("failover_operator.group")


class MaintenanceBoard:
    """This process's groups held in maintenance, as the watchdog's Lease lists them ("namespace/name")."""

    def __init__(self) -> None:
        self.recalled: frozenset[str] = frozenset()
        """What the Lease listed when this process started to lead."""
        self.listed: set[str] = set()
        """What the next renewal of the Lease lists: groups whose status says so (confirmed)."""
        self.announced: frozenset[str] = frozenset()
        """What the last renewal that landed listed."""
        self.watched = False
        """A watchdog Lease is renewed (else there is no watchdog to tell)."""
        self.poke: Callable[[], None] = lambda: None
        """Renew the Lease soon (set by its keeper)."""

        self.unknown = False
        """The Lease could not be read as this process started: it may list any group our predecessor held."""

    def recall(self, groups: Iterable[str] | None) -> None:
        """What the Lease listed as this process starts to lead: its predecessor held those groups. None: the Lease
        could not be read — until a renewal of ours lands, it may still list what our predecessor held."""
        self.unknown = groups is None
        self.recalled = frozenset(groups or ())
        self.listed = set(self.recalled)
        self.announced = self.recalled

    def renewed(self, listed: Iterable[str]) -> None:
        self.announced = frozenset(listed)
        self.unknown = False


class Maintenance:
    """Whether this cluster holds one group in maintenance (`held`), and says so (`declared`)."""

    def __init__(self, runner: GroupRunner) -> None:
        self.runner = runner
        self.board: MaintenanceBoard = runner.ctx.maintenance
        self._wanted = self.held = runner.group in self.board.recalled
        self._said = False  # our status said maintenance when we first read it (our predecessor's word)
        self.left_at: float | None = None
        """When we last stopped holding (our unproved allowance counts from then, not from our start)."""

    @property
    def declared(self) -> bool:
        """Our status says we hold the group: from when we want to hold it until the watchdog's Lease no longer
        lists it (else, dying in between, our status would let a standby take over while our watchdog, reading the
        Lease, leaves our copy serving)."""
        board = self.board
        listed = self.runner.group in board.announced or (board.unknown and self._said)
        return self._wanted or (board.watched and listed)

    def update(self, config: GroupConfig, mine: ClusterStatus | None = None) -> None:
        """After each read of the config (and of our status, `mine`): enter or leave maintenance, in the order
        that keeps it safe."""
        runner = self.runner
        if self.board.unknown and mine is not None and mine.maintenance:
            # Our predecessor said it held the group, and the Lease, which we could not read, may still list it:
            # until a renewal of ours lands, our status keeps saying so (a resume we read changes nothing there).
            self._said = True
        wanted = config.suspended and config.owner == runner.ctx.cluster and not runner.leaving
        wanted = wanted and runner.ctx.cluster not in config.fences  # fenced by hand: down, not held as it is
        if not wanted:
            self.leave(config.owner)
            return
        self._wanted = True
        written = runner.reports.written_key
        if written is None or not written.maintenance:
            return  # our status must say it first
        group = runner.group
        if group not in self.board.listed:
            self.board.listed.add(group)
            self.board.poke()
        if not self.held and (group in self.board.announced or not self.board.watched):
            self.held = True
            runner.fence_moved()
            log.info(
                "%s: maintenance: %s holds the group as it is (no fencing, no reshaping; nobody takes it over) "
                "until it is resumed",
                group,
                config.owner,
            )

    def leave(self, owner: str | None = None) -> None:
        """Stop holding the group (resumed, moved away, or being deleted here): at once — our fence deadline is
        back — and then the Lease and, once it no longer lists the group, our status stop saying so."""
        runner = self.runner
        group = runner.group
        if self.held:
            self.held = False
            self.left_at = runner.ctx.clock.monotonic()
            runner.fence_moved()
            log.info("%s: maintenance ends: %s fences itself again when its heartbeats fail", group, owner or "it")
        self._wanted = False
        if group in self.board.listed:
            self.board.listed.discard(group)
            self.board.poke()
