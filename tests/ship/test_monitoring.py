"""deploy/monitoring: the alert rules and the Grafana dashboard use only metrics the operator exports, the rules
are well formed (promtool checks them where it is installed; it is not fetched, since nothing here talks to the
internet), and the chart installs exactly these rules as a PrometheusRule when asked to."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.metrics_core import Metric

from failover_operator.metrics import Metrics

from .manifests import MINIMAL, objects, template
from .tools import ROOT

MONITORING = ROOT / "deploy" / "monitoring"
RULES = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
DASHBOARD = json.loads((MONITORING / "dashboard.json").read_text())
NAME = re.compile(r"\b(failover_[a-z_]+)\b")


def exported() -> set[str]:
    """Every sample name the operator's registry can export (a counter `x` as `x_total`, a histogram as
    `x_bucket`, `x_sum`, `x_count`), whether or not a series exists yet."""
    metrics = Metrics()
    metrics.identify("east", "shop-fleet", "0")
    names: set[str] = set()
    for family in metrics.registry.collect():
        assert isinstance(family, Metric)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count"))
        else:
            names.add(family.name)
    return names


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
