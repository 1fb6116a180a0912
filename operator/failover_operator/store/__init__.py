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
from .regions import Region, RegionalClient, parse_regions
from .service import DynamoDBService
from .state import GroupState, StateManager
from .table import PROTOCOL_NEEDS_TRANSACTIONS, TableTopology, TopologyError, check_topology, ensure_table, topology_of

__all__ = [
    "PROTOCOL_NEEDS_TRANSACTIONS",
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
    "Region",
    "RegionalClient",
    "Severity",
    "StateManager",
    "StoreError",
    "SupersededError",
    "TableTopology",
    "Timeouts",
    "TopologyError",
    "Transition",
    "check_topology",
    "ensure_table",
    "failover_refusal",
    "parse_regions",
    "topology_of",
]
