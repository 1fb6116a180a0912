"""A Region lost, the table unreachable, and the steady state, with the table an MRSC global table: measured in the
fault simulation's world with Regions (harness/simulation, the region draw's world).

Three clusters, each in its own Region: east in us-east-1 (it owns the group), west in us-east-2, north in
us-west-2. The table has an endpoint per Region; each operator talks to it through the store's RegionalClient,
its own Region's endpoint first, then the nearest: a few ms one way to its own Region, tens to the others, a write
and a strongly consistent read waiting for another Region. Virtual time: machine load does not change the
numbers, and a seed replays them exactly (the samples run in fresh processes with PYTHONHASHSEED=0). Every
cluster's clock keeps the simulation's offset but runs at the true rate (as bench/rto.py does by default).

Scenarios, each over several seeds (the fault at a random phase within two intervals, after a warm-up):

- `owner_region_lost` (`partitioned`: its cluster cut off from every endpoint, its operator alive; `down`: its
  operator dead too, its watchdog scaling the copy down): us-east-1 lost for the rest of the trial. The time
  until another Region's cluster serves (bound: T + 2h), and the time two clusters served at once (0).
- `other_region_lost`: us-east-2 or us-west-2 lost (a standby's Region): the time nobody served (0) and the
  owner changes (0).
- `owner_endpoint_lost` (`refuse`: connections refused; `timeout`: they time out, after 1 s): only us-east-1's
  endpoint lost, for everyone: the owner's client moves to us-east-2. Downtime (0), owner changes (0), and the
  owner's fences (0).
- `table_unreachable`: every endpoint unreachable for everyone for 2T: owner changes (0), and the time from the
  table's return until the owner serves again (bound: one interval h), over the samples where it does (`missed`:
  those where it never does, the group having moved), and until anyone serves.
- `steady`: nothing happens: DynamoDB requests per cluster per heartbeat interval (what the endpoints received).

Prints one JSON object per line: {"figure": ..., "value": ..., "unit": ..., ...}. `python -m bench.region`,
`make bench-region`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import product
from multiprocessing import get_context
from typing import Any

from harness.simulation.trial import Fault, Trial, run
from harness.simulation.world import Timing, World, placed

TIMINGS: tuple[tuple[float, float], ...] = ((1.0, 3.0), (5.0, 15.0))  # (h, T): short, and the project's defaults
CLUSTERS = ["east", "west", "north"]  # us-east-1 (the owner), us-east-2, us-west-2
SCENARIOS = (
    "owner_region_lost/partitioned",
    "owner_region_lost/down",
    "other_region_lost",
    "owner_endpoint_lost/refuse",
    "owner_endpoint_lost/timeout",
    "table_unreachable",
)
STEADY_WINDOW = 20  # intervals counted in the steady state, after a warm-up of 10


@dataclass
class Sample:
    """One trial's measures (seconds; None: it did not happen within the trial)."""

    scenario: str
    served_elsewhere: float | None = None  # after the fault, another cluster than the owner serves
    overlap: float = 0.0  # two clusters serving at once, anywhere in the trial
    downtime: float = 0.0  # nobody serving, after the fault
    owner_changes: int = 0
    fences: int = 0  # the owner's (`Fenced` events)
    served_again: float | None = None  # after the table's return, the owner at the fault serves again
    anyone_serves: float | None = None  # after the table's return, some cluster serves
    requests: dict[str, float] = field(default_factory=dict)  # per cluster per interval (steady)
    violations: int = 0  # the simulation checker's verdict on the trial


def timing(h: float, heartbeat: float) -> Timing:
    return Timing(interval=h, heartbeat=heartbeat, unhealthy=heartbeat + 2 * h, transitory=4 * heartbeat)


def bound(h: float, heartbeat: float) -> float:
    return heartbeat + 2 * h


