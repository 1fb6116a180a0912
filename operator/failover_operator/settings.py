"""Every environment variable the operator reads, with its default. Nothing else reads the environment.

Names are exactly as documented (no prefix). AWS credentials are not settings: they come from the standard
AWS chain (environment, web identity / IRSA, container or instance profile).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .api import CLUSTER_NAME_PATTERN

if TYPE_CHECKING:
    from .store.regions import Region


def check_name(value: str) -> str:
    """The same rule as cluster names in the CRDs: it is what targetCluster and clusterPriority can name."""
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if len(value) > 63 or not re.fullmatch(CLUSTER_NAME_PATTERN, value):
        raise ValueError(
            f"must be at most 63 letters, digits, '-', '_' or '.', alphanumeric at both ends; got {value!r}"
        )
    return value


class StoreSettings(BaseSettings):
    """What reaching the fleet's table takes: all the fleet CLI needs (no cluster, no CLUSTER_NAME)."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    operator_id: str = Field(
        description="Name shared by the operators of all clusters that cooperate on the same groups; part of "
        "every DynamoDB key, so several fleets can share one table. Required.",
    )
    dynamodb_table: str = Field("failover-operator", description="DynamoDB table shared by all clusters.")
    aws_region: str | None = Field(
        None, description="AWS region of the table. Falls back to AWS_DEFAULT_REGION; one of them is required."
    )
    dynamodb_endpoint: str | None = Field(
        None, description="Custom DynamoDB endpoint URL (local DynamoDB, VPC endpoint). Unset: AWS's endpoint."
    )
    # Several Regions: a global table with multi-Region strong consistency (MRSC), reached in whichever of its
    # replica Regions answers. The one-Region form above (AWS_REGION, DYNAMODB_ENDPOINT) is the same as
    # DYNAMODB_REGIONS naming one Region.
    dynamodb_regions: str | None = Field(
        None,
        description="The table's replica Regions, comma-separated, in this operator's order of preference (its own "
        "or the nearest first), e.g. `us-east-1,us-east-2,us-west-2`: for a global table with multi-Region strong "
        "consistency (MRSC). Requests go to the first Region that answers and move to the next when it cannot "
        "(back to the first after 30 s); a condition means the same in every replica Region. Set: AWS_REGION is not "
        "the table's Region (EKS may set it to the cluster's own). Unset: the one Region AWS_REGION.",
    )
    dynamodb_endpoints: str | None = Field(
        None,
        description="Endpoint URLs of DYNAMODB_REGIONS, comma-separated, one per Region in the same order (local or "
        "private endpoints). Unset: each Region's AWS endpoint.",
    )
    dynamodb_timeout_seconds: float = Field(5.0, gt=0, description="Connect and read timeout of one DynamoDB request.")

    @field_validator("operator_id")
    @classmethod
    def _operator_id(cls, value: str) -> str:
        return check_name(value)

    @field_validator("dynamodb_regions", "dynamodb_endpoints", "dynamodb_endpoint", "aws_region")
    @classmethod
    def _unset_if_blank(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @model_validator(mode="after")
    def _region(self) -> StoreSettings:
        if self.dynamodb_regions or self.dynamodb_endpoints:
            self._check_regions()
            return self
        if not self.aws_region:
            fallback = os.environ.get("AWS_DEFAULT_REGION")
            if not fallback:
                raise ValueError(
                    "AWS_REGION (or AWS_DEFAULT_REGION) must be set to the table's region (or DYNAMODB_REGIONS to "
                    "its replica Regions)"
                )
            object.__setattr__(self, "aws_region", fallback)
        return self

    def _check_regions(self) -> None:
        """DYNAMODB_REGIONS / DYNAMODB_ENDPOINTS, and the one-Region form beside them only where it says the same."""
        from .store.regions import parse_regions

        single = self.dynamodb_endpoint
        if not self.dynamodb_regions:
            raise ValueError(
                "DYNAMODB_ENDPOINTS is set without DYNAMODB_REGIONS: name the Regions (in the same order as the "
                "endpoints), or give one Region's endpoint as DYNAMODB_ENDPOINT with AWS_REGION"
            )
        try:
            parse_regions(self.dynamodb_regions)
        except ValueError as exc:
            raise ValueError(f"DYNAMODB_REGIONS: {exc}") from None
        try:
            regions = parse_regions(self.dynamodb_regions, self.dynamodb_endpoints or ())
        except ValueError as exc:
            raise ValueError(f"DYNAMODB_ENDPOINTS: {exc}") from None
        if single and self.dynamodb_endpoints and [r.endpoint for r in regions] != [single]:
            raise ValueError(
                "both DYNAMODB_ENDPOINT and DYNAMODB_ENDPOINTS are set, and they differ: DYNAMODB_ENDPOINT is the "
                "one-Region form (with AWS_REGION); with DYNAMODB_REGIONS give DYNAMODB_ENDPOINTS alone"
            )
        if single and len(regions) > 1:
            raise ValueError(
                f"DYNAMODB_ENDPOINT is one endpoint, for one Region, but DYNAMODB_REGIONS names {len(regions)} "
                f"({', '.join(r.name for r in regions)}): give DYNAMODB_ENDPOINTS instead, one per Region in the "
                "same order"
            )

    @property
    def regions(self) -> list[Region]:
        """The table's Regions as this process reaches them, in order of preference (one, in the one-Region form)."""
        from .store.regions import Region, parse_regions

        if not self.dynamodb_regions:
            return [Region(self.aws_region or "", self.dynamodb_endpoint)]
        regions = parse_regions(self.dynamodb_regions, self.dynamodb_endpoints or ())
        if self.dynamodb_endpoint and not self.dynamodb_endpoints:  # one Region, its endpoint in the one-Region form
            return [Region(regions[0].name, self.dynamodb_endpoint)]
        return regions

    @property
    def region_names(self) -> str:
        """The table's Regions for people: `eu-west-1`, or `us-east-1, us-east-2, us-west-2`."""
        return ", ".join(region.name for region in self.regions)


class Settings(StoreSettings):
    cluster_name: str = Field(
        description="Name of this cluster, as the other clusters know it (e.g. `east`). Required.",
    )
    watch_namespace: str | None = Field(
        None, description="Comma-separated namespaces to watch. Unset: all namespaces (cluster-wide)."
    )
    health_port: int = Field(
        8080, ge=1, le=65535, description="Port of `/healthz` (liveness) and `/readyz` (readiness)."
    )
    metrics_port: int = Field(9090, ge=0, le=65535, description="Port of Prometheus `/metrics` (0 disables it).")
    log_format: Literal["text", "json"] = Field("text", description="`text` for people, `json` for log pipelines.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    lock_lease_seconds: float = Field(
        30.0, gt=0, description="Lease of the group lock taken for a failover; renewed while it is held."
    )
    self_fence_fraction: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="An owner that has not written a heartbeat for this fraction of `timeouts.heartbeat` "
        "demotes itself, so it is down before any standby may take over.",
    )
    full_read_seconds: float = Field(
        600.0,
        gt=0,
        description="Each group is re-read in full at least this often (spread over the period), though nothing "
        "says it changed: changes are learnt from the clusters' heartbeats, this is the backstop.",
    )
    lease_namespace: str = Field(
        "failover-operator",
        description="Namespace of the Lease the operator renews while it runs and the watchdog watches (the "
        "chart sets it to the release's namespace).",
    )
    lease_name: str = Field("failover-operator", description="Name of that Lease (the chart creates it).")
    pod_name: str | None = Field(
        None,
        description="This replica's pod (the chart sets it from the downward API). Set: the replicas of this "
        "cluster elect a leader on the Lease `LEADER_LEASE_NAME` in `POD_NAMESPACE`, and only the leader "
        "heartbeats, decides and acts. Unset: the process runs alone (local runs, the demo).",
    )
    pod_namespace: str | None = Field(
        None,
        description="This replica's namespace (downward API), where the leader Lease is. Default: LEASE_NAMESPACE.",
    )
    leader_lease_name: str = Field("failover-operator-leader", description="Name of the leader Lease.")
    leader_lease_seconds: float = Field(
        8.0,
        gt=0,
        description="A leader whose Lease a replica has seen unchanged this long has died: the replica takes over. "
        "(One that is stopped, by a rollout or `helm upgrade`, releases it: taken over within a second.)",
    )
    leader_renew_seconds: float = Field(
        1.0, gt=0, description="The leader renews its Lease, and the other replicas look at it, this often."
    )

    @model_validator(mode="after")
    def _leader_timing(self) -> Settings:
        if self.leader_renew_seconds >= self.leader_lease_seconds:
            raise ValueError(
                f"LEADER_RENEW_SECONDS ({self.leader_renew_seconds:g}) must be below LEADER_LEASE_SECONDS "
                f"({self.leader_lease_seconds:g}): a living leader renews well within the duration"
            )
        return self

    @field_validator("cluster_name")
    @classmethod
    def _cluster_name(cls, value: str) -> str:
        return check_name(value)

    @field_validator("watch_namespace")
    @classmethod
    def _namespaces(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        names = [ns.strip() for ns in value.split(",")]
        if any(not ns for ns in names):
            raise ValueError(f"has an empty entry (a stray comma?): {value!r}")
        bad = [ns for ns in names if len(ns) > 63 or not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", ns)]
        if bad:
            raise ValueError(
                f"{', '.join(repr(ns) for ns in bad)} is not a namespace name (lower-case letters, digits and '-', "
                "at most 63, alphanumeric at both ends)"
            )
        return ",".join(names)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _ports(self) -> Settings:
        if self.metrics_port and self.metrics_port == self.health_port:
            raise ValueError("HEALTH_PORT and METRICS_PORT must differ")
        return self

    @property
    def namespaces(self) -> list[str]:
        """Namespaces to watch; empty means all."""
        if not self.watch_namespace:
            return []
        return [ns.strip() for ns in self.watch_namespace.split(",") if ns.strip()]


def explain(error: ValidationError) -> str:
    """One line a person can act on, naming the environment variables that are wrong."""
    parts = []
    order = [variable for variable, _, _ in reference()]  # as documented: CLUSTER_NAME first
    for e in sorted(error.errors(), key=lambda e: _position(order, e["loc"])):
        where = ".".join(str(p) for p in e["loc"]).upper()
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "missing":
            message = "is required"
        parts.append(f"{where} {message}" if where else message)
    return "invalid settings: " + "; ".join(parts)


def _position(order: list[str], loc: tuple[int | str, ...]) -> int:
    where = ".".join(str(p) for p in loc).upper()
    return order.index(where) if where in order else len(order)


def load() -> Settings:
    return Settings()  # values come from the environment


def reference() -> list[tuple[str, str, str]]:
    """(variable, default, description) for the docs: CLUSTER_NAME first, then as declared."""
    rows = []
    fields = Settings.model_fields
    for name in sorted(fields, key=lambda n: n != "cluster_name"):
        field = fields[name]
        default = "required" if field.is_required() else ("unset" if field.default is None else str(field.default))
        rows.append((name.upper(), default, field.description or ""))
    return rows
