"""Prometheus metrics. One `Metrics` per operator instance, on its own registry (tests run two operators
in one process), served on METRICS_PORT at /metrics."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Metric, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

GROUP = ("namespace", "name")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self._groups: dict[tuple[str, str], GroupMetrics] = {}
        r.register(_GroupSeries(self._groups))
        self.heartbeats = Counter("failover_heartbeats", "Heartbeats (this cluster's liveness) written", registry=r)
        self.heartbeat_failures = Counter(
            "failover_heartbeat_failures", "Heartbeats (this cluster's liveness) that could not be written", registry=r
        )
        self.ticks = Histogram(
            "failover_tick_duration_seconds",
            "Duration of one reconcile tick (of any group: a histogram per group would be a dozen series each)",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.failovers = Counter(
            "failover_failovers",
            "Failovers this operator executed or observed to completion, by outcome",
            (*GROUP, "mode", "automatic", "outcome"),
            registry=r,
        )
        self.unconfirmed_moves = Counter(
            "failover_unconfirmed_moves",
            "Forced moves whose old owner never confirmed it stopped serving: an overlap is possible, unmeasured",
            GROUP,
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
        """The group's series (exported from the moment they are asked for, until forget_group)."""
        metrics = self._groups[(namespace, name)] = GroupMetrics(namespace, name)
        return metrics

    def forget_group(self, namespace: str, name: str) -> None:
        """Drop a deleted group's series so dashboards don't show ghosts."""
        self._groups.pop((namespace, name), None)
        for counter in (self.failovers, self.unconfirmed_moves):
            for labels in list(counter._metrics):
                if labels[:2] == (namespace, name):
                    with contextlib.suppress(KeyError):
                        counter.remove(*labels)

    def serve(self, port: int, address: str = "0.0.0.0") -> None:
        if port:
            start_http_server(port, addr=address, registry=self.registry)


HEALTHS = ("OK", "DEGRADED", "ERROR", "UNKNOWN")


class Value:
    """One series' value, read when Prometheus scrapes: a prometheus_client child per series per group (a
    dozen a group, with a lock each) was 9 KiB of every group's memory."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def set(self, value: float) -> None:
        self.value = float(value)

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class GroupMetrics:
    """One group's series, as plain values that `_GroupSeries` exports at scrape time."""

    __slots__ = (
        "ages",
        "decisions",
        "epoch",
        "fenced",
        "health_now",
        "heartbeat_timeout",
        "is_primary",
        "labels",
        "owner_heartbeat_age",
        "problem_counts",
        "ready_to_take_over",
        "status_writes",
    )

    def __init__(self, namespace: str, name: str) -> None:
        self.labels = (namespace, name)
        self.is_primary = Value()
        self.ready_to_take_over = Value()
        self.owner_heartbeat_age = Value()
        self.heartbeat_timeout = Value()
        self.fenced = Value()
        self.epoch = Value()
        self.status_writes = Value()
        self.health_now: str | None = None
        self.decisions: defaultdict[str, Value] = defaultdict(Value)  # a series per action taken
        self.ages: defaultdict[str, Value] = defaultdict(Value)  # a series per cluster seen
        self.problem_counts: dict[str, int] = {}

    def problems(self, counts: dict[str, int]) -> None:
        """The group's problems by kind, as this cluster reads its records (a kind seen once stays, at 0)."""
        for kind in self.problem_counts:
            self.problem_counts[kind] = 0
        self.problem_counts.update(counts)

    def decided(self, action: str) -> None:
        self.decisions[action].inc()

    def health(self, value: str) -> None:
        self.health_now = value

    def heartbeat_age(self, cluster: str, age: float) -> None:
        self.ages[cluster].set(age)


_GAUGES = (
    ("failover_group_primary", "1 if this cluster is PRIMARY for the group, else 0", "is_primary"),
    ("failover_group_fenced", "1 if this cluster has fenced itself for the group", "fenced"),
    ("failover_group_epoch", "Epoch of the group's config as last read", "epoch"),
    (
        "failover_group_owner_heartbeat_age_seconds",
        "How long this operator has seen the group's owner's heartbeat unchanged (0 where it is the owner)",
        "owner_heartbeat_age",
    ),
    (
        "failover_group_heartbeat_timeout_seconds",
        "The group's timeouts.heartbeat: an owner silent this long is taken over",
        "heartbeat_timeout",
    ),
    (
        "failover_group_ready_to_take_over",
        "1 if this cluster could take the group over now, were its owner gone (the ReadyToTakeOver condition)",
        "ready_to_take_over",
    ),
)


class _GroupSeries(Collector):
    """Every group's series, made from their GroupMetrics when scraped."""

    def __init__(self, groups: dict[tuple[str, str], GroupMetrics]) -> None:
        self._groups = groups

    def describe(self) -> list[Metric]:
        return list(self._families([]))

    def collect(self) -> list[Metric]:
        return list(self._families(list(self._groups.values())))

    @staticmethod
    def _families(groups: list[GroupMetrics]) -> Iterator[Metric]:
        for name, documentation, attribute in _GAUGES:
            family = GaugeMetricFamily(name, documentation, labels=GROUP)
            for g in groups:
                family.add_metric(g.labels, getattr(g, attribute).value)
            yield family
        health = GaugeMetricFamily(
            "failover_group_health",
            "This cluster's health for the group (1 for the current value of the health label)",
            labels=(*GROUP, "health"),
        )
        ages = GaugeMetricFamily(
            "failover_cluster_heartbeat_age_seconds",
            "How long this operator has seen each cluster's heartbeat unchanged",
            labels=(*GROUP, "cluster"),
        )
        problems = GaugeMetricFamily(
            "failover_group_problems", "Problems detected in the group's records, by kind", labels=(*GROUP, "kind")
        )
        writes = CounterMetricFamily(
            "failover_status_writes", "Writes of this cluster's status for a group (on change only)", labels=GROUP
        )
        decisions = CounterMetricFamily("failover_decisions", "Decisions taken, by action", labels=(*GROUP, "action"))
        for g in groups:
            for value in HEALTHS:
                health.add_metric((*g.labels, value), 1.0 if g.health_now == value else 0.0)
            for cluster, age in g.ages.items():
                ages.add_metric((*g.labels, cluster), age.value)
            for kind, count in g.problem_counts.items():
                problems.add_metric((*g.labels, kind), count)
            if g.status_writes.value:
                writes.add_metric(g.labels, g.status_writes.value)
            for action, decided in g.decisions.items():
                decisions.add_metric((*g.labels, action), decided.value)
        yield from (health, ages, problems, writes, decisions)
