"""The verdict on one trial, over its whole timeline.

- **safety**: at no moment do two clusters serve the group (a Deployment with `spec.replicas > 0`). A cluster
  serving while it is not the owner is *excused* when no software in it could have stopped it: its API server
  was unreachable while it was also cut off from DynamoDB (or its operator was down), or its operator and its
  watchdog were both gone; or when a person asked for it: an UPTIME hand-off (old and new owner overlap by
  design), or a forced failover whose old owner could not answer (down, its API server unreachable, or its
  DynamoDB too slow, lossy or blind to read the request and write an answer within two intervals: what force
  gives up). A moment with two *unexcused* serving clusters (the owner counts as unexcused) is a violation;
  excused overlaps are counted by kind, never hidden.
- **liveness**: once the group has no serving cluster, a healthy standby serves within
  `timeouts.heartbeat + 3 * heartbeatInterval` (plus slack for a tick) — checked over stretches where some
  cluster was able to take over throughout (operator up, DynamoDB and its API reachable, no planned failover)
  and the owner was not alive but blind (its API server unreachable: by design, not failed over for it).
- **durability**: exactly one history record per ownership change (each epoch after the first, once).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from .world import World


@dataclass(frozen=True)
class Violation:
    kind: str  # "safety" | "liveness" | "durability"
    time: float
    text: str


@dataclass
class Verdict:
    violations: list[Violation] = field(default_factory=list)
    excused: dict[str, float] = field(default_factory=dict)  # kind -> seconds of excused overlap

    @property
    def ok(self) -> bool:
        return not self.violations


Intervals = list[tuple[float, float]]


def _during(intervals: Intervals, start: float, end: float) -> bool:
    return any(a < end and start < b for a, b in intervals)


def _covers(intervals: Intervals, start: float, end: float) -> bool:
    """Some single interval holds throughout [start, end)."""
    return any(a <= start and end <= b for a, b in intervals)


def _serving_at(world: World, end: float) -> list[tuple[float, float, frozenset[str]]]:
    """The timeline as (start, end, clusters serving) pieces."""
    changes: list[tuple[float, str, bool]] = []
    for name, cluster in world.clusters.items():
        changes.extend((t, name, serving) for t, serving in cluster.kube.serving)
    changes.sort(key=lambda c: c[0])
    pieces = []
    current: set[str] = set()
    last = 0.0
    for t, name, serving in changes:
        if t > last:
            pieces.append((last, t, frozenset(current)))
            last = t
        if serving:
            current.add(name)
        else:
            current.discard(name)
    if end > last:
        pieces.append((last, end, frozenset(current)))
    return pieces


def _owner_at(world: World, t: float) -> tuple[str | None, int]:
    owner, epoch = None, 0
    for when, who, e in world.ownership:
        if when > t:
            break
        owner, epoch = who, e
    return owner, epoch


def judge(world: World, end: float, conditions: dict[str, dict[str, Intervals]]) -> Verdict:
    """`conditions[cluster][kind]`: intervals of "api_down", "dynamo_down", "operator_down", "watchdog_down",
    "network_noise" (lost/slow answers, throttling, 5xx), "dynamo_lost" (noise so bad that no write can be
    confirmed in time: every answer lost, 90 % failing, or slower than the fence limit), "unable" (the group
    deleted there)."""
    verdict = Verdict()
    timing = world.timing
    grace = timing.interval + 1.0

    def held(name: str, kind: str, start: float, stop: float) -> bool:
        return _during(conditions.get(name, {}).get(kind, []), start, stop)

    history = {h.epoch: h for h in world.history()}
    uptime = _uptime_windows(world, grace)
    for start, stop, serving in _serving_at(world, end):
        if len(serving) < 2:
            continue
        owner, epoch = _owner_at(world, start)
        unexcused = {owner} & serving
        kinds = []
        for name in sorted(serving - {owner}):
            since = start - grace
            if held(name, "api_down", since, stop) and any(
                held(name, kind, since, stop) for kind in ("dynamo_down", "dynamo_lost", "operator_down")
            ):
                kinds.append("inherent: API server and DynamoDB (or operator) lost at once")
            elif held(name, "operator_down", since, stop) and held(name, "watchdog_down", since, stop):
                kinds.append("inherent: operator and watchdog both gone")
            elif _during(uptime.get((name, owner), []), start, stop):
                kinds.append("intended: UPTIME hand-off")
            elif _forced_away(world, history, name, start, conditions, timing.interval):
                kinds.append("forced: the old owner could not answer")
            else:
                unexcused.add(name)
        if len(unexcused) >= 2:
            verdict.violations.append(
                Violation(
                    "safety",
                    start,
                    f"{' and '.join(sorted(unexcused))} served at once for "
                    f"{stop - start:.2f}s (owner {owner} at epoch {epoch})",
                )
            )
        else:
            for kind in kinds:
                verdict.excused[kind] = verdict.excused.get(kind, 0.0) + (stop - start)
    _liveness(world, end, conditions, verdict)
    _durability(world, verdict)
    return verdict


def _uptime_windows(world: World, grace: float) -> dict[tuple[str, str], Intervals]:
    """(old owner, new owner) -> when an UPTIME hand-off between them was in the config (plus a tick)."""
    windows: dict[tuple[str, str], Intervals] = {}
    changes = [*world.transitions, (float("inf"), None)]
    for (t, transition), (t_next, _) in itertools.pairwise(changes):
        if transition and transition.get("mode") == "UPTIME":
            pair = (transition["source_cluster"], transition["target_cluster"])
            windows.setdefault(pair, []).append((t, t_next + grace))
    return windows


def _forced_away(
    world: World,
    history: dict[int, object],
    name: str,
    t: float,
    conditions: dict[str, dict[str, Intervals]],
    interval: float,
) -> bool:
    """`name` lost ownership by a forced failover, before `t`, at a moment it could not have answered."""
    for when, _, epoch in world.ownership:
        if when > t:
            break
        record = history.get(epoch)
        if record is None or not getattr(record, "forced", False) or getattr(record, "source_cluster", None) != name:
            continue
        mine = conditions.get(name, {})
        # down, cut off, blind to the request, or unable to scale down (its API server): it cannot confirm
        unreachable = [
            span for k in ("operator_down", "dynamo_down", "cannot_answer", "api_down") for span in mine.get(k, [])
        ]
        if _during(unreachable, when - 2 * interval, t):  # force waits two intervals for the old owner
            return True
    return False


def _liveness(world: World, end: float, conditions: dict[str, dict[str, Intervals]], verdict: Verdict) -> None:
    timing = world.timing
    slack = world.startup + 1.0
    gone = timing.heartbeat + 3 * timing.interval + slack  # the owner died, fenced or was cut off
    # An owner that is alive but cannot serve (its API refuses the scale-up) reports ERROR: asked to drain after
    # unhealthyPrimary, then the transfer (two more ticks).
    failing = timing.unhealthy + 5 * timing.interval + slack
    planned = [
        (t, t_next)
        for (t, tr), (t_next, _) in zip(world.transitions, [*world.transitions[1:], (end, None)], strict=False)
        if tr
    ]
    for start, stop, serving in _serving_at(world, end):
        owner, _ = _owner_at(world, start)
        mine = conditions.get(owner or "", {})
        alive = not any(_during(mine.get(k, []), start, stop) for k in ("operator_down", "dynamo_down"))
        bound = failing if alive else gone
        # An owner back within the gap (restarted, reconnected) but failing is an owner alive but failing from then.
        for _, back in [*mine.get("operator_down", []), *mine.get("dynamo_down", [])]:
            if start < back < stop and back < start + gone:
                bound = max(bound, back - start + failing)
        # A cluster that took over within the gap but whose API server then refused to scale it up is an owner
        # alive but failing, from its takeover on (it is drained after unhealthyPrimary).
        for when, who, _ in world.ownership:
            if start < when < stop and _during(conditions.get(who, {}).get("api_down", []), when, stop):
                bound = max(bound, when - start + failing)
        if serving or stop - start <= bound:
            continue
        # From when could some cluster take over, undisturbed, for a whole bound?
        for name in world.clusters:
            mine = conditions.get(name, {})
            blocked = [
                *mine.get("operator_down", []),
                *mine.get("dynamo_down", []),
                *mine.get("api_down", []),
                *mine.get("network_noise", []),
                *mine.get("unable", []),
                *planned,
            ]
            blocked += [iv for other in conditions.values() for iv in other.get("timeouts_edit", [])]
            blocked += _blind_owner(conditions.get(owner or "", {}))
            t = start
            while t + bound < stop:
                clash = [b for a, b in blocked if a < t + bound and t < b]
                if not clash:
                    verdict.violations.append(
                        Violation(
                            "liveness",
                            t,
                            f"nobody served for {stop - start:.1f}s although {name} could "
                            f"have taken over from {t:.1f}s (bound {bound:.1f}s)",
                        )
                    )
                    return
                t = max(clash)


def _blind_owner(owner: dict[str, Intervals]) -> Intervals:
    """When the owner was alive but could not reach its API server: by design nobody takes over then (it may
    still serve, and not being able to observe is not failing) — until it is also cut off or down."""
    dead = [*owner.get("dynamo_down", []), *owner.get("operator_down", [])]
    spans = []
    for a, b in owner.get("api_down", []):
        cut = min((s for s, _ in dead if a <= s < b), default=b)
        if not any(s <= a < e for s, e in dead):
            spans.append((a, cut))
    return spans


def _durability(world: World, verdict: Verdict) -> None:
    if not world.config_exists():
        return  # the group was removed, and its records with it
    epochs = [h.epoch for h in world.history()]
    final = world.ownership[-1][2] if world.ownership else 1
    expected = list(range(2, final + 1))
    if sorted(epochs) != expected:
        verdict.violations.append(
            Violation(
                "durability",
                0.0,
                f"history records for epochs {sorted(epochs)}; ownership changes made epochs {expected}",
            )
        )


def story(world: World, around: float, window: float = 8.0) -> str:
    """What happened around a moment, in order: faults, decisions, events, ownership, serving changes."""
    lines = []
    for event in world.story:
        if around - window <= event.time <= around + window / 2:
            lines.append(f"{event.time:8.2f}s  {event.cluster:<6} {event.kind:<8} {event.text}")
    for name, cluster in world.clusters.items():
        for t, serving in cluster.kube.serving:
            if around - window <= t <= around + window / 2:
                lines.append(f"{t:8.2f}s  {name:<6} serving  {'starts' if serving else 'stops'}")
    return "\n".join(sorted(lines))


def total(verdicts: Iterable[Verdict]) -> tuple[int, dict[str, float]]:
    violations, excused = 0, {}
    for v in verdicts:
        violations += len(v.violations)
        for kind, seconds in v.excused.items():
            excused[kind] = excused.get(kind, 0.0) + seconds
    return violations, excused
