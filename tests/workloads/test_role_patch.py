"""role_patch: the merge patch that converges one object to a role (pure; a table of cases per kind)."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from failover_operator.workloads import Role, UnknownKindError, describe_patch, role_patch
from failover_operator.workloads import annotations as ann

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
GROUP = "shop/web"
EPOCH = 7

SCALABLE = ["Deployment", "StatefulSet"]
SUSPENDABLE = ["CronJob", "HelmRelease", "Kustomization"]
FLUX = ["HelmRelease", "Kustomization"]
DNS = ["Ingress", "VirtualService"]
ALL_KINDS = SCALABLE + SUSPENDABLE + DNS


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch, as the API server applies it."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


def make(kind: str, spec: dict[str, Any] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "web", "namespace": "shop"}
    if annotations is not None:
        metadata["annotations"] = dict(annotations)
    return {"kind": kind, "metadata": metadata, "spec": dict(spec or {})}


def managed(role: Role, extra: dict[str, str] | None = None, *, epoch: int = EPOCH) -> dict[str, str]:
    """The annotations every managed object carries, plus ``extra``."""
    return {ann.GROUP: GROUP, ann.EPOCH: str(epoch), ann.ROLE: role.value, **(extra or {})}


def converge(
    kind: str,
    obj: dict[str, Any],
    role: Role,
    *,
    epoch: int = EPOCH,
    trigger: bool = False,
    now: datetime = NOW,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Patch ``obj`` to ``role``; checks idempotency (asking again gives None) and returns (object, patch)."""
    before = copy.deepcopy(obj)
    patch = role_patch(kind, obj, role, group=GROUP, epoch=epoch, now=now, trigger_reconcile=trigger)
    assert obj == before, "role_patch must not mutate its input"
    result = merge(obj, patch) if patch is not None else obj
    later = now + timedelta(minutes=5)
    again = role_patch(kind, result, role, group=GROUP, epoch=epoch, now=later, trigger_reconcile=trigger)
    assert again is None, f"not idempotent: second patch {again} after {patch}"
    return result, patch


def assert_converges(
    kind: str,
    case: str,
    spec: dict[str, Any],
    annotations: dict[str, str] | None,
    role: Role,
    want_spec: dict[str, Any],
    want_annotations: dict[str, str],
) -> None:
    """One row of a role table: the object as it is, the role asked for, the spec and annotations it ends with."""
    result, _ = converge(kind, make(kind, spec, annotations), role)
    assert result["spec"] == want_spec, case
    assert result["metadata"]["annotations"] == want_annotations, case


