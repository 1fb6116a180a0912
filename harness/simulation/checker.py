"""The verdict on one trial, over its whole timeline.

- **safety**: at no moment do two clusters serve the group (a Deployment with `spec.replicas > 0`). A cluster
  serving while it is not the owner is *excused* only while a condition holds under which no software in it
  could stop it, plus the time software needs to act once it can (`act`: two intervals and a second):
  - inherent: its API server unreachable (or refusing writes) while DynamoDB fails it in any way (cut off,
    lost, slow, throttled or failed answers) or its operator is down — and from then on for as long as its API
    server stays so: nothing can scale it down, and nobody hears from it;
  - inherent: its operator and its watchdog both gone;
  - intended: an UPTIME hand-off it is part of, from the request until the new owner is ready (or the hand-off
    ends otherwise), an API server outage of the old owner that began after the request, while it still had
    the right to serve (it cannot stop), and a stretch in which the old owner could not read DynamoDB that began
    before the new owner was ready (it cannot know it should stop: it stops at the fence limit past its last
    read, within that stretch);
  - forced: a forced move took the group from it while it could not answer (down, cut off, blind to the
    request, its API server unreachable): for as long as that lasts.
  An excuse that merely touched an overlap excuses only its own stretch of it. A moment with two *unexcused*
  serving clusters (the owner counts as unexcused) is a violation; excused overlaps are counted by kind.
- **liveness**: once the group has no serving cluster, a healthy standby serves within
  `timeouts.heartbeat + 3 * heartbeatInterval` (plus slack for a tick) — checked over stretches where some
  cluster was able to take over throughout (operator up, DynamoDB and its API reachable, no planned failover)
  and the owner was not alive but blind (its API server unreachable: by design, not failed over for it).
- **durability**: exactly one history record per ownership change (each epoch after the first, once); records of
  withdrawn requests move nothing and are not counted.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from .world import World

INHERENT_BLIND = "inherent: API server and DynamoDB (or operator) lost at once"
INHERENT_GONE = "inherent: operator and watchdog both gone"
INTENDED_UPTIME = "intended: UPTIME hand-off"
INTENDED_UPTIME_BLIND = "intended: UPTIME hand-off, its old owner's API server lost during it"
INTENDED_UPTIME_UNREAD = "intended: UPTIME hand-off, its old owner unable to read DynamoDB during it"
FORCED = "forced: the old owner could not answer"


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


@dataclass
class _Overlap:
    start: float
    end: float
    who: frozenset[str]
    owner: str | None
    epoch: int


def _during(intervals: Intervals, start: float, end: float) -> bool:
    return any(a < end and start < b for a, b in intervals)


def _covers(intervals: Intervals, start: float, end: float) -> bool:
    """Some single interval holds throughout [start, end)."""
    return any(a <= start and end <= b for a, b in intervals)


def union(intervals: Iterable[tuple[float, float]]) -> Intervals:
    """The same moments as sorted, disjoint intervals."""
    merged: Intervals = []
    for a, b in sorted(i for i in intervals if i[1] > i[0]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def intersect(first: Intervals, second: Intervals) -> Intervals:
    """The moments in both."""
    return union((max(a, c), min(b, d)) for a, b in union(first) for c, d in union(second) if max(a, c) < min(b, d))


def extended(intervals: Intervals, by: float) -> Intervals:
    """Each interval held `by` seconds longer: the time software needs to act once the condition is over."""
    return union((a, b + by) for a, b in intervals)


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


def act_time(world: World) -> float:
    """How long software may take to act once it can: a tick or two and a request."""
    return 2 * world.timing.interval + 1.0


def excuses(world: World, end: float, conditions: dict[str, dict[str, Intervals]]) -> dict[str, dict[str, Intervals]]:
    """cluster -> kind -> when that cluster serving while not the owner is excused."""
    act = act_time(world)
    found: dict[str, dict[str, Intervals]] = {name: {} for name in world.clusters}
    for name in world.clusters:
        mine = conditions.get(name, {})
        # Cut off (or down) while its API server was gone: nobody can stop it, and nobody hears from it. Once that
        # happened, nothing can stop it either for as long as its API server stays gone. Any trouble with
        # DynamoDB counts (its noise included: lost, slow, throttled or failed answers, one fault or several at
        # once): a blind cluster serves beside another only if its heartbeats could not be confirmed.
        lost = [
            *mine.get("dynamo_down", []),
            *mine.get("dynamo_lost", []),
            *mine.get("network_noise", []),
            *mine.get("operator_down", []),
        ]
        blind = []
        for a, b in union(mine.get("api_down", [])):
            both = intersect([(a, b)], lost)
            if both:
                blind.append((both[0][0], b))
        found[name][INHERENT_BLIND] = extended(blind, act)
        gone = intersect(mine.get("operator_down", []), mine.get("watchdog_down", []))
        found[name][INHERENT_GONE] = extended(gone, act)
    for source, target, start, stop in _uptime_windows(world, end):
        for name in (source, target):
            found[name].setdefault(INTENDED_UPTIME, []).append((start, stop + act))
        # Its API server lost while it still had the right to serve (the hand-off, and the time to end it): from
        # then on it cannot stop, for as long as that lasts.
        blind = [(a, b) for a, b in conditions.get(source, {}).get("api_down", []) if start <= a < stop + act]
        found[source].setdefault(INTENDED_UPTIME_BLIND, []).extend(extended(blind, act))
        # It could not read the group while the new owner said it was ready: it serves on until the fence limit
        # past its last read (rules.fence_left: `following`), which its blindness bounds, plus the time to act.
        unread = [(a, b) for a, b in conditions.get(source, {}).get("cannot_answer", []) if start <= a < stop]
        found[source].setdefault(INTENDED_UPTIME_UNREAD, []).extend(extended(unread, act))
    for name, spans in _forced_windows(world, conditions).items():
        found[name][FORCED] = extended(spans, act)
    return {name: {kind: union(spans) for kind, spans in kinds.items()} for name, kinds in found.items()}


def judge(world: World, end: float, conditions: dict[str, dict[str, Intervals]]) -> Verdict:
    """`conditions[cluster][kind]`: intervals of "api_down", "dynamo_down", "operator_down", "watchdog_down",
    "network_noise" (lost/slow answers, throttling, 5xx), "dynamo_lost" (noise so bad that no write can be
    confirmed in time: every answer lost, 90 % failing, or slower than the fence limit), "cannot_answer" (blind to
    a request, or mute), "unable" (the group deleted there)."""
    verdict = Verdict()
    excused_by = excuses(world, end, conditions)
    cuts = {when for when, _, _ in world.ownership}
    for kinds in excused_by.values():
        cuts |= {t for spans in kinds.values() for span in spans for t in span}
    for start, stop, serving in _serving_at(world, end):
        if len(serving) < 2:
            continue
        inner = sorted(t for t in cuts if start < t < stop)
        bad: list[_Overlap] = []
        for a, b in itertools.pairwise([start, *inner, stop]):
            owner, epoch = _owner_at(world, a)
            unexcused = {owner} & serving
            kinds = []
            for name in sorted(serving - {owner}):
                kind = next((k for k, spans in excused_by[name].items() if _covers(spans, a, b)), None)
                if kind is None:
                    unexcused.add(name)
                else:
                    kinds.append(kind)
            if len(unexcused) < 2:
                for kind in kinds:
                    verdict.excused[kind] = verdict.excused.get(kind, 0.0) + (b - a)
            elif bad and bad[-1].end == a and bad[-1].who == unexcused:
                bad[-1].end = b
            else:
                bad.append(_Overlap(a, b, frozenset(n for n in unexcused if n), owner, epoch))
        for overlap in bad:
            verdict.violations.append(
                Violation(
                    "safety",
                    overlap.start,
                    f"{' and '.join(sorted(overlap.who))} served at once for {overlap.end - overlap.start:.2f}s "
                    f"(owner {overlap.owner} at epoch {overlap.epoch})",
                )
            )
    _liveness(world, end, _led_again(world, conditions), verdict)
    _durability(world, verdict)
    return verdict


def _uptime_windows(world: World, end: float) -> list[tuple[str, str, float, float]]:
    """(old owner, new owner, from, until) of each UPTIME move: from its request until the new owner has reported
    itself ready as the owner (what the old owner waits for before it stops), or until the move ends otherwise
    (withdrawn, handed back, overtaken)."""
    windows = []
    changes = [*world.transitions, (end, None)]
    seen: dict[str, float] = {}
    for (t, transition), (t_next, following) in itertools.pairwise(changes):
        if not transition or transition.get("mode") != "UPTIME":
            continue
        name = transition["failover_name"]
        seen.setdefault(name, t)
        if following and following.get("failover_name") == name:
            continue  # the same move, on to its next step (the request became the hand-off)
        source, target = transition["source_cluster"], transition["target_cluster"]
        start = seen.pop(name)
        owned = [(when, epoch) for when, owner, epoch in world.ownership if when >= start and owner == target]
        ready = _ready_for_good(world, target, owned[0] if owned else None, act_time(world))
        moved = [when for when, owner, _ in world.ownership if when > start and owner != target]
        windows.append((source, target, start, min([t_next, *ready, *moved[:1]])))
    return windows


def _ready_for_good(world: World, target: str, owned: tuple[float, int] | None, act: float) -> list[float]:
    """When the new owner first reported itself ready at its epoch and did not take it back within `act` (the
    time the old owner has to see it and stop): a report withdrawn sooner (it fenced, say) is one the old owner
    may rightly have missed, and the hand-off goes on."""
    if owned is None:
        return []
    since, epoch = owned
    mine = [(when, serves and e == epoch) for when, cluster, serves, e in world.reports if cluster == target]
    mine = [(when, ready) for when, ready in mine if when >= since]
    for i, (when, ready) in enumerate(mine):
        if not ready:
            continue
        withdrawn = next((w for w, r in mine[i + 1 :] if not r), None)
        if withdrawn is None or withdrawn >= when + act:
            return [when]
    return []


def _forced_windows(world: World, conditions: dict[str, dict[str, Intervals]]) -> dict[str, Intervals]:
    """cluster -> when a forced move had taken the group from it while it could not answer: the stretch of its
    condition (down, cut off, blind to the request, its API server unreachable) that held within two intervals
    before the move (force waits two intervals for the old owner), from the move on."""
    interval = world.timing.interval
    history = {h.epoch: h for h in world.history() if h.moved}  # a withdrawn request, at the same epoch, is not it
    found: dict[str, Intervals] = {}
    for when, _, epoch in world.ownership:
        record = history.get(epoch)
        if record is None or not getattr(record, "forced", False):
            continue
        source = record.source_cluster
        mine = conditions.get(source, {})
        kinds = ("operator_down", "dynamo_down", "cannot_answer", "api_down")
        unable = union(span for kind in kinds for span in mine.get(kind, []))
        for a, b in unable:
            if a < when and when - 2 * interval < b:
                found.setdefault(source, []).append((when, b))
    return found


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
            # An owner that took over (or was handed the group) within the gap while cut off from its API server
            # is by design not moved either, for as long as it stays so.
            for when, who, _ in world.ownership:
                if start < when < stop:
                    blocked += [(max(a, when), b) for a, b in _blind_owner(conditions.get(who, {})) if b > when]
            # The owner's own writes landing late (slow or lost answers): its last claim to serve lands late, and a
            # takeover rightly waits a whole timeout from the last one seen.
            blocked += conditions.get(owner or "", {}).get("network_noise", [])
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


def _led_again(world: World, conditions: dict[str, dict[str, Intervals]]) -> dict[str, dict[str, Intervals]]:
    """The conditions with each cluster's operator up again from when another replica started to lead (the one
    a restart or a pause took down was the leader; the other takes over): for liveness, a cluster with two
    replicas is not down for as long as one of them is."""
    out = {name: dict(kinds) for name, kinds in conditions.items()}
    for name, kinds in out.items():
        spans = []
        for a, b in kinds.get("operator_down", []):
            took = [t for t, cluster, _ in world.terms if cluster == name and a < t < b]
            spans.append((a, min(took)) if took else (a, b))
        if spans:
            kinds["operator_down"] = spans
    return out


def _blind_owner(owner: dict[str, Intervals]) -> Intervals:
    """When the owner was alive but could not reach its API server: by design nobody takes over then (it may
    still serve, and not being able to observe is not failing) — while it is not also cut off or down."""
    dead = union([*owner.get("dynamo_down", []), *owner.get("operator_down", [])])
    spans = []
    for a, b in union(owner.get("api_down", [])):
        start = a
        for d, e in dead:
            if d < b and start < e:
                if start < d:
                    spans.append((start, d))
                start = max(start, e)
        if start < b:
            spans.append((start, b))
    return spans


def _durability(world: World, verdict: Verdict) -> None:
    if not world.config_exists():
        return  # the group was removed, and its records with it
    epochs = [h.epoch for h in world.history() if h.moved]  # a withdrawn request moved nothing
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
