"""A fault-injecting HTTP proxy in front of a DynamoDB endpoint.

Real failures travel the real path: botocore parses the error, our retry layer sees what it would see in
production. Faults: throttling, 5xx, lost responses (the request reaches DynamoDB, the answer never comes
back), an outage (503s), an endpoint that refuses connections (`refuse`, until `accept`), and hooks that run just
before a chosen request is forwarded (to interleave races) or just after it was applied (to hold its answer back).

One Region of a global table with multi-Region strong consistency (MRSC): moto keeps one backend per Region, the one
a request is signed for, so a proxy with `backend_region` set forwards every request to that one Region's backend (it
rewrites the credential scope of the signature, which moto does not check): several proxies, each signed for by a
client of its own Region, are one linearizable table behind one endpoint per Region. With `mrsc` set it answers as
the endpoint of an MRSC table in `region` does: transactions refused (ValidationException), DescribeTable saying
`MultiRegionConsistency: STRONG` with the other replicas and the witness it is told (`MrscTable`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"


@dataclass
class _Fault:
    operation: str | None
    remaining: int
    kind: str  # "throttle" | "server-error" | "lose-response" | "hook" | "after"
    hook: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    predicate: Callable[[dict[str, Any]], bool] | None = None


@dataclass
class RecordedRequest:
    operation: str
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    """When it arrived (time.monotonic, the clock of asyncio's loop on Linux)."""


@dataclass
class FaultProxy:
    upstream: str
    faults: list[_Fault] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    down: bool = False
    recording: bool = True
    """Keep every request (operation and body) in `requests`; a benchmark turns it on only while it counts, so
    that what it keeps is not counted as the operator's memory."""
    keep_alive: bool = False
    """Reuse connections to the upstream (the in-memory DynamoDB allows it; moto closes them, see `start`)."""
    backend_region: str | None = None
    """Forward every request to this Region's backend, whichever Region it was signed for (see the docstring)."""
    region: str | None = None
    """The Region this endpoint stands for (what an MRSC table's DescribeTable leaves out of its Replicas)."""
    mrsc: MrscTable | None = None
    """Answer as an MRSC table's endpoint: no transactions, DescribeTable saying so."""
    _runner: web.AppRunner | None = None
    _site: web.TCPSite | None = None
    _session: aiohttp.ClientSession | None = None
    endpoint: str = ""
    port: int = 0

    async def start(self) -> FaultProxy:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # Idle keep-alive connections stay open (as DynamoDB keeps them for minutes): a server closing one just as
        # a pooled client reuses it fails that request ("Connection was closed"), which is not what is measured.
        self._runner = web.AppRunner(app, access_log=None, keepalive_timeout=3600)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await self._site.start()
        self.port = self._runner.addresses[0][1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        # moto answers "Connection: close": a kept-alive connection it has already closed would fail at random
        connector = aiohttp.TCPConnector(force_close=not self.keep_alive, limit=16)
        self._session = aiohttp.ClientSession(connector=connector)
        return self

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- the endpoint itself -------------------------------------------------------------------------

    async def refuse(self) -> None:
        """Stop listening and drop every open connection: new connections are refused, requests on kept-alive
        ones fail (as at an endpoint whose Region is cut off), until `accept`."""
        assert self._runner is not None
        if self._site is not None:
            await self._site.stop()
            self._site = None
        server = self._runner.server
        if server is not None:
            for connection in server.connections:
                connection.force_close()

    async def accept(self) -> None:
        """Listen again, on the same port."""
        assert self._runner is not None
        if self._site is None:
            self._site = web.TCPSite(self._runner, "127.0.0.1", self.port)
            await self._site.start()

    # --- arming faults ------------------------------------------------------------------------------

    def throttle(self, times: int = 1, operation: str | None = None) -> None:
        self.faults.append(_Fault(operation, times, "throttle"))

    def server_error(self, times: int = 1, operation: str | None = None) -> None:
        self.faults.append(_Fault(operation, times, "server-error"))

    def lose_response(self, times: int = 1, operation: str | None = None) -> None:
        """Forward the request, then answer 500 as if the response had been lost on the way back."""
        self.faults.append(_Fault(operation, times, "lose-response"))

    def before(
        self,
        operation: str,
        hook: Callable[[dict[str, Any]], Awaitable[None]],
        predicate: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Run `hook(body)` once, just before the next matching request is forwarded."""
        self.faults.append(_Fault(operation, 1, "hook", hook, predicate))

    def after(
        self,
        operation: str,
        hook: Callable[[dict[str, Any]], Awaitable[None]],
        predicate: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Run `hook(body)` once, after the next matching request was applied and before its answer is sent
        back: a slow answer to a write that has already landed."""
        self.faults.append(_Fault(operation, 1, "after", hook, predicate))

    def count(self, operation: str) -> int:
        return sum(1 for r in self.requests if r.operation == operation)

    # --- serving ------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        target = request.headers.get("X-Amz-Target", "")
        operation = target.rpartition(".")[2]
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        if self.recording:
            self.requests.append(RecordedRequest(operation, body))
        if self.down:
            return _error(503, "ServiceUnavailable", "injected outage")
        if self.mrsc is not None and operation in ("TransactWriteItems", "TransactGetItems"):
            return _error(400, "ValidationException", f"{operation} is not supported for MRSC global tables")
        fault = self._take(operation, body)
        if fault is not None:
            if fault.kind == "throttle":
                return _error(400, "ThrottlingException", "Rate of requests exceeds the allowed throughput")
            if fault.kind == "server-error":
                return _error(500, "InternalServerError", "injected internal server error")
            if fault.kind == "hook" and fault.hook is not None:
                await fault.hook(body)
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        if self.backend_region is not None and "Authorization" in headers:
            headers["Authorization"] = _SCOPE.sub(rf"\g<1>{self.backend_region}/", headers["Authorization"])
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=raw, headers=headers
        ) as upstream:
            payload = await upstream.read()
            if self.mrsc is not None and operation == "DescribeTable" and upstream.status == 200:
                payload = self.mrsc.describe(payload, self.region)
            if fault is not None and fault.kind == "after" and fault.hook is not None:
                await fault.hook(body)
            if fault is not None and fault.kind == "lose-response":
                return _error(500, "InternalServerError", "injected: response lost after the request was applied")
            return web.Response(
                status=upstream.status,
                body=payload,
                headers={"Content-Type": upstream.headers.get("Content-Type", "application/x-amz-json-1.0")},
            )

    def _take(self, operation: str, body: dict[str, Any]) -> _Fault | None:
        for fault in self.faults:
            if fault.operation not in (None, operation):
                continue
            if fault.predicate is not None and not fault.predicate(body):
                continue
            fault.remaining -= 1
            if fault.remaining <= 0:
                self.faults.remove(fault)
            return fault
        return None


_SCOPE = re.compile(r"(Credential=[^/]+/\d{8}/)[^/]+/")  # SigV4: Credential=KEY/DATE/REGION/dynamodb/aws4_request


@dataclass(frozen=True)
class MrscTable:
    """What the endpoints of an MRSC global table say of it in DescribeTable: its replica Regions (an endpoint
    lists the others) and its witness, if any."""

    replicas: tuple[str, ...]
    witnesses: tuple[str, ...] = ()

    def describe(self, payload: bytes, region: str | None) -> bytes:
        answer = json.loads(payload)
        table = answer.get("Table", {})
        table["MultiRegionConsistency"] = "STRONG"
        table["Replicas"] = [{"RegionName": r, "ReplicaStatus": "ACTIVE"} for r in self.replicas if r != region]
        if self.witnesses:
            table["GlobalTableWitnesses"] = [{"RegionName": w, "WitnessStatus": "ACTIVE"} for w in self.witnesses]
        return json.dumps(answer).encode()


def _error(status: int, code: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps({"__type": _ERROR_PREFIX + code, "message": message}),
        content_type="application/x-amz-json-1.0",
    )


async def start_proxy(
    upstream: str,
    *,
    recording: bool = True,
    keep_alive: bool = False,
    backend_region: str | None = None,
    region: str | None = None,
    mrsc: MrscTable | None = None,
) -> FaultProxy:
    return await FaultProxy(
        upstream, recording=recording, keep_alive=keep_alive, backend_region=backend_region, region=region, mrsc=mrsc
    ).start()


__all__ = ["FaultProxy", "MrscTable", "RecordedRequest", "start_proxy"]
