from failover_operator.store import ClusterState, Health


async def test_register_and_heartbeat(make_service):
    east = make_service("east")
    config = await east.state.register_group("shop", "web")
    assert config.owner == "east" and config.epoch == 1
    status = await east.state.update_cluster_status("shop", "web", Health.OK, ClusterState.PRIMARY, {"a": 1})
    assert status.heartbeat_seq == 1 and status.observed_epoch == 1
    state = await east.state.get_group_state("shop", "web")
    assert state.clusters["east"].components == {"a": 1}
