import pytest

from failover_operator.store import ConflictError, StoreError


async def test_throttling_and_server_errors_are_retried(make_service, proxied, proxy):
    east = make_service("east", client=proxied)
    proxy.throttle(times=2, operation="PutItem")
    proxy.server_error(times=1, operation="PutItem")
    config = await east.state.register_group("shop", "web")
    assert config.owner == "east"
    assert proxy.count("PutItem") == 4 and east.call.retries == 3


async def test_persistent_failure_becomes_store_error_after_bounded_attempts(make_service, proxied, proxy):
    east = make_service("east", client=proxied)
    proxy.server_error(times=100, operation="GetItem")
    with pytest.raises(StoreError, match="after 5 attempts"):
        await east.state.get_group_config("shop", "web")
    assert proxy.count("GetItem") == 5


async def test_an_outage_is_reported_not_hidden(make_service, proxied, proxy):
    east = make_service("east", client=proxied)
    await east.state.register_group("shop", "web")
    proxy.down = True
    with pytest.raises(StoreError):
        await east.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {}, observed_epoch=1)
    proxy.down = False
    assert (await east.state.update_cluster_status("shop", "web", "OK", "PRIMARY", {})).heartbeat_seq == 1


async def test_failed_conditions_are_never_retried(make_service, proxied, proxy):
    east = make_service("east", client=proxied)
    config = await east.state.register_group("shop", "web")
    await east.state.update_group_config(config)
    before = proxy.count("UpdateItem")
    with pytest.raises(ConflictError):
        await east.state.update_group_config(config)
    assert proxy.count("UpdateItem") - before == 1


async def test_a_throttled_move_is_retried(make_service, proxied, proxy, moto_endpoint):
    east = make_service("east")
    await east.state.register_group("shop", "web")
    await make_service("west").state.update_cluster_status("shop", "web", "OK", "STANDBY", {})
    west = make_service("west", client=proxied)
    proxy.throttle(times=1, operation="UpdateItem")
    record = await west.operations.execute_failover("shop", "web", "fo", "west", "r")
    assert record.epoch == 2 and proxy.count("UpdateItem") == 2
