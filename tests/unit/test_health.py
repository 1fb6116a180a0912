"""/healthz and /readyz: what they answer, on an injected clock, and that the Kubernetes client tells them
whether the API server answers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import urllib.error
import urllib.request

import kubernetes

from failover_operator.health import STALL_INTERVALS, Probes, serve
from failover_operator.workloads.kube import KubeClient, KubeError


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_healthz_fails_once_the_api_has_not_answered_for_the_heartbeat_timeout() -> None:
    clock = Clock()
    health = Probes(now=clock, api_limit=lambda: 15.0)
    health.api_failed("cannot reach the API server")
    clock.t += 14.9
    assert health.live() == []
    health.api_failed("still")  # the outage counts from its first failure
    clock.t += 0.2
    (reason,) = health.live()
    assert "has not answered for 15s (limit 15s): still" in reason
    health.api_answered()
    assert health.live() == []


def test_an_owner_cut_off_from_its_api_server_stays_up_and_says_so() -> None:
    """A restart would stop its heartbeat while its pods (which nothing can stop now) run on: a standby would
    start beside them. So /healthz stays 200 while this cluster serves a group; /readyz names the outage."""
    clock = Clock()
    serving = True
    health = Probes(now=clock, api_limit=lambda: 15.0, serving=lambda: serving)
    health.started = True
    health.api_failed("cannot reach the API server")
    clock.t += 16
    assert health.live() == []
    (reason,) = health.ready()
    assert "has not answered for 16s" in reason and "serves a group" in reason
    serving = False  # it serves nothing (fenced, or a standby): a restart harms nobody
    assert len(health.live()) == 1


def test_healthz_fails_when_the_heartbeat_loop_stalls_while_it_carries_groups() -> None:
    clock = Clock()
    groups = 0
    health = Probes(now=clock, carrying=lambda: groups)
    health.loop_turned(5.0)
    clock.t += STALL_INTERVALS * 5.0 + 1
    assert health.live() == []  # no group carried: nothing to stall
    groups = 3
    (reason,) = health.live()
    assert "heartbeat loop has not turned for 21s" in reason
    health.loop_turned(5.0)
    assert health.live() == []


def test_readyz_once_started_and_heartbeating() -> None:
    clock = Clock()
    health = Probes(now=clock, carrying=lambda: 1)
    assert health.ready() == ["starting"]
    health.started = True
    health.loop_turned(5.0)
    assert health.ready() == ["its heartbeats do not land in DynamoDB"]
    health.beat_written()
    assert health.ready() == []
    clock.t += 16
    health.loop_turned(5.0)
    assert health.ready() == ["its heartbeats do not land in DynamoDB"]


async def test_the_endpoints_answer_503_with_the_reasons() -> None:
    clock = Clock()
    health = Probes(now=clock, api_limit=lambda: 15.0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runner = await serve(health, port)
    try:

        def get(path: str) -> tuple[int, dict[str, object]]:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as error:
                return error.code, json.loads(error.read())

        assert await asyncio.to_thread(get, "/healthz") == (200, {"ok": True, "reasons": [], "mode": "alone"})
        assert (await asyncio.to_thread(get, "/readyz"))[0] == 503  # not started
        health.api_failed("connection refused")
        clock.t += 20
        code, body = await asyncio.to_thread(get, "/healthz")
        assert code == 503 and "connection refused" in str(body["reasons"])
    finally:
        await runner.cleanup()


async def test_the_kubernetes_client_says_whether_the_api_server_answered() -> None:
    configuration = kubernetes.client.Configuration()
    configuration.host = "http://127.0.0.1:9"  # nothing listens there
    kube = KubeClient(kubernetes.client.ApiClient(configuration), timeout=2.0)
    said: list[tuple[bool, str]] = []
    kube.observe = lambda answered, error: said.append((answered, error))
    try:
        with contextlib.suppress(KubeError):
            await kube.get("Deployment", "shop", "web")
    finally:
        kube.close()
    assert said and said[0][0] is False and "cannot reach the API server" in said[0][1]
