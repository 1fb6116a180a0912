"""Logging: one line per record, text for people or JSON for pipelines (LOG_FORMAT)."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Hashable
from datetime import UTC, datetime

FIELDS = (
    "group",
    "cluster",
    "epoch",
    "action",
    "failover",
    "operator_id",
    "table",
    "region",
    "version",
    "mode",
    "reason",
    "regions",
    "mrsc",
    "replicas",
    "witnesses",
    "moved_from",
)
"""What a JSON log line carries as fields (from `bind` or a call's `extra`), not only in its message: the first five
on a group's or a Failover's lines, the next six on a process's start and stop lines; `regions`, `mrsc`, `replicas`
and `witnesses` on the line that says what kind of table it is, `moved_from` (and `region`) on a move of the
DynamoDB client to another Region."""

_context: contextvars.ContextVar[dict[str, object]] = contextvars.ContextVar("log_context", default={})  # noqa: B039


def bind(**fields: object) -> None:
    """Fields for every log line of this task and the tasks it starts (e.g. the group a runner works for)."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


REPEAT_SECONDS = 60.0

_NUMBER = re.compile(r"(?<![\w-])\d+(?:\.\d+)?")


def template(said: object) -> object:
    """What a line says with its numbers left out: "last written 1.8s ago" and "last written 2.3s ago" say the
    same thing (a number inside a name, such as `east-2` or `web2`, is kept)."""
    if isinstance(said, str):
        return _NUMBER.sub("#", said)
    if isinstance(said, tuple):
        return tuple(template(part) for part in said)
    return said


class Repeats:
    """A line that says what the last one said is logged at most once a minute: a decision or an error that
    holds for a while is news once, not at every tick (one INFO line was seen 75 times in 30 s). What it says is
    compared without its numbers (`template`): a wait or an age that grows with every tick is the same news."""

    def __init__(self, now: Callable[[], float] = time.monotonic, every: float = REPEAT_SECONDS) -> None:
        self._now = now
        self._every = every
        self._last: dict[Hashable, tuple[object, float]] = {}

    def news(self, key: Hashable, said: object) -> bool:
        """True if `said` differs from what was last logged under `key`, or that was a minute ago."""
        now = self._now()
        said = template(said)
        last = self._last.get(key)
        if last is not None and last[0] == said and now - last[1] < self._every:
            return False
        self._last[key] = (said, now)
        return True

    def forget(self, key: Hashable) -> None:
        self._last.pop(key, None)


_KOPF_RETRY = re.compile(r"^Request attempt \S+ failed; will retry: (?P<what>.*?) -> (?P<error>\w+)")


class KopfRetries(logging.Filter):
    """kopf logs every failed API request it is about to retry at ERROR; only a request it gives up on is an
    error. A retried failure becomes a WARNING, and a 429 (the API server's storage for a resource is still
    initializing, as on the first list after a CRD is created, or API priority and fairness asking to slow
    down) an INFO line that says so. Records below the root logger's level are then dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.ERROR or not record.name.startswith("kopf") or not isinstance(record.msg, str):
            return True
        found = _KOPF_RETRY.match(record.msg)
        if found is None:
            return True
        if found["error"] == "APITooManyRequestsError":
            level = logging.INFO
            record.msg = f"the API server asked to retry later (429, e.g. storage still initializing): {found['what']}"
        else:
            level = logging.WARNING
        record.levelno, record.levelname = level, logging.getLevelName(level)
        record.args = None
        return level >= logging.getLogger().getEffectiveLevel()


class Urllib3Retries(logging.Filter):
    """The kubernetes client's connection pool (urllib3) logs each retry of a broken connection as a WARNING of its
    own ("Retrying (Retry(total=2, connect=None, ...)) after connection broken by ..."), several per failed
    request. A request that fails for good raises, and our own line says what could not be done; a retry becomes
    one DEBUG line of ours, dropped below the configured level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("urllib3") or not isinstance(record.msg, str):
            return True
        if not record.msg.startswith("Retrying ("):
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        error, url = (args[1], args[2]) if len(args) == 3 else ("?", "?")
        record.msg = "a connection to %s broke (%r); the HTTP client retries it"
        record.args = (url, error)
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger().getEffectiveLevel() <= logging.DEBUG


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _context.get().items():
            entry.setdefault(key, value)
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        for key in ("k8s_skip", "k8s_ref"):
            value = getattr(record, key, None)
            if isinstance(value, dict):
                entry["object"] = {k: v for k, v in value.items() if k in ("namespace", "name", "kind")}
                if value.get("kind") == "FailoverGroup" and "group" not in entry:  # kopf's lines about a group
                    entry["group"] = f"{value.get('namespace') or ''}/{value.get('name') or ''}"
        return json.dumps(entry, default=str)


def configure(log_format: str = "text", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(KopfRetries())
    handler.addFilter(Urllib3Retries())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # kopf's own chatter ("Handler ... succeeded", "Timer ... ") at WARNING: what happened is our lines' to say
    for noisy in ("kopf", "botocore", "aiobotocore", "aioboto3", "urllib3", "kubernetes", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
