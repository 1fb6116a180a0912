"""One trial: a world, a fault schedule (drawn from a seed, or written by a test), the verdict.

A schedule is a list of `Fault`s: at `at` seconds something breaks in one cluster, and `for_` seconds later
it is mended. Every trial ends with a quiet stretch (nothing broken) long enough for a takeover, so that
liveness can be judged, and the operators are left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .checker import Intervals, Verdict, judge
from .network import REGIONS
from .virtual_loop import VirtualLoop
from .world import CLIENT_TIMEOUT, Regions, Timing, World, placed

FENCE_FRACTION = 0.5  # Settings.self_fence_fraction's default, which the simulated operators use
KINDS_V1 = (
    "crash",
    "pause",
    "dynamo_down",
    "dynamo_reads_down",
    "dynamo_writes_down",
    "lose_answers",
    "slow_answers",
    "throttle",
    "server_errors",
    "api_unreachable",
    "api_refuses",
    "timeouts_edit",
    "failover",
    "failover_deleted",
    "group_deleted",
)
KINDS = (*KINDS_V1, "sigterm")
RESTARTS = ("crash", "pause", "sigterm")
NOISE = ("lose_answers", "slow_answers", "throttle", "server_errors")
BLIND = ("api_unreachable", "api_refuses", "dynamo_reads_down", "dynamo_writes_down", "dynamo_down")
REGION_KINDS = ("region_lost", "endpoint_lost", "cut_from_own_endpoint", "table_unreachable")
"""Faults of a world with Regions: a whole Region (its clusters and its endpoint), one Region's endpoint (for
everyone), one cluster's path to its own Region's endpoint, every endpoint (for everyone)."""
ENDPOINT_KINDS = ("region_lost", "endpoint_lost", "table_unreachable", "endpoint_slow")
"""Faults of endpoints (`endpoint_slow`, scripted only and noted for no cluster: every answer of one Region's
endpoint `latency` seconds slower)."""
REGION_LOST = ("partitioned", "down", "blackout")
"""What a lost Region does to its clusters: cut off from every endpoint; and their operators dead too; and their
API servers unreachable too (`dynamo_down`, `crash`, `api_unreachable` at once)."""
KINDS_V5 = (*KINDS, *REGION_KINDS)
DRAWS = (1, 2, 3, 4, 5)
"""How trials are drawn from a seed: 1 the first way (kept, so that the seeds it found replay exactly), 2 with
harder trials: faults that meet on one cluster (a restart under noise, a deletion while paused or blind, a
planned move while the owner is blind), faults on two clusters at once, every kind of restart; 3 the same
trials as 2, half of them with two replicas of the operator per cluster electing a leader (a restart of the
leader is then a hand-off to the other replica); 4 the same trials as 3, a third of them with the group suspended
for a while (maintenance), mostly while something happens to its owner (drawn from a second generator, so that
the rest of each trial is the one draw 3 makes of the seed); 5 (REGION_DRAW) trials of the fourth kind in a
world with Regions: the table an MRSC global table with an endpoint per Region, each cluster in a Region, and
half the faults the Regions' own (REGION_KINDS)."""
DEFAULT_DRAW = 5
"""The draw `make chaos` and `draw()` use unless told otherwise: worlds with Regions, whose MRSC table refuses
transactions (world.MRSC_REFUSES_TRANSACTIONS)."""
REGION_DRAW = 5
"""The draw of worlds with Regions."""


@dataclass
class Fault:
    at: float
    kind: str
    cluster: str
    for_: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        extra = f" {self.options}" if self.options else ""
        return f"{self.at:6.2f}s {self.kind} {self.cluster} for {self.for_:.2f}s{extra}"


@dataclass
class Trial:
    seed: int
    clusters: list[str]
    timing: Timing
    faults: list[Fault]
    duration: float
    watchdog: bool = False
    replicas: int = 1  # of the operator per cluster (2: they elect a leader)
    regions: Regions | None = None  # where the clusters live, with an MRSC table (None: one Region, one table)


@dataclass
class Outcome:
    trial: Trial
    verdict: Verdict
    world: World


