from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from failover_operator.model import ClusterState, ClusterStatus, Health, Role
from failover_operator.reconciler.status import group_status, silent_since
from failover_operator.rules import Action, Decision
from failover_operator.store import GroupConfig, GroupState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_silence_is_shown_as_the_moment_it_began_and_does_not_move_while_it_lasts():
    assert silent_since(None, 5, T0) is None
    assert {silent_since(a, 5, T0) for a in (0, 3, 7, 9.9)} == {None}  # heartbeating: nothing to say
    began = T0 - timedelta(seconds=10)
    # A cluster silent for an hour changes what the status says once, not once a tick (720 times).
    assert {silent_since(age, 5, began + timedelta(seconds=age)) for age in range(10, 3600, 5)} == {began}


def build(previous=None, now=T0, health=Health.OK, role=Role.PRIMARY, suspended=False, spec_suspended=None):
    config = GroupConfig(
        namespace="shop",
        name="web",
        operator_id="o",
        owner="east",
        epoch=3,
        updated_at=T0,
        suspended=suspended,
        suspension_reason="freeze" if suspended else None,
    )
    clusters = {
        c: ClusterStatus(
            cluster_name=c, health=Health.OK, state=s, heartbeat_seq=4, last_heartbeat=T0, observed_epoch=3
        )
        for c, s in (("east", ClusterState.PRIMARY), ("west", ClusterState.STANDBY))
    }
    state = GroupState(config=config, clusters=clusters, lock=None, history=[])
    observation = SimpleNamespace(health=health, message="" if health == Health.OK else "Deployment/web: 1 of 3 ready")
    decision = Decision(Action.NONE, role, "no action: I am east, PRIMARY of shop/web at epoch 3")
    return group_status(
        me="east",
        config=config,
        state=state,
        local_role=role,
        observation=observation,
        decision=decision,
        heartbeat_age=lambda c: 30.0 + (now - T0).total_seconds(),  # silent since T0 - 30 s
        heartbeat_interval=5,
        generation=2,
        store_error=None,
        previous=previous,
        now=now,
        spec_suspended=spec_suspended,
    )


def test_group_status_fields_and_conditions():
    s = build()
    assert (s.owner, s.role.value, s.epoch, s.health.value, s.suspended) == ("east", "PRIMARY", 3, "OK", False)
    # West silent for 30 s (over two intervals): since when, as a moment; we (east) are not silent to ourselves.
    assert [(c.name, c.role.value, c.silent_since, c.heartbeat_age) for c in s.clusters] == [
        ("east", "PRIMARY", None, None),
        ("west", "STANDBY", T0 - timedelta(seconds=30), None),
    ]
    conditions = {c.type: c.status.value for c in s.conditions}
    assert conditions == {
        "Ready": "True",
        "Degraded": "False",
        "Suspended": "False",
        "Fenced": "False",
        "SpecValid": "True",
    }
    assert s.decision.startswith("no action") and s.observed_generation == 2
    patch = s.to_merge_patch()
    assert patch["owner"] == "east" and patch["clusters"][1]["silentSince"] == "2025-12-31T23:59:30Z"
    assert "heartbeatAge" not in patch["clusters"][0] and "silentSince" not in patch["clusters"][0]


def test_an_unchanged_tick_yields_an_identical_status_so_nothing_is_patched():
    first = build()
    assert build(previous=first, now=T0 + timedelta(minutes=5)) == first


def test_transitions_keep_their_time_until_the_status_changes():
    first = build()
    degraded = build(previous=first, now=T0 + timedelta(minutes=1), health=Health.DEGRADED)
    ready = {c.type: c for c in degraded.conditions}["Ready"]
    assert ready.status.value == "False" and ready.last_transition_time == T0 + timedelta(minutes=1)
    assert degraded.message == "Deployment/web: 1 of 3 ready"
    suspended = build(previous=degraded, now=T0 + timedelta(minutes=2), health=Health.DEGRADED, suspended=True)
    assert {c.type: c for c in suspended.conditions}["Ready"].last_transition_time == T0 + timedelta(minutes=1)
    assert suspended.suspension_reason == "freeze"


