"""One simulated cluster's path to DynamoDB: the in-memory DynamoDB behind the faults the schedule sets.

The operator's store sees exactly what botocore would raise: a connection it cannot make, an answer that never
comes (the request *was* applied: a lost answer), throttling and 5xx. Reads and writes can be cut separately.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from ..memdynamo import MemoryClient

READS = frozenset({"get_item", "batch_get_item", "query", "describe_table"})


@dataclass
class NetworkFaults:
    """What is wrong between this cluster and DynamoDB right now."""

    reads_down: bool = False
    writes_down: bool = False
    lose_answers: float = 0.0  # probability that a write is applied but its answer is lost
    latency: float = 0.0  # seconds added to every answer (slow, not lost)
    throttle: float = 0.0  # probability of a throttling error (nothing applied)
    server_errors: float = 0.0  # probability of a 500 (nothing applied)

    @property
    def down(self) -> bool:
        return self.reads_down and self.writes_down


class FaultyClient:
    """The aioboto3 client methods the store calls, through this cluster's faults."""

    def __init__(self, inner: MemoryClient, faults: NetworkFaults, rng: random.Random, timeout: float) -> None:
        self.inner = inner
        self.faults = faults
        self.rng = rng
        self.timeout = timeout  # what botocore's read timeout would be: how long a lost answer takes to fail

    def __getattr__(self, operation: str) -> Any:
        method = getattr(self.inner, operation)

        async def call(**params: Any) -> Any:
            faults = self.faults
            write = operation not in READS
            if (write and faults.writes_down) or (not write and faults.reads_down):
                await asyncio.sleep(min(self.timeout, 1.0))  # a connect timeout
                raise EndpointConnectionError(endpoint_url="http://dynamodb.simulated")
            if faults.latency:
                await asyncio.sleep(faults.latency)
            if faults.throttle and self.rng.random() < faults.throttle:
                raise _client_error("ProvisionedThroughputExceededException", 400, operation)
            if faults.server_errors and self.rng.random() < faults.server_errors:
                raise _client_error("InternalServerError", 500, operation)
            result = await method(**params)
            if write and faults.lose_answers and self.rng.random() < faults.lose_answers:
                await asyncio.sleep(self.timeout)
                raise ReadTimeoutError(endpoint_url="http://dynamodb.simulated")
            return result

        return call


def _client_error(code: str, status: int, operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},  # type: ignore[typeddict-item]
        operation,
    )
