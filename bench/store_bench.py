"""Store benchmark against a local DynamoDB (moto, serialized, in its own process).

Prints one JSON object per line: {"figure": ..., "value": ..., "unit": ...}. Compare runs, don't assert.
Absolute numbers measure moto on this machine, not DynamoDB; round trips per operation carry over.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

from failover_operator.store import DynamoDBService, LockHeldError, ensure_table
from harness.dynamo import dynamodb_client, moto_process


def emit(figure: str, value: float, unit: str) -> None:
    print(json.dumps({"figure": figure, "value": round(value, 3), "unit": unit}), flush=True)


async def heartbeats_sequential(service: DynamoDBService, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        await service.state.update_cluster_status("bench", "web", "OK", "PRIMARY", {}, observed_epoch=1)
    return count / (time.perf_counter() - start)


async def heartbeats_concurrent(service: DynamoDBService, tasks: int, per_task: int) -> float:
    async def worker(i: int) -> None:
        for _ in range(per_task):
            await service.state.update_cluster_status("bench", f"g{i}", "OK", "PRIMARY", {}, observed_epoch=1)

    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(tasks)))
    return tasks * per_task / (time.perf_counter() - start)


async def failover_round_trips(client, table: str) -> float:
    east = DynamoDBService(client, table, "east", "bench")
    west = DynamoDBService(client, table, "west", "bench")
    await east.state.register_group("bench", "fo")
    await west.state.update_cluster_status("bench", "fo", "OK", "STANDBY", {})
    before = west.call.calls
    await west.operations.execute_failover("bench", "fo", "fo-1", "west", "bench")
    return west.call.calls - before


async def lock_latency(client, table: str, samples: int) -> tuple[float, float]:
    service = DynamoDBService(client, table, "east", "bench")
    latencies = []
    for i in range(samples):
        start = time.perf_counter()
        lease = await service.operations.acquire_lock("bench", f"lock{i % 10}", "bench")
        latencies.append(time.perf_counter() - start)
        await service.operations.release_lock("bench", f"lock{i % 10}", lease)
    latencies.sort()
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]


async def contended_lock(client, table: str, contenders: int) -> float:
    services = [DynamoDBService(client, table, f"c{i}", "bench") for i in range(contenders)]
    start = time.perf_counter()
    results = await asyncio.gather(
        *(s.operations.acquire_lock("bench", "contended", "race") for s in services), return_exceptions=True
    )
    elapsed = time.perf_counter() - start
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, LockHeldError) for r in results if isinstance(r, BaseException))
    return elapsed


async def main(quick: bool) -> None:
    n = 50 if quick else 300
    with moto_process() as endpoint:
        async with dynamodb_client(endpoint) as client:
            table = f"bench-{uuid.uuid4().hex[:8]}"
            await ensure_table(client, table)
            service = DynamoDBService(client, table, "east", "bench")
            await service.state.register_group("bench", "web")
            emit("heartbeat_writes_sequential", await heartbeats_sequential(service, n), "writes/s")
            emit(
                "heartbeat_writes_50_concurrent", await heartbeats_concurrent(service, 50, max(2, n // 25)), "writes/s"
            )
            emit("execute_failover_round_trips", await failover_round_trips(client, table), "requests")
            p50, p99 = await lock_latency(client, table, n)
            emit("acquire_lock_latency_p50", p50 * 1000, "ms")
            emit("acquire_lock_latency_p99", p99 * 1000, "ms")
            emit("acquire_lock_50_contenders_wall", await contended_lock(client, table, 50) * 1000, "ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples (CI smoke run)")
    asyncio.run(main(parser.parse_args().quick))
