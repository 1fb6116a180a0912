"""Which of two groups of a cluster manages a resource both list (reconciler/claims.py over rules.claimant):
kept as an index of what each group lists, and careful while a group has not said yet (an operator that just
started)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from failover_operator.model import Timeouts
from failover_operator.reconciler.claims import Claims
from failover_operator.reconciler.plan import GroupPlan
from failover_operator.workloads.converge import ResourceRef

OLD, NEW = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)


def plan(*names: str, created: datetime | None = OLD) -> GroupPlan:
    refs = tuple(ResourceRef("Deployment", n) for n in names)
    return GroupPlan(heartbeat_interval=1.0, timeouts=Timeouts(), resources=refs, created=created)


@dataclass
class Runner:
    namespace: str
    name: str
    plan: GroupPlan | None = None

    @property
    def group(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass
class Workloads:
    annotated: dict[str, str] = field(default_factory=dict)  # resource name -> the group its annotation names

    def managed_by(self, namespace: str, ref: Any) -> str | None:
        return self.annotated.get(ref.name)


@dataclass
class Context:
    workloads: Workloads = field(default_factory=Workloads)
    runners: dict[tuple[str, str], Runner] = field(default_factory=dict)


def fleet(*runners: Runner) -> tuple[Context, Claims]:
    ctx = Context(runners={(r.namespace, r.name): r for r in runners})
    return ctx, Claims(ctx)  # type: ignore[arg-type]


def test_a_resource_only_one_group_lists_is_its_own() -> None:
    web = Runner("shop", "web")
    _, claims = fleet(web)
    assert claims.claimed(web, plan("web")) == {}  # type: ignore[arg-type]


def test_of_two_groups_listing_one_deployment_the_older_manages_it_and_the_newer_leaves_it() -> None:
    web, dup = Runner("shop", "web", plan("web")), Runner("shop", "dup", plan("web", "other", created=NEW))
    _, claims = fleet(web, dup)
    assert claims.claimed(web, web.plan) == {}  # type: ignore[arg-type]
    assert claims.claimed(dup, dup.plan) == {"Deployment/web": "shop/web"}  # type: ignore[arg-type]
    assert claims.claimed(web, web.plan) == {}  # type: ignore[arg-type]
    # the resource's annotation wins while the group it names lists it
    ctx, claims = fleet(web, dup)
    ctx.workloads.annotated["web"] = "shop/dup"
    claims.claimed(web, web.plan)  # type: ignore[arg-type]
    assert claims.claimed(dup, dup.plan) == {}  # type: ignore[arg-type]
    assert claims.claimed(web, web.plan) == {"Deployment/web": "shop/dup"}  # type: ignore[arg-type]


def test_a_group_that_stops_listing_it_or_leaves_claims_nothing() -> None:
    web, dup = Runner("shop", "web", plan("web")), Runner("shop", "dup", plan("web", created=NEW))
    _, claims = fleet(web, dup)
    claims.claimed(web, web.plan)  # type: ignore[arg-type]
    assert claims.claimed(dup, dup.plan) == {"Deployment/web": "shop/web"}  # type: ignore[arg-type]
    claims.claimed(web, plan("api"))  # type: ignore[arg-type]  # web's spec no longer lists it
    assert claims.claimed(dup, dup.plan) == {}  # type: ignore[arg-type]
    claims.claimed(web, web.plan)  # type: ignore[arg-type]
    claims.forget("shop/web")
    assert claims.claimed(dup, dup.plan) == {}  # type: ignore[arg-type]


def test_a_resource_whose_manager_has_not_said_yet_what_it_lists_is_left_alone() -> None:
    """An operator that just started: dup ticks before web has said what it lists, and the Deployment names web
    as its manager: dup leaves it alone until web has said."""
    web, dup = Runner("shop", "web"), Runner("shop", "dup", plan("web", created=NEW))
    ctx, claims = fleet(web, dup)
    ctx.workloads.annotated["web"] = "shop/web"
    assert claims.claimed(dup, dup.plan) == {"Deployment/web": "shop/web"}  # type: ignore[arg-type]
    web.plan = plan("api")  # web does not list it after all
    claims.claimed(web, web.plan)  # type: ignore[arg-type]
    assert claims.claimed(dup, dup.plan) == {}  # type: ignore[arg-type]
