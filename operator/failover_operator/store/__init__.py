"""The coordination layer: everything the operators share lives in one DynamoDB table.

Knows nothing of Kubernetes. See docs/design.md ("The table", "Time") for the records and the rules.
"""

from ..model import (
    ClusterState,
    ClusterStatus,
    FailoverMode,
    GroupConfig,
    Health,
    HistoryRecord,
    Outcome,
    Timeouts,
    Transition,
)
from .errors import (
    ConflictError,
    CorruptRecordError,
    DeposedError,
    LockHeldError,
    NotFoundError,
    PreconditionError,
    StoreError,
    SupersededError,
)
from .liveness import LivenessManager
from .operations import OperationsManager, OwnerCheck, failover_refusal
from .problems import Problem, ProblemKind, Severity
from .records import Lease, Liveness, LockInfo
from .service import DynamoDBService
from .state import GroupState, StateManager
from .table import ensure_table

__all__ = [
    "ClusterState",
    "ClusterStatus",
    "ConflictError",
    "CorruptRecordError",
    "DeposedError",
    "DynamoDBService",
    "FailoverMode",
    "GroupConfig",
    "GroupState",
    "Health",
    "HistoryRecord",
    "Lease",
    "Liveness",
    "LivenessManager",
    "LockHeldError",
    "LockInfo",
    "NotFoundError",
    "OperationsManager",
    "Outcome",
    "OwnerCheck",
    "PreconditionError",
    "Problem",
    "ProblemKind",
    "Severity",
    "StateManager",
    "StoreError",
    "SupersededError",
    "Timeouts",
    "Transition",
    "ensure_table",
    "failover_refusal",
]
