"""The order in which an owner enters and leaves maintenance (reconciler/maintenance.py): it says it holds the
group — in its status, then on the watchdog's Lease — before it holds it, and stops holding before it stops
saying so; a new process holds what the Lease says its predecessor held."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace

from failover_operator.model import ClusterState, ClusterStatus, GroupConfig, Timeouts
from failover_operator.reconciler.maintenance import Maintenance, MaintenanceBoard
from failover_operator.reconciler.reporting import StatusKey
from failover_operator.rules import Timing, fence_left

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def config(*, suspended: bool, owner: str = "east") -> GroupConfig:
    return GroupConfig(
        namespace="shop",
        name="web",
        operator_id="o",
        owner=owner,
        epoch=3,
        updated_at=T0,
        suspended=suspended,
        timeouts=Timeouts(heartbeat=15, unhealthy_primary=60, transitory_state=300),
    )


@dataclass
class Runner:
    board: MaintenanceBoard
    group: str = "shop/web"
    leaving: bool = False
    moved: int = 0
    reports: SimpleNamespace = field(default_factory=lambda: SimpleNamespace(written_key=None))
    ctx: SimpleNamespace = field(init=False)

    def __post_init__(self) -> None:
        self.ctx = SimpleNamespace(maintenance=self.board, cluster="east", clock=SimpleNamespace(monotonic=lambda: 5.0))

    def fence_moved(self) -> None:
        self.moved += 1

    def wrote(self, maintenance: bool) -> None:
        self.reports.written_key = StatusKey(ClusterState.PRIMARY, "OK", 3, "{}", None, None, maintenance)


def watched_board() -> tuple[MaintenanceBoard, list[int]]:
    board = MaintenanceBoard()
    board.watched = True
    pokes: list[int] = []
    board.poke = lambda: pokes.append(1)
    return board, pokes


def test_an_owner_holds_a_suspended_group_only_once_its_status_and_the_lease_say_so() -> None:
    board, pokes = watched_board()
    runner = Runner(board)
    m = Maintenance(runner)  # type: ignore[arg-type]
    m.update(config(suspended=True))
    assert m.declared and not m.held and board.listed == set()  # the status must say it first
    runner.wrote(maintenance=True)
    m.update(config(suspended=True))
    assert not m.held and board.listed == {"shop/web"} and pokes  # then the Lease, renewed at once
    board.renewed(board.listed)
    m.update(config(suspended=True))
    assert m.held and runner.moved == 1


def test_it_stops_holding_before_it_stops_saying_so() -> None:
    board, _ = watched_board()
    board.recall({"shop/web"})
    runner = Runner(board)
    m = Maintenance(runner)  # type: ignore[arg-type]
    assert m.held and m.declared  # what its predecessor held, as the Lease said
    m.update(config(suspended=False))
    assert not m.held and board.listed == set() and m.left_at == 5.0  # it fences itself again at once
    assert runner.moved == 1  # (the fence loop looks at its deadline again)
    # Its status still says so while the Lease does: dying now, its watchdog would leave the copy serving, so no
    # standby may take over yet.
    assert m.declared
    board.renewed(board.listed)  # the renewal without it landed
    assert not m.declared


def test_a_process_that_could_not_read_the_lease_says_what_its_predecessor_said_until_it_renews() -> None:
    """The Lease unreadable at start (its API server unreachable): it may still list what our predecessor held,
    so our status keeps saying maintenance wherever it said so, resumed or not, until a renewal of ours lands."""
    board, _ = watched_board()
    board.recall(None)
    runner = Runner(board)
    m = Maintenance(runner)  # type: ignore[arg-type]
    ours = ClusterStatus(cluster_name="east", last_heartbeat=T0, maintenance=True)
    m.update(config(suspended=False), ours)
    assert m.declared and not m.held  # said, not held: its fence deadline runs
    board.renewed(board.listed)
    assert not m.declared
    other = Maintenance(Runner(board))  # type: ignore[arg-type]
    other.update(config(suspended=False), ClusterStatus(cluster_name="east", last_heartbeat=T0))
    assert not other.declared  # nothing said before: nothing to keep saying


def test_a_standby_or_a_leaving_cluster_holds_nothing() -> None:
    board, _ = watched_board()
    runner = Runner(board)
    runner.wrote(maintenance=True)
    m = Maintenance(runner)  # type: ignore[arg-type]
    m.update(config(suspended=True, owner="west"))
    assert not m.declared and not m.held
    runner.leaving = True
    m.update(config(suspended=True))
    assert not m.declared and not m.held


def test_without_a_watchdog_the_status_alone_is_enough() -> None:
    board = MaintenanceBoard()  # no Lease renewed: nobody to tell
    runner = Runner(board)
    runner.wrote(maintenance=True)
    m = Maintenance(runner)  # type: ignore[arg-type]
    m.update(config(suspended=True))
    assert m.held


def test_a_held_group_has_no_fence_deadline_of_its_own_but_a_hand_offs() -> None:
    timing = Timing(heartbeat=15, fence_after=7.5, unhealthy=60, transitory=300, interval=5)
    assert math.isinf(fence_left(100.0, timing, heartbeat_sent=10.0, proved=True, started=0.0, held=True))
    assert fence_left(100.0, timing, heartbeat_sent=10.0, proved=True, started=0.0, following=95.0, held=True) == 2.5
