"""Opening the aioboto3 DynamoDB client the operator uses."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

MAX_POOL = 50  # connections of the operator's client
BULK_CONCURRENCY = 40  # of which reads and transactions may hold at most this many: heartbeats never queue


class NoCredentialsError(Exception):
    """The standard AWS chain found no credentials (`open_client(require_credentials=True)`)."""


def user_agent() -> str:
    """The operator's User-Agent (it names the caller in CloudTrail). Given whole, it also spares botocore from
    composing its own from some twenty parts on every request (a sixth of a request's CPU at fleet scale)."""
    from .. import __version__

    return f"failover-operator/{__version__}"


@contextlib.asynccontextmanager
async def open_client(
    region: str,
    endpoint: str | None = None,
    *,
    request_timeout: float = 5.0,
    max_pool: int = MAX_POOL,
    require_credentials: bool = False,
) -> AsyncIterator[Any]:
    """An entered client. botocore makes one attempt per call: the store's own retry layer (calls.py) does
    the retrying, with its own bounds, so retries never multiply. Credentials: the standard AWS chain;
    `require_credentials`: raise NoCredentialsError at once when it finds none (a one-shot command would
    otherwise retry every request it signs, then report it as a DynamoDB failure). The session keeps what it
    found, so the client does not look again."""
    import aioboto3
    from botocore.config import Config

    config = Config(
        connect_timeout=request_timeout,
        read_timeout=request_timeout,
        max_pool_connections=max_pool,
        retries={"mode": "standard", "total_max_attempts": 1},
        # DynamoDB validates every request itself; botocore's client-side check of the store's generated
        # requests (tested against moto with it on) costs about a millisecond of CPU per call.
        parameter_validation=False,
        user_agent=user_agent(),
    )
    session = aioboto3.Session(region_name=region)
    if require_credentials and await session.get_credentials() is None:
        raise NoCredentialsError("no AWS credentials found")
    async with session.client("dynamodb", endpoint_url=endpoint or None, config=config) as client:
        yield client
