"""Replicas of one cluster's operator elect a leader on a `coordination.k8s.io/v1` Lease, as client-go's leader
election does: only the leader heartbeats, decides and acts; the others wait, warm, to take over.

- **Acquire**: a replica takes the Lease when nobody holds it (released: `holderIdentity` empty), or when it has
  seen the holder's record unchanged for longer than the duration it asked for, on the replica's own monotonic
  clock (never another pod's clock) — with an update conditioned on the version it read, so that of two
  contenders exactly one wins. Each acquisition counts up `leaseTransitions`: the leader's **term**.
- **Keep**: the leader renews every `renew_every`. One that finds another holder steps down. One that cannot
  renew (its API server does not answer, or takes no writes) keeps leading: a replica that can reach the API
  server takes the Lease after the duration, and its first heartbeat fences the old leader (the term, below),
  which then steps down; when nobody can reach the API server, nobody could take over either, and the cluster
  must keep its heartbeat (a cluster cut off from its API server is not failed over: nothing could stop its
  pods). client-go steps down after a renew deadline instead; that would silence the cluster here.
- **Release**: on SIGTERM the leader stops acting, then empties `holderIdentity`: a waiting replica takes over
  within its next look (`renew_every`), not after the whole duration.

The term fences a deposed leader where it matters: every write of the cluster's records in DynamoDB carries it
and is refused once a later term has written (store: `StoreContext.term`), so a leader that lost the Lease
without knowing it (a partition from its API server) can no longer speak for the cluster.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .clock import Clock
from .store.observe import ChangeObserver
from .waits import wait_set
from .workloads.kinds import LEASE
from .workloads.kube import KubeError

log = logging.getLogger("failover_operator.leadership")


RELEASE_ATTEMPTS = 3  # a release refused as a conflict is tried again on the Lease as it is now


@dataclass(frozen=True)
class LeaderTiming:
    """How the replicas elect (settings.Settings: LEADER_*)."""

    duration: float = 8.0  # a holder's record unchanged this long (seen by a candidate) may be taken
    renew_every: float = 1.0  # the leader renews, and candidates look, this often


class Leadership:
    def __init__(
        self, kube: Any, namespace: str, name: str, identity: str, clock: Clock, timing: LeaderTiming | None = None
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.clock = clock
        self.timing = timing or LeaderTiming()
        self.term = 0
        self.holder: str | None = None  # as last seen
        self._seen = ChangeObserver(clock)
        self._version: str | None = None  # the Lease's resourceVersion as we last read or wrote it
        self._renewed_at: float | None = None
        self._said: str | None = None

    @property
    def leading(self) -> bool:
        return self.holder == self.identity and self._renewed_at is not None

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until this replica leads (True), or `stop` is set (False)."""
        while not stop.is_set():
            if await self._try():
                return True
            await wait_set(stop, self.timing.renew_every)
        return False

    async def keep(self, lost: asyncio.Event) -> None:
        """Renew until cancelled; set `lost` (and return) once another replica holds the Lease."""
        while True:
            await asyncio.sleep(self.timing.renew_every)
            try:
                renewed = await self._renew()
            except KubeError as exc:
                self._say(f"cannot renew the leader Lease {self.namespace}/{self.name} (still leading): {exc}")
                continue
            if renewed is False:
                log.warning("%s: %s took the leader Lease: stepping down", self.identity, self.holder)
                lost.set()
                return

    async def still_leading(self) -> bool:
        """A look at the Lease before something drastic (fencing): False once another replica holds it. An API
        server that does not answer says nothing: still leading, as far as we know."""
        try:
            lease = await self.kube.get(LEASE, self.namespace, self.name)
        except KubeError:
            return True
        holder = ((lease or {}).get("spec") or {}).get("holderIdentity")
        if holder is not None and holder != self.identity:
            self.holder = holder
            return False
        return True

    async def release(self) -> None:
        """Give the Lease up (we lead): the next replica takes over within its next look."""
        if not self.leading:
            return
        version = self._version
        try:
            for _ in range(RELEASE_ATTEMPTS):
                patch = {
                    "metadata": {"resourceVersion": version},
                    "spec": {
                        "holderIdentity": None,
                        "leaseDurationSeconds": 1,
                        "renewTime": _micro_time(self.clock.now()),
                    },
                }
                try:
                    await self.kube.patch(LEASE, self.namespace, self.name, patch)
                    log.info("%s: released the leader Lease %s/%s", self.identity, self.namespace, self.name)
                    return
                except KubeError as exc:
                    if not exc.conflict:
                        raise
                # A renewal of ours landed after we last read the version (the renewer was stopped in flight):
                # release the Lease as it is now — if it is still ours.
                lease = await self.kube.get(LEASE, self.namespace, self.name) or {}
                if ((lease.get("spec") or {}).get("holderIdentity")) != self.identity:
                    return
                version = (lease.get("metadata") or {}).get("resourceVersion")
            log.warning("%s: could not release the leader Lease (it expires by itself): it changed", self.identity)
        except KubeError as exc:
            log.warning("%s: could not release the leader Lease (it expires by itself): %s", self.identity, exc)
        finally:
            self._renewed_at = None

    # --- inside -------------------------------------------------------------------------------------------

    async def _try(self) -> bool:
        now = self.clock.now()
        try:
            lease = await self.kube.get(LEASE, self.namespace, self.name)
        except KubeError as exc:
            self._say(f"cannot read the leader Lease {self.namespace}/{self.name}: {exc}")
            return False
        if lease is None:
            return await self._create(now)
        spec = lease.get("spec") or {}
        meta = lease.get("metadata") or {}
        holder = spec.get("holderIdentity") or None
        duration = float(spec.get("leaseDurationSeconds") or self.timing.duration)
        unchanged = self._seen.observe("lease", meta.get("resourceVersion"))
        self.holder = holder
        if holder not in (None, self.identity) and unchanged <= duration:
            self._say(f"{holder} leads; waiting")
            return False
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if holder == self.identity else 1)
        patch = {
            "metadata": {"resourceVersion": meta.get("resourceVersion")},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": max(1, round(self.timing.duration)),
                "acquireTime": _micro_time(now),
                "renewTime": _micro_time(now),
                "leaseTransitions": transitions,
            },
        }
        try:
            stored = await self.kube.patch(LEASE, self.namespace, self.name, patch)
        except KubeError as exc:
            if not exc.conflict:
                self._say(f"cannot take the leader Lease {self.namespace}/{self.name}: {exc}")
            return False  # someone else wrote it first: look again
        return self._took(stored, f"took the leader Lease from {holder}" if holder else "leads")

    async def _create(self, now: datetime) -> bool:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": max(1, round(self.timing.duration)),
                "acquireTime": _micro_time(now),
                "renewTime": _micro_time(now),
                "leaseTransitions": 1,
            },
        }
        try:
            stored = await self.kube.create(LEASE, self.namespace, body)
        except KubeError as exc:
            self._say(f"cannot create the leader Lease {self.namespace}/{self.name}: {exc}")
            return False
        return self._took(stored, "created the leader Lease and leads")

    async def _renew(self) -> bool | None:
        """True renewed; False someone else holds it now; None could not tell (an error: try again)."""
        patch = {
            "metadata": {"resourceVersion": self._version},
            "spec": {"holderIdentity": self.identity, "renewTime": _micro_time(self.clock.now())},
        }
        sent = self.clock.monotonic()
        try:
            stored = await self.kube.patch(LEASE, self.namespace, self.name, patch)
        except KubeError as exc:
            if not exc.conflict:
                raise
            lease = await self.kube.get(LEASE, self.namespace, self.name)
            holder = ((lease or {}).get("spec") or {}).get("holderIdentity")
            if holder != self.identity:
                self.holder = holder
                return False
            self._version = ((lease or {}).get("metadata") or {}).get("resourceVersion")
            return None  # ours still, written meanwhile (by us, retried): renew on the version read
        self._version = (stored.get("metadata") or {}).get("resourceVersion")
        self._renewed_at = sent
        self._said = None
        return True

    def _took(self, stored: dict[str, Any], how: str) -> bool:
        spec = stored.get("spec") or {}
        self._version = (stored.get("metadata") or {}).get("resourceVersion")
        self.term = int(spec.get("leaseTransitions") or 1)
        self.holder = self.identity
        self._renewed_at = self.clock.monotonic()
        self._said = None
        log.info("%s: %s (term %d)", self.identity, how, self.term)
        return True

    def _say(self, text: str) -> None:
        if text != self._said:
            log.info("%s: %s", self.identity, text)
        self._said = text


def _micro_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
