"""Automatic-failover time (RTO): from the moment a fault hits the owner cluster to the moment a standby serves
the group — its Deployment has spec.replicas > 0, the project's definition of serving (`rto_*`) — and to the
moment all its pods are also ready (`ready_*`, which adds the pods' start-up).

Measured in the project's deterministic fault simulation (harness/simulation): the operator's own decision and
reconciler code, for 2 or 3 clusters, on a virtual-time event loop, against an in-memory DynamoDB and simulated
API servers, each cluster's operator with its watchdog. Virtual time: machine load does not change the
numbers, and a seed replays them exactly (the trials run in fresh processes with PYTHONHASHSEED=0). Not
included: real network, DynamoDB and API-server latency (every call answers at once), nor a real pod's
start-up — a fixed simulated 0.5 s (`startup`, printed on its own line so that it can be subtracted or
replaced by your own).

Each sample: the first cluster owns the group; after a warm-up, at a random phase within two heartbeat intervals,
one fault hits it for the rest of the trial: `crash` (its operator dies; the watchdog scales its pods down),
`pause` (SIGSTOP) or `dynamo_down` (it is cut off from DynamoDB and fences). Every cluster's clock keeps the
simulation's offset (up to ±1 h, which the protocol ignores) but runs at the true rate, as real clocks do to a
few parts per million ("clocks": "real"); `--skewed-clocks` gives them the simulation's ±10 % rates, which
stretch a standby's wait of T on its own clock up to T/0.9 ("clocks": "skewed").

For each timing (heartbeatInterval h / timeouts.heartbeat T; unhealthyPrimary 4T and transitoryState 20T, the
relations of the project's defaults 5s/15s/60s/5m) and fault: the RTO's p50, p95 and max, each with its
ratio to T, against the goal T + 2h (the takeover transaction, the proof of ownership and the scale-up are one
virtual instant here); and the same until every pod is ready (`ready_*`), so that the pods' start-up is the
difference.

Reading the numbers: a standby judges the owner gone once the owner's heartbeat has stayed unchanged for T *as
it observed it*. It sees the last heartbeat at its next read (up to h after the write, itself up to h before the
fault) and notices the T elapsed at its next tick (up to h later): the takeover lands between about T - h and
T + 2h after the fault (T/rate on a slow clock). The scale-up, the pods' start-up and the controllers' round
come on top of that.

Prints one JSON object per line: {"figure": ..., "value": ..., "unit": ..., ...}. `python -m bench.rto`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import product
from multiprocessing import get_context
from typing import Any

from harness.simulation.kube import SimKube
from harness.simulation.trial import Fault, Trial, run
from harness.simulation.world import Timing, World

TIMINGS: tuple[tuple[float, float], ...] = ((1.0, 3.0), (0.5, 2.0), (5.0, 15.0))  # (h, T)
FAULTS = ("crash", "pause", "dynamo_down")
CLUSTERS = ("east", "west", "north")  # east owns the group


@dataclass(frozen=True)
class Sample:
    """Seconds after the fault, None if it did not happen within the trial."""

    scaled_up: float | None  # another cluster's Deployment has spec.replicas > 0 (kube.serving): the RTO
    ready: float | None  # ... and every pod of it is ready
    startup: float  # the simulated pods' start-up, included in `ready`
    violations: int  # the simulation checker's verdict on the trial (safety, liveness, durability)


def timing(h: float, heartbeat: float) -> Timing:
    return Timing(interval=h, heartbeat=heartbeat, unhealthy=4 * heartbeat, transitory=20 * heartbeat)


def goal(h: float, heartbeat: float) -> float:
    return heartbeat + 2 * h


def measure(h: float, heartbeat: float, fault: str, seed: int, *, skewed_clocks: bool = False) -> Sample:
    """One trial: 2 or 3 clusters (by the seed), the owner hit by `fault` at a phase drawn from the seed."""
    rng = random.Random(seed)
    clusters = list(CLUSTERS[: 2 + seed % 2])
    at = round(2.0 + 3 * h + rng.uniform(0.0, 2 * h), 3)
    duration = at + 2 * goal(h, heartbeat) + 2.0
    ready: dict[str, float] = {}

    def on_world(world: World) -> None:
        for name in clusters[1:]:
            _note_ready(world.clusters[name].kube, ready)
        if not skewed_clocks:
            for cluster in world.clusters.values():
                cluster.clock.rate = 1.0

    trial = Trial(seed, clusters, timing(h, heartbeat), [Fault(at, fault, clusters[0], duration)], duration, True)
    outcome = run(trial, on_world=on_world)
    up = [t for name in clusters[1:] for t, serving in outcome.world.clusters[name].kube.serving if serving]
    return Sample(
        scaled_up=min(up) - at if up else None,
        ready=min(ready.values()) - at if ready else None,
        startup=outcome.world.startup,
        violations=len(outcome.verdict.violations),
    )


def _note_ready(kube: SimKube, ready: dict[str, float]) -> None:
    """Note when the cluster first serves with every pod ready: its controllers set readyReplicas."""
    step = kube.controller_step

    def observed(startup: float, started: dict[tuple[str, str, str], float]) -> None:
        step(startup, started)
        if kube.name not in ready and kube.is_serving() and all(_pods_ready(obj) for obj in _workloads(kube)):
            ready[kube.name] = kube.now()

    kube.controller_step = observed  # type: ignore[method-assign]


def _workloads(kube: SimKube) -> Iterator[dict[str, Any]]:
    return (obj for (plural, _, _), obj in kube.objects.items() if plural in ("deployments", "statefulsets"))


def _pods_ready(obj: dict[str, Any]) -> bool:
    wanted = (obj.get("spec") or {}).get("replicas", 1)
    return int((obj.get("status") or {}).get("readyReplicas") or 0) >= wanted


def percentile(values: list[float], q: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def figures(h: float, heartbeat: float, fault: str, samples: list[Sample], clocks: str) -> list[dict[str, Any]]:
    """The JSON lines of one timing and fault."""
    target = goal(h, heartbeat)
    common = {
        "h": h,
        "T": heartbeat,
        "fault": fault,
        "goal_seconds": target,
        "samples": len(samples),
        "missed": sum(s.scaled_up is None for s in samples),
        "violations": sum(s.violations for s in samples),
        "clocks": clocks,
    }
    rto = [s.scaled_up if s.scaled_up is not None else math.inf for s in samples]
    ready = [s.ready if s.ready is not None else math.inf for s in samples]
    stats = [
        ("rto_p50", percentile(rto, 0.5)),
        ("rto_p95", percentile(rto, 0.95)),
        ("rto_max", max(rto)),
        ("ready_p50", percentile(ready, 0.5)),
        ("ready_max", max(ready)),
    ]
    lines = []
    for figure, value in stats:
        lines.append(
            {
                "figure": figure,
                "value": round(value, 3) if math.isfinite(value) else None,
                "unit": "s",
                "ratio_to_T": round(value / heartbeat, 3) if math.isfinite(value) else None,
                "within_goal": value <= target,
                **common,
            }
        )
    return lines


def _one(job: tuple[float, float, str, int, bool]) -> Sample:
    h, heartbeat, fault, seed, skewed = job
    return measure(h, heartbeat, fault, seed, skewed_clocks=skewed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rto", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20, help="trials per timing and fault (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="sample i uses seed SEED + i (default 1)")
    parser.add_argument("--jobs", type=int, default=2, help="processes (the numbers do not depend on it)")
    parser.add_argument("--skewed-clocks", action="store_true", help="clock rates ±10 %% apart (the simulation's)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    cases = list(product(TIMINGS, FAULTS))
    jobs = [(h, t, fault, args.seed + i, args.skewed_clocks) for (h, t), fault in cases for i in range(args.samples)]
    os.environ["PYTHONHASHSEED"] = "0"  # the workers start afresh: set and dict orders, hence trials, replay
    with ProcessPoolExecutor(max(1, args.jobs), mp_context=get_context("spawn")) as pool:
        results = list(pool.map(_one, jobs, chunksize=4))
    clocks = "skewed" if args.skewed_clocks else "real"
    emit({"figure": "startup", "value": results[0].startup, "unit": "s", "note": "simulated pod start-up, in ready_*"})
    for n, ((h, t), fault) in enumerate(cases):
        for line in figures(h, t, fault, results[n * args.samples : (n + 1) * args.samples], clocks):
            emit(line)
    emit({"figure": "wall_time", "value": round(time.monotonic() - started, 1), "unit": "s"})


def emit(line: dict[str, Any]) -> None:
    print(json.dumps(line, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
