"""What every runner and executor of one operator shares."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..clock import Clock
from ..health import Probes
from ..metrics import Metrics
from ..settings import Settings
from ..store import DynamoDBService, StoreError, keys
from ..store.regions import RegionalClient
from ..workloads.converge import Workloads

log = logging.getLogger("failover_operator.runner")

ACTING_CONCURRENCY = 32
"""Groups of one operator that act at once: below the store's concurrency (40 requests in flight), since each
acting group sends one request at a time, and the others' reads and status writes need room too."""


class StoppingError(Exception):
    """This process stops acting (it hands over to another replica): what was asked is left to the next leader."""


if TYPE_CHECKING:
    from .claims import Claims
    from .fleet import FleetView
    from .group import GroupRunner
    from .heartbeat import ClusterHeartbeat
    from .maintenance import MaintenanceBoard


class Liveness(Protocol):
    """The operator's proof of life for its watchdog (watchdog.LeaseKeeper)."""

    def poke(self) -> None:
        """A heartbeat was written: renew soon, with the new time left."""
        ...

    async def renew(self, also: float | None = None) -> bool:
        """Renew now; `also`: the time left of a group about to scale up (not counted as serving yet)."""
        ...

    @property
    def refused(self) -> str | None:
        """Why the local API server did not take the last renewal (it cannot be written), or None."""
        ...


class Reporter(Protocol):
    """Carries results back to Kubernetes (implemented in handlers/, the only place that knows kopf)."""

    def event(self, reason: str, message: str, *, warning: bool = False) -> None: ...

    async def patch_status(self, status: dict[str, Any]) -> None: ...


@dataclass
class OperatorContext:
    settings: Settings
    store: DynamoDBService
    workloads: Workloads
    metrics: Metrics
    clock: Clock
    runners: dict[tuple[str, str], GroupRunner] = field(default_factory=dict)
    failover_poll_seconds: float = 0.5
    liveness: Liveness | None = None  # None: no watchdog watches this operator (tests)
    health: Probes | None = None  # what /healthz and /readyz answer from (None: not served, in tests)
    acting: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(ACTING_CONCURRENCY))
    """Groups acting at once (a move, a proof of ownership, and the reads and status writes around them)."""
    leading: Callable[[], Awaitable[bool]] | None = None
    """Whether this replica still leads, asked before fencing (None: it runs alone). A leader that was frozen
    while another took over must not scale down what the new leader serves."""
    deposed: asyncio.Event = field(default_factory=asyncio.Event)
    """Another replica of this cluster's operator leads now (a later leader term wrote our records): this process
    stops acting at once — it neither fences nor scales anything — and steps down (runner.serve)."""
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    """The process hands over (SIGTERM to a leader): every group runner, failover executor and deletion stops
    acting, so that the leader Lease can be released at once (runner._lead)."""
    heartbeat: ClusterHeartbeat = field(init=False)  # beats while any runner is attached
    fleet: FleetView = field(init=False)
    claims: Claims | None = field(init=False)  # resources two groups list: which one manages each
    maintenance: MaintenanceBoard = field(init=False)  # groups this cluster holds in maintenance (the Lease lists)

    def __post_init__(self) -> None:
        from .claims import Claims  # they need the context; the context names them
        from .fleet import FleetView
        from .heartbeat import ClusterHeartbeat
        from .maintenance import MaintenanceBoard

        self.heartbeat = ClusterHeartbeat(self)
        self.fleet = FleetView(self)
        self.claims = Claims(self)
        self.maintenance = MaintenanceBoard()
        self._acting_now = 0
        self._idle = asyncio.Event()
        self._idle.set()
        call = self.store.call  # read at scrape time: not set by every group's every tick
        self.metrics.store_requests.set_function(lambda: call.calls)
        self.metrics.store_retries.set_function(lambda: call.retries)
        changes = getattr(self.store, "changes", None)
        if changes is not None:
            changes.on_change = self._wrote
        regional = getattr(self.store, "client", None)
        for _ in range(3):  # through whatever wraps it (a test's gate)
            if isinstance(regional, RegionalClient):
                break
            regional = getattr(regional, "client", None)
        if isinstance(regional, RegionalClient):
            told = regional.on_move

            def moved(before: str, after: str, why: str) -> None:
                if told is not None:
                    told(before, after, why)
                self.heartbeat.soon()  # the beat that could not land where we were lands where we are, now

            regional.on_move = moved

    def _wrote(self, partitions: list[str]) -> None:
        """We wrote these group partitions: our peers hear of it with our next beat, due at once; our own
        runners read them afresh."""
        self.fleet.touched(partitions, wake=False, own=True)
        self.heartbeat.soon()

    @contextlib.contextmanager
    def acting_for_the_cluster(self) -> Iterator[None]:
        """Around whatever acts on the cluster's resources or records (a group's runner, a failover's executor,
        a deletion): `stop_acting` waits for every one of them to end."""
        if self.stopping.is_set():
            raise StoppingError("this replica hands over: the replica that leads next does it")
        self._acting_now += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._acting_now -= 1
            if self._acting_now == 0:
                self._idle.set()

    async def stop_acting(self, within: float) -> bool:
        """Tell everything that acts to stop (`stopping`); True once all of it has ended, within `within` s."""
        self.stopping.set()
        try:
            await asyncio.wait_for(self._idle.wait(), within)
        except TimeoutError:
            return False
        return True

    def depose(self, why: str) -> None:
        """A write of ours was refused for a later leader term (store.DeposedError)."""
        if not self.deposed.is_set():
            log.warning("%s: %s; this replica stops acting and steps down", self.cluster, why)
            self.deposed.set()

    @property
    def cluster(self) -> str:
        return self.settings.cluster_name

    def wake(self, namespace: str, name: str) -> None:
        """Ask the group's runner in this cluster (if any) to tick now rather than at its next interval."""
        runner = self.runners.get((namespace, name))
        if runner is not None:
            runner.changed(wake=True)

    async def announce(self, namespace: str, name: str) -> None:
        """Something outside the group's runner wrote its records (a Failover executed here, a cluster leaving the
        group): our runner ticks now, and the other operators hear of it at once, as a publisher's change list
        (store/liveness.py): our heartbeat would tell them only with its next beat — never, if this cluster runs
        no group at all (it then does not beat)."""
        self.wake(namespace, name)
        pk = keys.group_pk(self.store.operator_id, namespace, name)
        try:
            await self.store.liveness.publish(f"failovers-{self.cluster}", [pk])
        except (StoreError, TimeoutError) as exc:
            log.warning("%s/%s: could not tell the other operators of our write at once: %s", namespace, name, exc)
