"""A fast deep copy of JSON-like data (dicts, lists, strings, numbers), for the in-memory stand-ins.

`marshal` copies in C, about ten times faster than a Python walk and far faster than copy.deepcopy; values it
cannot serialize (a str subclass such as an enum member) fall back to the walk."""

from __future__ import annotations

import marshal
from typing import Any


def deep_copy(value: Any) -> Any:
    try:
        return marshal.loads(marshal.dumps(value))
    except ValueError:
        return _walk(value)


def _walk(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v) for v in value]
    return value
