"""Fleets of in-process operators on real API servers: `async with fleet_of("east", "west") as fleet:`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest

from harness.fleet import Fleet, running_fleet

from ..conftest import RealClusters

FleetOf = Callable[..., contextlib.AbstractAsyncContextManager[Fleet]]


@pytest.fixture
def fleet_of(moto_endpoint: str, table: str, apiservers: RealClusters) -> FleetOf:
    """Clusters by name, each a real kube-apiserver with the real operator (in-process), sharing this test's
    table; options as for harness.fleet.running_fleet."""

    def make(*names: str, **options: Any) -> contextlib.AbstractAsyncContextManager[Fleet]:
        return running_fleet(moto_endpoint, table, *names, clusters=apiservers(*names), **options)

    return make
