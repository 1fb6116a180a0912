"""Logging: one line per record, text for people or JSON for pipelines (LOG_FORMAT)."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

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
    for noisy in ("botocore", "aiobotocore", "aioboto3", "urllib3", "kubernetes", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