def measure(h: float, heartbeat: float, scenario: str, seed: int) -> Sample:
    """One trial of `scenario` with heartbeatInterval h and timeouts.heartbeat T."""
    rng = random.Random(seed)
    at = round(2.0 + 3 * h + rng.uniform(0.0, 2 * h), 3)
    sample = Sample(scenario)
    counts: dict[float, dict[str, int]] = {}
    if scenario == "steady":
        at = 10 * h
        faults: list[Fault] = []
        duration = at + STEADY_WINDOW * h + 1.0
    elif scenario.startswith("owner_region_lost"):
        lost = scenario.split("/")[1]
        duration = at + 2 * bound(h, heartbeat) + 2.0
        faults = [Fault(at, "region_lost", "us-east-1", duration, {"lost": lost, "mode": rng.choice(MODES)})]
    elif scenario.startswith("owner_endpoint_lost"):
        duration = at + 2 * bound(h, heartbeat) + 2.0
        faults = [Fault(at, "endpoint_lost", "us-east-1", duration, {"mode": scenario.split("/")[1]})]
    elif scenario == "other_region_lost":
        duration = at + 2 * bound(h, heartbeat) + 2.0
        region = ("us-east-2", "us-west-2")[seed % 2]
        faults = [Fault(at, "region_lost", region, duration, {"lost": "partitioned", "mode": rng.choice(MODES)})]
    else:
        duration = at + 2 * heartbeat + 2 * bound(h, heartbeat) + 2.0
        faults = [Fault(at, "table_unreachable", "*", 2 * heartbeat, {"mode": rng.choice(MODES)})]

    def on_world(world: World) -> None:
        for cluster in world.clusters.values():
            cluster.clock.rate = 1.0

        async def count(when: float) -> None:
            await asyncio.sleep(when)
            counts[when] = {name: sum(p.requests for p in c.paths) for name, c in world.clusters.items()}

        if scenario == "steady":
            world.loop.create_task(count(at))
            world.loop.create_task(count(at + STEADY_WINDOW * h))

    trial = Trial(seed, CLUSTERS, timing(h, heartbeat), faults, duration, watchdog=True, regions=placed(CLUSTERS))
    outcome = run(trial, on_world=on_world)
    world = outcome.world
    sample.violations = len(outcome.verdict.violations)
    pieces = _serving(world, duration)
    sample.overlap = sum(b - a for a, b, who in pieces if len(who) > 1)
    sample.owner_changes = len(world.ownership) - 1
    sample.fences = sum(1 for e in world.story if e.cluster == "east" and e.text.startswith("Fenced:"))
    if scenario == "steady":
        first, last = counts[at], counts[at + STEADY_WINDOW * h]
        sample.requests = {name: (last[name] - first[name]) / STEADY_WINDOW for name in CLUSTERS}
        return sample
    sample.downtime = sum(min(b, duration) - max(a, at) for a, b, who in pieces if not who and b > at)
    others = [a for a, b, who in pieces if a >= at and who - {"east"}]
    sample.served_elsewhere = min(others) - at if others else None
    if scenario == "table_unreachable":
        back = at + 2 * heartbeat
        again = [a for a, b, who in pieces if b > back and "east" in who]
        sample.served_again = max(0.0, again[0] - back) if again else None
        anyone = [a for a, b, who in pieces if b > back and who]
        sample.anyone_serves = max(0.0, anyone[0] - back) if anyone else None
    return sample


MODES = ("refuse", "timeout")  # how the lost endpoints fail requests (drawn per sample)


def _serving(world: World, end: float) -> list[tuple[float, float, frozenset[str]]]:
    """(from, to, who serves) over the trial."""
    changes = sorted((t, name, up) for name, c in world.clusters.items() for t, up in c.kube.serving)
    pieces: list[tuple[float, float, frozenset[str]]] = []
    now, who = 0.0, set[str]()
    for t, name, up in changes:
        if t > now:
            pieces.append((now, t, frozenset(who)))
            now = t
        if up:
            who.add(name)
        else:
            who.discard(name)
    pieces.append((now, end, frozenset(who)))
    return pieces


