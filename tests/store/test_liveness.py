"""The cluster's liveness record: one write per interval for every group, staleness judged on it, a takeover
conditioned on it, and the changes it publishes so that peers re-read only what changed."""

import pytest

from failover_operator.store import ConflictError, OwnerCheck, keys
from failover_operator.store.changes import KEEP_SECONDS, ChangeLog, ChangeReader, written_partitions


async def _group(make_service, owner="east", *others):
    east = make_service(owner)
    await east.state.register_group("shop", "web", initial_owner=owner)
    for cluster in (owner, *others):
        await make_service(cluster).state.update_cluster_status("shop", "web", "OK", "STANDBY", {}, observed_epoch=1)
    return east


async def test_a_beat_moves_the_sequence_and_every_group_sees_it(make_service, clock):
    east = await _group(make_service, "east", "west")
    west = make_service("west")
    before = (await west.state.get_cluster_status("shop", "web", "east")).liveness_seq
    await east.liveness.beat(5.0)
    await east.liveness.beat(5.0)
    status = (await west.state.get_group_state("shop", "web")).clusters["east"]
    assert (before, status.liveness_seq, status.heartbeat_seq) == (0, 2, 1)  # the status itself did not move
    live = await west.liveness.read()
    assert live["east"].seq == 2 and live["east"].interval == 5.0


async def test_staleness_is_judged_on_the_status_or_the_liveness_moving(make_service, clock):
    east = await _group(make_service, "east", "west")
    west = make_service("west")
    await east.liveness.beat(5.0)
    assert await west.state.detect_stale_heartbeats("shop", "web", 15) == []
    for _ in range(4):  # liveness alone keeps east alive, its status for the group unchanged
        clock.advance(10)
        await east.liveness.beat(5.0)
        assert await west.state.detect_stale_heartbeats("shop", "web", 15) == []
    clock.advance(16)
    assert await west.state.detect_stale_heartbeats("shop", "web", 15) == ["east"]
    await east.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {}, observed_epoch=1)
    assert await west.state.detect_stale_heartbeats("shop", "web", 15) == []  # a status write is life too


async def test_one_read_shared_by_every_group_still_dates_a_cluster_only_a_status_names(make_service, clock):
    """Each group merges the same liveness read into its statuses; the read is noted once, but a cluster a
    status names and the read does not (it never beat) still starts its clock from then, and then ages."""
    await _group(make_service, "east", "west")
    west = make_service("west")
    state = await west.state.get_group_state("shop", "web")
    live = await west.liveness.read()  # nobody has beaten: no liveness at all
    for _ in range(3):  # three groups' ticks, the same read
        west.state.refreshed(state, live)
    clock.advance(10)
    west.state.refreshed(state, live)
    assert west.state.heartbeat_age("shop", "web", "east") == pytest.approx(10)  # not reset by noting again
    assert west.state.stale_clusters("shop", "web", state.clusters, 15) == []
    clock.advance(6)
    assert west.state.stale_clusters("shop", "web", state.clusters, 15) == ["east"]


async def test_a_stale_takeover_fails_if_the_owner_beat_since(make_service, clock):
    east = await _group(make_service, "east", "west")
    west = make_service("west")
    await east.liveness.beat(5.0)
    seen = (await west.state.get_group_state("shop", "web")).clusters["east"]
    await east.liveness.beat(5.0)  # east is alive after all
    check = OwnerCheck(heartbeat_seq=seen.heartbeat_seq, liveness_seq=seen.liveness_seq)
    with pytest.raises(ConflictError, match="east reported again"):
        await west.operations.execute_failover("shop", "web", "auto", "west", "stale", owner_check=check)
    fresh = (await west.state.get_group_state("shop", "web")).clusters["east"]
    check = OwnerCheck(heartbeat_seq=fresh.heartbeat_seq, liveness_seq=fresh.liveness_seq)
    record = await west.operations.execute_failover("shop", "web", "auto", "west", "stale", owner_check=check)
    assert record.epoch == 2


async def test_a_beat_says_how_many_groups_are_still_starting(make_service):
    east = make_service("east")
    west = make_service("west")
    await east.liveness.beat(5.0, starting=700)
    assert (await west.liveness.read())["east"].starting == 700
    await east.liveness.beat(5.0)  # all started: the attribute goes
    assert (await west.liveness.read())["east"].starting == 0


