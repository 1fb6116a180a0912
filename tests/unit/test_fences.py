"""Fences by hand (`failover-operator fence`) beyond the rules' table: how the config record keeps them, and what
the problems, the FailoverGroup's status and a dry run say of them. The rules themselves are rows of
tests/reconciler/test_decide.py and tests of tests/unit/test_rules.py."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from failover_operator.model import ClusterState, ClusterStatus, FailoverMode, Fence, GroupConfig, Health, Role
from failover_operator.reconciler.preflight import preflight
from failover_operator.reconciler.status import group_status
from failover_operator.rules import Action, Decision
from failover_operator.store import CorruptRecordError, GroupState, ProblemKind, Severity
from failover_operator.store.problems import find_problems
from failover_operator.store.records import config_from_item, config_to_item

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FENCE = Fence(reason="disk replaced", fenced_at=T0, fenced_by="alice via fleet-cli")
SAID = "disk replaced (by alice via fleet-cli at 2026-01-01T00:00:00Z)"


def config(**kw: object) -> GroupConfig:
    base: dict[str, object] = dict(namespace="shop", name="web", operator_id="o", owner="east", epoch=5, updated_at=T0)
    return GroupConfig(**{**base, **kw})


def status(name: str, state: ClusterState = ClusterState.STANDBY) -> ClusterStatus:
    return ClusterStatus(
        cluster_name=name, health=Health.OK, state=state, heartbeat_seq=1, last_heartbeat=T0, observed_epoch=5
    )


CLUSTERS = {"east": status("east", ClusterState.PRIMARY), "west": status("west"), "north": status("north")}


def test_the_config_record_keeps_who_fenced_which_cluster_why_and_when() -> None:
    fenced = config(fences={"west": FENCE, "north": FENCE.model_copy(update={"reason": "network work"})})
    item = config_to_item(fenced)
    assert item["fences"]["M"]["west"] == {
        "M": {
            "reason": {"S": "disk replaced"},
            "fencedAt": {"S": "2026-01-01T00:00:00.000000Z"},
            "fencedBy": {"S": "alice via fleet-cli"},
        }
    }
    assert config_from_item(item) == fenced
    assert "fences" not in config_to_item(config())  # none: no attribute at all (a record written before fences)
    assert config_from_item(config_to_item(config())).fences == {}


@pytest.mark.parametrize(
    ("fence", "detail"),
    [
        ({"S": "west"}, "the fence of 'west' is not a map"),
        ({"M": {"reason": {"S": "x"}, "fencedBy": {"S": "alice"}}}, "missing attribute 'fencedAt'"),
    ],
)
def test_an_unreadable_fence_makes_the_config_corrupt_not_silently_unfenced(fence: object, detail: str) -> None:
    item = config_to_item(config())
    item["fences"] = {"M": {"west": fence}}
    with pytest.raises(CorruptRecordError, match=detail):
        config_from_item(item)


def test_problems_remind_of_every_fence() -> None:
    found = find_problems(config(fences={"east": FENCE, "west": FENCE}), CLUSTERS)
    fences = [p for p in found if p.kind == ProblemKind.FENCED_BY_HAND]
    assert [(p.cluster, p.severity) for p in fences] == [("east", Severity.WARNING), ("west", Severity.WARNING)]
    assert fences[0].message == (
        f"east is fenced by hand for shop/web ({SAID}): nobody serves the group, and nobody takes it over until "
        "`failover-operator unfence shop/web --cluster east`"
    )
    assert "west is fenced by hand for shop/web" in fences[1].message
    assert "its copy stays down and takes nothing over until" in fences[1].message
    assert not [p for p in find_problems(config(), CLUSTERS) if p.kind == ProblemKind.FENCED_BY_HAND]
    # A standby fenced by hand could not take the group over: with none other, nobody could.
    alone = {"east": CLUSTERS["east"], "west": CLUSTERS["west"]}
    assert ProblemKind.NO_HEALTHY_STANDBY not in {p.kind for p in find_problems(config(), alone)}
    assert ProblemKind.NO_HEALTHY_STANDBY in {p.kind for p in find_problems(config(fences={"west": FENCE}), alone)}


def _status(cfg: GroupConfig, role: Role, reason: str) -> object:
    return group_status(
        me="west",
        config=cfg,
        state=GroupState(config=cfg, clusters=CLUSTERS, lock=None, history=[]),
        local_role=role,
        observation=SimpleNamespace(health=Health.OK, message=""),
        decision=Decision(Action.FENCED_BY_HAND, role, reason),
        heartbeat_age=lambda c: 1.0,
        heartbeat_interval=5,
        generation=1,
        store_error=None,
        previous=None,
        now=T0,
    )


def test_the_failover_groups_status_says_it_was_fenced_by_hand_and_why() -> None:
    reason = "fenced by hand: disk replaced; west keeps its copy of shop/web down"
    s = _status(config(fences={"west": FENCE}), Role.FENCED, reason)
    conditions = {str(c.type): c for c in s.conditions}
    fenced = conditions["Fenced"]
    assert (str(fenced.status), fenced.reason, fenced.message) == ("True", "FencedByHand", f"fenced by hand: {SAID}")
    ready = conditions["Ready"]
    assert (str(ready.status), ready.reason, ready.message) == ("False", "FencedByHand", reason)
    assert s.message == f"fenced by hand: {SAID}"
    # Unfenced: the condition goes back to what a standby's says.
    back = _status(config(), Role.STANDBY, "no action")
    conditions = {str(c.type): c for c in back.conditions}
    assert (str(conditions["Fenced"].status), conditions["Fenced"].reason) == ("False", "NotFenced")


def test_a_dry_run_says_a_move_to_a_fenced_cluster_is_refused_and_one_from_a_fenced_owner_allowed() -> None:
    to_fenced = preflight(
        GroupState(config=config(fences={"west": FENCE}), clusters=CLUSTERS, lock=None, history=[]),
        "west",
        FailoverMode.CONSISTENCY,
        set(),
        force=True,
    )
    assert not to_fenced.ok and to_fenced.verdict.startswith("would be refused: west is fenced by hand for shop/web")
    check = {c.name: c for c in to_fenced.checks}["target-not-fenced"]
    assert (check.ok, check.message) == (
        False,
        f"west is fenced by hand for shop/web ({SAID}): nothing moves to it, forced or not",
    )

    from_fenced = preflight(
        GroupState(config=config(fences={"east": FENCE}), clusters=CLUSTERS, lock=None, history=[]),
        "west",
        FailoverMode.CONSISTENCY,
        set(),
    )
    owner = {c.name: c for c in from_fenced.checks}["owner-fence"]
    assert owner.ok and "east is fenced by hand for shop/web" in owner.message
    assert "a move away from it is allowed" in owner.message
    assert from_fenced.refusal is None
    assert "east is fenced by hand: its copy is already down, and it reports so (drained)" in from_fenced.steps
    assert from_fenced.steps[-1].endswith("east stays fenced (its copy down until it is unfenced)")
    uptime = preflight(
        GroupState(config=config(fences={"east": FENCE}), clusters=CLUSTERS, lock=None, history=[]),
        "west",
        FailoverMode.UPTIME,
        set(),
    )
    assert uptime.steps == [
        "west takes ownership of shop/web at once (epoch 6); east, fenced by hand, serves nothing meanwhile",
        "west scales up and reports ready; east ends the hand-off at once (it has nothing to take back)",
    ]
    plain = preflight(
        GroupState(config=config(), clusters=CLUSTERS, lock=None, history=[]), "west", FailoverMode.CONSISTENCY, set()
    )
    assert {c.name: c.ok for c in plain.checks}["target-not-fenced"] is True
