"""/healthz and /readyz of the operator (HEALTH_PORT).

/healthz fails — and the kubelet restarts the operator — when its loop has stalled (the cluster's heartbeat
loop has not come round for several intervals while it carries groups; a blocked event loop does not answer
at all) or when the Kubernetes API has not answered for longer than the smallest `timeouts.heartbeat` of its
groups — unless this cluster serves a group. An owner cut off from its API server cannot stop its pods, so it
keeps its heartbeat (and no standby takes over while they run); a restart would stop the heartbeat, and a
restarted operator that cannot reach its API server has no group to beat for: a standby would start while the
old pods still serve. So an owner reports the outage (in the reasons of /readyz, and its status) and stays up.
/readyz says whether the operator has started and its heartbeats land in DynamoDB. Each answers JSON with the
reasons.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

DEFAULT_API_LIMIT = 15.0
"""Seconds the Kubernetes API may fail before /healthz does, while no group says otherwise (the default
`timeouts.heartbeat`)."""
STALL_INTERVALS = 4
"""The cluster's heartbeat loop may be this many intervals late before /healthz calls the operator stalled."""


@dataclass
class Probes:
    """What the probes answer from: told of every Kubernetes answer and of every heartbeat loop turn."""

    now: Callable[[], float] = time.monotonic
    started: bool = False
    api_failing_since: float | None = None
    api_error: str | None = None
    loop_turned_at: float | None = None
    beat_ok_at: float | None = None
    interval: float = 5.0
    api_limit: Callable[[], float] = field(default=lambda: DEFAULT_API_LIMIT)
    carrying: Callable[[], int] = field(default=lambda: 0)
    serving: Callable[[], bool] = field(default=lambda: False)
    """This cluster serves some group (a restart would stop its heartbeat while its pods run on)."""
    mode: str = "alone"
    """"leader" or "follower" of this cluster's replicas (leadership.py), or "alone" (no POD_NAME)."""

    def api_answered(self) -> None:
        self.api_failing_since, self.api_error = None, None

    def api_failed(self, error: str) -> None:
        if self.api_failing_since is None:
            self.api_failing_since = self.now()
        self.api_error = error

    def loop_turned(self, interval: float) -> None:
        self.loop_turned_at, self.interval = self.now(), interval

    def beat_written(self) -> None:
        self.beat_ok_at = self.now()

    def live(self) -> list[str]:
        """Why the operator should be restarted (empty: it is alive)."""
        now = self.now()
        reasons = []
        outage = self._api_outage(now)
        if outage is not None and not self.serving():
            reasons.append(outage)
        if self.carrying() and self.loop_turned_at is not None:
            late = now - self.loop_turned_at
            if late > STALL_INTERVALS * self.interval:
                reasons.append(f"the heartbeat loop has not turned for {late:.0f}s (interval {self.interval:g}s)")
        return reasons

    def _api_outage(self, now: float) -> str | None:
        limit = self.api_limit()
        if self.api_failing_since is None or now - self.api_failing_since <= limit:
            return None
        return (
            f"the Kubernetes API has not answered for {now - self.api_failing_since:.0f}s "
            f"(limit {limit:g}s): {self.api_error}"
        )

    def ready(self) -> list[str]:
        """Why the operator is not ready (empty: it is)."""
        if not self.started:
            return ["starting"]
        reasons = self.live()
        outage = self._api_outage(self.now())
        if outage is not None and outage not in reasons:
            reasons.append(outage + " (this cluster serves a group: it stays up and keeps its heartbeat)")
        if self.carrying() and (self.beat_ok_at is None or self.now() - self.beat_ok_at > 3 * self.interval):
            reasons.append("its heartbeats do not land in DynamoDB")
        return reasons


async def serve(health: Probes, port: int) -> web.AppRunner:
    """Serve /healthz and /readyz on `port` (0.0.0.0). Raises OSError if the port is taken."""

    def answer(reasons: list[str]) -> web.Response:
        body = {"ok": not reasons, "reasons": reasons, "mode": health.mode}
        return web.json_response(body, status=200 if not reasons else 503)

    async def healthz(_: web.Request) -> web.Response:
        return answer(health.live())

    async def readyz(_: web.Request) -> web.Response:
        return answer(health.ready())

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "0.0.0.0", port).start()
    except OSError:
        await runner.cleanup()
        raise
    return runner
