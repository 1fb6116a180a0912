"""A local DynamoDB: moto's server with its requests serialized, plus helpers to get a client on it.

moto's threaded server handles each request on its own thread without locking, so a cancelled transaction
can undo a concurrent write and two conditional transactions can both "win". Real DynamoDB is atomic per
request; holding one lock around each request models that, so races in tests exercise our code, not moto's.

Run standalone (a separate process is about twice as fast under concurrent load):
    python -m harness.dynamo --port 8000
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from moto.moto_server.threaded_moto_server import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    ThreadedMotoServer,
    create_backend_app,
)
from werkzeug.serving import make_server

# moto accepts any credentials; setting dummy ones keeps botocore from searching the real chain.
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serialized(app: Any) -> Any:
    """Wrap a WSGI app so that one request at a time runs, including the production of its response."""
    lock = threading.Lock()

    def application(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with lock:
            return list(app(environ, start_response))

    return application


class SerializedMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer with each request holding one lock: atomic per request, as DynamoDB is."""

    def __init__(self, port: int = 0, ip_address: str = "127.0.0.1") -> None:
        super().__init__(ip_address=ip_address, port=port or free_port(), verbose=False)

    def _server_entry(self) -> None:
        app = serialized(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()

    @property
    def endpoint(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"


def moto_process(port: int = 0) -> contextlib.AbstractContextManager[str]:
    """Run the serialized server in its own process (for benchmarks and the demo); yields its endpoint."""
    return server_process("harness.dynamo", port)


@contextlib.contextmanager
def server_process(module: str, port: int = 0) -> Iterator[str]:
    """`python -m MODULE --port P` in its own process, until it serves DynamoDB's endpoint; yields it."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port)],
        cwd=ROOT,  # the harness is not installed: it is importable from the repository's top level
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(endpoint, process)
        yield endpoint
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_serving(endpoint: str, process: subprocess.Popen[bytes] | None = None, wait: float = 30.0) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                return
        except OSError:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"local DynamoDB exited with code {process.returncode}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"local DynamoDB at {endpoint} did not start within {wait:.0f}s") from None
            time.sleep(0.05)


@contextlib.asynccontextmanager
async def dynamodb_client(
    endpoint: str, *, region: str = REGION, max_pool: int = 100, parameter_validation: bool = True
) -> AsyncIterator[Any]:
    """An entered aioboto3 DynamoDB client for a local endpoint, with dummy credentials.

    botocore does not retry (one attempt): the store's own retry layer does, so tests see exactly what it sees.
    Tests keep botocore's client-side validation on (a malformed request fails loudly); a benchmark turns it
    off, as the operator's own client (store/connect.py) does.
    """
    from botocore.config import Config

    from failover_operator.store.connect import user_agent

    session = _session(region)
    config = Config(
        max_pool_connections=max_pool,
        retries={"mode": "standard", "total_max_attempts": 1},
        parameter_validation=parameter_validation,
        user_agent=user_agent(),  # as the operator's own client (store/connect.py)
    )
    async with session.client("dynamodb", endpoint_url=endpoint, config=config) as client:
        yield client


_sessions: dict[str, Any] = {}


def _session(region: str) -> Any:
    """One session per region: a session caches botocore's service models, which take ~0.2 s to load."""
    import aioboto3

    if region not in _sessions:
        _sessions[region] = aioboto3.Session(region_name=region, **FAKE_CREDENTIALS)
    return _sessions[region]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local DynamoDB (moto, one request at a time)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    server = SerializedMotoServer(port=args.port, ip_address=args.host)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
