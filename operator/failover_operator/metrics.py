"""Prometheus metrics. One `Metrics` per operator instance, on its own registry (tests run two operators
in one process), served on METRICS_PORT at /metrics; `WatchdogMetrics` for `failover-operator watchdog`.

A group's series exist only while the group is known to this operator: from its runner's start
(`Metrics.group`) until it has left the group (`forget_group`). Counting for a group it does not know (a
Failover naming a group that does not exist, one finishing after its group was deleted) creates no series."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

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
        self.failovers = GroupCounter(self._groups, "failovers")
        """failover_failovers_total{namespace, name, mode, automatic, outcome}: `.labels(...).inc()`."""
        self.unconfirmed_moves = GroupCounter(self._groups, "unconfirmed")
        """failover_unconfirmed_moves_total{namespace, name}: `.labels(...).inc()`."""
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

        self.region_moves = Counter(
            "failover_dynamodb_region_moves",
            "Moves of the DynamoDB client between the table's Regions (DYNAMODB_REGIONS): away from a Region that "
            "could not answer, or back to the preferred one to try it again",
            ("from", "to"),
            registry=r,
        )
        self.region_in_use = Gauge(
            "failover_dynamodb_region_in_use",
            "1 for the Region the DynamoDB requests go to now, 0 for the table's other Regions (DYNAMODB_REGIONS)",
            ("region",),
            registry=r,
        )

    def regions(self, names: list[str], current: str) -> None:
        """The table's Regions, in order of preference, and the one in use (the start of `region_in_use`)."""
        for name in names:
            self.region_in_use.labels(name).set(1 if name == current else 0)

    def region_moved(self, before: str, after: str, why: str = "") -> None:
        """The DynamoDB client moved (store.regions.RegionalClient.on_move)."""
        self.region_moves.labels(before, after).inc()
        self.region_in_use.labels(before).set(0)
        self.region_in_use.labels(after).set(1)

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
        """Drop a deleted group's series (all of them: its counters are its own) so dashboards show no ghosts."""
        self._groups.pop((namespace, name), None)

    def serve(self, port: int, address: str = "0.0.0.0") -> WSGIServer | None:
        return serve(self.registry, port, address)


def serve(registry: CollectorRegistry, port: int, address: str = "0.0.0.0") -> WSGIServer | None:
    """Serve /metrics on `port` in a thread (0: not at all); the server, to shut down. Raises OSError."""
    if not port:
        return None
    server, _ = start_http_server(port, addr=address, registry=registry)
    return server


class WatchdogMetrics:
    """`failover-operator watchdog`'s own series (failover_watchdog_*): that it runs, what it sees of the
    operator's Lease, and its fences. On its own registry, served on METRICS_PORT like the operator's."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.up = Gauge(
            "failover_watchdog_up",
            "1 while the watchdog runs, labelled with its cluster, operator ID and version",
            ("cluster", "operator_id", "version"),
            registry=r,
        )
        self.lease_readable = Gauge(
            "failover_watchdog_lease_readable",
            "1 if the watchdog's last look found the operator's Lease; 0 if it could not read it (the API server "
            "did not answer, or the Lease is missing or not allowed to it): it cannot fence on a Lease it cannot see",
            registry=r,
        )
        self.lease_age = Gauge(
            "failover_watchdog_lease_age_seconds",
            "How long the watchdog has seen the operator's Lease unchanged, on its own clock (NaN until it has seen "
            "the Lease)",
            registry=r,
        )
        self.lease_age.set(math.nan)
        self.armed = Gauge(
            "failover_watchdog_armed",
            "1 while a renewal of the Lease vouches for groups this cluster serves: the watchdog fences them if the "
            "Lease then stays unchanged for as long as that renewal allowed; 0 when nothing is served",
            registry=r,
        )
        self.fences = Counter(
            "failover_watchdog_fences",
            "FailoverGroups the watchdog scaled down (FENCED) because the operator's Lease went quiet",
            registry=r,
        )
        self.last_fence = Gauge(
            "failover_watchdog_last_fence_timestamp_seconds",
            "Unix time of the watchdog's last fence (0: none since it started)",
            registry=r,
        )

    def identify(self, cluster: str, operator_id: str, version: str) -> None:
        self.up.labels(cluster, operator_id, version).set(1)

    def serve(self, port: int, address: str = "0.0.0.0") -> WSGIServer | None:
        return serve(self.registry, port, address)


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


class GroupCounter:
    """A counter of groups' series, `.labels(namespace, name, *more)` like a prometheus_client Counter's; a group
    this operator does not know (see the module's docstring) is counted nowhere."""

    def __init__(self, groups: dict[tuple[str, str], GroupMetrics], attribute: str) -> None:
        self._groups = groups
        self._attribute = attribute

    def labels(self, namespace: str, name: str, *more: str) -> Value:
        group = self._groups.get((namespace, name))
        if group is None:
            return Value()  # detached: exported by nobody
        counts: defaultdict[tuple[str, ...], Value] = getattr(group, self._attribute)
        return counts[more]


class GroupMetrics:
    """One group's series, as plain values that `_GroupSeries` exports at scrape time."""

    __slots__ = (
        "ages",
        "decisions",
        "epoch",
        "failovers",
        "fenced",
        "fenced_by_hand",
        "health_now",
        "heartbeat_timeout",
        "is_primary",
        "labels",
        "owner_heartbeat_age",
        "problem_counts",
        "ready_to_take_over",
        "status_writes",
        "unconfirmed",
    )

    def __init__(self, namespace: str, name: str) -> None:
        self.labels = (namespace, name)
        self.is_primary = Value()
        self.ready_to_take_over = Value()
        self.owner_heartbeat_age = Value()
        self.heartbeat_timeout = Value()
        self.fenced = Value()
        self.fenced_by_hand = Value()
        self.epoch = Value()
        self.status_writes = Value()
        self.health_now: str | None = None
        self.decisions: defaultdict[str, Value] = defaultdict(Value)  # a series per action taken
        self.ages: defaultdict[str, Value] = defaultdict(Value)  # a series per cluster seen
        self.problem_counts: dict[str, int] = {}
        self.failovers: defaultdict[tuple[str, ...], Value] = defaultdict(Value)  # by (mode, automatic, outcome)
        self.unconfirmed: defaultdict[tuple[str, ...], Value] = defaultdict(Value)  # one series: ()

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
    (
        "failover_group_fenced_by_hand",
        "1 if a person fenced this cluster's copy of the group (failover-operator fence)",
        "fenced_by_hand",
    ),
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
        failovers = CounterMetricFamily(
            "failover_failovers",
            "Failovers this operator executed or observed to completion, by outcome",
            labels=(*GROUP, "mode", "automatic", "outcome"),
        )
        unconfirmed = CounterMetricFamily(
            "failover_unconfirmed_moves",
            "Forced moves whose old owner never confirmed it stopped serving: an overlap is possible, unmeasured",
            labels=GROUP,
        )
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
            for outcome, moved in g.failovers.items():
                failovers.add_metric((*g.labels, *outcome), moved.value)
            for moved in g.unconfirmed.values():
                unconfirmed.add_metric(g.labels, moved.value)
        yield from (health, ages, problems, writes, decisions, failovers, unconfirmed)
