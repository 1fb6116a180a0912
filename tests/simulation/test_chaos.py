"""The quick set of `make chaos`: random fault trials on a seed range nobody has run (it moves with the clock:
a range that passed proves only itself), and every seed that ever found a violation, replayed exactly; not one
violation of safety, liveness or durability. A failing fresh seed is printed: it goes into FOUND with its fix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from tests.ship.tools import ROOT

TRIALS = 200
# Seeds whose trials found a violation once, each fixed since (replayed exactly: same seed, same trial):
# 489 the watchdog did not see a group deleted while its operator was dead (a finalizer keeps it: the simulation
#     now does too); 521 an inherent overlap (API refusing writes, DynamoDB failing 90 %) the checker did not
#     classify; 536, 590, 919 an old heartbeat saying FENCED landed after the proof of ownership sent after it,
#     and a takeover "of an owner not serving" succeeded while it served (status writes are now ordered);
#     816 the liveness bound did not allow for a new owner whose API refused the scale-up; 940 a third cluster
#     took over from the silent new owner of an UPTIME hand-off while the old owner served on; 991 a takeover
#     refused at once (the lock held by a slow cluster) was retried at once, for ever (time stood still); 1313 a
#     forced failover of an owner that could not read the request (excused: what force gives up); 1520 a leaving
#     owner stopped heartbeating while it still served; 1522 force transferred before a reachable owner had
#     heard of the request (force now waits two intervals, and news is not held up behind stuck heartbeats);
#     2566 the checker held a gap against the fleet while the owner was alive but blind (its API server
#     unreachable), when by design nobody takes over; 3676, 4656 a forced failover of an owner whose API server
#     was unreachable (it cannot confirm it stopped: what force gives up, now excused as documented); 4801 the
#     checker's bound for an owner that came back (restarted) within the gap but could not serve.
# 100289 (random trials, while fixing 3615) a standby treated an owner whose heartbeat listed the group fenced
# as "stale" and took over on unchanged sequence numbers just as the owner's proof landed: such an owner is now
# taken over only as "not serving" (its status must not say PRIMARY), and it rewrites its true status after
# a proof it cannot act on. 3615 the same fenced owner whose proofs land with their answers lost: the proof was
# retried for 5 s, its PRIMARY refusing every takeover meanwhile (now waited for only up to the fence limit).
# 2744 an owner fenced under 90 % throttling: its heartbeats (listing the group fenced) landed now and then, but
# its FENCED status did not for 23 s, so every takeover "of an owner not serving" was refused (a fenced owner's
# status is now retried at once, and every half interval by its fencing loop, not only by its stuck ticks).
# 4910 an owner that fenced, listed the group fenced in its last heartbeat, then was cut off: its status still
# said PRIMARY, so the takeover "as not serving" was refused until it came back; numbers unchanged for the
# whole timeout now make it "stale" even so (a proof would have moved them).
# 9847 a forced UPTIME move scaled its target up while a third cluster (the old owner of an earlier hand-off,
# whose scale-down its API server refused) still served: no move proceeds while a cluster other than the
# source still reports PRIMARY.
#
# Issue 18 (the checker's excuses now hold only while their condition holds): 1796577804 the old owner of an
# UPTIME move could not read DynamoDB and served on beside the ready new owner (its right to serve beside it now
# lasts the fence limit past its last read); 1796578298 a crashed owner whose group was deleted while it was
# down left its copy serving after ownership had moved (a leaving cluster now always stops its copy unless it
# owns the group and is the last); 1796578534 the same, after a forced UPTIME move.
FOUND = (
    *(489, 521, 536, 590, 816, 919, 940, 991, 1313, 1520, 1522, 2566, 2744, 3615, 3676, 4656, 4801, 4910, 9847),
    *(100289, 1796577804, 1796578298, 1796578534),
)
"""Seeds drawn the first way (`--draw 1`)."""
FOUND_V2 = (
    # Issue 18, drawn the second way (faults that meet). 1796578913 a SIGTERM'd owner cut off from DynamoDB: its
    # new process could not register, and (as the simulation ran groups then) started no runner to fence what it
    # found serving (kopf spawns the daemon without waiting for the create handler: so does the simulation now);
    # 1796578940, 1796579101 the watchdog gave up after one fencing its API server refused (it now fences again
    # every look until nothing serves); 1796579011 the owner's API server went away just before an UPTIME move,
    # too soon for its status to say so (the new owner does not serve while the old one cannot act; the old one
    # ends the hand-off only when it can stop); 1796579084, 1796579184, 1796579205, 1796579246, 1796579309
    # overlapping faults of one kind on one cluster (the first to end mended all: faults now add up, and the
    # checker's API-and-DynamoDB excuse lasts while the API server stays gone); 1796580414 an UPTIME move from an
    # owner whose API server refused writes (UNKNOWN now: the Lease's renewals say so); 1796580694 an UPTIME move
    # from an owner that could not read DynamoDB (the source must say it follows the move before the target
    # starts).
    *(1796578913, 1796578940, 1796579011, 1796579084, 1796579101, 1796579184, 1796579205, 1796579246),
    *(1796579309, 1796580414, 1796580694),
    # 1796579632752 two timeout edits 0.1 s apart: the second kept the first's new, shorter timeout as "before",
    # and standbys stopped waiting the old one at once (0.03 s of two serving; what an edit replaces now keeps
    # the longest heartbeat timeout); 1796579633255 an UPTIME source slowed by DynamoDB lost its API server
    # while still ending the hand-off (it now stops first and removes the hand-off meanwhile; the checker's
    # UPTIME excuse carries on while an API outage that began in it lasts); 1796579632420 a SIGTERM to a paused
    # operator (the simulation now handles it when the process is resumed, as a real one does); the checker:
    # 1796579630104, 1796579633504 an owner's writes landing late rightly postpone a takeover, 1796579631553,
    # 1796579633050 an owner alive but blind after a restart is not failed over, 1796579630719 the inherent
    # API-and-DynamoDB excuse lasts while the API server stays gone.
    *(1796579630104, 1796579630719, 1796579631553, 1796579632420, 1796579632752, 1796579633050),
    *(1796579633255, 1796579633504),
    # 1796580352984 two clusters leaving at once handed the group back and forth (a leaving cluster now says so
    # first, and is handed nothing); 1796580352742 a restarted process whose ticks were stuck on DynamoDB never
    # recalled the resources it found serving (its fence loop recalls them too); 1796580356542 after the API
    # server came back, the watchdog took a 13 s old renewal for a fresh one (it now trusts a renewal first seen
    # after it could not look only until the next one is due); the checker: 1796580353985 an UPTIME source may
    # miss a ready report the target withdrew within the time to act, 1796580353863 lost answers holding a
    # heartbeat past the fence limit are DynamoDB lost, 1796580357200 a cluster whose API server refuses writes
    # while DynamoDB fails it in any way cannot be stopped (inherent).
    *(1796580352742, 1796580352984, 1796580353863, 1796580353985, 1796580356542, 1796580357200),
    # 1796581046804 a FailoverGroup deleted twice in its owner's cluster: two hand-overs stamped at the same
    # instant carried the same config update, which the store merged into one transaction as if it were a shared
    # check (only checks are shared now), and a move's retry is told from another move by the history record
    # the config names (`lastMove`), not by its timestamp.
    1796581046804,
    # 1796581929666 a forced request withdrawn at the requester's SIGTERM and written again by its restart: the
    # target timed the force wait from the first (it starts over for a request written again), and a SIGTERM
    # no longer withdraws a request (only deleting the Failover does); 1796581935883 the new owner of an UPTIME
    # hand-off that could write but not read served on after the source took the group back (it now follows the
    # hand-off as its source does: no read within the fence limit, it stops).
    # 1796581938481 a Failover executed in a cluster that ran no group: nothing published its request (no
    # heartbeat), and the healthy owner heard of it only from the forced transfer (executors publish now).
    1796581929666,
    1796581935883,
    1796581938481,
)
"""Seeds drawn the second way (`--draw 2`): harder trials, faults meeting on one cluster."""
FOUND_V3 = (
    # Issue 19, drawn the third way (the default: half the trials with two replicas electing a leader).
    # 1796582333536 a leader whose API server took no writes stepped down (as client-go does after its renew
    # deadline), the cluster fell silent, and another took the group while its pods, which nothing could stop,
    # served on: a leader now steps down only when it sees another holder, and the leader term fences a deposed
    # one in DynamoDB.
    1796582333536,
)
"""Seeds drawn the third way."""
FOUND_V4 = (
    # Issue 19, drawn the fourth way (the default: the third, and groups suspended for maintenance meanwhile).
    # Both were the checker's: 1796590811122 a forced move's history record was looked up by its epoch, where a
    # withdrawn request's record (which moves nothing, at the same epoch) hid it, and the forced overlap went
    # unexcused; 1796590812515 the source of an UPTIME hand-off could not read DynamoDB while the new owner
    # became ready, and served on until the fence limit past its last read, as it must (now excused for as long
    # as it could not read, plus the time to act).
    # 1796592323452 a restart that could not read the watchdog's Lease (its API server unreachable) dropped
    # `maintenance` from its status although the Lease still listed the group as held (the group was resumed
    # meanwhile): once its operator froze, a standby took over while its watchdog left its copy serving.
    1796590811122,
    1796590812515,
    # 1796592913104, 1796592913097 (liveness) a read that failed (DynamoDB throttled) forgot that the group had
    # changed: the standby went on deciding on its old copy — the leaving owner's status, saying maintenance —
    # and never took over; a leaving cluster now also publishes that it left (its heartbeat may have stopped).
    # 1796592912676 (the checker's) the paused leader's cluster counted as down for liveness although its other
    # replica led two seconds later — an owner alive, whose API server refused writes, is by design not moved.
    1796592323452,
    1796592913104,
    1796592913097,
    # 1796596418810 (the checker's) a leaving owner handed the group to a cluster whose API server had just become
    # unreachable (not yet known: it takes 5 s to tell); an owner cut off from its API server is by design not
    # moved, and the checker now knows that of an owner that took the group within the gap too.
    1796592912676,
    1796596418810,
)
"""Seeds drawn the fourth way."""

FOUND_V5 = (
    # 1796608898599 (safety, 0.22 s) the owner's leader paused, a second replica led and proved; the group deleted
    # there; the second left the group (its status record deleted) after handing it to west; the paused one,
    # resumed, had a proof answered: its status write found no record of a later term (deleted) and it scaled up.
    # A proof now checks our leader term on our liveness (never deleted) before it is acted on; a runner whose
    # group is being left does not promote. Also fixed by it: 1796608898020 (liveness, 6.7 s).
    1796608898599,
    1796608898020,
)
"""Seeds drawn the fifth way (the default: with Regions)."""

OPEN_V5 = (
    # Found on the last fresh range of issue 20's campaign (seed 1796608897965, 2,000 trials), not fixed yet:
    # 1796608898505 (liveness: nobody served for 5.1 s, bound 2.7 s).
    1796608898505,
    # 1796606540373 (liveness) with the simulated clients leaving a Region after a quarter of a 0.2 s interval
    # unanswered (50 ms), a healthy MRSC table's writes (a cross-Region round trip) sent them round their Regions
    # all the time; the owner proved late, nobody served for 4 s. Passed with the floor of 0.25 s
    # (world.SLOW_FLOOR); fails again (6.3 s) since a proof also checks the leader term on the liveness (one more
    # cross-Region write before it is acted on).
    1796606540373,
    # 1796609592607 (liveness: nobody served for 6.8 s, bound 3.5 s), on the final code's fresh range 1796609591799.
    1796609592607,
)
"""Seeds that found a violation not fixed yet: replayed as a strict expected failure, so that a fix shows (then
they move to FOUND_V5 with it)."""


def simulate(*args: str) -> tuple[int, int, int, str]:
    """`python -m harness.simulation ARGS` as `make chaos` runs it: (trials, faults, violations, stdout)."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "operator")])}
    command = [sys.executable, "-m", "harness.simulation", *args, "--jobs", "2"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900, check=False)
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    last = re.fullmatch(r"trials=(\d+) faults=(\d+) violations=(\d+)", lines[-1])
    assert last, f"the last line is not the summary: {lines[-1]!r}\n{result.stderr[-2000:]}"
    trials, faults, violations = map(int, last.groups())
    assert (violations == 0) == (result.returncode == 0)
    return trials, faults, violations, result.stdout


