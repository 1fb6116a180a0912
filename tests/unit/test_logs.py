"""Logging: kopf's retried API requests are not errors."""

from __future__ import annotations

import inspect
import logging

import pytest
from kopf._cogs.clients import api as kopf_api

from failover_operator.logs import KopfRetries

TOO_MANY = (
    "Request attempt #1/5 failed; will retry: GET https://10.0.0.1/apis/failover.dev/v1alpha1/failovergroups -> "
    "APITooManyRequestsError('storage is (re)initializing', {'kind': 'Status', 'code': 429}, status=429)"
)
SERVER_ERROR = (
    "Request attempt #2/5 failed; will retry: PATCH https://10.0.0.1/apis/failover.dev/v1alpha1/namespaces/shop/"
    "failovers/x -> APIServerError('etcdserver: request timed out', {}, status=500)"
)
GAVE_UP = "Request attempt #5/5 failed; escalating: GET https://10.0.0.1/api -> APIServerError('boom', {}, status=500)"


@pytest.fixture
def root_level():
    """Set the root logger's level for one test (the filter drops what falls below it)."""
    root = logging.getLogger()
    previous = root.level
    yield root.setLevel
    root.setLevel(previous)


def record(message: str, name: str = "kopf._cogs.clients.watching", level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


def test_kopf_still_logs_retries_the_way_the_filter_expects() -> None:
    source = inspect.getsource(kopf_api.request)
    assert 'logger.error(f"Request attempt {idx} failed; will retry: {what} -> {e!r}")' in source


@pytest.mark.parametrize(
    ("message", "level", "says"),
    [
        (TOO_MANY, logging.INFO, "the API server asked to retry later (429, e.g. storage still initializing): GET "),
        (SERVER_ERROR, logging.WARNING, "APIServerError('etcdserver: request timed out'"),
        (GAVE_UP, logging.ERROR, "escalating"),
    ],
)
def test_a_retried_request_is_no_error_and_a_429_is_news(message: str, level: int, says: str, root_level) -> None:
    root_level(logging.INFO)
    r = record(message)
    assert KopfRetries().filter(r)
    assert (r.levelno, r.levelname) == (level, logging.getLevelName(level))
    assert says in r.getMessage()


def test_below_the_configured_level_a_downgraded_record_is_dropped(root_level) -> None:
    root_level(logging.WARNING)
    assert not KopfRetries().filter(record(TOO_MANY))
    assert KopfRetries().filter(record(SERVER_ERROR))


def test_other_records_pass_untouched() -> None:
    for r in (record(TOO_MANY, name="failover_operator"), record("Handler failed", level=logging.ERROR)):
        assert KopfRetries().filter(r) and r.levelno == logging.ERROR


def test_json_lines_carry_the_group_cluster_epoch_action_and_failover_as_fields() -> None:
    import asyncio
    import json

    from failover_operator.logs import JsonFormatter, bind

    formatter = JsonFormatter()
    lines: list[dict[str, object]] = []

    async def runner() -> None:  # a runner's task binds its group; its log calls add what they are about
        bind(group="shop/web", cluster="east")
        record = logging.LogRecord(
            "failover_operator.group", logging.INFO, __file__, 1, "%s: %s", ("shop/web", "x"), None
        )
        record.action, record.epoch = "take-over", 7
        lines.append(json.loads(formatter.format(record)))

    async def executor() -> None:
        bind(failover="shop/to-west", cluster="west")
        record = logging.LogRecord("failover_operator.failover", logging.WARNING, __file__, 1, "failed", None, None)
        lines.append(json.loads(formatter.format(record)))

    async def both() -> None:
        await asyncio.gather(runner(), executor())  # each task its own fields

    asyncio.run(both())
    first, second = lines
    assert {k: first[k] for k in ("group", "cluster", "epoch", "action")} == {
        "group": "shop/web",
        "cluster": "east",
        "epoch": 7,
        "action": "take-over",
    }
    assert second["failover"] == "shop/to-west" and second["cluster"] == "west" and "group" not in second


def test_a_repeated_line_is_news_once_a_minute() -> None:
    from failover_operator.logs import Repeats

    now = [0.0]
    repeats = Repeats(lambda: now[0])
    assert repeats.news("decision", "waiting")
    now[0] = 30.0
    assert not repeats.news("decision", "waiting")
    assert repeats.news("decision", "taking over")  # something else: news at once
    assert repeats.news("read", "waiting")  # another kind of line keeps its own count
    now[0] = 91.0
    assert repeats.news("decision", "taking over")


def test_kopfs_own_chatter_is_at_warning() -> None:
    from failover_operator.logs import configure

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure("json", "INFO")
        assert logging.getLogger("kopf").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger().getEffectiveLevel() == logging.INFO  # ours (and the rest) at the level asked
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.getLogger("kopf").setLevel(logging.NOTSET)


def test_a_repeated_line_whose_numbers_change_is_the_same_news() -> None:
    from failover_operator.logs import Repeats

    now = [0.0]
    repeats = Repeats(lambda: now[0])
    fencing = "cannot write its heartbeat for shop/web (last written {}s ago, limit 7.5s)"
    assert repeats.news("decision", ("FENCE", fencing.format(1.8)))
    now[0] = 0.5
    assert not repeats.news("decision", ("FENCE", fencing.format(2.3)))  # the same warning, a later age
    assert not repeats.news("decision", ("FENCE", fencing.format(12)))
    assert repeats.news("decision", ("FENCE", "fencing shop/web2: another reason"))
    # a number inside a name is part of the name: another cluster or group is other news
    assert repeats.news("read", "cannot reach east-2")
    assert repeats.news("read", "cannot reach east-3")
    now[0] = 61.0
    assert repeats.news("decision", ("FENCE", fencing.format(61.3)))  # once a minute still


def test_the_kubernetes_clients_connection_retries_are_no_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    """The client's urllib3 pool retries a refused connection three times, each a WARNING of its own: none is
    printed; what failed for good is the caller's to say (here, the exception)."""
    from kubernetes import client

    from failover_operator.logs import configure
    from harness.dynamo import free_port

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        for log_level in ("INFO", "DEBUG"):
            configure("text", log_level)
            configuration = client.Configuration(host=f"http://127.0.0.1:{free_port()}")  # nothing listens
            api = client.CoreV1Api(client.ApiClient(configuration))
            with pytest.raises(Exception, match="Max retries exceeded"):
                api.list_namespace(_request_timeout=1)
            err = capsys.readouterr().err
            assert "Retrying (Retry(" not in err and "WARNING" not in err, err
            if log_level == "DEBUG":  # one line of ours per retry, at DEBUG
                ours = [line for line in err.splitlines() if "the HTTP client retries it" in line]
                assert len(ours) == 3 and all(" DEBUG " in line for line in ours), err
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name in ("kopf", "botocore", "aiobotocore", "aioboto3", "urllib3", "kubernetes", "asyncio"):
            logging.getLogger(name).setLevel(logging.NOTSET)


def test_kopfs_lines_about_a_failover_group_carry_its_group() -> None:
    import json

    from failover_operator.logs import JsonFormatter

    r = record("Deletion is in progress", name="kopf.objects", level=logging.INFO)
    r.k8s_ref = {"apiVersion": "failover.dev/v1alpha1", "kind": "FailoverGroup", "namespace": "shop", "name": "web"}
    line = json.loads(JsonFormatter().format(r))
    assert line["group"] == "shop/web" and line["object"]["kind"] == "FailoverGroup"
    r.k8s_ref = {"apiVersion": "failover.dev/v1alpha1", "kind": "Failover", "namespace": "shop", "name": "to-west"}
    assert "group" not in json.loads(JsonFormatter().format(r))
