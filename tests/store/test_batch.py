"""Transactions of several groups sent as one (store/batch.py): each caller is answered as if it had sent its
own — the same successes, the same refusals with the same reasons — in fewer requests."""

import asyncio

import pytest

from failover_operator.store import ConflictError, OwnerCheck
from failover_operator.store.batch import Batches, Pending

GROUPS = [f"g{i:02d}" for i in range(12)]


async def _fleet(make_service, owner="east", standby="west"):
    """Every group owned by `owner` (status PRIMARY at epoch 1), `standby` standing by; both have beaten."""
    services = {c: make_service(c) for c in (owner, standby)}
    for group in GROUPS:
        await services[owner].state.register_group("shop", group)
        for cluster, svc in services.items():
            state = "PRIMARY" if cluster == owner else "STANDBY"
            await svc.state.update_cluster_status("shop", group, "OK", state, {}, observed_epoch=1)
    for svc in services.values():
        await svc.liveness.beat(5.0)
    return services


def _transactions(proxy):
    return [r.body["TransactItems"] for r in proxy.requests if r.operation == "TransactWriteItems"]


async def test_takeovers_of_a_dead_owners_groups_share_transactions(make_service, proxied, proxy):
    await _fleet(make_service)
    west = make_service("west", client=proxied)
    states = {g: await west.state.get_group_state("shop", g) for g in GROUPS}
    proxy.requests.clear()

    async def take(group):
        east = states[group].clusters["east"]
        check = OwnerCheck(heartbeat_seq=east.heartbeat_seq, liveness_seq=east.liveness_seq)
        return await west.operations.execute_failover(
            "shop", group, f"auto-{group}", "west", "stale", expected_epoch=1, owner_check=check, state=states[group]
        )

    records = await asyncio.gather(*(take(g) for g in GROUPS))
    assert [r.epoch for r in records] == [2] * len(GROUPS)
    sent = _transactions(proxy)
    assert len(sent) < len(GROUPS) / 2  # the first alone, then the ones asked meanwhile together
    # east's liveness is checked once per transaction, however many of its groups it carries
    liveness_keys = [
        i
        for tx in sent
        for i in tx
        if i.get("ConditionCheck", {}).get("Key", {}).get("PK", {}).get("S", "").startswith("FLEET#")
    ]
    assert len(liveness_keys) == len(sent)
    for group in GROUPS:
        config = await west.state.get_group_config("shop", group)
        assert (config.owner, config.epoch) == ("west", 2)
        assert len(await west.state.get_failover_history("shop", group)) == 1


async def test_a_refused_transaction_among_others_fails_alone_with_its_own_reason(make_service, proxied, proxy):
    services = await _fleet(make_service)
    west = make_service("west", client=proxied)
    states = {g: await west.state.get_group_state("shop", g) for g in GROUPS}
    # g03's owner reports again after west read it: its takeover must fail, and only it
    await services["east"].state.update_cluster_status("shop", "g03", "OK", "PRIMARY", {}, observed_epoch=1)

    async def take(group):
        east = states[group].clusters["east"]
        check = OwnerCheck(heartbeat_seq=east.heartbeat_seq)
        return await west.operations.execute_failover(
            "shop", group, f"auto-{group}", "west", "stale", expected_epoch=1, owner_check=check, state=states[group]
        )

    results = await asyncio.gather(*(take(g) for g in GROUPS), return_exceptions=True)
    failed = {g: r for g, r in zip(GROUPS, results, strict=True) if isinstance(r, BaseException)}
    assert list(failed) == ["g03"]
    assert isinstance(failed["g03"], ConflictError) and "east reported again" in str(failed["g03"])
    assert any(len(tx) > 4 for tx in _transactions(proxy))  # it was refused inside a merged transaction
    for group in GROUPS:
        config = await west.state.get_group_config("shop", group)
        assert (config.owner, config.epoch) == (("east", 1) if group == "g03" else ("west", 2))
    assert await west.state.get_failover_history("shop", "g03") == []


async def test_proofs_sent_together_move_the_liveness_once_each_transaction(make_service, proxied, proxy):
    await _fleet(make_service)
    east = make_service("east", client=proxied)
    before = (await east.liveness.read())["east"].seq
    proxy.requests.clear()
    await asyncio.gather(*(east.state.prove_ownership("shop", g, 1, "OK", {"web": {"ready": 1}}) for g in GROUPS))
    sent = _transactions(proxy)
    assert len(sent) < len(GROUPS) / 2
    assert (await east.liveness.read())["east"].seq == before + len(sent)  # one bump per transaction sent
    for group in GROUPS:
        status = (await east.state.get_group_state("shop", group)).clusters["east"]
        assert (status.state.value, status.observed_epoch, status.components) == ("PRIMARY", 1, {"web": {"ready": 1}})


async def test_a_proof_for_a_group_no_longer_owned_is_refused_and_the_others_land(make_service, proxied):
    services = await _fleet(make_service)
    await services["west"].operations.execute_failover("shop", "g05", "fo", "west", "moved")
    east = make_service("east", client=proxied)
    results = await asyncio.gather(
        *(east.state.prove_ownership("shop", g, 1, "OK", {}) for g in GROUPS), return_exceptions=True
    )
    failed = [g for g, r in zip(GROUPS, results, strict=True) if isinstance(r, BaseException)]
    assert failed == ["g05"] and isinstance(results[5], ConflictError)


async def test_a_request_whose_asker_stopped_waiting_is_not_sent():
    sent: list[list[int]] = []
    release = asyncio.Event()

    async def send(batch: list[Pending[int, int]]) -> None:
        sent.append([p.request for p in batch])
        await release.wait()
        for p in batch:
            p.future.set_result(p.request * 10)

    batches: Batches[int, int] = Batches(send, lambda q: [q.popleft() for _ in range(len(q))], in_flight=1)
    first = asyncio.ensure_future(batches.ask(1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    waiting = [asyncio.ensure_future(batches.ask(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    waiting[1].cancel()  # 3 gives up while queued
    release.set()
    assert await first == 10
    assert [await w for w in (waiting[0], waiting[2])] == [20, 40]
    assert sent == [[1], [2, 4]]
    with pytest.raises(asyncio.CancelledError):
        await waiting[1]


async def test_two_moves_of_one_group_asked_at_the_same_instant_are_never_merged(make_service, proxied, proxy):
    """Seed 1796581046804: a FailoverGroup deleted twice in the owner's cluster: two hand-overs of the group,
    computed at the same instant, carried the very same config update; merged into one transaction as if it
    were a shared check, both "won" and the history got two records for epoch 2. Only checks are shared."""
    await _fleet(make_service)
    east = make_service("east", client=proxied)  # a fake clock: the moves stamp the same instant
    state = await east.state.get_group_state("shop", "g01")

    async def hand_over() -> object:
        return await east.operations.execute_failover(
            "shop", "g01", "handover-east-epoch-2", "west", "deleted", expected_epoch=1, state=state
        )

    results = await asyncio.gather(hand_over(), hand_over(), hand_over(), return_exceptions=True)
    won = [r for r in results if not isinstance(r, BaseException)]
    assert len(won) == 1 and all(isinstance(r, ConflictError) for r in results if r not in won), results
    assert [h.epoch for h in await east.state.get_failover_history("shop", "g01")] == [2]
