"""What an operator's metrics and logs show of groups that do not exist or are being deleted, on the real code
path (kopf handlers, lifecycle, runner) against a real API server and moto: no series for a group this cluster
does not have, none left for a deleted one, and every line of a deletion naming its group."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator

from prometheus_client import generate_latest

from failover_operator.logs import JsonFormatter
from failover_operator.metrics import Metrics
from harness.cluster import eventually
from harness.fleet import Member

from .helpers import failover_status, setup_group
from .manifests import failover

FG = ("failover.dev/v1alpha1", "failovergroups")


async def finished(member: Member, name: str) -> dict[str, object]:
    async def check() -> dict[str, object]:
        status = await failover_status(member, name)
        assert status.get("phase") in ("Succeeded", "Failed"), status
        return status

    return await eventually(check, within=15)


def series(metrics: Metrics) -> list[str]:
    """Every sample line the operator's /metrics would show."""
    text = generate_latest(metrics.registry).decode()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def of_group(metrics: Metrics, name: str) -> list[str]:
    return [line for line in series(metrics) if 'namespace="shop"' in line and f'name="{name}"' in line]


class _Lines(logging.Handler):
    """Every record, as the JSON line LOG_FORMAT=json would print."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@contextlib.contextmanager
def json_lines() -> Iterator[list[dict[str, object]]]:
    """The lines of the operator (and of kopf about objects) logged inside the block, at DEBUG and above."""
    handler = _Lines()
    loggers = [logging.getLogger(name) for name in ("failover_operator", "kopf")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


# Loggers whose lines are about one group (the others speak for the cluster: heartbeat, fleet, leadership).
GROUP_LOGGERS = ("failover_operator.group", "failover_operator.lifecycle", "failover_operator.handlers")


async def test_deleting_a_group_removes_its_series_and_every_line_of_it_names_the_group(fleet_of):
    async with fleet_of("east") as fleet:
        east = fleet["east"]
        await setup_group(fleet, "east")
        metrics = east.ctx.metrics
        assert 'failover_group_primary{name="web",namespace="shop"} 1.0' in series(metrics)
        # A Failover that moved nothing is counted where it ran (a move, by the cluster it moved the group to)
        await east.apply(failover("nowhere", "west", [{"name": "web"}]))  # counted: the group exists here
        assert (await finished(east, "nowhere"))["phase"] == "Failed"

        def counted() -> list[str]:  # the status is patched first, then the failover counted
            return [line for line in of_group(metrics, "web") if line.startswith("failover_failovers_total")]

        assert await eventually(counted, within=5) == [
            'failover_failovers_total{automatic="false",mode="CONSISTENCY",name="web",namespace="shop",'
            'outcome="Failed"} 1.0'
        ]
        with json_lines() as lines:
            await east.cluster.delete(*FG, "shop", "web")
            await east.cluster.wait_absent(*FG, "shop", "web", within=10)
        assert of_group(metrics, "web") == []  # no ghost of a deleted group, counters included
        about_the_group = [
            line
            for line in lines
            if str(line["logger"]).startswith(GROUP_LOGGERS)
            or (isinstance(line.get("object"), dict) and line["object"].get("kind") == "FailoverGroup")
        ]
        said = [str(line["message"]) for line in about_the_group]
        assert any("was the last cluster; removed" in message for message in said), said
        unnamed = [line for line in about_the_group if line.get("group") != "shop/web"]
        assert not unnamed, unnamed


async def test_a_failover_naming_a_group_that_does_not_exist_leaves_no_series(fleet_of):
    async with fleet_of("east") as fleet:
        east = fleet["east"]
        await setup_group(fleet, "east")
        await east.apply(failover("ghost", "east", [{"name": "nothing"}]))
        status = await finished(east, "ghost")
        assert status["phase"] == "Failed" and "not registered" in status["message"]
        assert of_group(east.ctx.metrics, "nothing") == []
        assert of_group(east.ctx.metrics, "web")  # the group that exists keeps its series
