"""A group's series are plain values exported when Prometheus scrapes (not a prometheus_client child each)."""

from prometheus_client import generate_latest

from failover_operator.metrics import Metrics


def scrape(metrics: Metrics) -> dict[str, float]:
    """Sample -> value, each sample written `name{labels in the order the test names them}`."""
    out = {}
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line and not line.startswith("#"):
            sample, _, value = line.rpartition(" ")
            name, _, labels = sample.partition("{")
            pairs = dict(p.split("=", 1) for p in labels.rstrip("}").split(",") if p)
            ordered = [f"namespace={pairs.pop('namespace')}", f"name={pairs.pop('name')}"] if "name" in pairs else []
            ordered += [f"{k}={v}" for k, v in pairs.items()]
            out[f"{name}{{{','.join(ordered)}}}" if ordered else name] = float(value)
    return out


def test_a_groups_series_are_exported_with_their_values_and_forgotten_with_it() -> None:
    metrics = Metrics()
    web = metrics.group("shop", "web")
    web.is_primary.set(1)
    web.epoch.set(7)
    web.health("DEGRADED")
    web.decided("none")
    web.decided("none")
    web.heartbeat_age("west", 12.5)
    web.problems({"OWNER_STALE": 1})
    web.problems({})  # gone: the kind stays, at 0
    web.status_writes.inc()
    seen = scrape(metrics)
    g = 'namespace="shop",name="web"'
    assert seen[f"failover_group_primary{{{g}}}"] == 1.0
    assert seen[f"failover_group_epoch{{{g}}}"] == 7.0
    assert seen[f'failover_group_health{{{g},health="DEGRADED"}}'] == 1.0
    assert seen[f'failover_group_health{{{g},health="OK"}}'] == 0.0
    assert seen[f'failover_decisions_total{{{g},action="none"}}'] == 2.0
    assert seen[f'failover_cluster_heartbeat_age_seconds{{{g},cluster="west"}}'] == 12.5
    assert seen[f'failover_group_problems{{{g},kind="OWNER_STALE"}}'] == 0.0
    assert seen[f"failover_status_writes_total{{{g}}}"] == 1.0
    metrics.failovers.labels("shop", "web", "CONSISTENCY", "true", "Succeeded").inc()
    metrics.forget_group("shop", "web")
    assert not [name for name in scrape(metrics) if g in name]


def test_no_series_for_a_group_this_operator_does_not_have() -> None:
    metrics = Metrics()
    metrics.failovers.labels("shop", "ghost", "CONSISTENCY", "false", "Failed").inc()  # a Failover naming no group
    metrics.unconfirmed_moves.labels("shop", "ghost").inc()
    assert not [name for name in scrape(metrics) if 'name="ghost"' in name]
    metrics.group("shop", "web")
    metrics.failovers.labels("shop", "web", "UPTIME", "true", "Succeeded").inc()
    metrics.unconfirmed_moves.labels("shop", "web").inc()
    seen = scrape(metrics)
    g = 'namespace="shop",name="web"'
    assert seen[f'failover_failovers_total{{{g},automatic="true",mode="UPTIME",outcome="Succeeded"}}'] == 1.0
    assert seen[f"failover_unconfirmed_moves_total{{{g}}}"] == 1.0
    metrics.forget_group("shop", "web")
    metrics.failovers.labels("shop", "web", "UPTIME", "true", "Succeeded").inc()  # finishing after the deletion
    assert not [name for name in scrape(metrics) if 'name="web"' in name]


def test_the_watchdogs_series_are_its_own() -> None:
    from failover_operator.metrics import WatchdogMetrics

    watchdog = WatchdogMetrics()
    watchdog.identify("east", "fleet", "1.0")
    names = {line.split("{")[0].split(" ")[0] for line in generate_latest(watchdog.registry).decode().splitlines()}
    names = {n for n in names if n and not n.startswith("#")}
    assert names == {
        "failover_watchdog_up",
        "failover_watchdog_lease_readable",
        "failover_watchdog_lease_age_seconds",
        "failover_watchdog_armed",
        "failover_watchdog_fences_total",
        "failover_watchdog_fences_created",
        "failover_watchdog_last_fence_timestamp_seconds",
    }
    assert not [n for n in scrape(Metrics()) if n.startswith("failover_watchdog")]  # nor in the operator's
