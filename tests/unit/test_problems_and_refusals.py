from datetime import UTC, datetime

from failover_operator.store import (
    ClusterState,
    ClusterStatus,
    GroupConfig,
    GroupState,
    Health,
    LockInfo,
    ProblemKind,
    Severity,
    failover_refusal,
)
from failover_operator.store.problems import find_problems

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def config(**kw):
    base = dict(namespace="shop", name="web", operator_id="o", owner="east", epoch=5, updated_at=T0)
    return GroupConfig(**{**base, **kw})


def status(name, health=Health.OK, state=ClusterState.STANDBY, epoch=5, message=None):
    return ClusterStatus(
        cluster_name=name,
        health=health,
        state=state,
        heartbeat_seq=1,
        last_heartbeat=T0,
        observed_epoch=epoch,
        message=message,
    )


def kinds(problems):
    return sorted(((p.kind.value, p.cluster) for p in problems), key=str)


def test_healthy_group_has_no_problems():
    clusters = {"east": status("east", state=ClusterState.PRIMARY), "west": status("west")}
    assert find_problems(config(), clusters) == []


def test_each_problem_kind():
    cfg = config()
    assert kinds(find_problems(cfg, {"west": status("west")})) == [("OWNER_UNKNOWN", "east")]
    standby = {"west": status("west")}
    assert kinds(find_problems(cfg, {"east": status("east", Health.ERROR), **standby})) == [("OWNER_UNHEALTHY", "east")]
    assert kinds(find_problems(cfg, {"east": status("east", Health.UNKNOWN), **standby})) == [
        ("OWNER_UNHEALTHY", "east")
    ]
    two = {"east": status("east", state=ClusterState.PRIMARY), "west": status("west", state=ClusterState.PRIMARY)}
    assert kinds(find_problems(cfg, two)) == [("NO_HEALTHY_STANDBY", None), ("SPLIT_BRAIN", None)]
    old = {
        "east": status("east", state=ClusterState.PRIMARY),
        "west": status("west", state=ClusterState.PRIMARY, epoch=4),
    }
    assert ("SPLIT_BRAIN", "west") in kinds(find_problems(cfg, old))
    healthy = {"east": status("east", state=ClusterState.PRIMARY), "west": status("west")}
    stale = find_problems(cfg, healthy, stale=["west"])
    assert kinds(stale) == [("NO_HEALTHY_STANDBY", None), ("STALE_HEARTBEAT", "west")]
    assert {p.kind: p.severity for p in stale} == {
        ProblemKind.STALE_HEARTBEAT: Severity.WARNING,  # a standby's: the owner still serves
        ProblemKind.NO_HEALTHY_STANDBY: Severity.ERROR,  # but nobody could take over if it stopped
    }
    assert find_problems(cfg, healthy, stale=["east"])[0].severity == Severity.ERROR
    behind = {"east": status("east", state=ClusterState.PRIMARY), "west": status("west", epoch=4)}
    assert kinds(find_problems(cfg, behind)) == [("NO_HEALTHY_STANDBY", None)]
    sick = {"east": status("east", state=ClusterState.PRIMARY), "west": status("west", Health.DEGRADED)}
    assert "none but east" in find_problems(cfg, sick)[0].message
    lock = LockInfo(holder="west", reason="failover", acquired_at=T0, lease_seconds=30)
    assert kinds(find_problems(cfg, healthy, lock=lock, lock_age=31)) == [("LOCK_STUCK", "west")]
    assert find_problems(cfg, healthy, lock=lock, lock_age=29) == []
    corrupt = find_problems(cfg, healthy, corrupt=["corrupt record X / Y: bad"])
    assert corrupt[0].kind is ProblemKind.CORRUPT_RECORD and "bad" in corrupt[0].message


def state(cfg, clusters):
    return GroupState(config=cfg, clusters=clusters, lock=None, history=[])


def test_refusals_name_the_reason():
    healthy = {"east": status("east", state=ClusterState.PRIMARY), "west": status("west")}
    assert failover_refusal(state(config(), healthy), "west", set()) is None
    assert "already owns" in failover_refusal(state(config(), healthy), "east", set())
    suspended = config(suspended=True, suspension_reason="db migration")
    assert "suspended (db migration)" in failover_refusal(state(suspended, healthy), "west", set())
    assert failover_refusal(state(suspended, healthy), "west", set(), check_suspension=False) is None
    assert "never reported" in failover_refusal(state(config(), healthy), "north", set())
    sick = {**healthy, "west": status("west", Health.ERROR, message="2 of 2 pods crash-looping")}
    assert "ERROR" in failover_refusal(state(config(), sick), "west", set())
    assert "crash-looping" in failover_refusal(state(config(), sick), "west", set())
    assert failover_refusal(state(config(), sick), "west", set(), check_health=False) is None
    assert "heartbeat" in failover_refusal(state(config(), healthy), "west", {"west"})
    assert failover_refusal(state(config(), healthy), "west", {"west"}, check_health=False) is None


def test_a_silent_clusters_last_report_is_no_claim_to_serve():
    """Issue 19: the owner's operator killed (kill -9), its watchdog fenced the app but cannot write DynamoDB, a
    standby took over: the old owner's last status still says PRIMARY at the old epoch. That is no split brain."""
    cfg = config(owner="west", epoch=6)
    clusters = {
        "east": status("east", state=ClusterState.PRIMARY, epoch=5),  # its last words, before it went silent
        "west": status("west", state=ClusterState.PRIMARY, epoch=6),
    }
    found = find_problems(cfg, clusters, stale=["east"])
    assert kinds(found) == [("NO_HEALTHY_STANDBY", None), ("STALE_HEARTBEAT", "east")]
    (silent,) = [p for p in found if p.kind == ProblemKind.STALE_HEARTBEAT]
    assert silent.severity == Severity.WARNING  # not the owner: nothing is at risk from it
    assert "last report (PRIMARY at epoch 5) is no claim to serve" in silent.message
    # Both heartbeating and both saying PRIMARY: that is split brain, reported as before
    assert sorted(kinds(find_problems(cfg, clusters)), key=repr) == [
        ("NO_HEALTHY_STANDBY", None),
        ("SPLIT_BRAIN", "east"),
        ("SPLIT_BRAIN", None),
    ]
    # Two live ones beside a silent third: still split brain, naming the live two only
    three = {**clusters, "north": status("north", state=ClusterState.PRIMARY, epoch=6)}
    (both,) = [p for p in find_problems(cfg, three, stale=["east"]) if p.kind == ProblemKind.SPLIT_BRAIN]
    assert "2 clusters report PRIMARY for shop/web: north, west" in both.message
