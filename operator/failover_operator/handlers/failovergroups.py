"""FailoverGroup: register on create/resume, tick in a daemon, sync suspension and timeouts on update,
hand over and clean up on delete."""

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
from ..reconciler.context import OperatorContext
from ..reconciler.edits import write_timeouts
from ..reconciler.group import GroupRunner
from ..reconciler.plan import GroupPlan, plan_of
from ..reconciler.retire import retire_group
from ..store import NotFoundError, StoreError
from ..workloads.kube import KubeClient
from .reporting import KopfReporter, stop_event

log = logging.getLogger("failover_operator.handlers")


class GroupHandlers:
    def __init__(self, ctx: OperatorContext, kube: KubeClient) -> None:
        self.ctx = ctx
        self.kube = kube
        self._invalid: dict[tuple[str, str], str] = {}
        self._valid: dict[tuple[str, str], GroupPlan] = {}

    def runner(self, namespace: str, name: str) -> GroupRunner:
        key = (namespace, name)
        if key not in self.ctx.runners:
            self.ctx.runners[key] = GroupRunner(self.ctx, namespace, name)
        return self.ctx.runners[key]

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
        store = self.ctx.store
        try:
            config = await store.state.register_group(
                namespace, name, initial_owner=plan.initial_primary, timeouts=plan.timeouts
            )
            if plan.suspended and not config.suspended:
                await store.operations.update_suspension(
                    namespace, name, True, plan.suspension_reason or "suspended in the FailoverGroup spec"
                )
        except StoreError as exc:
            raise kopf.TemporaryError(f"cannot register {namespace}/{name} in DynamoDB: {exc}", delay=10) from exc

    async def on_update(self, body: kopf.Body, diff: kopf.Diff, **_: Any) -> None:
        """Changes made in this cluster's spec go to DynamoDB once, when they are made (never every tick:
        clusters whose copies differ would otherwise undo each other forever)."""
        namespace, name = _key(body)
        plan = await self.valid_plan(body)
        if plan is None:
            return
        fields = {tuple(d[1]) for d in diff}
        store = self.ctx.store
        runner = self.runner(namespace, name)
        try:
            if {("spec", "suspended"), ("spec", "suspensionReason"), ("spec",)} & fields:
                config = await store.operations.update_suspension(
                    namespace, name, plan.suspended, plan.suspension_reason if plan.suspended else None
                )
                KopfReporter(body, self.kube, "FailoverGroup").event(
                    "Suspended" if config.suspended else "Resumed",
                    f"automatic failover of {namespace}/{name} is "
                    + (f"suspended: {config.suspension_reason}" if config.suspended else "enabled again"),
                )
            if any(f[:2] == ("spec", "timeouts") or f == ("spec",) for f in fields):
                await write_timeouts(store, namespace, name, plan.timeouts)
        except NotFoundError:
            pass  # not registered yet: the first tick registers it with the current spec
        except StoreError as exc:
            raise kopf.TemporaryError(f"cannot update {namespace}/{name} in DynamoDB: {exc}", delay=10) from exc
        runner.wake()

    async def daemon(self, body: kopf.Body, stopped: kopf.DaemonStopped, **_: Any) -> None:
        namespace, name = _key(body)
        runner = self.runner(namespace, name)
        reporter = KopfReporter(body, self.kube, "FailoverGroup")
        async with stop_event(stopped) as stop:
            await runner.run(lambda: self.valid_plan(body, (namespace, name)), reporter, stop)

    async def on_delete(self, body: kopf.Body, **_: Any) -> None:
        namespace, name = _key(body)
        try:
            plan = plan_of(body)
        except ValidationError:
            plan = None
        reporter = KopfReporter(body, self.kube, "FailoverGroup")
        try:
            await retire_group(self.ctx, namespace, name, plan, reporter)
        except StoreError as exc:
            raise kopf.TemporaryError(
                f"cannot hand over or clean up {namespace}/{name} in DynamoDB: {exc}", delay=10
            ) from exc
        self.ctx.runners.pop((namespace, name), None)
        self._valid.pop((namespace, name), None)
        self._invalid.pop((namespace, name), None)
        self.ctx.metrics.forget_group(namespace, name)


def _key(body: kopf.Body) -> tuple[str, str]:
    return body.metadata.namespace or "", body.metadata.name or ""
