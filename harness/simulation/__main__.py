"""`python -m harness.simulation`: run N trials from a seed; the last line is `trials=N faults=F violations=V`."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor

from .checker import story
from .trial import DEFAULT_DRAW, DRAWS, REGION_DRAW, Outcome, draw, main_line, run
from .virtual_loop import SpinError


def one(job: tuple[int, int, bool]) -> tuple[int, int, int, dict[str, float], str]:
    """(seed, faults, violations, excused seconds by kind, the report of a failing trial) of (seed, draw, whether
    an MRSC table refuses transactions)."""
    seed, version, refuse = job
    trial = draw(seed, version)
    if refuse and trial.regions is not None:
        trial.regions.refuse_transactions = True
    faults = "\n".join(f"    {fault}" for fault in trial.faults)
    try:
        outcome: Outcome = run(trial)
    except SpinError as exc:  # time stood still: as wrong as two serving, and found the same way
        return seed, len(trial.faults), 1, {}, f"seed {seed}: 1 violation(s)\n  busy loop: {exc}; faults:\n{faults}"
    except Exception as exc:  # the harness itself broke: the trial proves nothing, and says which seed it was
        where = "".join(traceback.format_exception(exc)[-6:])
        return (
            seed,
            len(trial.faults),
            1,
            {},
            f"seed {seed}: 1 violation(s)\n  trial crashed: {exc!r}\n{where}faults:\n{faults}",
        )
    verdict = outcome.verdict
    report = ""
    if not verdict.ok:
        first = verdict.violations[0]
        lines = [f"seed {seed}: {len(verdict.violations)} violation(s)"]
        lines += [f"  {v.kind} at {v.time:.2f}s: {v.text}" for v in verdict.violations]
        lines.append(
            f"  clusters {outcome.trial.clusters}, timing {outcome.trial.timing}, watchdog "
            f"{outcome.trial.watchdog}, replicas {outcome.trial.replicas}; faults:"
        )
        if outcome.trial.regions is not None:
            lines.insert(-1, f"  regions: {outcome.trial.regions}")
        lines += [f"    {fault}" for fault in outcome.trial.faults]
        lines.append("  story:")
        lines += [f"    {line}" for line in story(outcome.world, first.time).splitlines()]
        report = "\n".join(lines)
    return seed, len(outcome.trial.faults), len(verdict.violations), verdict.excused, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.simulation", description=__doc__)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1, help="trial i uses seed SEED + i")
    parser.add_argument("--jobs", type=int, default=2, help="processes (the verdicts do not depend on it)")
    parser.add_argument("--seeds", help="comma-separated seeds to replay (instead of --trials and --seed)")
    parser.add_argument(
        "--draw",
        type=int,
        choices=DRAWS,
        default=DEFAULT_DRAW,
        help=f"how trials are drawn from seeds (1: the first way; {REGION_DRAW}: with Regions; default {DEFAULT_DRAW})",
    )
    parser.add_argument(
        "--refuse-transactions",
        action="store_true",
        help=f"with Regions (--draw {REGION_DRAW}): the MRSC table refuses transactions, as a real one does "
        "(world.MRSC_REFUSES_TRANSACTIONS says what it does otherwise)",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else range(args.seed, args.seed + args.trials)
    faults = violations = 0
    excused: dict[str, float] = {}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for _, f, v, ex, report in pool.map(
            one, [(seed, args.draw, args.refuse_transactions) for seed in seeds], chunksize=4
        ):
            faults += f
            violations += v
            for kind, seconds in ex.items():
                excused[kind] = excused.get(kind, 0.0) + seconds
            if report:
                print(report, flush=True)
    if excused:
        parts = ", ".join(f"{kind}: {seconds:.1f}s" for kind, seconds in sorted(excused.items()))
        print(f"excused overlaps (not violations): {parts}")
    print(f"({time.monotonic() - started:.0f}s)")
    print(main_line(len(seeds), faults, violations))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
