"""deploy/monitoring: the alert rules and the Grafana dashboard use only metrics the operator and its watchdog
export, the rules are well formed (promtool checks them where it is installed; it is not fetched, since nothing
here talks to the internet) and tell the operator's scrape target from the watchdog's, the dashboard keeps every
cluster apart, and the chart installs exactly these rules as a PrometheusRule, and this dashboard as a ConfigMap
for the Grafana sidecar, when asked to."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from prometheus_client.metrics_core import Metric

from failover_operator.metrics import Metrics, WatchdogMetrics

from .manifests import CHART, MINIMAL, NAMESPACE, HelmError, objects, run_helm, template
from .tools import ROOT

MONITORING = ROOT / "deploy" / "monitoring"
RULES = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
DASHBOARD_SOURCE = CHART / "dashboards" / "failover-operator.json"  # the one the chart ships; deploy/ has a copy
DASHBOARD = json.loads(DASHBOARD_SOURCE.read_text())
NAME = re.compile(r"\b(failover_[a-z_]+)\b")


def exported() -> set[str]:
    """Every sample name the operator's and the watchdog's registries can export (a counter `x` as `x_total`, a
    histogram as `x_bucket`, `x_sum`, `x_count`), whether or not a series exists yet."""
    metrics = Metrics()
    metrics.identify("east", "shop-fleet", "0")
    watchdog = WatchdogMetrics()
    watchdog.identify("east", "shop-fleet", "0")
    names: set[str] = set()
    for family in [*metrics.registry.collect(), *watchdog.registry.collect()]:
        assert isinstance(family, Metric)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count"))
        else:
            names.add(family.name)
    return names


def test_the_readme_has_every_metric_in_its_table() -> None:
    rows = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `failover_")]
    first_cells = " ".join(row.split("|")[1] for row in rows)
    histograms = {name.removesuffix("_bucket") for name in exported() if name.endswith("_bucket")}
    named = {n for n in exported() if not n.endswith(("_bucket", "_sum", "_count"))} | histograms
    missing = sorted(name for name in named if f"`{name}`" not in first_cells)
    assert not missing, f"README's metrics table lacks {missing}"


def expressions() -> list[tuple[str, str]]:
    found = [(rule["alert"], rule["expr"]) for group in RULES["groups"] for rule in group["rules"]]
    for panel in DASHBOARD["panels"]:
        found += [(panel["title"], target["expr"]) for target in panel["targets"]]
    return found


def test_the_rules_cover_what_an_sre_is_paged_for() -> None:
    alerts = {rule["alert"]: rule for group in RULES["groups"] for rule in group["rules"]}
    assert set(alerts) >= {
        "FailoverOwnerHeartbeatStale",
        "FailoverNoHealthyStandby",
        "FailoverGroupFenced",
        "FailoverFailed",
        "FailoverOperatorDown",
        "FailoverWatchdogDown",
        "FailoverWatchdogFenced",
        "FailoverDynamoDBErrors",
        "FailoverSplitBrainSuspected",
    }
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def test_every_metric_used_is_exported() -> None:
    names = exported()
    used = {(where, name) for where, expr in expressions() for name in NAME.findall(expr)}
    assert used, "no failover_ metric used at all"
    missing = sorted((where, name) for where, name in used if name not in names)
    assert not missing, missing


def test_every_expression_is_well_formed() -> None:
    for where, expr in expressions():
        assert expr.strip(), where
        depth = {"(": 0, "{": 0, "[": 0}
        closing = {")": "(", "}": "{", "]": "["}
        for char in re.sub(r'"[^"]*"', '""', expr):  # brackets inside label values do not count
            if char in depth:
                depth[char] += 1
            elif char in closing:
                depth[closing[char]] -= 1
                assert depth[closing[char]] >= 0, (where, expr)
        assert all(v == 0 for v in depth.values()), (where, expr)
    promtool = shutil.which("promtool")
    if promtool is None:
        return  # the structure above is what can be checked without it
    checked = subprocess.run(
        [promtool, "check", "rules", str(MONITORING / "alerts.yaml")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_chart_carries_the_same_rules() -> None:
    copy = ROOT / "charts" / "failover-operator" / "files" / "alerts.yaml"
    assert copy.read_text() == (MONITORING / "alerts.yaml").read_text(), "run `make crds` to copy the rules"


def test_the_chart_installs_them_as_a_prometheus_rule_when_asked(helm: Path) -> None:
    def rules(values: dict[str, Any]) -> list[dict[str, Any]]:
        return [o for o in objects(template(helm, values=values).stdout) if o["kind"] == "PrometheusRule"]

    assert rules(MINIMAL) == []
    values = {**MINIMAL, "metrics": {"prometheusRule": {"enabled": True, "labels": {"release": "kps"}}}}
    (rule,) = rules(values)
    assert rule["metadata"]["labels"]["release"] == "kps"
    assert rule["spec"] == RULES


# --- the watchdog's alerts ------------------------------------------------------------------------------------------


def alert(name: str) -> dict[str, Any]:
    (rule,) = [rule for group in RULES["groups"] for rule in group["rules"] if rule["alert"] == name]
    return rule


def matchers(expr: str) -> list[tuple[str, str]]:
    """The `job` matchers of each `up{...}` selector: (operator, regex) pairs."""
    return [tuple(m) for m in re.findall(r'job\s*(=~|!~)\s*"([^"]*)"', expr)]  # type: ignore[misc]


def selects(selector: list[tuple[str, str]], job: str) -> bool:
    """Whether PromQL's (fully anchored) job matchers select this job."""
    return all(bool(re.fullmatch(regex, job)) == (op == "=~") for op, regex in selector)


