"""assess / summarize / all_down / all_ready: health from the resources' own status fields (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from failover_operator.workloads import Component, Health, Role, all_down, all_ready, assess, summarize
from failover_operator.workloads import annotations as ann

OK, DEGRADED, ERROR = Health.OK, Health.DEGRADED, Health.ERROR


def workload(
    replicas: int | None = 3,
    *,
    ready: int | None = None,
    running: int | None = None,
    updated: int | None = None,
    generation: int = 2,
    observed: int | None = 2,
    annotations: dict[str, str] | None = None,
    **status: Any,
) -> dict[str, Any]:
    spec = {} if replicas is None else {"replicas": replicas}
    st: dict[str, Any] = dict(status)
    for key, value in (("readyReplicas", ready), ("replicas", running), ("updatedReplicas", updated)):
        if value is not None:
            st[key] = value
    if observed is not None:
        st["observedGeneration"] = observed
    metadata: dict[str, Any] = {"name": "web", "generation": generation, "annotations": annotations or {}}
    return {"metadata": metadata, "spec": spec, "status": st}


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet"])
@pytest.mark.parametrize(
    ("case", "obj", "role", "health", "message", "ready", "down"),
    [
        ("all ready", workload(3, ready=3, running=3, updated=3), Role.PRIMARY, OK, "3 of 3 ready", True, False),
        ("partially ready", workload(3, ready=1, running=3, updated=3), Role.PRIMARY, DEGRADED, "1 of 3 ready",
         False, False),
        ("none ready", workload(3, ready=0, running=3), Role.PRIMARY, ERROR, "0 of 3 ready", False, False),
        ("no status at all", {"metadata": {"generation": 1}, "spec": {"replicas": 2}}, Role.PRIMARY, ERROR,
         "0 of 2 ready", False, False),
        ("absent replicas means 1", workload(None, ready=1, running=1, updated=1), Role.PRIMARY, OK,
         "1 of 1 ready", True, False),
        ("rolling out: not all updated", workload(3, ready=3, running=3, updated=1), Role.PRIMARY, DEGRADED,
         "rolling out: 1 of 3 updated", False, False),
        ("rolling out: generation not observed", workload(3, ready=3, running=3, updated=3, observed=1),
         Role.PRIMARY, DEGRADED, "rolling out: 3 of 3 updated", False, False),
        ("rolling out: surge pods", workload(3, ready=3, running=4, updated=3), Role.PRIMARY, DEGRADED,
         "rolling out: 3 of 3 updated", False, False),
        ("partially ready while rolling", workload(3, ready=2, running=3, updated=2), Role.PRIMARY, DEGRADED,
         "2 of 3 ready, rolling out", False, False),
        ("primary at 0 by its spec", workload(0, running=0), Role.PRIMARY, OK, "scaled to 0 by its spec", True,
         True),
        ("primary not yet restored", workload(0, annotations={ann.REPLICAS: "3"}), Role.PRIMARY, ERROR,
         "not scaled up yet (recorded 3, desired 0)", False, True),
        ("primary restoring a count of 0", workload(0, annotations={ann.REPLICAS: "0"}), Role.PRIMARY, DEGRADED,
         "not scaled up yet (recorded 0, desired 0)", False, True),
        ("standby scaled down", workload(0, annotations={ann.REPLICAS: "3"}), Role.STANDBY, OK, "scaled down",
         False, True),
        ("standby, pods still terminating", workload(0, ready=1, running=2), Role.STANDBY, DEGRADED,
         "scaling down (2 pods left)", True, False),
        ("standby, terminating pods (k8s 1.33+)", workload(0, running=0, terminatingReplicas=1), Role.STANDBY,
         DEGRADED, "scaling down (1 pod left)", True, False),
        ("standby, scale-down not yet observed", workload(0, running=3, ready=3, generation=3, observed=2),
         Role.STANDBY, DEGRADED, "scaling down (3 pods left)", True, False),
        ("standby scaled up by someone", workload(3, ready=3, running=3, annotations={ann.REPLICAS: "3"}),
         Role.STANDBY, DEGRADED, "scaled up on a standby (3 desired, 3 ready)", False, False),
        ("malformed record on a primary", workload(2, ready=2, running=2, annotations={ann.REPLICAS: "x"}),
         Role.PRIMARY, DEGRADED, "malformed failover.dev/replicas annotation 'x': replicas left alone", True,
         False),
        ("malformed record on a standby", workload(0, annotations={ann.REPLICAS: "-1"}), Role.STANDBY, DEGRADED,
         "malformed failover.dev/replicas annotation '-1': replicas left alone", False, True),
    ],
)  # fmt: skip
def test_workloads(
    kind: str, case: str, obj: dict[str, Any], role: Role, health: Health, message: str, ready: bool, down: bool
) -> None:
    c = assess(kind, obj, role)
    assert (c.health, c.message, c.ready, c.down) == (health, message, ready, down), case
    json.dumps(c.to_dict())  # JSON-friendly


def test_workload_detail() -> None:
    c = assess("Deployment", workload(3, ready=2, running=3, updated=3, annotations={ann.REPLICAS: "3"}), "STANDBY")
    assert c.detail == {"desired": 3, "ready": 2, "replicas": 3, "updated": 3, "recordedReplicas": 3}
    assert c.to_dict() == {**c.detail, "health": "DEGRADED", "message": c.message}
    bad = assess("Deployment", workload(0, annotations={ann.REPLICAS: "x"}), Role.PRIMARY)
    assert bad.detail["malformedRecord"] == "x"


def cron_job(suspend: bool | None, record: str | None = None, active: int = 0) -> dict[str, Any]:
    spec = {} if suspend is None else {"suspend": suspend}
    annotations = {} if record is None else {ann.SUSPEND: record}
    status = {"active": [{"name": f"job-{i}"} for i in range(active)]} if active else {}
    return {"metadata": {"annotations": annotations}, "spec": spec, "status": status}


@pytest.mark.parametrize(
    ("case", "obj", "role", "health", "message", "ready"),
    [
        ("primary scheduling", cron_job(None), Role.PRIMARY, OK, "scheduling", True),
        ("primary with a job running", cron_job(False, active=1), Role.PRIMARY, OK, "1 job(s) running", True),
        ("primary, suspended by its owner", cron_job(True), Role.PRIMARY, OK, "suspended by its spec", True),
        ("primary, still suspended by us", cron_job(True, "false"), Role.PRIMARY, DEGRADED,
         "still suspended (not resumed yet)", False),
        ("standby suspended", cron_job(True, "false"), Role.STANDBY, OK, "suspended", False),
        ("standby not suspended", cron_job(False, "false"), Role.STANDBY, DEGRADED, "not suspended on a standby",
         True),
        ("standby, a job still running", cron_job(True, "false", active=2), Role.STANDBY, DEGRADED,
         "suspended, 2 job(s) still running", False),
    ],
)  # fmt: skip
def test_cron_jobs(case: str, obj: dict[str, Any], role: Role, health: Health, message: str, ready: bool) -> None:
    c = assess("CronJob", obj, role)
    assert (c.health, c.message, c.ready, c.down) == (health, message, ready, None), case
    assert c.detail["suspended"] is (obj["spec"].get("suspend") is True)


def flux(
    suspend: bool = False,
    record: str | None = None,
    ready: str | None = "True",
    reason: str = "ReconciliationSucceeded",
    message: str = "",
    generation: int = 2,
    observed: int = 2,
) -> dict[str, Any]:
    conditions = [] if ready is None else [{"type": "Ready", "status": ready, "reason": reason, "message": message}]
    return {
        "metadata": {"generation": generation, "annotations": {} if record is None else {ann.SUSPEND: record}},
        "spec": {"suspend": suspend, "interval": "5m"},
        "status": {"observedGeneration": observed, "conditions": [{"type": "Reconciling"}, *conditions]},
    }


@pytest.mark.parametrize("kind", ["HelmRelease", "Kustomization"])
@pytest.mark.parametrize(
    ("case", "obj", "role", "health", "message", "ready"),
    [
        ("ready", flux(), Role.PRIMARY, OK, "ready", True),
        ("failed", flux(ready="False", reason="InstallFailed", message="timed out"), Role.PRIMARY, DEGRADED,
         "not ready: InstallFailed: timed out", False),
        ("reconciling", flux(ready="Unknown", reason="Progressing"), Role.PRIMARY, DEGRADED, "reconciling", False),
        ("new generation not reconciled", flux(generation=3), Role.PRIMARY, DEGRADED, "reconciling", False),
        ("never reconciled", flux(ready=None), Role.PRIMARY, DEGRADED, "not reconciled yet", False),
        ("still suspended by us", flux(True, "false"), Role.PRIMARY, DEGRADED, "still suspended (not resumed yet)",
         False),
        ("suspended by its owner", flux(True), Role.PRIMARY, OK, "suspended by its spec", True),
        ("standby suspended", flux(True, "false", ready="False"), Role.STANDBY, OK, "suspended", False),
        ("standby not suspended", flux(False, "false"), Role.STANDBY, DEGRADED, "not suspended on a standby",
         True),
    ],
)  # fmt: skip
def test_flux(kind: str, case: str, obj: dict[str, Any], role: Role, health: Health, message: str, ready: bool) -> None:
    c = assess(kind, obj, role)
    assert (c.health, c.message, c.ready) == (health, message, ready), case


def test_flux_detail() -> None:
    c = assess("HelmRelease", flux(ready="False", reason="UpgradeFailed"), Role.PRIMARY)
    assert c.detail == {"suspended": False, "readyCondition": "False", "reason": "UpgradeFailed"}


def network(**annotations: str) -> dict[str, Any]:
    return {"metadata": {"annotations": annotations}, "spec": {}}


HOST = "web.example.com"


@pytest.mark.parametrize("kind", ["Ingress", "VirtualService"])
@pytest.mark.parametrize(
    ("case", "annotations", "role", "health", "message", "detail"),
    [
        ("primary enabled", {ann.DNS: "enabled", ann.EXTERNAL_DNS_HOSTNAME: HOST}, Role.PRIMARY, OK, "DNS enabled",
         {"dns": "enabled", "hostname": HOST}),
        ("primary, not yet enabled", {ann.DNS: "disabled", ann.STASHED_HOSTNAME: HOST}, Role.PRIMARY, DEGRADED,
         "DNS not enabled yet", {"dns": "disabled", "stashedHostname": HOST}),
        ("primary, never annotated", {}, Role.PRIMARY, DEGRADED, "DNS not enabled yet", {"dns": None}),
        ("standby disabled", {ann.DNS: "disabled", ann.STASHED_HOSTNAME: HOST}, Role.STANDBY, OK, "DNS disabled",
         {"dns": "disabled", "stashedHostname": HOST}),
        ("standby, hostname back", {ann.DNS: "disabled", ann.EXTERNAL_DNS_HOSTNAME: HOST}, Role.STANDBY, DEGRADED,
         "DNS still published on a standby", {"dns": "disabled", "hostname": HOST}),
        ("standby still enabled", {ann.DNS: "enabled"}, Role.STANDBY, DEGRADED, "DNS still published on a standby",
         {"dns": "enabled"}),
    ],
)  # fmt: skip
def test_dns(
    kind: str, case: str, annotations: dict[str, str], role: Role, health: Health, message: str, detail: dict[str, Any]
) -> None:
    c = assess(kind, network(**annotations), role)
    assert (c.health, c.message, c.detail) == (health, message, detail), case


@pytest.mark.parametrize("kind", ["Deployment", "CronJob", "HelmRelease", "Ingress"])
@pytest.mark.parametrize("role", list(Role))
def test_missing_and_errors(kind: str, role: Role) -> None:
    missing = assess(kind, None, role)
    assert (missing.health, missing.detail, missing.message, missing.ready) == (
        DEGRADED,
        {"missing": True},
        "not found",
        False,
    )
    assert missing.down is (True if kind == "Deployment" else None)  # a missing Deployment runs no pods
    failed = assess(kind, None, role, error="reading Deployment shop/web: 500 InternalError: boom")
    assert failed.health == ERROR and failed.detail == {"error": failed.message} and "boom" in failed.message
    assert failed.down is (False if kind == "Deployment" else None)  # unknown: not confirmed down


def test_unknown_kind_is_an_error_component() -> None:
    c = assess("Pod", {"metadata": {}}, Role.PRIMARY)
    assert c.health == ERROR and "unknown kind 'Pod'" in c.message


def component(health: Health, message: str, *, ready: bool = True, down: bool | None = None) -> Component:
    return Component(health, {}, message, ready=ready, down=down)


def test_summarize() -> None:
    assert summarize({}) == (OK, "no resources listed")
    assert summarize({"Deployment/web": component(OK, "3 of 3 ready")}) == (OK, "Deployment/web: 3 of 3 ready")
    assert summarize({"Deployment/web": component(OK, "x"), "CronJob/c": component(OK, "y")}) == (
        OK,
        "all 2 resources OK",
    )
    health, message = summarize(
        {
            "Deployment/api": component(OK, "2 of 2 ready"),
            "Deployment/web": component(DEGRADED, "1 of 3 ready"),
            "StatefulSet/db": component(ERROR, "0 of 1 ready"),
            "Ingress/web": component(DEGRADED, "DNS not enabled yet"),
        }
    )
    assert health == ERROR
    assert message == "StatefulSet/db: 0 of 1 ready; Deployment/web: 1 of 3 ready; Ingress/web: DNS not enabled yet"
    many = {f"Deployment/d{i}": component(DEGRADED, "missing") for i in range(7)}
    assert summarize(many, limit=2)[1] == "Deployment/d0: missing; Deployment/d1: missing; and 5 more"


def test_all_down_and_all_ready() -> None:
    assert all_down({}) and all_ready({})
    comps = {
        "Deployment/web": component(OK, "", ready=False, down=True),
        "StatefulSet/db": component(OK, "", ready=False, down=True),
        "CronJob/c": component(DEGRADED, "", ready=False, down=None),  # not a pod owner: does not count
    }
    assert all_down(comps) and not all_ready(comps)
    comps["StatefulSet/db"] = component(DEGRADED, "", down=False)
    assert not all_down(comps)
    assert all_ready({"Deployment/web": component(OK, "", ready=True), "Ingress/i": component(OK, "", ready=True)})
