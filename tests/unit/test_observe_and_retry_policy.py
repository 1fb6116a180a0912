from failover_operator.clock import FakeClock
from failover_operator.store.calls import RetryPolicy
from failover_operator.store.observe import ChangeObserver


def test_age_counts_from_first_sight_and_resets_on_change():
    clock = FakeClock()
    seen = ChangeObserver(clock)
    assert seen.age("k") is None
    assert seen.observe("k", 1) == 0.0
    clock.advance(10)
    assert seen.observe("k", 1) == 10.0
    clock.advance(5)
    assert seen.observe("k", 2) == 0.0
    clock.advance(1)
    assert seen.age("k") == 1.0
    seen.forget("k")
    assert seen.age("k") is None


def test_wall_clock_jumps_do_not_affect_age():
    from datetime import UTC, datetime

    clock = FakeClock()
    seen = ChangeObserver(clock)
    seen.observe("k", 1)
    clock.set_wall(datetime(2030, 1, 1, tzinfo=UTC))
    assert seen.age("k") == 0.0


def test_backoff_is_capped_exponential_with_full_jitter():
    policy = RetryPolicy(attempts=10, base_delay=0.1, max_delay=1.0)
    assert [policy.delay(a, rng=lambda: 1.0) for a in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert policy.delay(3, rng=lambda: 0.0) == 0.0
    assert policy.delay(3, rng=lambda: 0.5) == 0.4