@pytest.mark.parametrize("release", ["failover-operator", "shop"])
def test_the_operators_and_the_watchdogs_scrape_targets_are_told_apart(helm: Path, release: str) -> None:
    """Under a ServiceMonitor a target's job is its Service's name: FailoverOperatorDown must not fire for a
    watchdog, and FailoverWatchdogDown must not fire for an operator."""
    settings = ["clusterName=east", "operatorId=shop-fleet", "metrics.serviceMonitor.enabled=true"]
    flags = [flag for setting in settings for flag in ("--set", setting)]
    rendered = objects(run_helm(helm, "template", release, str(CHART), "--namespace", NAMESPACE, *flags).stdout)
    services = {o["metadata"]["name"]: o for o in rendered if o["kind"] == "Service"}
    monitors = [o for o in rendered if o["kind"] == "ServiceMonitor"]
    assert len(services) == len(monitors) == 2
    for monitor in monitors:  # each ServiceMonitor selects exactly one of the two Services
        selector = monitor["spec"]["selector"]["matchLabels"].items()
        assert len([s for s in services.values() if selector <= s["metadata"]["labels"].items()]) == 1
    (watchdog_job,) = [name for name in services if "-watchdog" in name]
    (operator_job,) = [name for name in services if "-watchdog" not in name]
    operator_down = matchers(alert("FailoverOperatorDown")["expr"])
    watchdog_down = matchers(alert("FailoverWatchdogDown")["expr"])
    assert selects(operator_down, operator_job) and not selects(operator_down, watchdog_job)
    assert selects(watchdog_down, watchdog_job) and not selects(watchdog_down, operator_job)


def test_a_cluster_whose_watchdog_is_gone_is_alerted_on() -> None:
    rule = alert("FailoverWatchdogDown")
    expr = " ".join(rule["expr"].split())
    # a cluster whose operator is scraped and whose watchdog is not: by the cluster both say they belong to
    assert (
        "count by (cluster) (failover_operator_info) unless on (cluster) count by (cluster) (failover_watchdog_up)"
        in (expr)
    )
    assert re.search(r"up\{[^}]*\} == 0", expr)  # or its target does not answer
    assert rule["for"] in ("2m", "3m", "5m") and rule["labels"]["severity"] == "critical"
    fenced = alert("FailoverWatchdogFenced")
    assert "increase(failover_watchdog_fences_total[15m])" in fenced["expr"] and "> 0" in fenced["expr"]
    assert fenced["labels"]["severity"] == "warning" and "for" not in fenced  # once is news: it stopped the operator


