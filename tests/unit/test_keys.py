from datetime import UTC, datetime, timedelta

import pytest

from failover_operator.store import keys


def test_key_formats_are_exactly_as_designed():
    assert keys.group_pk("fleet", "shop", "web") == "GROUP#fleet#shop#web"
    assert keys.CONFIG_SK == "CONFIG"
    assert keys.LOCK_SK == "LOCK"
    assert keys.cluster_sk("east") == "CLUSTER#east"
    assert keys.operator_gsi1pk("fleet") == "OPERATOR#fleet"
    assert keys.cluster_gsi1pk("east") == "CLUSTER#east"
    assert keys.group_gsi1sk("shop", "web") == "GROUP#shop#web"
    ts = datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=UTC)
    assert keys.history_sk(ts, "abc") == "HISTORY#2026-03-04T05:06:07.000089Z#abc"


@pytest.mark.parametrize("bad", ["", "a#b", "#", None, 3])
def test_bad_parts_are_refused(bad):
    with pytest.raises(ValueError):
        keys.group_pk("fleet", bad, "web")
    with pytest.raises(ValueError):
        keys.group_pk(bad, "shop", "web")
    with pytest.raises(ValueError):
        keys.cluster_sk(bad)


def test_parsers_invert_builders():
    assert keys.parse_group_pk(keys.group_pk("op", "ns", "n")) == ("op", "ns", "n")
    assert keys.parse_cluster_sk(keys.cluster_sk("west")) == "west"
    assert keys.parse_group_gsi1sk(keys.group_gsi1sk("ns", "n")) == ("ns", "n")
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    assert keys.parse_history_sk(keys.history_sk(ts, "x1")) == (ts, "x1")
    for bad in ("GROUP#a#b", "CONFIG", "GROUP#a##c", "X#a#b#c"):
        with pytest.raises(ValueError):
            keys.parse_group_pk(bad)


def test_sort_key_order_puts_history_between_config_and_lock():
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    ordered = sorted([keys.LOCK_SK, keys.history_sk(ts, "a"), keys.CONFIG_SK, keys.cluster_sk("zzz")])
    assert ordered == [keys.cluster_sk("zzz"), keys.CONFIG_SK, keys.history_sk(ts, "a"), keys.LOCK_SK]
    assert keys.cluster_sk("zzz") < keys.HISTORY_PREFIX < keys.history_sk(ts, "a") < keys.LOCK_SK


def test_history_keys_sort_by_time_and_never_collide():
    base = datetime(2026, 1, 1, tzinfo=UTC)
    stamps = [base + timedelta(microseconds=i) for i in range(50)] + [base + timedelta(days=400)]
    sks = [keys.history_sk(t, f"s{i}") for i, t in enumerate(stamps)]
    assert sorted(sks) == sks
    same_instant = {keys.history_sk(base, suffix) for suffix in ("a", "b", "c")}
    assert len(same_instant) == 3


def test_timestamps_are_utc_and_naive_ones_refused():
    from datetime import timezone

    plus_two = datetime(2026, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert keys.format_timestamp(plus_two) == "2026-01-01T00:00:00.000000Z"
    with pytest.raises(ValueError):
        keys.format_timestamp(datetime(2026, 1, 1))
