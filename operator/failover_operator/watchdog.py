"""The watchdog: an owner whose operator died or froze must still stop serving before a standby may start.

Two halves, as Patroni's watchdog:

- In the operator, `LeaseKeeper` renews a `coordination.k8s.io/v1` Lease in its own namespace after its
  heartbeats are written (and before any scale-up), carrying how long until the first group it serves would
  have to fence: the shortest time left before a fence deadline (a last good heartbeat's send time plus the
  fence limit).
- `failover-operator watchdog`, a second small process (its own Deployment, away from the operator's pod),
  watches that Lease on its own monotonic clock. When it has not changed for the time it carried, the
  operator is gone or frozen: the watchdog scales every resource this cluster serves as PRIMARY to zero
  (remembering replicas, as a standby does), marks them FENCED and posts an event. It needs only the local
  Kubernetes API, never DynamoDB. A returning operator scales them up only after it has written a heartbeat
  and proved ownership again (see reconciler/group.py).

Inherent limits, documented in README: a cluster that lost its API server and DynamoDB at once (nothing can
scale it down, and nothing hears from it), and an owner whose operator and watchdog are both gone.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from .clock import Clock
from .logs import Repeats, template
from .metrics import WatchdogMetrics
from .model import Role
from .reconciler.maintenance import MaintenanceBoard
from .reconciler.plan import plan_of
from .rules import watchdog_deadline
from .store.observe import ChangeObserver
from .waits import wait_set
from .workloads.converge import Workloads
from .workloads.kinds import FAILOVER_GROUP, LEASE
from .workloads.kube import KubeError

log = logging.getLogger("failover_operator.watchdog")

FENCE_AFTER = "failover.dev/fence-after-seconds"  # on the Lease: how long it may stay unchanged
RENEWS_EVERY = "failover.dev/renews-every-seconds"  # on the Lease: how often the operator renews it at least
MAINTENANCE = "failover.dev/maintenance"  # on the Lease: groups the operator holds in maintenance ("ns/name,...")
IDLE = "none"  # nothing served: nothing to fence
API_SILENT_SECONDS = 5.0
"""No renewal of the Lease landing for this long: the API server takes no writes (it may be frozen)."""
SOURCE = "failover-operator-watchdog"  # the events' source


class Kube(Protocol):
    """What both halves need of a Kubernetes client (workloads.kube.KubeClient, or a simulation's)."""

    async def get(self, kind: Any, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def patch(self, kind: Any, namespace: str, name: str, patch: Any) -> dict[str, Any]: ...

    async def list(self, kind: Any, namespace: str | None) -> list[dict[str, Any]]: ...

    async def create_event(self, involved: Any, reason: str, message: str, *, warning: bool, source: str) -> None: ...


class Serving(Protocol):
    """A group runner as the keeper sees it."""

    @property
    def local_role(self) -> Role | None: ...

    def fence_left(self) -> float: ...


class LeaseKeeper:
    """Renews the Lease every `step` seconds while the operator's loop runs."""

    def __init__(
        self,
        kube: Kube,
        namespace: str,
        name: str,
        holder: str,
        clock: Clock,
        runners: Callable[[], Iterable[Serving]],
        step: float = 1.0,
        gap: float = 0.05,
        maintenance: MaintenanceBoard | None = None,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.holder = holder
        self.clock = clock
        self.runners = runners
        self.step = step
        self.gap = gap
        self._warned: str | None = None
        self._poked = asyncio.Event()
        self.maintenance = maintenance
        if maintenance is not None:
            maintenance.watched = True
            maintenance.poke = self.poke
        self._refusal: str | None = None
        self._renewed_at = clock.monotonic()  # the last renewal that landed (or our start)

    @property
    def refused(self) -> str | None:
        """Why the API server does not take our renewals — it refused the last one (it does not answer, or refuses
        writes), or none has landed for API_SILENT_SECONDS (a frozen server answers nothing, and a request waits
        out its timeout) — None while it takes them: this cluster could not change its resources either (rules:
        it cannot act), whatever its watches last said of them."""
        if self._refusal is not None:
            return self._refusal
        if self.clock.monotonic() - self._renewed_at > API_SILENT_SECONDS:
            return f"it has not answered a write for over {API_SILENT_SECONDS:g}s"
        return None

    def time_left(self) -> float | None:
        """Until the first serving group must fence (None: nothing served)."""
        left = [r.fence_left() for r in self.runners() if r.local_role == Role.PRIMARY]
        left = [x for x in left if not math.isinf(x)]  # held in maintenance: the watchdog leaves them alone
        return max(0.0, min(left)) if left else None

    async def recall(self) -> frozenset[str] | None:
        """The groups the Lease lists as held in maintenance, as this process starts to lead (its predecessor's
        word, which its status records in DynamoDB still say); None if the Lease cannot be read."""
        try:
            lease = await self.kube.get(LEASE, self.namespace, self.name)
        except KubeError as exc:
            log.warning("cannot read the watchdog Lease %s/%s: %s", self.namespace, self.name, exc)
            return None
        annotations = ((lease or {}).get("metadata") or {}).get("annotations") or {}
        return held_groups(annotations)

    def poke(self) -> None:
        self._poked.set()

    async def renew(self, also: float | None = None) -> bool:
        """Renew now. `also`: a group about to scale up, whose time left counts although it is not serving yet
        (so a process that freezes between its scale-up and its next renewal is still fenced)."""
        left = self.time_left()
        if also is not None and not math.isinf(also):
            left = max(0.0, also) if left is None else min(left, max(0.0, also))
        held = frozenset(self.maintenance.listed) if self.maintenance is not None else frozenset()
        annotations = {FENCE_AFTER: IDLE if left is None else f"{left:.3f}", RENEWS_EVERY: f"{self.step:g}"}
        if self.maintenance is not None:
            annotations[MAINTENANCE] = ",".join(sorted(held))
        patch = {
            "metadata": {"annotations": annotations},
            "spec": {
                "holderIdentity": self.holder,
                "renewTime": _micro_time(self.clock.now()),
                "leaseDurationSeconds": 3600 if left is None else max(1, math.floor(left)),
            },
        }
        try:
            await self.kube.patch(LEASE, self.namespace, self.name, patch)
        except KubeError as exc:
            text = str(exc)
            if self._warned is None or template(text) != template(self._warned):  # once per kind of failure
                hint = " (the Helm chart creates it; see README, Watchdog)" if exc.not_found else ""
                log.warning("cannot renew the watchdog Lease %s/%s: %s%s", self.namespace, self.name, text, hint)
            self._warned = text
            # Not answering, or refusing writes, is about the API server; a refusal of this one object (no Lease,
            # no right to it) is not.
            refused = exc.unobservable and exc.status != 403
            self._refusal = text if refused else None
            if not refused:
                self._renewed_at = self.clock.monotonic()  # it answered: not about the API server taking writes
            return False
        self._warned = None
        self._refusal = None
        self._renewed_at = self.clock.monotonic()
        if self.maintenance is not None:
            self.maintenance.renewed(held)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Renew after heartbeats (poked), at most every `gap` seconds, and at least every `step`."""
        while not stop.is_set():
            self._poked.clear()
            await self.renew()
            await asyncio.sleep(self.gap)
            await wait_set(self._poked, self.step)  # `stop` is seen within a step (and the caller cancels us)


class Watchdog:
    """Fences this cluster's PRIMARY resources when the operator's Lease goes quiet for longer than it said."""

    def __init__(
        self,
        kube: Kube,
        workloads: Workloads,
        clock: Clock,
        lease_namespace: str,
        lease_name: str,
        namespaces: list[str],
        *,
        poll: float = 0.25,
        metrics: WatchdogMetrics | None = None,
    ) -> None:
        self.kube = kube
        self.workloads = workloads
        self.clock = clock
        self.lease_namespace = lease_namespace
        self.lease_name = lease_name
        self.namespaces = namespaces
        self.poll = poll
        self._seen = ChangeObserver(clock)
        self._deadline: float | None = None  # when the last renewal that vouched for serving runs out
        self._looked_at: float | None = None  # when the Lease was last seen
        self._failed: dict[tuple[str, str], str] = {}  # (namespace, name) -> what the last fencing could not do
        self._held: frozenset[str] = frozenset()  # groups the operator holds in maintenance, as the Lease says
        self._left_alone: set[str] = set()  # held groups we did not fence (said once)
        self._unreadable: str | None = None  # why the last look could not read the Lease
        self._repeats = Repeats(clock.monotonic)
        self.metrics = metrics or WatchdogMetrics()
        self.fenced = 0

    async def step(self) -> bool:
        """One look at the Lease; True when the last renewal that vouched for serving has run out (and the
        fencing was done). A renewal saying nothing is served does not extend it (rules.watchdog_deadline)."""
        where = f"{self.lease_namespace}/{self.lease_name}"
        try:
            lease = await self.kube.get(LEASE, self.lease_namespace, self.lease_name)
        except KubeError as exc:
            # Not seeing the Lease is not seeing it quiet: the API is the problem, fencing is moot.
            return self._blind(f"cannot read the operator's Lease {where}: {exc}")
        if lease is None:
            return self._blind(f"the operator's Lease {where} does not exist (the Helm chart creates it)")
        if self._unreadable is not None:
            log.info("the operator's Lease %s can be read again", where)
            self._unreadable = None
        meta = lease.get("metadata") or {}
        version = meta.get("resourceVersion")
        quiet = self._seen.observe("lease", version)
        self.metrics.lease_readable.set(1)
        self.metrics.lease_age.set(quiet)
        now = self.clock.monotonic()
        blind_for = 0.0 if self._looked_at is None else now - self._looked_at
        self._looked_at = now
        annotations = meta.get("annotations") or {}
        self._held = held_groups(annotations)
        self._left_alone &= self._held
        raw = annotations.get(FENCE_AFTER, IDLE)
        allowed = None if raw == IDLE else _seconds(raw)
        every = _seconds(annotations.get(RENEWS_EVERY, ""))
        self._deadline = watchdog_deadline(
            self._deadline, quiet == 0.0, now, allowed, blind_for=blind_for, renewed_every=every
        )
        self.metrics.armed.set(0 if self._deadline is None else 1)
        if self._deadline is None or now <= self._deadline:
            return False
        if await self.fence(quiet):
            self._deadline = None  # nothing is served any more: nothing to fence until someone vouches again
            self.metrics.armed.set(0)
        return True

    def _blind(self, why: str) -> bool:
        """The Lease could not be seen: said once a minute (not at every look), and in the metrics."""
        self._unreadable = why
        if self._repeats.news("lease", why):
            log.warning("%s", why)
        self.metrics.lease_readable.set(0)
        age = self._seen.age("lease")
        if age is not None:
            self.metrics.lease_age.set(age)  # unchanged for at least this long, as far as it knows
        return False

    async def fence(self, quiet: float) -> bool:
        """Scale every group this cluster serves as PRIMARY down to FENCED; True once nothing is left serving (or
        could not be seen): until then every look fences again (an API server that refused is asked again)."""
        scopes: list[str | None] = list(self.namespaces) or [None]
        done = True
        for namespace in scopes:
            try:
                groups = await self.kube.list(FAILOVER_GROUP, namespace)
            except KubeError as exc:
                log.warning("cannot list FailoverGroups: %s", exc)
                done = False
                continue
            for body in groups:
                done = await self._fence_group(body, quiet) and done
        return done

    async def _fence_group(self, body: dict[str, Any], quiet: float) -> bool:
        """True when nothing of the group is left serving here (and nothing is unknown)."""
        meta = body.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        try:
            plan = plan_of(body)
        except ValidationError:
            return True
        if f"{namespace}/{name}" in self._held:
            if f"{namespace}/{name}" not in self._left_alone:
                self._left_alone.add(f"{namespace}/{name}")
                log.warning(
                    "the operator's Lease has not changed for %.1fs, but it holds %s/%s in maintenance (suspended): "
                    "the watchdog leaves it as it is",
                    quiet,
                    namespace,
                    name,
                )
            return True
        seen = await self.workloads.observe(namespace, plan.resources, Role.PRIMARY)
        roles = {c.get("managedRole") for c in seen.components.values()}
        if Role.PRIMARY.value not in roles:
            return not seen.any_unknown
        epoch = (body.get("status") or {}).get("epoch") or 0
        result = await self.workloads.converge(
            namespace, plan.resources, Role.FENCED, group=f"{namespace}/{name}", epoch=int(epoch)
        )
        failed = "; ".join(result.errors)
        key = (namespace, name)
        if not result.changed and self._failed.get(key) == failed:
            return not result.errors  # the same refusal as last time: tried again, said once
        self._failed[key] = failed
        self.fenced += 1
        if result.changed:
            self.metrics.fences.inc()
            self.metrics.last_fence.set(self.clock.now().timestamp())
        text = (
            f"the operator's Lease has not changed for {quiet:.1f}s: its operator is gone or frozen; the watchdog "
            f"scaled {namespace}/{name} down (FENCED) so that a standby may take over without overlap"
        )
        if result.errors:
            text += f"; could not fence: {failed} (it tries again every {self.poll:g}s)"
        log.warning("%s", text)
        try:
            await self.kube.create_event(
                body, "WatchdogFenced", text, warning=True, source="failover-operator-watchdog"
            )
        except KubeError as exc:
            log.warning("cannot post an event for %s/%s: %s", namespace, name, exc)
        return not result.errors

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.step()
            except Exception:  # the watchdog must outlive any single failure
                log.exception("watchdog step failed")
            await wait_set(stop, self.poll)


def held_groups(annotations: dict[str, str]) -> frozenset[str]:
    """The groups a Lease's annotations list as held in maintenance."""
    return frozenset(g for g in (annotations.get(MAINTENANCE) or "").split(",") if g)


def _micro_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _seconds(raw: str) -> float | None:
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None
