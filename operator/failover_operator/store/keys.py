"""Every DynamoDB key of the table, built and parsed here and nowhere else (see docs/design.md, "The table").

group config:   PK GROUP#{operatorID}#{namespace}#{name}, SK CONFIG,
                GSI1PK OPERATOR#{operatorID}, GSI1SK GROUP#{namespace}#{name}
cluster status: same PK, SK CLUSTER#{clusterName}, GSI1PK CLUSTER#{clusterName}, GSI1SK GROUP#{namespace}#{name}
lock:           same PK, SK LOCK
history:        same PK, SK HISTORY#{UTC timestamp, microseconds}#{unique suffix}

Sort keys order as CLUSTER#… < CONFIG < HISTORY#… < LOCK, which the readers rely on: everything below
HISTORY# is small and bounded (config and one status per cluster); history grows and is read on its own.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

SEP = "#"

PK = "PK"
SK = "SK"
GSI1 = "GSI1"
GSI1PK = "GSI1PK"
GSI1SK = "GSI1SK"

CONFIG_SK = "CONFIG"
LOCK_SK = "LOCK"
CLUSTER_PREFIX = "CLUSTER#"
HISTORY_PREFIX = "HISTORY#"
GROUP_PREFIX = "GROUP#"
OPERATOR_PREFIX = "OPERATOR#"
FLEET_PREFIX = "FLEET#"
PUBLISHER_PREFIX = "PUBLISHER#"

_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TS_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")  # exactly what format_timestamp writes


def check_part(value: object, what: str) -> str:
    """Refuse a key part that would make keys ambiguous: empty, not a string, or containing '#'."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if SEP in value:
        raise ValueError(f"{what} must not contain {SEP!r}, got {value!r}")
    return value


def group_pk(operator_id: str, namespace: str, name: str) -> str:
    check_part(operator_id, "operator ID")
    check_part(namespace, "namespace")
    check_part(name, "group name")
    return f"{GROUP_PREFIX}{operator_id}{SEP}{namespace}{SEP}{name}"


def group_pk_prefix(operator_id: str) -> str:
    """Prefix shared by every partition of one operator ID (for filters and IAM LeadingKeys)."""
    check_part(operator_id, "operator ID")
    return f"{GROUP_PREFIX}{operator_id}{SEP}"


def parse_group_pk(pk: str) -> tuple[str, str, str]:
    """(operator_id, namespace, name) of a group partition key."""
    parts = pk.split(SEP)
    if len(parts) != 4 or parts[0] + SEP != GROUP_PREFIX or not all(parts[1:]):
        raise ValueError(f"not a group partition key: {pk!r}")
    return parts[1], parts[2], parts[3]


def fleet_pk(operator_id: str) -> str:
    """The partition of the clusters' liveness records (one per cluster, `cluster_sk` as its sort key)."""
    return FLEET_PREFIX + check_part(operator_id, "operator ID")


def publisher_sk(name: str) -> str:
    """In the fleet partition: the change list of a writer that is not an operator (the fleet CLI)."""
    return PUBLISHER_PREFIX + check_part(name, "publisher name")


def cluster_sk(cluster_name: str) -> str:
    return CLUSTER_PREFIX + check_part(cluster_name, "cluster name")


def parse_cluster_sk(sk: str) -> str:
    if not sk.startswith(CLUSTER_PREFIX) or not sk[len(CLUSTER_PREFIX) :]:
        raise ValueError(f"not a cluster status sort key: {sk!r}")
    return sk[len(CLUSTER_PREFIX) :]


def format_timestamp(ts: datetime) -> str:
    """UTC, microseconds, fixed width: lexical order equals time order."""
    if ts.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return ts.astimezone(UTC).strftime(_TS_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """The inverse of format_timestamp; anything else raises ValueError. (Read on every record of every tick:
    fromisoformat is several times faster than strptime, and the pattern keeps it as strict.)"""
    if isinstance(text, str) and _TS_RE.fullmatch(text):
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    return datetime.strptime(text, _TS_FORMAT).replace(tzinfo=UTC)


def history_sk(ts: datetime, suffix: str) -> str:
    """Sortable and unique: two records in the same microsecond differ by their suffix."""
    check_part(suffix, "history suffix")
    return f"{HISTORY_PREFIX}{format_timestamp(ts)}{SEP}{suffix}"


def parse_history_sk(sk: str) -> tuple[datetime, str]:
    if not sk.startswith(HISTORY_PREFIX):
        raise ValueError(f"not a history sort key: {sk!r}")
    stamp, _, suffix = sk[len(HISTORY_PREFIX) :].partition(SEP)
    return parse_timestamp(stamp), suffix


def operator_gsi1pk(operator_id: str) -> str:
    return OPERATOR_PREFIX + check_part(operator_id, "operator ID")


def cluster_gsi1pk(cluster_name: str) -> str:
    return CLUSTER_PREFIX + check_part(cluster_name, "cluster name")


def group_gsi1sk(namespace: str, name: str) -> str:
    check_part(namespace, "namespace")
    check_part(name, "group name")
    return f"{GROUP_PREFIX}{namespace}{SEP}{name}"


def parse_group_gsi1sk(sk: str) -> tuple[str, str]:
    parts = sk.split(SEP)
    if len(parts) != 3 or parts[0] + SEP != GROUP_PREFIX or not all(parts[1:]):
        raise ValueError(f"not a group GSI1 sort key: {sk!r}")
    return parts[1], parts[2]


def key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    """The low-level DynamoDB key of a record."""
    return {PK: {"S": pk}, SK: {"S": sk}}
