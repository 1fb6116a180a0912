"""Prometheus metrics. One `Metrics` per operator instance, on its own registry (tests run two operators
in one process), served on METRICS_PORT at /metrics."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

GROUP = ("namespace", "name")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.is_primary = Gauge(
            "failover_group_primary", "1 if this cluster is PRIMARY for the group, else 0", GROUP, registry=r
        )
        self.fenced = Gauge(
            "failover_group_fenced", "1 if this cluster has fenced itself for the group", GROUP, registry=r
        )
        self.epoch = Gauge("failover_group_epoch", "Epoch of the group's config as last read", GROUP, registry=r)
        self.health = Gauge(
            "failover_group_health",
            "This cluster's health for the group (1 for the current value of the health label)",
            (*GROUP, "health"),
            registry=r,
        )
        self.heartbeat_age = Gauge(
            "failover_cluster_heartbeat_age_seconds",
            "How long this operator has seen each cluster's heartbeat unchanged",
            (*GROUP, "cluster"),
            registry=r,
        )
        self.owner_heartbeat_age = Gauge(
            "failover_group_owner_heartbeat_age_seconds",
            "How long this operator has seen the group's owner's heartbeat unchanged (0 where it is the owner)",
            GROUP,
            registry=r,
        )
        self.heartbeat_timeout = Gauge(
            "failover_group_heartbeat_timeout_seconds",
            "The group's timeouts.heartbeat: an owner silent this long is taken over",
            GROUP,
            registry=r,
        )
        self.ready_to_take_over = Gauge(
            "failover_group_ready_to_take_over",
            "1 if this cluster could take the group over now, were its owner gone (the ReadyToTakeOver condition)",
            GROUP,
            registry=r,
        )
        self.heartbeats = Counter("failover_heartbeats", "Heartbeats (this cluster's liveness) written", registry=r)
        self.heartbeat_failures = Counter(
            "failover_heartbeat_failures", "Heartbeats (this cluster's liveness) that could not be written", registry=r
        )
        self.status_writes = Counter(
            "failover_status_writes", "Writes of this cluster's status for a group (on change only)", GROUP, registry=r
        )
        self.ticks = Histogram(
            "failover_tick_duration_seconds",
            "Duration of one reconcile tick (of any group: a histogram per group would be a dozen series each)",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.decisions = Counter("failover_decisions", "Decisions taken, by action", (*GROUP, "action"), registry=r)
        self.failovers = Counter(
            "failover_failovers",
            "Failovers this operator executed or observed to completion, by outcome",
            (*GROUP, "mode", "automatic", "outcome"),
            registry=r,
        )
        self.failover_duration = Histogram(
            "failover_failover_duration_seconds",
            "Wall time of a Failover from start to completion",
            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
            registry=r,
        )
        self.downtime = Histogram(
            "failover_downtime_seconds",
            "Measured downtime of a failover: old owner down until new owner ready",
            buckets=(0, 0.5, 1, 2, 5, 10, 20, 30, 60, 120),
            registry=r,
        )
        self.problems = Gauge(
            "failover_group_problems", "Problems detected in the group's records, by kind", (*GROUP, "kind"), registry=r
        )
        self.store_requests = Gauge(
            "failover_dynamodb_requests", "DynamoDB requests made since start (including retries)", registry=r
        )
        self.store_retries = Gauge("failover_dynamodb_retries", "DynamoDB requests retried since start", registry=r)
        self.store_latency = Histogram(
            "failover_dynamodb_request_duration_seconds",
            "Duration of one DynamoDB request (one attempt), by operation and outcome (ok, condition: an answer "
            "about the data, such as a failed condition; error: throttled, failed or timed out)",
            ("operation", "outcome"),
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.store_errors = Counter(
            "failover_dynamodb_errors",
            "DynamoDB requests (attempts) that failed, by operation",
            ("operation",),
            registry=r,
        )

    def request_done(self, operation: str, seconds: float, outcome: str) -> None:
        """A DynamoDB attempt ended (store.calls.Caller.observe)."""
        self.store_latency.labels(operation, outcome).observe(seconds)
        if outcome == "error":
            self.store_errors.labels(operation).inc()

    def identify(self, cluster: str, operator_id: str, version: str) -> None:
        """failover_operator_info: which cluster this operator is (dashboards join on it for a `cluster` label)."""
        Gauge(
            "failover_operator_info",
            "1, labelled with this operator's cluster, operator ID and version",
            ("cluster", "operator_id", "version"),
            registry=self.registry,
        ).labels(cluster, operator_id, version).set(1)

    def group(self, namespace: str, name: str) -> GroupMetrics:
        return GroupMetrics(self, namespace, name)

    def forget_group(self, namespace: str, name: str) -> None:
        """Drop a deleted group's series so dashboards don't show ghosts."""
        for metric in (
            self.is_primary,
            self.fenced,
            self.epoch,
            self.status_writes,
            self.ready_to_take_over,
            self.owner_heartbeat_age,
            self.heartbeat_timeout,
        ):
            with contextlib.suppress(KeyError):
                metric.remove(namespace, name)
        for value in HEALTHS:
            with contextlib.suppress(KeyError):
                self.health.remove(namespace, name, value)

    def serve(self, port: int, address: str = "0.0.0.0") -> None:
        if port:
            start_http_server(port, addr=address, registry=self.registry)


HEALTHS = ("OK", "DEGRADED", "ERROR", "UNKNOWN")


class GroupMetrics:
    """One group's series, each looked up once: a `labels()` lookup per series per tick, for a thousand groups,
    was a tenth of the operator's steady-state CPU."""

    def __init__(self, metrics: Metrics, namespace: str, name: str) -> None:
        self._metrics, self._group = metrics, (namespace, name)
        self.is_primary = metrics.is_primary.labels(namespace, name)
        self.ready_to_take_over = metrics.ready_to_take_over.labels(namespace, name)
        self.owner_heartbeat_age = metrics.owner_heartbeat_age.labels(namespace, name)
        self.heartbeat_timeout = metrics.heartbeat_timeout.labels(namespace, name)
        self.fenced = metrics.fenced.labels(namespace, name)
        self.epoch = metrics.epoch.labels(namespace, name)
        self._health = {value: metrics.health.labels(namespace, name, value) for value in HEALTHS}
        self._decisions: dict[str, Counter] = {}
        self._ages: dict[str, Gauge] = {}
        self._problems: dict[str, Gauge] = {}
        self._health_now: str | None = None

    def problems(self, counts: dict[str, int]) -> None:
        """The group's problems by kind, as this cluster reads its records (series made only for kinds seen)."""
        for kind, child in self._problems.items():
            if kind not in counts:
                child.set(0)
        for kind, count in counts.items():
            if kind not in self._problems:
                self._problems[kind] = self._metrics.problems.labels(*self._group, kind)
            self._problems[kind].set(count)

    def decided(self, action: str) -> None:
        child = self._decisions.get(action)
        if child is None:
            child = self._decisions[action] = self._metrics.decisions.labels(*self._group, action)
        child.inc()

    def health(self, value: str) -> None:
        if value != self._health_now:
            for each, child in self._health.items():
                child.set(1 if each == value else 0)
            self._health_now = value

    def heartbeat_age(self, cluster: str, age: float) -> None:
        child = self._ages.get(cluster)
        if child is None:
            child = self._ages[cluster] = self._metrics.heartbeat_age.labels(*self._group, cluster)
        child.set(age)