# -------------------------------------------------------------------------------------------------------------
# Deployment / StatefulSet
# -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SCALABLE)
@pytest.mark.parametrize(
    ("case", "spec", "annotations", "role", "want_spec", "want_annotations"),
    [
        ("standby scales down and records", {"replicas": 3}, None, Role.STANDBY, {"replicas": 0},
         managed(Role.STANDBY, {ann.REPLICAS: "3"})),
        ("absent replicas means 1", {}, None, Role.STANDBY, {"replicas": 0},
         managed(Role.STANDBY, {ann.REPLICAS: "1"})),
        ("standby at 0 keeps its record", {"replicas": 0}, {ann.REPLICAS: "3"}, Role.STANDBY, {"replicas": 0},
         managed(Role.STANDBY, {ann.REPLICAS: "3"})),
        ("standby at 0 without a record invents none", {"replicas": 0}, None, Role.STANDBY, {"replicas": 0},
         managed(Role.STANDBY)),
        ("GitOps scaled a standby up: down again, new count recorded", {"replicas": 5},
         managed(Role.STANDBY, {ann.REPLICAS: "3"}), Role.STANDBY, {"replicas": 0},
         managed(Role.STANDBY, {ann.REPLICAS: "5"})),
        ("primary restores the record and drops it", {"replicas": 0}, managed(Role.STANDBY, {ann.REPLICAS: "3"}),
         Role.PRIMARY, {"replicas": 3}, managed(Role.PRIMARY)),
        ("primary restores a recorded 0", {"replicas": 0}, {ann.REPLICAS: "0"}, Role.PRIMARY, {"replicas": 0},
         managed(Role.PRIMARY)),
        ("primary with an absent replicas restores explicitly", {}, {ann.REPLICAS: "4"}, Role.PRIMARY,
         {"replicas": 4}, managed(Role.PRIMARY)),
        ("primary without a record never invents a count", {"replicas": 0}, None, Role.PRIMARY, {"replicas": 0},
         managed(Role.PRIMARY)),
        ("primary leaves a running count alone", {"replicas": 2}, None, Role.PRIMARY, {"replicas": 2},
         managed(Role.PRIMARY)),
        ("malformed record: replicas and record left alone", {"replicas": 0}, {ann.REPLICAS: "three"},
         Role.PRIMARY, {"replicas": 0}, managed(Role.PRIMARY, {ann.REPLICAS: "three"})),
        ("negative record is malformed", {"replicas": 0}, {ann.REPLICAS: "-2"}, Role.PRIMARY, {"replicas": 0},
         managed(Role.PRIMARY, {ann.REPLICAS: "-2"})),
        ("empty record is malformed", {"replicas": 1}, {ann.REPLICAS: ""}, Role.PRIMARY, {"replicas": 1},
         managed(Role.PRIMARY, {ann.REPLICAS: ""})),
        ("a standby overwrites a malformed record when it scales down", {"replicas": 2}, {ann.REPLICAS: "x"},
         Role.STANDBY, {"replicas": 0}, managed(Role.STANDBY, {ann.REPLICAS: "2"})),
        ("foreign annotations are kept", {"replicas": 1}, {"team": "shop"}, Role.STANDBY, {"replicas": 0},
         {"team": "shop", **managed(Role.STANDBY, {ann.REPLICAS: "1"})}),
    ],
)  # fmt: skip
def test_scalable(
    kind: str,
    case: str,
    spec: dict[str, Any],
    annotations: dict[str, str] | None,
    role: Role,
    want_spec: dict[str, Any],
    want_annotations: dict[str, str],
) -> None:
    assert_converges(kind, case, spec, annotations, role, want_spec, want_annotations)


@pytest.mark.parametrize("kind", SCALABLE)
def test_scalable_round_trip_and_patch_shape(kind: str) -> None:
    original = make(kind, {"replicas": 3, "template": {"x": 1}})
    standby, patch = converge(kind, original, Role.STANDBY)
    assert patch == {
        "spec": {"replicas": 0},
        "metadata": {"annotations": managed(Role.STANDBY, {ann.REPLICAS: "3"})},
    }
    primary, patch = converge(kind, standby, Role.PRIMARY, epoch=8)
    assert patch == {
        "spec": {"replicas": 3},
        "metadata": {"annotations": {ann.REPLICAS: None, ann.EPOCH: "8", ann.ROLE: "PRIMARY"}},
    }
    assert primary["spec"] == original["spec"]


def test_only_the_epoch_changed() -> None:
    obj = make("Deployment", {"replicas": 2}, managed(Role.PRIMARY))
    assert role_patch("Deployment", obj, Role.PRIMARY, group=GROUP, epoch=EPOCH, now=NOW) is None
    patch = role_patch("Deployment", obj, Role.PRIMARY, group=GROUP, epoch=EPOCH + 1, now=NOW)
    assert patch == {"metadata": {"annotations": {ann.EPOCH: str(EPOCH + 1)}}}


