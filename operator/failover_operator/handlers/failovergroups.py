"""FailoverGroup: kopf's handlers around the group's lifecycle (lifecycle.py): register on create/resume, run
in a daemon, sync suspension and timeouts on update, leave on delete."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import kopf
from pydantic import ValidationError

from ..api import (
    ConditionType,
    make_condition,
    validation_message,
)
from ..lifecycle import GroupLifecycle
from ..reconciler.context import OperatorContext, StoppingError
from ..reconciler.plan import GroupPlan, plan_of
from ..store import StoreError
from ..workloads.kube import KubeClient
from .reporting import KopfReporter, stop_event

log = logging.getLogger("failover_operator.handlers")


class GroupHandlers:
    def __init__(self, ctx: OperatorContext, kube: KubeClient) -> None:
        self.ctx = ctx
        self.kube = kube
        self._invalid: dict[tuple[str, str], str] = {}
        self._valid: dict[tuple[str, str], GroupPlan] = {}

    async def valid_plan(self, body: kopf.Body, key: tuple[str, str] | None = None) -> GroupPlan | None:
        """The plan; for an invalid spec, the last valid plan marked with the error (a bad edit must not stop
        the heartbeat of a running group — its peers would take it for dead), or None if there never was one.
        Each distinct problem is reported once, as an event and in the status."""
        key = key or _key(body)
        last = self._valid.get(key)
        generation = (body.get("metadata") or {}).get("generation")
        if last is not None and generation is not None and last.generation == generation and key not in self._invalid:
            return last  # the spec has not changed since it was last found valid (every tick of every group)
        try:
            plan = plan_of(body)
        except ValidationError as exc:
            message = validation_message(exc)
            if last is not None:
                if self._invalid.get(key) != message:
                    self._invalid[key] = message
                    KopfReporter(body, self.kube, "FailoverGroup").event(
                        "InvalidSpec", f"{message} (still running with the last valid spec)", warning=True
                    )
                    log.warning("%s/%s: invalid spec, keeping the last valid one: %s", *key, message)
                return replace(last, spec_error=message)
            if self._invalid.get(key) != message:
                self._invalid[key] = message
                reporter = KopfReporter(body, self.kube, "FailoverGroup")
                reporter.event("InvalidSpec", message, warning=True)
                now = self.ctx.clock.now()
                generation = body.metadata.get("generation")
                condition = make_condition(
                    ConditionType.SPEC_VALID, False, "InvalidSpec", message, now=now, observed_generation=generation
                )
                ready = make_condition(
                    ConditionType.READY, False, "InvalidSpec", message, now=now, observed_generation=generation
                )
                await reporter.patch_status(
                    {
                        "conditions": [c.model_dump(mode="json", by_alias=True) for c in (ready, condition)],
                        "message": message,
                        "decision": f"no action: the spec is invalid: {message}",
                        "observedGeneration": generation,
                    }
                )
                log.warning("%s/%s: invalid spec: %s", *key, message)
            return None
        self._invalid.pop(key, None)
        self._valid[key] = plan
        return plan

    async def on_create(self, body: kopf.Body, **_: Any) -> None:
        """Register the group (the first cluster becomes owner unless initialPrimary says otherwise)."""
        namespace, name = _key(body)
        plan = await self.valid_plan(body)
        if plan is None:
            return
        try:
            await GroupLifecycle(self.ctx, namespace, name).create(plan)
        except StoreError as exc:
            raise kopf.TemporaryError(f"cannot register {namespace}/{name} in DynamoDB: {exc}", delay=10) from exc

    async def on_update(self, body: kopf.Body, diff: kopf.Diff, **_: Any) -> None:
        """Changes made in this cluster's spec go to DynamoDB once, when they are made."""
        namespace, name = _key(body)
        plan = await self.valid_plan(body)
        if plan is None:
            return
        fields = {tuple(d[1]) for d in diff}
        reporter = KopfReporter(body, self.kube, "FailoverGroup")
        try:
            await GroupLifecycle(self.ctx, namespace, name).update(plan, fields, reporter)
        except StoreError as exc:
            raise kopf.TemporaryError(f"cannot update {namespace}/{name} in DynamoDB: {exc}", delay=10) from exc

    async def daemon(self, body: kopf.Body, stopped: kopf.DaemonStopped, **_: Any) -> None:
        namespace, name = _key(body)
        reporter = KopfReporter(body, self.kube, "FailoverGroup")
        async with stop_event(stopped, self.ctx) as stop:
            await GroupLifecycle(self.ctx, namespace, name).run(
                lambda: self.valid_plan(body, (namespace, name)), reporter, stop
            )

    async def on_delete(self, body: kopf.Body, **_: Any) -> None:
        namespace, name = _key(body)
        plan: GroupPlan | None
        try:
            plan = plan_of(body)
        except ValidationError:
            plan = self._valid.get((namespace, name))
        reporter = KopfReporter(body, self.kube, "FailoverGroup")
        try:
            await GroupLifecycle(self.ctx, namespace, name).delete(plan, reporter)
        except StoppingError as exc:
            raise kopf.TemporaryError(str(exc), delay=1) from exc
        self._valid.pop((namespace, name), None)
        self._invalid.pop((namespace, name), None)


def _key(body: kopf.Body) -> tuple[str, str]:
    return body.metadata.namespace or "", body.metadata.name or ""
