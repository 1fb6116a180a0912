"""Opening the aioboto3 DynamoDB client the operator uses: one Region's, or one per replica Region of a global
table with multi-Region strong consistency, behind a RegionalClient (store/regions.py)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from .regions import BACK_AFTER, Region, RegionalClient

MAX_POOL = 50  # connections of the operator's client (of each Region's)
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
    """An entered client of one Region (see `open_regions`)."""
    async with open_regions(
        [Region(region, endpoint)],
        request_timeout=request_timeout,
        max_pool=max_pool,
        require_credentials=require_credentials,
    ) as client:
        yield client


@contextlib.asynccontextmanager
async def open_regions(
    regions: Sequence[Region],
    *,
    request_timeout: float = 5.0,
    max_pool: int = MAX_POOL,
    require_credentials: bool = False,
    monotonic: Callable[[], float] = time.monotonic,
    back_after: float = BACK_AFTER,
    on_move: Callable[[str, str, str], None] | None = None,
) -> AsyncIterator[Any]:
    """An entered client: of the one Region, or, given several (the table's replica Regions in our order of
    preference), a RegionalClient over one client per Region, each with its Region's name and endpoint — a request
    goes to the first Region that answers (`monotonic`, `back_after`, `on_move`: see RegionalClient). Every
    request is sent as the store made it; only where it goes changes.

    botocore makes one attempt per call: the store's own retry layer (calls.py) does the retrying, with its own
    bounds, so retries never multiply. Credentials: the standard AWS chain, found once for every Region;
    `require_credentials`: raise NoCredentialsError at once when it finds none (a one-shot command would
    otherwise retry every request it signs, then report it as a DynamoDB failure). The session keeps what it
    found, so the clients do not look again."""
    import aioboto3
    from botocore.config import Config

    if not regions:
        raise ValueError("no DynamoDB Region to open a client for")
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
    session = aioboto3.Session(region_name=regions[0].name)
    if require_credentials and await session.get_credentials() is None:
        raise NoCredentialsError("no AWS credentials found")
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            (
                region.name,
                await stack.enter_async_context(
                    session.client(
                        "dynamodb", region_name=region.name, endpoint_url=region.endpoint or None, config=config
                    )
                ),
            )
            for region in regions
        ]
        if len(clients) == 1:
            yield clients[0][1]
        else:
            yield RegionalClient(clients, monotonic, back_after=back_after, on_move=on_move)