def test_a_standby_says_whether_it_could_take_over_now_and_why_not():
    from failover_operator.rules import readiness

    config = GroupConfig(namespace="shop", name="web", operator_id="o", owner="east", epoch=3, updated_at=T0)
    mine = ClusterStatus(
        cluster_name="west",
        health=Health.OK,
        state=ClusterState.STANDBY,
        heartbeat_seq=1,
        last_heartbeat=T0,
        observed_epoch=3,
    )
    base = dict(
        me="west",
        config=config,
        mine=mine,
        local_role=Role.STANDBY,
        health=Health.OK,
        auto_failover=True,
        heartbeating=True,
        store_error=None,
    )

    def reason(**changes):
        return readiness(**{**base, **changes})[:2]

    assert reason() == (True, "Ready")
    assert reason(me="east") == (False, "Owner")
    assert reason(config=config.model_copy(update={"suspended": True})) == (False, "Suspended")
    assert reason(auto_failover=False) == (False, "AutoFailoverOff")
    assert reason(local_role=Role.FENCED) == (False, "Fenced")
    assert reason(heartbeating=False) == (False, "NotHeartbeating")
    assert reason(health=Health.DEGRADED) == (False, "NotHealthy")
    assert reason(mine=mine.model_copy(update={"observed_epoch": 2})) == (False, "NotUpToDate")
    assert reason(mine=None) == (False, "NotUpToDate")
    # what the takeover rule requires of a standby (rules.eligible): a cluster still reporting PRIMARY is not one
    assert reason(mine=mine.model_copy(update={"state": ClusterState.PRIMARY})) == (False, "NotUpToDate")
    assert reason(store_error="timed out") == (False, "DynamoDBUnreachable")
    assert reason(local_role=None) == (False, "NotReconciled")
    assert "healthy, up to date at epoch 3" in readiness(**base)[2]


def test_a_scheduled_switchover_is_shown_until_it_is_gone_and_then_cleared():
    from failover_operator.model import FailoverMode, ScheduledSwitchover

    schedule = ScheduledSwitchover(
        name="scheduled-20260101-020000-ab12",
        source_cluster="east",
        target_cluster="west",
        mode=FailoverMode.UPTIME,
        at=T0 + timedelta(hours=2, microseconds=5),
        requested_by="fleet-cli",
        requested_at=T0,
        reason="window",
    )
    before = build()
    config = GroupConfig(
        namespace="shop", name="web", operator_id="o", owner="east", epoch=3, updated_at=T0, schedule=schedule
    )
    decision = Decision(Action.NONE, Role.PRIMARY, "no action")
    common = dict(
        me="east",
        local_role=Role.PRIMARY,
        observation=SimpleNamespace(health=Health.OK, message=""),
        decision=decision,
        heartbeat_age=lambda c: None,
        heartbeat_interval=5,
        generation=2,
        store_error=None,
        now=T0,
    )
    shown = group_status(config=config, state=None, previous=before, **common)
    assert shown.to_merge_patch()["scheduledSwitchover"] == {
        "name": "scheduled-20260101-020000-ab12",
        "sourceCluster": "east",
        "targetCluster": "west",
        "mode": "UPTIME",
        "at": "2026-01-01T02:00:00Z",
        "requestedBy": "fleet-cli",
        "reason": "window",
    }
    # DynamoDB unreachable (no config this tick): what was shown stays
    kept = group_status(config=None, state=None, previous=shown, **common)
    assert kept.scheduled_switchover == shown.scheduled_switchover
    # Started, dropped or cancelled: the merge patch clears it
    unscheduled = config.model_copy(update={"schedule": None})
    gone = group_status(config=unscheduled, state=None, previous=shown, **common)
    assert gone.scheduled_switchover is None and gone.to_merge_patch()["scheduledSwitchover"] is None


def test_a_suspension_in_dynamodb_other_than_the_spec_says_is_shown_not_undone():
    def said(status):
        (c,) = [c for c in status.conditions if c.type == "SuspensionAsSpecified"]
        return str(c.status), c.reason

    assert said(build(spec_suspended=False)) == ("True", "AsSpecified")
    assert said(build(suspended=True, spec_suspended=True)) == ("True", "AsSpecified")
    resumed = build(suspended=False, spec_suspended=True)  # `failover-operator resume` over spec.suspended: true
    assert said(resumed) == ("False", "ResumedOutsideSpec") and resumed.suspended is False
    (c,) = [c for c in resumed.conditions if c.type == "SuspensionAsSpecified"]
    assert "automatic failover applies; set spec.suspended: false to agree" in c.message
    assert said(build(suspended=True, spec_suspended=False)) == ("False", "SuspendedOutsideSpec")
