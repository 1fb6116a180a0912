"""The domain's words: roles, health, states, modes, outcomes, timeouts — and the records the clusters share
(a group's config with its owner, epoch and transition; each cluster's status; the history of moves).

No I/O and no other module of the package: `api.py`, the rules (`rules/`), the store (which keeps these
records in DynamoDB: `store/records.py` converts them to and from items), the workloads and the reconciler all
speak these words, so each means one thing everywhere.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Role(StrEnum):
    """What this cluster's copy of a group's resources is converged to."""

    PRIMARY = "PRIMARY"
    STANDBY = "STANDBY"
    FENCED = "FENCED"  # a standby's shape, taken by an owner that could not prove it still owns the group

    @property
    def shape(self) -> Role:
        """The shape the resources take: FENCED ones look like a standby's."""
        return Role.STANDBY if self == Role.FENCED else self


class Health(StrEnum):
    """Of one resource, of a cluster's copy of a group, as reported. UNKNOWN: it could not be observed (its API
    server did not answer) — not knowing is not failing."""

    OK = "OK"
    DEGRADED = "DEGRADED"
    ERROR = "ERROR"
    UNKNOWN = "UNKNOWN"

    @property
    def rank(self) -> int:
        """Worse is higher: a group is as healthy as its worst resource."""
        return _RANK[self]


_RANK = {Health.OK: 0, Health.DEGRADED: 1, Health.UNKNOWN: 2, Health.ERROR: 3}


class ClusterState(StrEnum):
    """What a cluster's status record says of its copy of a group (the truth about its resources)."""

    PRIMARY = "PRIMARY"  # scaled up: it serves
    STANDBY = "STANDBY"
    FAILOVER = "FAILOVER"  # drained for a move: confirmed down, the target may start
    FAILBACK = "FAILBACK"
    FENCED = "FENCED"  # an owner that scaled itself down: it could not prove ownership in time


