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