# -------------------------------------------------------------------------------------------------------------
# CronJob / HelmRelease / Kustomization
# -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SUSPENDABLE)
@pytest.mark.parametrize(
    ("case", "spec", "annotations", "role", "want_spec", "want_annotations"),
    [
        ("standby suspends and records it ran", {}, None, Role.STANDBY, {"suspend": True},
         managed(Role.STANDBY, {ann.SUSPEND: "false"})),
        ("explicit false is recorded too", {"suspend": False}, None, Role.STANDBY, {"suspend": True},
         managed(Role.STANDBY, {ann.SUSPEND: "false"})),
        ("suspended by its owner: recorded, left suspended", {"suspend": True}, None, Role.STANDBY,
         {"suspend": True}, managed(Role.STANDBY, {ann.SUSPEND: "true"})),
        ("resumed on a standby (GitOps): suspended again, new prior recorded", {"suspend": False},
         managed(Role.STANDBY, {ann.SUSPEND: "true"}), Role.STANDBY, {"suspend": True},
         managed(Role.STANDBY, {ann.SUSPEND: "false"})),
        ("standby keeps an existing record", {"suspend": True}, managed(Role.STANDBY, {ann.SUSPEND: "false"}),
         Role.STANDBY, {"suspend": True}, managed(Role.STANDBY, {ann.SUSPEND: "false"})),
        ("primary restores false", {"suspend": True}, managed(Role.STANDBY, {ann.SUSPEND: "false"}),
         Role.PRIMARY, {"suspend": False}, managed(Role.PRIMARY)),
        ("primary restores true (the owner's suspension)", {"suspend": True},
         managed(Role.STANDBY, {ann.SUSPEND: "true"}), Role.PRIMARY, {"suspend": True}, managed(Role.PRIMARY)),
        ("a malformed record restores false", {"suspend": True}, {ann.SUSPEND: "maybe"}, Role.PRIMARY,
         {"suspend": False}, managed(Role.PRIMARY)),
        ("primary without a record leaves suspend alone", {"suspend": True}, None, Role.PRIMARY,
         {"suspend": True}, managed(Role.PRIMARY)),
        ("primary running stays running", {"suspend": False}, None, Role.PRIMARY, {"suspend": False},
         managed(Role.PRIMARY)),
    ],
)  # fmt: skip
def test_suspendable(
    kind: str,
    case: str,
    spec: dict[str, Any],
    annotations: dict[str, str] | None,
    role: Role,
    want_spec: dict[str, Any],
    want_annotations: dict[str, str],
) -> None:
    assert_converges(kind, case, spec, annotations, role, want_spec, want_annotations)


@pytest.mark.parametrize("kind", FLUX)
def test_flux_reconcile_is_requested_on_the_transition_only(kind: str) -> None:
    standby, _ = converge(kind, make(kind, {"interval": "5m"}), Role.STANDBY, trigger=True)
    assert ann.FLUX_RECONCILE_REQUESTED_AT not in standby["metadata"]["annotations"]

    primary, patch = converge(kind, standby, Role.PRIMARY, trigger=True)
    assert patch is not None and patch["spec"] == {"suspend": False}
    assert primary["metadata"]["annotations"][ann.FLUX_RECONCILE_REQUESTED_AT] == NOW.isoformat()
    # converge() asked again 5 minutes later and got None: not every tick.

    # A later epoch (same role) is not a transition either.
    _, patch = converge(kind, primary, Role.PRIMARY, epoch=EPOCH + 1, trigger=True)
    assert patch == {"metadata": {"annotations": {ann.EPOCH: str(EPOCH + 1)}}}


@pytest.mark.parametrize("kind", FLUX)
@pytest.mark.parametrize(
    ("case", "spec", "annotations", "trigger", "requested"),
    [
        ("resumed by us", {"suspend": True}, managed(Role.STANDBY, {ann.SUSPEND: "false"}), True, True),
        ("not asked for", {"suspend": True}, managed(Role.STANDBY, {ann.SUSPEND: "false"}), False, False),
        ("first adoption as primary", {}, None, True, True),
        ("role was STANDBY, record lost", {}, managed(Role.STANDBY), True, True),
        ("already primary", {}, managed(Role.PRIMARY), True, False),
        ("stays suspended (owner's choice)", {"suspend": True}, managed(Role.STANDBY, {ann.SUSPEND: "true"}),
         True, False),
        ("owner-suspended, never ours", {"suspend": True}, None, True, False),
    ],
)  # fmt: skip
def test_flux_reconcile_cases(
    kind: str, case: str, spec: dict[str, Any], annotations: dict[str, str] | None, trigger: bool, requested: bool
) -> None:
    result, _ = converge(kind, make(kind, spec, annotations), Role.PRIMARY, trigger=trigger)
    assert (ann.FLUX_RECONCILE_REQUESTED_AT in result["metadata"]["annotations"]) == requested, case


def test_cron_job_ignores_trigger_reconcile() -> None:
    obj = make("CronJob", {"suspend": True}, managed(Role.STANDBY, {ann.SUSPEND: "false"}))
    result, _ = converge("CronJob", obj, Role.PRIMARY, trigger=True)
    assert ann.FLUX_RECONCILE_REQUESTED_AT not in result["metadata"]["annotations"]