# --- the dashboard --------------------------------------------------------------------------------------------------

AGGREGATION = re.compile(r"\b(sum|max|min|avg|count)\s*(?:by\s*\(([^)]*)\))?\s*\(")


def targets() -> list[tuple[str, dict[str, Any]]]:
    return [(panel["title"], target) for panel in DASHBOARD["panels"] for target in panel["targets"]]


def test_the_dashboard_has_a_cluster_variable() -> None:
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    cluster = variables["cluster"]
    assert cluster["type"] == "query" and cluster["multi"] and cluster["includeAll"]
    assert cluster["query"]["query"] == "label_values(failover_operator_info, cluster)"


def test_no_panel_drops_the_cluster() -> None:
    """Every series comes from one cluster's operator or watchdog: each target is filtered by $cluster, keeps the
    cluster through every aggregation, and shows it in its legend."""
    for title, target in targets():
        expr, legend = target["expr"], target["legendFormat"]
        assert '{cluster=~"$cluster"}' in expr, (title, expr)
        for function, by in AGGREGATION.findall(expr):
            kept = [label.strip() for label in by.split(",")]
            assert "cluster" in kept, (title, function, by or "(everything)", expr)
        assert "{{cluster}}" in legend, (title, legend)
    watched = {name for _, target in targets() for name in NAME.findall(target["expr"])}
    assert {"failover_watchdog_lease_age_seconds", "failover_watchdog_fences_total"} <= watched


def test_the_dashboard_has_one_source_and_deploy_has_a_copy() -> None:
    copy = MONITORING / "dashboard.json"
    assert copy.read_text() == DASHBOARD_SOURCE.read_text(), (
        f"deploy/monitoring/dashboard.json must be a copy of {DASHBOARD_SOURCE.relative_to(ROOT)}: run `make crds`"
    )


def test_the_chart_ships_the_dashboard_for_the_grafana_sidecar_when_asked(helm: Path) -> None:
    def maps(values: dict[str, Any]) -> list[dict[str, Any]]:
        return [o for o in objects(template(helm, values=values).stdout) if o["kind"] == "ConfigMap"]

    assert maps(MINIMAL) == []  # opt-in
    (default,) = maps({**MINIMAL, "grafanaDashboard": {"enabled": True}})
    assert default["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert default["metadata"]["namespace"] == "failover-operator"  # the release's
    assert json.loads(default["data"]["failover-operator.json"]) == DASHBOARD
    kubernetes_validate.validate(default, kubernetes_validate.utils.latest_version(), strict=True)
    values = {
        "grafanaDashboard": {
            "enabled": True,
            "labels": {"grafana_dashboard": None, "team-dashboards": "yes"},  # helm merges maps: null drops a key
            "annotations": {"grafana_folder": "Failover"},
            "namespace": "monitoring",
        }
    }
    (custom,) = maps({**MINIMAL, **values})
    assert custom["metadata"]["namespace"] == "monitoring"
    labels = custom["metadata"]["labels"]
    assert labels["team-dashboards"] == "yes" and "grafana_dashboard" not in labels
    assert custom["metadata"]["annotations"] == {"grafana_folder": "Failover"}


def test_the_chart_with_everything_on_lints_strict(helm: Path, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    on = {"prometheusRule": {"enabled": True}, "serviceMonitor": {"enabled": True}}
    values.write_text(yaml.safe_dump({**MINIMAL, "metrics": on, "grafanaDashboard": {"enabled": True}}))
    result = run_helm(helm, "lint", "--strict", str(CHART), "--values", str(values), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    with pytest.raises(HelmError) as failed:  # a typo is named, not ignored
        template(helm, values={**MINIMAL, "grafanaDashboard": {"enable": True}})
    assert "grafanaDashboard" in failed.value.stderr and "enable" in failed.value.stderr