def draw(seed: int, version: int = DEFAULT_DRAW) -> Trial:
    """A random trial: 2-5 clusters, their timing, and faults (planned failovers count as faults)."""
    if version == 1:
        return _draw_v1(seed)
    if version == REGION_DRAW:
        return _draw_regions(seed)
    rng = random.Random(seed)
    names = ["east", "west", "north", "south", "central"][: rng.randint(2, 5)]
    interval = rng.choice([0.2, 0.5, 1.0])
    heartbeat = round(interval * rng.choice([3, 4, 6]), 3)
    timing = Timing(interval, heartbeat, heartbeat + 2 * interval, heartbeat * rng.choice([2, 3]))
    start = 2.0 + 2 * interval
    horizon = start + 6 * heartbeat
    faults: list[Fault] = []
    for _ in range(rng.randint(1, 3)):
        # The first cluster is the bootstrap owner: it is where most things that matter happen.
        cluster = names[0] if rng.random() < 0.5 else rng.choice(names)
        at = round(rng.uniform(start, horizon), 3)
        first = _fault(rng, rng.choice(KINDS), cluster, at, names, timing)
        faults.append(first)
        if rng.random() < 0.6:  # something else goes wrong on the same cluster meanwhile
            kind = rng.choice(_COMPANIONS.get(first.kind, KINDS))
            when = round(first.at + rng.uniform(-0.3, 0.8) * max(first.for_, heartbeat), 3)
            faults.append(_fault(rng, kind, cluster, max(start, when), names, timing))
        if rng.random() < 0.25:  # and on another cluster at about the same time
            other = rng.choice([n for n in names if n != cluster])
            when = round(first.at + rng.uniform(-0.5, 0.5) * heartbeat, 3)
            faults.append(_fault(rng, rng.choice(KINDS), other, max(start, when), names, timing))
    faults.sort(key=lambda f: f.at)
    watchdog = rng.random() < 0.5
    replicas = 2 if version >= 3 and rng.random() < 0.5 else 1
    if version >= 4:
        faults = sorted([*faults, *_maintenance(random.Random(seed * 7919 + 4), names, timing)], key=lambda f: f.at)
    return Trial(seed, names, timing, faults, _duration(timing, faults), watchdog=watchdog, replicas=replicas)


MAINTENANCE_COMPANIONS = ("dynamo_down", "dynamo_writes_down", "crash", "sigterm", "pause", "api_unreachable")


def _maintenance(
    rng: random.Random,
    names: list[str],
    timing: Timing,
    companions: tuple[str, ...] = MAINTENANCE_COMPANIONS,
    make: Callable[..., Fault] | None = None,
) -> list[Fault]:
    """A third of the trials: the group suspended for a while; mostly, its bootstrap owner meets a fault of the kind
    maintenance is for (DynamoDB lost, its operator restarted or stopped) while it is, and the resume may come
    while the fault lasts."""
    if rng.random() >= 1 / 3:
        return []
    heartbeat = timing.heartbeat
    start = 2.0 + 2 * timing.interval
    at = round(rng.uniform(start, start + 4 * heartbeat), 3)
    suspended = Fault(at, "suspend", names[0], round(rng.uniform(1.0, 4.0) * heartbeat, 3))
    if rng.random() >= 0.8:
        return [suspended]
    kind = rng.choice(companions)
    when = round(at + rng.uniform(0.1, 0.9) * suspended.for_, 3)
    return [suspended, (make or _fault)(rng, kind, names[0], when, names, timing)]


_COMPANIONS = {
    **{kind: (*NOISE, *BLIND, "group_deleted", "failover") for kind in RESTARTS},  # a restart under noise, ...
    **{kind: (*RESTARTS, "group_deleted", "failover", *BLIND) for kind in NOISE},
    **{kind: (*RESTARTS, *NOISE, "group_deleted", "failover", "failover_deleted") for kind in BLIND},
    "group_deleted": (*RESTARTS, *BLIND, *NOISE),
    "failover": (*RESTARTS, *BLIND, *NOISE, "failover", "group_deleted"),
    "failover_deleted": (*RESTARTS, *BLIND, *NOISE),
    "timeouts_edit": (*RESTARTS, *BLIND),
}


def _fault(rng: random.Random, kind: str, cluster: str, at: float, names: list[str], timing: Timing) -> Fault:
    heartbeat = timing.heartbeat
    length = round(rng.uniform(0.3, 3.0) * heartbeat, 3)
    options = _options(rng, kind, heartbeat)
    if kind in ("failover", "failover_deleted"):
        # Every mode against every owner state: the target is anyone but the cluster the fault is about, which is
        # often the owner (whatever else is happening to it).
        target = rng.choice([n for n in names if n != cluster] or names)
        options.update(target=target, mode=rng.choice(["CONSISTENCY", "UPTIME"]), force=rng.random() < 0.3)
        if kind == "failover_deleted":
            length = round(rng.uniform(0.1, 2.0) * heartbeat, 3)
    return Fault(at, kind, cluster, length, options)