def percentile(values: list[float], q: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _line(figure: str, value: float | None, unit: str, **context: Any) -> dict[str, Any]:
    shown = round(value, 3) if value is not None and math.isfinite(value) else None
    return {"figure": figure, "value": shown, "unit": unit, **context}


def figures(h: float, heartbeat: float, scenario: str, samples: list[Sample]) -> list[dict[str, Any]]:
    """The JSON lines of one timing and scenario."""
    common = {"h": h, "T": heartbeat, "scenario": scenario, "samples": len(samples)}
    common["violations"] = sum(s.violations for s in samples)
    overlap = _line(f"{scenario.split('/')[0]}_overlap_max", max(s.overlap for s in samples), "s", expect=0, **common)
    if scenario.startswith("owner_region_lost"):
        limit = bound(h, heartbeat)
        times = [s.served_elsewhere if s.served_elsewhere is not None else math.inf for s in samples]
        missed = sum(s.served_elsewhere is None for s in samples)
        return [
            *(
                _line(f"owner_region_lost_serve_elsewhere_{name}", value, "s", bound_seconds=limit, **common)
                | {"within_bound": value <= limit, "missed": missed}
                for name, value in (("p50", percentile(times, 0.5)), ("max", max(times)))
            ),
            overlap,
        ]
    if scenario.startswith("owner_endpoint_lost"):
        return [
            _line("owner_endpoint_lost_downtime_max", max(s.downtime for s in samples), "s", expect=0, **common),
            _line(
                "owner_endpoint_lost_owner_changes", sum(s.owner_changes for s in samples), "count", expect=0, **common
            ),
            _line("owner_endpoint_lost_fences", sum(s.fences for s in samples), "count", expect=0, **common),
        ]
    if scenario == "other_region_lost":
        return [
            _line("surviving_region_downtime_max", max(s.downtime for s in samples), "s", expect=0, **common),
            _line("surviving_region_owner_changes", sum(s.owner_changes for s in samples), "count", expect=0, **common),
            overlap,
        ]
    if scenario == "table_unreachable":
        # Over the samples whose owner served again (`missed`: those where it never did: the group moved).
        again = [s.served_again for s in samples if s.served_again is not None]
        anyone = [s.anyone_serves if s.anyone_serves is not None else math.inf for s in samples]
        missed = len(samples) - len(again)
        return [
            _line(
                "table_unreachable_owner_changes", sum(s.owner_changes for s in samples), "count", expect=0, **common
            ),
            *(
                _line(f"table_unreachable_owner_serves_again_{name}", value, "s", bound_seconds=h, **common)
                | {"within_bound": value is not None and value <= h and not missed, "missed": missed}
                | {"outage_seconds": 2 * heartbeat}
                for name, value in (
                    ("p50", percentile(again, 0.5) if again else None),
                    ("max", max(again) if again else None),
                )
            ),
            _line("table_unreachable_someone_serves_max", max(anyone), "s", bound_seconds=h, **common),
            overlap,
        ]
    per_cluster = [value for s in samples for value in s.requests.values()]
    return [
        _line("steady_requests_per_cluster_per_interval", sum(per_cluster) / len(per_cluster), "requests", **common)
        | {"max": round(max(per_cluster), 3), "window_intervals": STEADY_WINDOW},
    ]


def _one(job: tuple[float, float, str, int]) -> Sample:
    return measure(*job)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.region", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=6, help="trials per timing and scenario (default 6)")
    parser.add_argument("--seed", type=int, default=1, help="sample i uses seed SEED + i (default 1)")
    parser.add_argument("--jobs", type=int, default=2, help="processes (the numbers do not depend on it)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    cases = list(product(TIMINGS, (*SCENARIOS, "steady")))
    jobs = [(h, t, scenario, args.seed + i) for (h, t), scenario in cases for i in range(args.samples)]
    os.environ["PYTHONHASHSEED"] = "0"  # the workers start afresh: set and dict orders, hence trials, replay
    with ProcessPoolExecutor(max(1, args.jobs), mp_context=get_context("spawn")) as pool:
        results = list(pool.map(_one, jobs, chunksize=2))
    for n, ((h, t), scenario) in enumerate(cases):
        for line in figures(h, t, scenario, results[n * args.samples : (n + 1) * args.samples]):
            emit(line)
    emit({"figure": "wall_time", "value": round(time.monotonic() - started, 1), "unit": "s"})


def emit(line: dict[str, Any]) -> None:
    print(json.dumps(line, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
