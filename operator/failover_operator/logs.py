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

FIELDS = ("group", "cluster", "epoch", "action", "failover")
"""What a JSON log line carries as fields (from `bind` or a call's `extra`), not only in its message."""

_context: contextvars.ContextVar[dict[str, object]] = contextvars.ContextVar("log_context", default={})  # noqa: B039


def bind(**fields: object) -> None:
    """Fields for every log line of this task and the tasks it starts (e.g. the group a runner works for)."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


REPEAT_SECONDS = 60.0


class Repeats:
    """A line that says what the last one said is logged at most once a minute: a decision or an error that
    holds for a while is news once, not at every tick (one INFO line was seen 75 times in 30 s)."""

    def __init__(self, now: Callable[[], float] = time.monotonic, every: float = REPEAT_SECONDS) -> None:
        self._now = now
        self._every = every
        self._last: dict[Hashable, tuple[object, float]] = {}

    def news(self, key: Hashable, said: object) -> bool:
        """True if `said` differs from what was last logged under `key`, or that was a minute ago."""
        now = self._now()
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
        return json.dumps(entry, default=str)


def configure(log_format: str = "text", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(KopfRetries())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # kopf's own chatter ("Handler ... succeeded", "Timer ... ") at WARNING: what happened is our lines' to say
    for noisy in ("kopf", "botocore", "aiobotocore", "aioboto3", "urllib3", "kubernetes", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
