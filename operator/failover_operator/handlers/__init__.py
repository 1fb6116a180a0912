"""kopf handlers: the only place that imports kopf. Thin: parse the object, call the reconciler, patch
status, post events."""

from .registry import build_registry

__all__ = ["build_registry"]
