"""Saving, loading and publishing goals and A/B tests (the one place that writes their tables).

Callers validate with `core.experiments.rules` first; these functions check what needs the database
(limits per site, goal and variant ids belonging to the site/test) and raise `RuleError` too, so the
dashboard and the REST API answer the same way. Each write runs in one transaction.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

import peewee

from core.experiments.rules import MAX_GOALS, MAX_TESTS, RuleError
from core.i18n import _
from core.models import AbTest, AbVariant, Goal, utcnow


def goal_json(goal: Goal) -> dict[str, Any]:
    return {"id": goal.id, "site_id": goal.site_id, "name": goal.name, "kind": goal.kind, "path": goal.path,
            "category": goal.category, "action": goal.action, "tag": goal.tag, "created_at": goal.created_at}


def site_goals(site_id: int) -> list[Goal]:
    return list(Goal.select().where(Goal.site == site_id).order_by(Goal.name, Goal.id))


def create_goal(db: peewee.Database, site_id: int, clean: dict[str, Any]) -> Goal:
    with db.atomic():
        if Goal.select().where(Goal.site == site_id).count() >= MAX_GOALS:
            raise RuleError("name", _("a site may have at most {n} goals").format(n=MAX_GOALS))
        return Goal.create(site=site_id, created_at=utcnow(), **clean)


def update_goal(db: peewee.Database, goal: Goal, clean: dict[str, Any]) -> Goal:
    with db.atomic():
        for key, value in clean.items():
            setattr(goal, key, value)
        goal.save()
    return goal


def variants_of(test: AbTest) -> list[AbVariant]:
    return list(AbVariant.select().where(AbVariant.test == test.id).order_by(AbVariant.position, AbVariant.id))


def abtest_json(test: AbTest, variants: list[AbVariant] | None = None) -> dict[str, Any]:
    from core.experiments.rules import variant_tag

    variants = variants if variants is not None else variants_of(test)
    return {
        "id": test.id, "site_id": test.site_id, "name": test.name, "status": test.status, "page": test.page,
        "goal_id": test.goal_id, "created_at": test.created_at, "started_at": test.started_at,
        "stopped_at": test.stopped_at,
        "variants": [{"id": v.id, "name": v.name, "weight": v.weight, "control": i == 0,
                      "key": v.key, "tag": variant_tag(test.id, v.key), "changes": v.changes} for i, v in enumerate(variants)],
    }


def _check_goal(site_id: int, goal_id: int | None) -> None:
    if goal_id is not None and not Goal.select().where((Goal.id == goal_id) & (Goal.site == site_id)).exists():
        raise RuleError("goal_id", _("must be the id of one of this site's goals, or null"))


def _set_status(test: AbTest, status: str) -> None:
    if status == test.status:
        return
    if status == "running":
        test.started_at = test.started_at or utcnow()
        test.stopped_at = None
    elif status == "stopped":
        test.stopped_at = utcnow()
    test.status = status


def _save_variants(test: AbTest, variants: list[dict[str, Any]]) -> None:
    """Keep variants listed with their id (their tag, so their results, stays), add the new ones,
    delete the ones left out."""
    existing = {v.id: v for v in variants_of(test)}
    for index, variant in enumerate(variants):
        if "id" in variant and variant["id"] not in existing:
            raise RuleError(f"variants[{index}].id", _("must be the id of one of this test's variants"))
    merged = [{"weight": existing[v["id"]].weight, "changes": existing[v["id"]].changes, **v} if "id" in v else v
              for v in variants]
    if sum(v["weight"] for v in merged) <= 0:
        raise RuleError("variants[0].weight", _("at least one variant needs a weight above 0"))
    variants = merged
    kept = {v["id"] for v in variants if "id" in v}
    used = {v.key for v in existing.values()}  # including those deleted just now
    gone = [vid for vid in existing if vid not in kept]
    if gone:
        AbVariant.delete().where(AbVariant.id.in_(gone)).execute()
    for position, variant in enumerate(variants):
        values = {"name": variant["name"], "weight": variant["weight"], "changes": variant["changes"],
                  "position": position}
        if "id" in variant:
            AbVariant.update(**values).where(AbVariant.id == variant["id"]).execute()
        else:
            key = new_key(used)
            used.add(key)
            AbVariant.create(test=test.id, key=key, **values)


def new_key(used: set[str]) -> str:
    """6 random lowercase letters/digits (36^6 ≈ 2e9 values), not among `used`."""
    alphabet = string.ascii_lowercase + string.digits
    while True:
        key = "".join(secrets.choice(alphabet) for _i in range(6))
        if key not in used:
            return key


def create_test(db: peewee.Database, site_id: int, clean: dict[str, Any]) -> AbTest:
    with db.atomic():
        if AbTest.select().where(AbTest.site == site_id).count() >= MAX_TESTS:
            raise RuleError("name", _("a site may have at most {n} A/B tests").format(n=MAX_TESTS))
        if any("id" in v for v in clean["variants"]):
            raise RuleError("variants", _("a new test's variants have no ids yet"))
        _check_goal(site_id, clean.get("goal_id"))
        test = AbTest(site=site_id, name=clean["name"], page=clean.get("page", ""), goal=clean.get("goal_id"),
                      status="draft", created_at=utcnow())
        _set_status(test, clean.get("status", "draft"))
        test.save()
        _save_variants(test, clean["variants"])
    return test


def update_test(db: peewee.Database, test: AbTest, clean: dict[str, Any]) -> AbTest:
    with db.atomic():
        if "goal_id" in clean:
            _check_goal(test.site_id, clean["goal_id"])
            test.goal = clean["goal_id"]
        for key in ("name", "page"):
            if key in clean:
                setattr(test, key, clean[key])
        if "status" in clean:
            _set_status(test, clean["status"])
        test.save()
        if "variants" in clean:
            _save_variants(test, clean["variants"])
    return test


def published_tests(site_id: int) -> list[dict[str, Any]]:
    """What ab.js carries: running tests only, with nothing but what the browser needs."""
    tests = list(AbTest.select().where((AbTest.site == site_id) & (AbTest.status == "running"))
                 .order_by(AbTest.id))
    if not tests:
        return []
    by_test: dict[int, list[AbVariant]] = {}
    for variant in (AbVariant.select().where(AbVariant.test.in_([t.id for t in tests]))
                    .order_by(AbVariant.position, AbVariant.id)):
        by_test.setdefault(variant.test_id, []).append(variant)
    return [{"id": t.id, "page": t.page,
             "variants": [{"key": v.key, "weight": v.weight, "changes": v.changes} for v in by_test.get(t.id, [])]}
            for t in tests if by_test.get(t.id)]