class Outcome(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ROLLED_BACK = "ROLLED_BACK"  # an UPTIME hand-off whose new owner never became ready: ownership returned
    WITHDRAWN = "WITHDRAWN"  # a move request withdrawn before it moved anything (deleted, cancelled, timed out)


class FailoverMode(StrEnum):
    CONSISTENCY = "CONSISTENCY"
    UPTIME = "UPTIME"


class Record(BaseModel):
    """A record the clusters share: immutable, and nothing in it that the table does not hold."""

    model_config = ConfigDict(frozen=True, use_enum_values=False, extra="forbid")


Frozen = TypeVar("Frozen", bound=BaseModel)


def evolved(model: Frozen, **changes: Any) -> Frozen:
    """`model.model_copy(update=changes)` (unvalidated, as that is) at half the cost, for frozen models: every
    group's quiet tick copies its statuses with the liveness just read."""
    new = model.__class__.__new__(model.__class__)
    object.__setattr__(new, "__dict__", {**model.__dict__, **changes})
    object.__setattr__(new, "__pydantic_fields_set__", model.__pydantic_fields_set__ | changes.keys())
    object.__setattr__(new, "__pydantic_extra__", model.__pydantic_extra__)  # shared: frozen, as the rest
    object.__setattr__(new, "__pydantic_private__", model.__pydantic_private__)
    return new


class Timeouts(Record):
    """Per-group timeouts, in seconds."""

    heartbeat: float = Field(15.0, gt=0)
    unhealthy_primary: float = Field(60.0, gt=0)
    transitory_state: float = Field(300.0, gt=0)


class Transition(Record):
    """A move of ownership in progress, which every cluster's tick advances (the protocol of a failover).

    CONSISTENCY, at `epoch` (the owner's): the source drains and reports FAILOVER; the target then transfers
    ownership (epoch + 1) in a transaction conditioned on this very transition, and the transition goes with
    it. A source that gives up after transitoryState removes it first (conditionally), so a late transfer can
    never land after it resumed. `force`: the target transfers after two heartbeat intervals
    (rules.FORCE_WAIT_INTERVALS) even if the source has not confirmed. `automatic`: asked by a standby because
    the owner reports ERROR.
    UPTIME, at `epoch` (the owner's): the target transfers at once and the transition stays, at the new epoch,
    as the hand-off: the source serves until the target reports ready, then removes it; if the target never
    does within transitoryState, the source takes ownership back (epoch + 1, history ROLLED_BACK)."""

    failover_name: str
    source_cluster: str
    target_cluster: str
    mode: FailoverMode = FailoverMode.CONSISTENCY
    requested_by: str
    requested_at: datetime
    epoch: int
    force: bool = False
    automatic: bool = False
    reason: str = ""
    following: bool = False
    """UPTIME: the source has seen this move and can act on its resources (it will see the target ready and
    stop): the transfer is conditioned on it. Written by the source on the config, removed when it cannot act."""
    ready: bool = False
    """UPTIME hand-off: the new owner has reported ready: the source no longer takes the group back (the hand-back
    is conditioned on its absence). Written by the new owner on the config."""


class Fence(Record):
    """A person stopped one cluster's copy of the group by hand (`failover-operator fence`), as CloudNativePG's
    fencing does: that cluster keeps its copy down, whatever it owns, and takes nothing over; a group whose owner
    is fenced is not taken over automatically (a person decided it stops). Only `unfence` lifts it."""

    reason: str
    fenced_at: datetime
    fenced_by: str


class ScheduledSwitchover(Record):
    """A switchover asked for a later time (`failover-operator switchover --at`), kept in the group's config until
    then, as Patroni keeps a scheduled switchover in its DCS: carried out by the operators, not by a process that
    must stay running. At `at`, on its own clock (a wall-clock time is for people, never a safety matter), the
    target's operator turns it into a move request (a Transition named `name`) in one conditional write that
    removes it; when the move would be refused then, it removes it and says why (rules/schedule.py)."""

    name: str
    """The move's name once it starts (its Transition's failover name, its history record's): scheduled-<time>."""
    source_cluster: str
    """The owner when it was scheduled: a group owned by another cluster at its time is not moved (dropped)."""
    target_cluster: str
    mode: FailoverMode = FailoverMode.CONSISTENCY
    at: datetime
    requested_by: str
    requested_at: datetime
    reason: str = ""

    @property
    def when(self) -> str:
        """Its time as people write it: ISO 8601, UTC, to the second ('2026-12-07T02:00:00Z')."""
        return self.at.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class GroupConfig(Record):
    namespace: str
    name: str
    operator_id: str
    owner: str
    previous_owner: str | None = None
    epoch: int = Field(1, ge=0)
    version: int = Field(1, ge=1)
    suspended: bool = False
    suspension_reason: str | None = None
    fences: dict[str, Fence] = {}
    """The clusters fenced by hand, by name (Fence): their copies stay down until they are unfenced."""
    timeouts: Timeouts = Timeouts()
    timeouts_before: Timeouts | None = None
    """The timeouts before the last change of them: nobody's wait shortens before the old timeout has passed."""
    last_failover: datetime | None = None
    last_move: str | None = None
    """The history record of the last change of owner (its sort key): what tells a move's retry that landed from
    another move that landed."""
    schedule: ScheduledSwitchover | None = None
    """A switchover asked for a later time, not started yet (`switchover --at`)."""
    updated_at: datetime
    transition: Transition | None = None
    proof_seq: int = Field(0, ge=0)
    """Proofs of ownership so far (every epoch): the owner bumps it each time it starts serving, conditioned on
    owning the group at the epoch; a takeover of an owner judged silent is conditioned on the number it saw."""
    serving: bool = False
    """The owner may serve: set by its proof of ownership, cleared by a move and by the owner once its resources
    are down (`StateManager.stop_serving`). A takeover of an owner "not serving", and a transfer of a drained one,
    is conditioned on it being clear."""
    lock_token: str | None = None
    """The token of the group's lock while one is held (the LOCK record has the lease): a move that does not
    hold it is conditioned on its absence."""
    last_record: str | None = None
    """The last history record written with a change of the config (a move, a withdrawal), as JSON: written with
    the change, so that the history record itself can be written after it (idempotently: no transaction), and
    again by whoever finds it missing."""


class ClusterStatus(Record):
    cluster_name: str
    health: Health = Health.UNKNOWN
    state: ClusterState = ClusterState.STANDBY
    heartbeat_seq: int = Field(0, ge=0)
    last_heartbeat: datetime
    observed_epoch: int | None = None
    components: dict[str, Any] = {}
    message: str | None = None
    leaving: bool = False
    """Its FailoverGroup is being deleted there: it is leaving the group, and takes nothing over (nor is it handed
    anything)."""
    following: str | None = None
    """The UPTIME move of the group (its failover name) that this cluster, the move's source, has seen and follows:
    its target starts beside it only once it says so, since it must see the target ready to stop."""
    maintenance: bool = False
    """The owner holds the suspended group in maintenance: it does not fence itself when its heartbeats fail, and
    its watchdog leaves the group alone. Only the cluster itself takes it back (by saying otherwise), so nobody
    takes the group over from it while its last word says so — even once the group is resumed."""
    liveness_seq: int | None = None
    """The cluster's liveness sequence number (store/liveness.py) as read with this status; None: not read.
    The cluster is alive for this group while either number moves."""
    alive_at: datetime | None = None
    """The cluster's own clock when its liveness was last written (for people; never compared)."""

    @field_validator("components", mode="before")
    @classmethod
    def _components_from_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class HistoryRecord(Record):
    failover_name: str
    source_cluster: str
    target_cluster: str
    reason: str = ""
    forced: bool = False
    automatic: bool = False
    mode: FailoverMode = FailoverMode.CONSISTENCY
    started_at: datetime
    finished_at: datetime
    outcome: Outcome = Outcome.SUCCEEDED
    epoch: int
    downtime_seconds: float | None = None
    unconfirmed: bool = False
    """Forced, and the old owner never confirmed it stopped serving before the new one took over: an overlap is
    possible and was not measured, so no downtime is either."""
    record_id: str = ""
    """The record's sort key; identifies it for later updates (e.g. measured downtime)."""

    @property
    def moved(self) -> bool:
        """It records a change of owner (its epoch); a withdrawn request moved nothing."""
        return self.outcome in (Outcome.SUCCEEDED, Outcome.ROLLED_BACK)