# -------------------------------------------------------------------------------------------------------------
# Ingress / VirtualService
# -------------------------------------------------------------------------------------------------------------

HOST = "web.example.com"


@pytest.mark.parametrize("kind", DNS)
@pytest.mark.parametrize(
    ("case", "annotations", "role", "want"),
    [
        ("standby stashes the hostname", {ann.EXTERNAL_DNS_HOSTNAME: HOST}, Role.STANDBY,
         managed(Role.STANDBY, {ann.DNS: "disabled", ann.STASHED_HOSTNAME: HOST})),
        ("standby without a hostname", None, Role.STANDBY, managed(Role.STANDBY, {ann.DNS: "disabled"})),
        ("hostname re-added on a standby: the newest is stashed",
         {ann.EXTERNAL_DNS_HOSTNAME: "new.example.com", ann.STASHED_HOSTNAME: HOST}, Role.STANDBY,
         managed(Role.STANDBY, {ann.DNS: "disabled", ann.STASHED_HOSTNAME: "new.example.com"})),
        ("primary restores the hostname", managed(Role.STANDBY, {ann.DNS: "disabled", ann.STASHED_HOSTNAME: HOST}),
         Role.PRIMARY, managed(Role.PRIMARY, {ann.DNS: "enabled", ann.EXTERNAL_DNS_HOSTNAME: HOST})),
        ("primary keeps a newer hostname and drops the stash",
         {ann.EXTERNAL_DNS_HOSTNAME: "new.example.com", ann.STASHED_HOSTNAME: HOST}, Role.PRIMARY,
         managed(Role.PRIMARY, {ann.DNS: "enabled", ann.EXTERNAL_DNS_HOSTNAME: "new.example.com"})),
        ("primary without a hostname", None, Role.PRIMARY, managed(Role.PRIMARY, {ann.DNS: "enabled"})),
    ],
)  # fmt: skip
def test_dns(kind: str, case: str, annotations: dict[str, str] | None, role: Role, want: dict[str, str]) -> None:
    spec = {"rules": [{"host": HOST}]}
    result, _ = converge(kind, make(kind, spec, annotations), role)
    assert result["metadata"]["annotations"] == want, case
    assert result["spec"] == spec, case  # DNS is switched by annotations only


# -------------------------------------------------------------------------------------------------------------
# Every kind, every object shape, every sequence of roles
# -------------------------------------------------------------------------------------------------------------

SHAPES: dict[str, list[dict[str, Any]]] = {
    "replicas": [{}, {"replicas": 0}, {"replicas": 1}, {"replicas": 4}],
    "suspend": [{}, {"suspend": False}, {"suspend": True}],
    "dns": [{}],
}
RECORDS: dict[str, list[dict[str, str]]] = {
    "replicas": [{}, {ann.REPLICAS: "3"}, {ann.REPLICAS: "0"}, {ann.REPLICAS: "bad"}],
    "suspend": [{}, {ann.SUSPEND: "true"}, {ann.SUSPEND: "false"}],
    "dns": [{}, {ann.EXTERNAL_DNS_HOSTNAME: HOST}, {ann.STASHED_HOSTNAME: HOST}, {ann.DNS: "enabled"}],
}