def _options(rng: random.Random, kind: str, heartbeat: float) -> dict[str, Any]:
    """How bad a fault of `kind` is (drawn in the same order by both ways of drawing)."""
    options: dict[str, Any] = {}
    if kind == "lose_answers":
        options["p"] = rng.choice([0.3, 1.0])
    elif kind == "slow_answers":
        options["latency"] = round(rng.uniform(0.1, 0.8) * heartbeat, 3)
    elif kind in ("throttle", "server_errors"):
        options["p"] = rng.choice([0.5, 0.9])
    elif kind == "timeouts_edit":
        options["heartbeat"] = round(heartbeat * rng.choice([0.5, 2.0]), 3)
    return options


_COMPANIONS_V5 = {
    **{kind: (*companions, "endpoint_lost", "cut_from_own_endpoint") for kind, companions in _COMPANIONS.items()},
    "region_lost": (*RESTARTS, *NOISE, *BLIND, "group_deleted", "failover", "endpoint_lost"),
    "endpoint_lost": (*RESTARTS, *NOISE, *BLIND, "group_deleted", "failover", "cut_from_own_endpoint", "region_lost"),
    "cut_from_own_endpoint": (*RESTARTS, *NOISE, *BLIND, "failover", "endpoint_lost"),
    "table_unreachable": (*RESTARTS, *NOISE, "group_deleted", "failover", "api_unreachable"),
}
MAINTENANCE_COMPANIONS_V5 = (*MAINTENANCE_COMPANIONS, "region_lost", "endpoint_lost", "table_unreachable")


def _draw_regions(seed: int) -> Trial:
    """Draw 5: the fourth draw's kind of trial in a world with Regions (each cluster in a Region, drawn; the
    first three in Regions of their own), half of its faults the Regions' own."""
    rng = random.Random(seed)
    names = ["east", "west", "north", "south", "central"][: rng.randint(2, 5)]
    interval = rng.choice([0.2, 0.5, 1.0])
    heartbeat = round(interval * rng.choice([3, 4, 6]), 3)
    timing = Timing(interval, heartbeat, heartbeat + 2 * interval, heartbeat * rng.choice([2, 3]))
    regions = placed(names, tuple(rng.sample(REGIONS, len(REGIONS))), conflicts=rng.choice([0.25, 0.5, 1.0]))
    start = 2.0 + 2 * interval
    horizon = start + 6 * heartbeat

    def make(rng: random.Random, kind: str, cluster: str, at: float, names: list[str], timing: Timing) -> Fault:
        return _region_fault(rng, kind, cluster, at, names, timing, regions)

    faults: list[Fault] = []
    for _ in range(rng.randint(1, 3)):
        cluster = names[0] if rng.random() < 0.5 else rng.choice(names)
        at = round(rng.uniform(start, horizon), 3)
        first = make(rng, rng.choice(REGION_KINDS if rng.random() < 0.5 else KINDS), cluster, at, names, timing)
        faults.append(first)
        if rng.random() < 0.6:  # something else goes wrong on the same cluster meanwhile
            kind = rng.choice(_COMPANIONS_V5.get(first.kind, KINDS_V5))
            when = round(first.at + rng.uniform(-0.3, 0.8) * max(first.for_, heartbeat), 3)
            faults.append(make(rng, kind, cluster, max(start, when), names, timing))
        if rng.random() < 0.25:  # and on another cluster at about the same time
            other = rng.choice([n for n in names if n != cluster])
            when = round(first.at + rng.uniform(-0.5, 0.5) * heartbeat, 3)
            faults.append(make(rng, rng.choice(KINDS_V5), other, max(start, when), names, timing))
    watchdog = rng.random() < 0.5
    replicas = 2 if rng.random() < 0.5 else 1
    suspended = _maintenance(random.Random(seed * 7919 + 5), names, timing, MAINTENANCE_COMPANIONS_V5, make)
    faults = sorted([*faults, *suspended], key=lambda f: f.at)
    return Trial(
        seed, names, timing, faults, _duration(timing, faults), watchdog=watchdog, replicas=replicas, regions=regions
    )