def test_two_hundred_random_fault_trials_on_a_fresh_seed_range_find_nothing() -> None:
    seed = int(time.time() * 1000) % 10**12  # a range nobody has run; a failure names its seed
    trials, faults, violations, out = simulate("--trials", str(TRIALS), "--seed", str(seed))
    assert trials == TRIALS and faults >= TRIALS  # every trial draws at least one fault
    assert violations == 0, f"fresh seeds from {seed}: add the failing ones to FOUND_V5 with their fix\n{out[-6000:]}"


def test_the_trials_that_once_found_a_violation_find_none() -> None:
    trials, _, violations, out = simulate("--seeds", ",".join(map(str, FOUND)), "--draw", "1")
    assert trials == len(FOUND) and violations == 0, out[-6000:]
    trials, _, violations, out = simulate("--seeds", ",".join(map(str, FOUND_V2)), "--draw", "2")
    assert trials == len(FOUND_V2) and violations == 0, out[-6000:]
    for found, version in ((FOUND_V3, 3), (FOUND_V4, 4), (FOUND_V5, 5)):
        trials, _, violations, out = simulate("--seeds", ",".join(map(str, found)), "--draw", str(version))
        assert trials == len(found) and violations == 0, out[-6000:]


@pytest.mark.xfail(strict=True, reason="OPEN_V5: violations found on a fresh range, not fixed yet (see the comments)")
def test_the_open_findings_still_find_their_violations() -> None:
    trials, _, violations, out = simulate("--seeds", ",".join(map(str, OPEN_V5)), "--draw", "5")
    assert trials == len(OPEN_V5) and violations == 0, out[-6000:]