async def test_a_proof_of_ownership_moves_the_groups_proof_number_not_the_liveness(make_service):
    """No transaction: a proof is a write of the group's config (its proof number, `serving`) and then the status;
    our liveness, which stands for every group of ours, is not moved by one group's proof."""
    east = await _group(make_service, "east", "west")
    await east.liveness.beat(5.0)
    await east.state.prove_ownership("shop", "web", 1, "OK", {})
    assert (await east.liveness.read())["east"].seq == 1
    config = await east.state.get_group_config("shop", "web")
    assert (config.proof_seq, config.serving) == (1, True)
    await east.state.prove_ownership("shop", "web", 1, "OK", {})
    assert (await east.state.get_group_config("shop", "web")).proof_seq == 2


async def test_peers_learn_which_groups_were_written(make_service, clock):
    east = await _group(make_service, "east", "west")
    west = make_service("west")
    await east.liveness.beat(5.0)
    assert west.liveness.changed(await west.liveness.read()) is None  # a first look: everything may have
    await east.liveness.beat(5.0)
    assert west.liveness.changed(await west.liveness.read()) == set()  # nothing written since
    await east.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {}, observed_epoch=1)
    await east.liveness.beat(5.0)
    assert west.liveness.changed(await west.liveness.read()) == {keys.group_pk("fleet", "shop", "web")}
    await east.liveness.beat(5.0, fenced=[keys.group_pk("fleet", "shop", "web")])
    assert west.liveness.changed(await west.liveness.read()) == {keys.group_pk("fleet", "shop", "web")}
    await east.liveness.beat(5.0)
    assert west.liveness.changed(await west.liveness.read()) == set()


async def test_a_write_is_published_while_it_is_still_unanswered(make_service, proxied, proxy):
    """A write may land long before its answer comes (lost answers are retried for seconds): it is published
    from the moment it is sent, not once its retries end — a takeover that landed unanswered was hidden from
    the peers' caches until then (the simulation's test_8 took over 1.4 s late)."""
    await _group(make_service, "east", "west")
    east = make_service("east", client=proxied)
    published: list[set[str]] = []

    async def in_flight(_body):  # what east's next beat would publish, while its status write is on the way
        published.append(set(east.changes.published()[0]))

    proxy.before("UpdateItem", in_flight)
    await east.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {}, observed_epoch=1)
    assert published == [{keys.group_pk("fleet", "shop", "web")}]


def test_written_partitions_are_the_group_partitions_of_writes_only() -> None:
    pk = keys.group_pk("fleet", "shop", "web")
    key = {keys.PK: {"S": pk}, keys.SK: {"S": "CONFIG"}}
    fleet = {keys.PK: {"S": keys.fleet_pk("fleet")}, keys.SK: {"S": "CLUSTER#east"}}
    assert written_partitions("update_item", {"Key": key}) == [pk]
    assert written_partitions("put_item", {"Item": key}) == [pk]
    assert written_partitions("query", {"Key": key}) == []
    assert written_partitions("update_item", {"Key": fleet}) == []
    assert written_partitions("delete_item", {"Key": key}) == [pk]


def test_a_reader_that_fell_behind_or_a_restarted_writer_means_read_everything() -> None:
    now = [0.0]
    log = ChangeLog(lambda: now[0])
    reader = ChangeReader()
    assert reader.changed("east", "w1", log.seq, *reversed(log.published())) is None  # first look
    log.note(["A"])
    log.note(["B"])
    latest, covered = log.published()
    assert reader.changed("east", "w1", log.seq, covered, latest) == {"A", "B"}
    now[0] += KEEP_SECONDS + 1
    log.note(["C"])
    latest, covered = log.published()
    assert latest == {"C": 3} and covered == 3  # A and B were dropped: numbers 1-2 are no longer accounted for
    assert reader.changed("east", "w1", log.seq, covered, latest) == {"C"}  # but this reader had seen them
    behind = ChangeReader()
    behind.changed("east", "w1", 1, 1, {})
    assert behind.changed("east", "w1", log.seq, covered, latest) is None  # it had not: read everything
    assert reader.changed("east", "w2", 0, 1, {}) is None  # a new writer (restarted): read everything
