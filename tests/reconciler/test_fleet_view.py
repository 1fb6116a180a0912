"""The fleet's liveness, read once for every group that asks (reconciler/fleet.py): a failed read is each
asker's error, and the shared read itself never ends in an exception — kopf reports such a task, left behind by
an operator that stops, as the operator's failure at exit (a SIGTERM then ended in a traceback and exit 1)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from failover_operator.clock import FakeClock
from failover_operator.reconciler.fleet import FleetView
from failover_operator.store import StoreError


class Failing:
    async def read(self) -> None:
        await asyncio.sleep(0)
        raise StoreError("DynamoDB query failed after 6 attempts: Read timeout")


async def test_a_failed_read_is_the_askers_error_and_no_task_ends_in_an_exception() -> None:
    ctx = SimpleNamespace(clock=FakeClock(), store=SimpleNamespace(liveness=Failing()), runners={})
    view = FleetView(ctx)  # type: ignore[arg-type]
    asked = [asyncio.ensure_future(view.liveness(max_age=1.0)) for _ in range(3)]
    for asker in asked:
        with pytest.raises(StoreError, match="Read timeout"):
            await asker
    reading = view._reading
    assert reading is not None and reading.done() and reading.exception() is None
