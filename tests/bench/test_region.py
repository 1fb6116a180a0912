"""bench/region.py measures what it says: one sample of each scenario, every figure present (virtual time: fast)."""

from __future__ import annotations

from bench.region import SCENARIOS, figures, measure


def test_a_lost_region_moves_only_the_groups_it_owned_and_never_overlaps() -> None:
    lost = measure(1.0, 3.0, "owner_region_lost/partitioned", seed=1)
    assert lost.violations == 0 and lost.overlap == 0.0 and lost.owner_changes == 1
    assert lost.served_elsewhere is not None and 0 < lost.served_elsewhere <= 3.0 + 2 * 1.0
    other = measure(1.0, 3.0, "other_region_lost", seed=1)
    assert (other.violations, other.overlap, other.downtime, other.owner_changes) == (0, 0.0, 0.0, 0)
    assert other.served_elsewhere is None


def test_the_steady_state_is_one_heartbeat_and_one_read_per_cluster_per_interval() -> None:
    steady = measure(1.0, 3.0, "steady", seed=1)
    assert steady.requests == {"east": 2.0, "west": 2.0, "north": 2.0}


def test_every_scenario_gives_its_figures() -> None:
    for scenario in (*SCENARIOS, "steady"):
        sample = measure(1.0, 3.0, scenario, seed=2)
        lines = figures(1.0, 3.0, scenario, [sample])
        assert lines and all(line["unit"] in ("s", "count", "requests") for line in lines), lines
        assert all(
            (line["h"], line["T"], line["scenario"], line["samples"]) == (1.0, 3.0, scenario, 1) for line in lines
        )


def test_a_beat_loop_whose_clock_runs_slower_than_the_loop_waits_and_does_not_spin() -> None:
    """Found by `make bench-region`: the owner's Region lost (partitioned), three beats stuck in flight and news
    pending, the beat loop waited for `soonest` on the cluster's clock (here 0.9 to 1.1 times the loop's), woke just
    short of it, and waited ever shorter remainders until virtual time stood still (SpinError). It waits at least a
    millisecond now."""
    sample = measure(1.0, 3.0, "owner_region_lost/partitioned", 1)
    assert sample is not None
