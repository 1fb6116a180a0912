"""Polling helpers for the end-to-end tests (conditions, not sleeps)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator
from typing import Any

from harness.apiserver import RealCluster
from harness.cluster import eventually
from harness.fleet import Fleet, Member

from ..ship.tools import require_tool
from .manifests import deployment, group


async def status_of(member: Member, namespace: str = "shop", name: str = "web") -> dict[str, Any]:
    return (await member.group(namespace, name)).get("status") or {}


async def fencing_then_takeover(owner: Member, standby: Member, replicas: int = 3) -> list[str]:
    """Watch closely until `owner` has fenced and `standby` took over and serves; return the order in which
    the two were first seen ("fenced", "taken"), which is what fencing must get right."""
    timeline: list[str] = []

    async def watch() -> bool:
        if await owner.replicas("shop", "web") == 0 and "fenced" not in timeline:
            timeline.append("fenced")
        config = await standby.store.state.get_group_config("shop", "web")
        if config is not None and config.owner == standby.name and "taken" not in timeline:
            timeline.append("taken")
        assert "fenced" in timeline and "taken" in timeline, timeline
        assert await standby.replicas("shop", "web") == replicas
        return True

    await eventually(watch, interval=0.02, within=15)
    return timeline


WATCH_CATCH_UP_SECONDS = 10.0


@contextlib.asynccontextmanager
async def phases_of(member: Member, name: str, namespace: str = "shop") -> AsyncIterator[list[str]]:
    """Every phase a Failover shows, in order, as a watch sees each version of it (not a poll that can miss one)."""
    seen: list[str] = []
    moved = asyncio.Event()

    async def record() -> None:
        async for event in member.cluster.watch("failover.dev/v1alpha1", "failovers", namespace, name=name):
            phase = (event["object"].get("status") or {}).get("phase")
            if phase and (not seen or seen[-1] != phase):
                seen.append(phase)
                moved.set()

    task = asyncio.create_task(record())
    try:
        yield seen
        # The watch may lag the read that ended the block (a loaded machine): let it catch up with the phase the
        # object has now before the watch stops, or its last step would be missing from `seen`.
        now = (await failover_status(member, name, namespace)).get("phase")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WATCH_CATCH_UP_SECONDS
        while True:
            moved.clear()  # before looking: a phase that arrives after the look wakes the wait
            if not now or (seen and seen[-1] == now) or loop.time() >= deadline:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(moved.wait(), deadline - loop.time())
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def failover_status(member: Member, name: str, namespace: str = "shop") -> dict[str, Any]:
    return (await member.failover(namespace, name)).get("status") or {}


async def settle(
    fleet: Fleet,
    owner: str,
    *,
    namespace: str = "shop",
    name: str = "web",
    replicas: int = 3,
    epoch: int | None = None,
    within: float = 10,
) -> None:
    """Every cluster reports `owner`; the owner runs `replicas`, everyone else none; all healthy."""

    async def check() -> bool:
        for m in fleet:
            s = await status_of(m, namespace, name)
            assert s.get("owner") == owner, (m.name, s.get("owner"), s.get("decision"))
            assert s.get("role") == ("PRIMARY" if m.name == owner else "STANDBY"), (m.name, s.get("decision"))
            assert s.get("health") == "OK", (m.name, s.get("message"))
            if epoch is not None:
                assert s.get("epoch") == epoch, (m.name, s.get("epoch"))
            assert await m.replicas(namespace, name) == (replicas if m.name == owner else 0), m.name
        return True

    await eventually(check, within=within)


async def setup_group(fleet: Fleet, owner: str = "east", replicas: int = 3, **spec: Any) -> None:
    for m in fleet:
        await m.apply(deployment(replicas=replicas))
    for m in fleet:
        await m.apply(group(initialPrimary=owner, **spec))
    await settle(fleet, owner, replicas=replicas, epoch=1)


async def events(member: Member, namespace: str = "shop") -> list[dict[str, Any]]:
    return await member.cluster.list("v1", "events", namespace)


async def reasons(member: Member, kind: str, name: str, namespace: str = "shop") -> list[str]:
    return [
        e.get("reason", "")
        for e in await events(member, namespace)
        if e.get("involvedObject", {}).get("kind") == kind and e.get("involvedObject", {}).get("name") == name
    ]


async def posted(member: Member, kind: str, name: str, reason: str, namespace: str = "shop") -> None:
    """Wait for an event (kopf posts events from a queue, after the status patch that prompted them)."""

    async def check() -> bool:
        assert reason in await reasons(member, kind, name, namespace), await reasons(member, kind, name, namespace)
        return True

    await eventually(check, within=5)


async def kubectl(cluster: RealCluster, *args: str) -> subprocess.CompletedProcess[str]:
    """The real kubectl against `cluster`, as its admin (in a thread: the operators keep running)."""
    binary = require_tool("kubectl")
    return await asyncio.to_thread(
        subprocess.run,
        [str(binary), "--kubeconfig", str(cluster.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