def _region_fault(
    rng: random.Random, kind: str, cluster: str, at: float, names: list[str], timing: Timing, regions: Regions
) -> Fault:
    """A fault of draw 5: one of the Regions' own (about `cluster`: its Region, mostly), or any other kind."""
    if kind not in REGION_KINDS:
        return _fault(rng, kind, cluster, at, names, timing)
    heartbeat = timing.heartbeat
    options: dict[str, Any] = {"mode": rng.choice(["refuse", "timeout"])}
    if kind == "table_unreachable":  # every endpoint, for everyone
        return Fault(at, kind, "*", round(rng.uniform(0.5, 3.0) * heartbeat, 3), options)
    if kind == "cut_from_own_endpoint":
        return Fault(at, kind, cluster, round(rng.uniform(0.3, 3.0) * heartbeat, 3), options)
    region = regions.homes[cluster] if rng.random() < 0.7 else rng.choice(REGIONS)
    if kind == "endpoint_lost":
        return Fault(at, kind, region, round(rng.uniform(0.3, 3.0) * heartbeat, 3), options)
    options["lost"] = rng.choice(REGION_LOST)
    return Fault(at, kind, region, round(rng.uniform(0.5, 4.0) * heartbeat, 3), options)


def _draw_v1(seed: int) -> Trial:
    """The first way of drawing trials (seeds found with it replay exactly)."""
    rng = random.Random(seed)
    names = ["east", "west", "north", "south", "central"][: rng.randint(2, 5)]
    interval = rng.choice([0.2, 0.5, 1.0])
    heartbeat = round(interval * rng.choice([3, 4, 6]), 3)
    timing = Timing(interval, heartbeat, heartbeat + 2 * interval, heartbeat * rng.choice([2, 3]))
    faults = []
    start = 2.0 + 2 * interval
    horizon = start + 6 * heartbeat
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(KINDS_V1)
        cluster = rng.choice(names)
        at = round(rng.uniform(start, horizon), 3)
        length = round(rng.uniform(0.3, 3.0) * heartbeat, 3)
        options = _options(rng, kind, heartbeat)
        if kind in ("failover", "failover_deleted"):
            options.update(
                target=rng.choice(names), mode=rng.choice(["CONSISTENCY", "UPTIME"]), force=rng.random() < 0.25
            )
            if kind == "failover_deleted":
                length = round(rng.uniform(0.1, 2.0) * heartbeat, 3)
        faults.append(Fault(at, kind, cluster, length, options))
    faults.sort(key=lambda f: f.at)
    return Trial(seed, names, timing, faults, _duration(timing, faults), watchdog=rng.random() < 0.5)


def _duration(timing: Timing, faults: list[Fault]) -> float:
    """Until the last fault's effects are over (a noisy network is judged for one heartbeat timeout after it,
    a timeouts edit for two), then a quiet stretch longer than the checker's longest liveness bound (an owner
    alive but failing: unhealthyPrimary, then the transfer), with the timeouts the edits left."""
    heartbeat, interval, end = timing.heartbeat, timing.interval, 0.0
    for fault in faults:
        if fault.kind == "timeouts_edit":
            new = fault.options["heartbeat"]
            end = max(end, fault.at + 2 * max(heartbeat, new))
            heartbeat, interval = new, min(interval, new / 3)
        else:
            end = max(end, fault.at + fault.for_ + heartbeat)
    longest_bound = (heartbeat + 2 * interval) + 5 * interval + 1.5  # checker._liveness: `failing`
    return round(end + longest_bound + 2 * interval + 1.0, 3)


