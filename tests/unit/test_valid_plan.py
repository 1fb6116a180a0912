"""A FailoverGroup's plan is validated when its spec changes (a new generation), not on every tick."""

from __future__ import annotations

from typing import Any

import kopf

from failover_operator.handlers.failovergroups import GroupHandlers


def body(generation: int, interval: str) -> dict[str, Any]:
    return {
        "apiVersion": "failover.dev/v1alpha1",
        "kind": "FailoverGroup",
        "metadata": {"name": "web", "namespace": "shop", "generation": generation},
        "spec": {"heartbeatInterval": interval, "workloads": [{"kind": "Deployment", "name": "web"}]},
    }


async def test_the_plan_is_validated_again_only_for_a_new_generation() -> None:
    handlers = GroupHandlers(ctx=None, kube=None)  # type: ignore[arg-type]  # neither is used for a valid spec
    raw = body(1, "5s")
    live = kopf.Body(raw)  # kopf's daemons see the object through a view that follows it
    first = await handlers.valid_plan(live, ("shop", "web"))
    assert first is not None and first.heartbeat_interval == 5.0
    assert await handlers.valid_plan(live, ("shop", "web")) is first  # every tick: nothing parsed again

    raw["spec"]["heartbeatInterval"] = "2s"  # a spec edit; the API server bumps the generation with it
    raw["metadata"]["generation"] = 2
    edited = await handlers.valid_plan(live, ("shop", "web"))
    assert edited is not None and edited.heartbeat_interval == 2.0 and edited.generation == 2
    assert await handlers.valid_plan(live) is edited  # the key, when not given, is the body's own


async def test_without_a_generation_the_spec_is_read_on_every_call() -> None:
    handlers = GroupHandlers(ctx=None, kube=None)  # type: ignore[arg-type]
    raw = body(1, "5s")
    del raw["metadata"]["generation"]
    live = kopf.Body(raw)
    first = await handlers.valid_plan(live)
    raw["spec"]["heartbeatInterval"] = "2s"
    second = await handlers.valid_plan(live)
    assert first is not None and second is not None and second.heartbeat_interval == 2.0