def _family(kind: str) -> str:
    return "replicas" if kind in SCALABLE else "suspend" if kind in SUSPENDABLE else "dns"


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_shape_and_role_sequence_is_idempotent_and_reversible(kind: str) -> None:
    family = _family(kind)
    for spec, records, prior_role in itertools.product(SHAPES[family], RECORDS[family], [None, *Role]):
        annotations = {**records, **({ann.ROLE: prior_role.value} if prior_role else {})}
        start = make(kind, spec, annotations)
        for roles in itertools.product(Role, repeat=3):
            obj = start
            for epoch, role in enumerate(roles, start=EPOCH):
                obj, _ = converge(kind, obj, role, epoch=epoch, trigger=True)
                assert obj["metadata"]["annotations"][ann.ROLE] == role.value
                if role == Role.STANDBY:
                    if family == "replicas":
                        assert obj["spec"]["replicas"] == 0
                    elif family == "suspend":
                        assert obj["spec"]["suspend"] is True
                    else:
                        assert ann.EXTERNAL_DNS_HOSTNAME not in obj["metadata"]["annotations"]
        # A demotion and a promotion give back what there was -- or what an earlier demotion recorded.
        standby, _ = converge(kind, start, Role.STANDBY)
        primary, _ = converge(kind, standby, Role.PRIMARY)
        if family == "replicas" and records.get(ann.REPLICAS) != "bad":
            replicas = start["spec"].get("replicas", 1)
            expected = int(records[ann.REPLICAS]) if replicas == 0 and ann.REPLICAS in records else replicas
            assert primary["spec"].get("replicas", 1) == expected
        if family == "suspend":
            suspended = start["spec"].get("suspend", False)
            expected_suspend = records[ann.SUSPEND] == "true" if suspended and ann.SUSPEND in records else suspended
            assert primary["spec"].get("suspend", False) == expected_suspend
        if family == "dns" and {ann.EXTERNAL_DNS_HOSTNAME, ann.STASHED_HOSTNAME} & set(records):
            assert primary["metadata"]["annotations"][ann.EXTERNAL_DNS_HOSTNAME] == HOST


# -------------------------------------------------------------------------------------------------------------
# Kinds, roles and descriptions
# -------------------------------------------------------------------------------------------------------------


def test_kind_and_role_spellings() -> None:
    obj = make("Deployment", {"replicas": 2})
    canonical = role_patch("Deployment", obj, Role.STANDBY, group=GROUP, epoch=1, now=NOW)
    assert role_patch("deployment", obj, "STANDBY", group=GROUP, epoch=1, now=NOW) == canonical
    with pytest.raises(UnknownKindError, match=r"unknown kind 'Pod'.*Deployment"):
        role_patch("Pod", obj, Role.STANDBY, group=GROUP, epoch=1, now=NOW)
    with pytest.raises(ValueError):
        role_patch("Deployment", obj, "LEADER", group=GROUP, epoch=1, now=NOW)
    fenced = role_patch("Deployment", obj, "FENCED", group=GROUP, epoch=1, now=NOW)
    assert fenced == {**canonical, "metadata": {"annotations": {**canonical["metadata"]["annotations"],
                                                                "failover.dev/role": "FENCED"}}}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "spec", "annotations", "role", "expected"),
    [
        ("Deployment", {"replicas": 3}, None, Role.STANDBY, "scaled Deployment shop/web 3 -> 0 (STANDBY, epoch 7)"),
        ("StatefulSet", {"replicas": 0}, {ann.REPLICAS: "2"}, Role.PRIMARY,
         "scaled StatefulSet shop/web 0 -> 2 (PRIMARY, epoch 7)"),
        ("CronJob", {}, None, Role.STANDBY, "suspended CronJob shop/web (STANDBY, epoch 7)"),
        ("HelmRelease", {"suspend": True}, {ann.SUSPEND: "false"}, Role.PRIMARY,
         "resumed HelmRelease shop/web, requested a Flux reconcile (PRIMARY, epoch 7)"),
        ("Ingress", {}, {ann.EXTERNAL_DNS_HOSTNAME: HOST}, Role.STANDBY,
         f"disabled DNS for Ingress shop/web, stashed hostname {HOST} (STANDBY, epoch 7)"),
        ("VirtualService", {}, {ann.STASHED_HOSTNAME: HOST}, Role.PRIMARY,
         f"enabled DNS for VirtualService shop/web, restored hostname {HOST} (PRIMARY, epoch 7)"),
        ("Deployment", {"replicas": 0}, None, Role.STANDBY, "annotated Deployment shop/web (STANDBY, epoch 7)"),
    ],
)  # fmt: skip
def test_describe_patch(
    kind: str, spec: dict[str, Any], annotations: dict[str, str] | None, role: Role, expected: str
) -> None:
    obj = make(kind, spec, annotations)
    patch = role_patch(kind, obj, role, group=GROUP, epoch=EPOCH, now=NOW, trigger_reconcile=True)
    assert patch is not None
    assert describe_patch(kind, obj, patch, role, EPOCH) == expected
