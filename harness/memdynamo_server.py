"""The simulation's in-memory DynamoDB (harness/memdynamo.py, which passes the store's contract suite like moto)
served over HTTP in the DynamoDB JSON protocol, for benchmarks at fleet scale: moto's Query reads the whole
table, so at a few thousand items it, not the operator, would be what is measured.

`python -m harness.memdynamo_server --port P`; `memdynamo_process()` runs it in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import time
from typing import Any

from aiohttp import web
from botocore.exceptions import ClientError

from harness.dynamo import server_process
from harness.memdynamo import MemoryDynamoDB

_PREFIX = "com.amazonaws.dynamodb.v20120810#"


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", operation).lower()


def app() -> web.Application:
    client = MemoryDynamoDB(time.monotonic).client()

    async def handle(request: web.Request) -> web.Response:
        target = request.headers.get("X-Amz-Target", "")
        operation = target.rpartition(".")[2]
        method = getattr(client, _snake(operation), None)
        if method is None:
            return _json(400, {"__type": _PREFIX + "UnknownOperationException", "message": operation})
        params = json.loads(await request.read() or b"{}")
        try:
            result = await method(**params)
        except ClientError as exc:
            response = dict(exc.response)
            error = response.pop("Error", {})
            response.pop("ResponseMetadata", None)
            body = {"__type": _PREFIX + str(error.get("Code")), "message": error.get("Message", ""), **response}
            return _json(400, body)
        result = {k: v for k, v in result.items() if k != "ResponseMetadata"}
        return _json(200, result)

    application = web.Application(client_max_size=16 * 1024 * 1024)
    application.router.add_post("/", handle)
    application.router.add_get("/moto-api/", lambda _: web.Response(text="ok"))  # for wait_until_serving
    return application


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, body=json.dumps(body), content_type="application/x-amz-json-1.0")


def memdynamo_process(port: int = 0) -> contextlib.AbstractContextManager[str]:
    return server_process("harness.memdynamo_server", port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.memdynamo_server")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.port))


async def _serve(port: int) -> None:
    runner = web.AppRunner(app(), access_log=None, keepalive_timeout=3600)  # as faults.py: no idle close races
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    main()
