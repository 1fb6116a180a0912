"""bench/rto.py measures: one timing, one sample, every figure present and positive (virtual time: fast)."""

from __future__ import annotations

from bench.rto import figures, goal, measure


def test_one_sample_of_one_timing_gives_every_figure() -> None:
    sample = measure(1.0, 3.0, "crash", seed=1)
    assert sample.violations == 0
    assert sample.scaled_up is not None and sample.ready is not None
    assert 0 < sample.scaled_up < sample.ready
    assert sample.ready - sample.scaled_up >= sample.startup > 0  # the pods' start-up is inside the RTO

    assert sample.scaled_up <= 5.0  # T + 2h: detection, a tick, the takeover, the proof and the scale-up

    lines = figures(1.0, 3.0, "crash", [sample], "real")
    assert [line["figure"] for line in lines] == ["rto_p50", "rto_p95", "rto_max", "ready_p50", "ready_max"]
    for line in lines:
        assert line["unit"] == "s" and line["value"] > 0
        assert line["ratio_to_T"] == round(line["value"] / 3.0, 3)
        assert line["goal_seconds"] == goal(1.0, 3.0) == 5.0
        assert line["within_goal"] == (line["value"] <= 5.0)
        assert (line["h"], line["T"], line["fault"], line["samples"], line["missed"]) == (1.0, 3.0, "crash", 1, 0)