def run(trial: Trial, *, on_world: Callable[[World], None] | None = None) -> Outcome:
    """Run a trial on a fresh virtual-time loop; deterministic for a given trial (and PYTHONHASHSEED)."""
    logging.getLogger("failover_operator").setLevel(logging.CRITICAL)  # the story keeps what matters
    loop = VirtualLoop(start=0.0)
    try:
        return loop.run_until_complete(_run(trial, on_world))
    finally:
        with contextlib.suppress(Exception):
            _cancel_all(loop)
        loop.close()


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel every task, and those that cancelling starts (a task's cleanup may start another), a few rounds."""
    for _ in range(5):
        tasks = asyncio.all_tasks(loop)
        if not tasks:
            return
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


async def _run(trial: Trial, on_world: Callable[[World], None] | None) -> Outcome:
    random.seed(trial.seed)  # the store's retry jitter
    world = World(trial.seed, trial.clusters, trial.timing, replicas=trial.replicas, regions=trial.regions)
    if on_world is not None:
        on_world(world)
    owner = trial.clusters[0]
    await world.setup(owner)
    conditions: dict[str, dict[str, Intervals]] = {name: {} for name in trial.clusters}
    if not trial.watchdog:
        for name in trial.clusters:
            conditions[name]["watchdog_down"] = [(0.0, trial.duration)]
    for name in trial.clusters:
        world.start(name)
        if trial.watchdog:
            world.start_watchdog(name)
    active: dict[str, list[Fault]] = {}
    actions = asyncio.gather(*(_apply(world, fault, conditions, trial, active) for fault in trial.faults))
    await asyncio.sleep(trial.duration)
    actions.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await actions
    _note_trouble(conditions, world, trial)
    verdict = judge(world, trial.duration, conditions)
    return Outcome(trial, verdict, world)


def _note(conditions: dict[str, dict[str, Intervals]], cluster: str, kind: str, start: float, end: float) -> None:
    conditions[cluster].setdefault(kind, []).append((start, end))


def _note_trouble(conditions: dict[str, dict[str, Intervals]], world: World, trial: Trial) -> None:
    """With Regions: each stretch in which a cluster's requests failed because of an endpoint (lost, or cut off
    from it: refused, timed out, or its answer never came) is DynamoDB failing it, as noise is (`_note_conditions`):
    noisy until a heartbeat timeout after, blind meanwhile, lost if it lasted past the fence limit."""
    timing = trial.timing
    for name, spans in world.trouble.items():
        if name not in conditions:
            continue  # the fleet CLI's
        for start, end in spans:
            _note(conditions, name, "network_noise", start, end + timing.heartbeat)
            _note(conditions, name, "cannot_answer", start, end)
            if end - start >= FENCE_FRACTION * timing.heartbeat:
                _note(conditions, name, "dynamo_lost", start, end + timing.interval)


async def _apply(
    world: World,
    fault: Fault,
    conditions: dict[str, dict[str, Intervals]],
    trial: Trial,
    active: dict[str, list[Fault]],
) -> None:
    """Apply one fault for its time. Faults that overlap on one cluster add up: the cluster's network, API server
    and operator are always what every fault in effect on it says together (`_in_effect`), so that a fault
    that ends does not mend what another, still in effect, broke."""
    await asyncio.sleep(fault.at)
    await _enact(world, fault, conditions, trial, active)


async def _enact(
    world: World,
    fault: Fault,
    conditions: dict[str, dict[str, Intervals]],
    trial: Trial,
    active: dict[str, list[Fault]],
) -> None:
    """`_apply` from the fault's time on."""
    name = fault.cluster
    until = fault.at + fault.for_
    kind = fault.kind
    world.log(name, "fault", str(fault))
    lasting = kind in (*RESTARTS, *NOISE, *BLIND, "dynamo_down", "cut_from_own_endpoint")
    if lasting:
        _note_conditions(conditions, fault, trial)
        mine = active.setdefault(name, [])
        mine.append(fault)
        await _in_effect(world, name, mine, fault)
        await asyncio.sleep(max(0.0, until - world.time()))
        mine.remove(fault)
        await _in_effect(world, name, mine, None)
    elif kind == "timeouts_edit":
        old = world.timing
        new = Timing(
            old.interval,
            fault.options["heartbeat"],
            fault.options["heartbeat"] + 2 * old.interval,
            max(old.transitory, 2 * fault.options["heartbeat"]),
        )
        new = Timing(min(old.interval, new.heartbeat / 3), new.heartbeat, new.unhealthy, new.transitory)
        _note(conditions, name, "timeouts_edit", fault.at, fault.at + 2 * max(old.heartbeat, new.heartbeat))
        await world.edit_timeouts(new)
    elif kind in ("failover", "failover_deleted"):
        failover = f"fo-{int(fault.at * 1000)}"
        world.apply_failover(failover, name, fault.options["target"], fault.options["mode"], fault.options["force"])
        if kind == "failover_deleted":
            await asyncio.sleep(fault.for_)
            await world.delete_failover(failover, name)
    elif kind == "group_deleted":
        _note(conditions, name, "unable", fault.at, trial.duration)
        await world.delete_group(name)
    elif kind == "suspend":
        await _suspend(world, fault, conditions, active)
    elif kind == "fence":
        await _fence(world, fault, conditions)
    elif kind in ENDPOINT_KINDS:
        await _lose_endpoints(world, fault, conditions, trial, active)
    elif kind == "schedule":  # scripted only (never drawn): due `for_` seconds after it is asked
        scheduled = await world.schedule_switchover(name, until, fault.options.get("mode", "CONSISTENCY"))
        if "cancel_at" in fault.options:
            await asyncio.sleep(max(0.0, fault.options["cancel_at"] - world.time()))
            await world.unschedule(scheduled)


async def _lose_endpoints(
    world: World,
    fault: Fault,
    conditions: dict[str, dict[str, Intervals]],
    trial: Trial,
    active: dict[str, list[Fault]],
) -> None:
    """A Region's endpoint lost for everyone (`endpoint_lost`), and with it the Region's clusters (`region_lost`:
    cut off from every endpoint, and as `lost` says, their operators dead and their API servers unreachable too),
    or every endpoint (`table_unreachable`: DynamoDB down for every cluster, noted so), or one endpoint slow
    (`endpoint_slow`), for the fault's time."""
    network = world.network
    assert network is not None, f"{fault.kind} needs a world with Regions"
    regions = network.regions if fault.kind == "table_unreachable" else (fault.cluster,)
    until = fault.at + fault.for_
    if fault.kind == "table_unreachable":
        for name in world.clusters:
            _note(conditions, name, "dynamo_down", fault.at, until)
            _note(conditions, name, "network_noise", fault.at, until)
            _note(conditions, name, "cannot_answer", fault.at, until)
    meanwhile: list[Fault] = []
    if fault.kind == "region_lost":
        lost = fault.options.get("lost", "partitioned")
        kinds = [
            "dynamo_down",
            *(["crash"] if lost != "partitioned" else []),
            *(["api_unreachable"] * (lost == "blackout")),
        ]
        for name, cluster in world.clusters.items():
            if cluster.home == fault.cluster:
                meanwhile += [Fault(fault.at, kind, name, fault.for_, {"region_lost": fault.cluster}) for kind in kinds]
    for region in regions:
        active.setdefault(f"@{region}", []).append(fault)
        _endpoint_in_effect(world, region, active[f"@{region}"])
    await asyncio.gather(asyncio.sleep(fault.for_), *(_enact(world, f, conditions, trial, active) for f in meanwhile))
    for region in regions:
        active[f"@{region}"].remove(fault)
        _endpoint_in_effect(world, region, active[f"@{region}"])
    world.log(fault.cluster, "fault", f"{fault.kind} over")


def _endpoint_in_effect(world: World, region: str, faults: list[Fault]) -> None:
    """Make Region `region`'s endpoint what the faults in effect on it say together."""
    assert world.network is not None
    endpoint = world.network.endpoints[region].faults
    lost = [f for f in faults if f.kind != "endpoint_slow"]
    endpoint.lost = bool(lost)
    endpoint.mode = "timeout" if any(f.options.get("mode") == "timeout" for f in lost) else "refuse"
    endpoint.latency = max((f.options.get("latency", 0.5) for f in faults if f.kind == "endpoint_slow"), default=0.0)


async def _suspend(
    world: World, fault: Fault, conditions: dict[str, dict[str, Intervals]], active: dict[str, list[Fault]]
) -> None:
    """Suspended for the fault's time: nobody may take over meanwhile, nor after the resume until the owner has
    said it no longer holds the group (its next status, once its operator reads the resume)."""
    await world.suspend(True)
    await asyncio.sleep(fault.for_)
    await world.suspend(False)
    timing = world.timing
    after = timing.heartbeat + 4 * timing.interval
    owner = world.ownership[-1][1] if world.ownership else fault.cluster
    back = max([world.time(), *(f.at + f.for_ for f in active.get(owner, []))])
    for name in world.clusters:
        _note(conditions, name, "unable", fault.at, back + after)


async def _fence(world: World, fault: Fault, conditions: dict[str, dict[str, Intervals]]) -> None:
    """Fenced by hand for the fault's time (`fence`, then `unfence`; scripted trials only, never drawn): the cluster
    takes nothing over meanwhile; a group whose owner is fenced is served by nobody, by a person's decision, until
    it is unfenced and its owner has proved ownership again (or been taken over, a timeout later)."""
    name = fault.cluster
    timing = world.timing
    back = fault.at + fault.for_ + timing.heartbeat + 4 * timing.interval
    owner = world.ownership[-1][1] if world.ownership else None
    for other in world.clusters if owner == name else [name]:
        _note(conditions, other, "unable", fault.at, back)
    await world.fence(name, fault.options.get("reason", "by hand"))
    await asyncio.sleep(fault.for_)
    await world.fence(name, None)


def _note_conditions(conditions: dict[str, dict[str, Intervals]], fault: Fault, trial: Trial) -> None:
    """What the checker may excuse while a fault lasts (checker.judge's conditions)."""
    name, kind, at = fault.cluster, fault.kind, fault.at
    until = at + fault.for_
    if kind in RESTARTS:
        _note(conditions, name, "operator_down", at, until + trial.timing.interval)
    elif kind.startswith("dynamo_"):
        if kind in ("dynamo_down", "dynamo_writes_down"):
            _note(conditions, name, "dynamo_down", at, until)
        _note(conditions, name, "network_noise", at, until)
        _note(conditions, name, "cannot_answer", at, until)  # blind to a request, or mute
    elif kind in NOISE:
        _note(conditions, name, "network_noise", at, until + trial.timing.heartbeat)
        p, latency = fault.options.get("p", 0.0), fault.options.get("latency", 0.0)
        limit = FENCE_FRACTION * trial.timing.heartbeat
        # No write confirmed in time: (nearly) every answer failing, answers slower than the fence limit, or lost
        # answers each holding a heartbeat for longer than it (a few in flight, and none may come back in time).
        if p >= 0.9 or latency >= limit or (kind == "lose_answers" and limit <= CLIENT_TIMEOUT):
            _note(conditions, name, "dynamo_lost", at, until + trial.timing.interval)
        if p >= 0.5 or latency >= trial.timing.interval / 2:  # a read and a write may not fit in an interval
            _note(conditions, name, "cannot_answer", at, until)
    elif kind in ("api_unreachable", "api_refuses"):
        _note(conditions, name, "api_down", at, until)


async def _in_effect(world: World, name: str, faults: list[Fault], started: Fault | None) -> None:
    """Make cluster `name` what the faults in effect on it say together; `started`: the one that just began."""
    cluster = world.clusters[name]
    kinds = [f.kind for f in faults]
    network = cluster.network
    network.reads_down = any(k in ("dynamo_down", "dynamo_reads_down") for k in kinds)
    network.writes_down = any(k in ("dynamo_down", "dynamo_writes_down") for k in kinds)
    for kind, attribute, option, default in (
        ("lose_answers", "lose_answers", "p", 1.0),
        ("slow_answers", "latency", "latency", 0.5),
        ("throttle", "throttle", "p", 0.5),
        ("server_errors", "server_errors", "p", 0.5),
    ):
        setattr(
            network, attribute, max((f.options.get(option, default) for f in faults if f.kind == kind), default=0.0)
        )
    cluster.kube.faults.unreachable = "api_unreachable" in kinds
    if cluster.paths:  # with Regions: its path to its own Region's endpoint (the first) cut
        cut = [f for f in faults if f.kind == "cut_from_own_endpoint"]
        cluster.paths[0].cut = bool(cut)
        cluster.paths[0].cut_mode = "timeout" if any(f.options.get("mode") == "timeout" for f in cut) else "refuse"
    cluster.kube.faults.refuse_writes = "api_refuses" in kinds
    # The operator: killed by a crash or a SIGTERM and started again once none is in effect; a pause freezes the
    # process it finds (a process started anew is not paused).
    world.held_down[name] = any(k in ("crash", "sigterm") for k in kinds)
    if started is not None and started.kind == "crash":
        world.crash(name)
    elif started is not None and started.kind == "sigterm":
        world.loop.create_task(world.terminate(name))  # it exits when it has stopped (later if it is paused)
    elif started is not None and started.kind == "pause":
        world.pause(name)
    if not world.held_down[name]:
        world.start(name)
    if "pause" not in kinds:
        world.resume(name)


def main_line(trials: int, faults: int, violations: int) -> str:
    return f"trials={trials} faults={faults} violations={violations}"


if __name__ == "__main__":  # pragma: no cover - see harness/simulation/__main__.py
    sys.exit(2)
