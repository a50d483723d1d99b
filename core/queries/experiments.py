"""A/B test results for a `Query`: per variant, sessions, conversions of a goal, rate, uplift, p-value.

A session is in a variant when it carries the variant's tag `AB-<test id>-<variant key>` (added by
ab.js) and is one of the query's sessions (started in the range, in the segment). Conversions use
`core.queries.goals.goal_condition`.

Significance: a two-sided two-proportion z-test of each variant against the control (the first
variant), with the pooled rate p = (x₁ + x₀) / (n₁ + n₀):
z = (p₁ − p₀) / √(p (1 − p) (1/n₁ + 1/n₀)), p-value = erfc(|z| / √2). It needs both groups
non-empty and 0 < p < 1; otherwise the p-value is None. The normal approximation is fair when each
group has at least ~5 conversions and ~5 non-conversions; below that, treat the figure as a hint.
Uplift is the relative change of the rate against the control's, in percent (None when the
control's rate is 0).
"""

from __future__ import annotations

import math
from typing import Any

from core.db import Database
from core.experiments.rules import variant_tag
from core.models import AbTest, AbVariant, Goal, Session, SessionTag
from core.queries.filters import session_where
from core.queries.goals import goal_condition, rate
from core.queries.query import Query

SIGNIFICANCE = 0.05


def two_proportion_p_value(x1: int, n1: int, x0: int, n0: int) -> float | None:
    """Two-sided p-value of "variant rate x1/n1 differs from control rate x0/n0" (pooled z-test)."""
    if n1 <= 0 or n0 <= 0:
        return None
    pooled = (x1 + x0) / (n1 + n0)
    if pooled <= 0 or pooled >= 1:
        return None
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    z = (x1 / n1 - x0 / n0) / se
    return math.erfc(abs(z) / math.sqrt(2))


def results(database: Database, q: Query, test: AbTest, variants: list[AbVariant],
            goal: Goal | None) -> dict[str, Any]:
    """Per-variant figures (control first). Without a goal only session counts are filled in."""
    where = session_where(q, database.dialect)
    met = goal_condition(goal, q, database.dialect) if goal is not None else None
    rows: list[dict[str, Any]] = []
    for variant in variants:
        tag = variant_tag(test.id, variant.key)
        in_variant = where & Session.id.in_(
            SessionTag.select(SessionTag.session).where((SessionTag.site == q.site_id) & (SessionTag.tag == tag)))
        sessions = Session.select().where(in_variant).count()
        converted = Session.select().where(in_variant & met).count() if (met is not None and sessions) else 0
        rows.append({"variant_id": variant.id, "name": variant.name, "tag": tag, "weight": variant.weight,
                     "sessions": sessions, "conversions": converted if met is not None else None,
                     "rate": rate(converted, sessions) if met is not None else None,
                     "uplift": None, "p_value": None, "significant": False})
    if met is not None and rows:
        control = rows[0]
        for row in rows[1:]:
            if control["sessions"] and control["conversions"]:
                c_rate = control["conversions"] / control["sessions"]
                v_rate = row["conversions"] / row["sessions"] if row["sessions"] else 0.0
                row["uplift"] = round(100.0 * (v_rate - c_rate) / c_rate, 2)
            p_value = two_proportion_p_value(row["conversions"], row["sessions"], control["conversions"],
                                             control["sessions"])
            row["p_value"] = round(p_value, 6) if p_value is not None else None
            row["significant"] = p_value is not None and p_value < SIGNIFICANCE
    return {"test_id": test.id, "goal_id": goal.id if goal is not None else None, "from": q.start.isoformat(),
            "to": q.end.isoformat(), "timezone": q.timezone, "method": "two-proportion z-test, two-sided, pooled",
            "variants": rows}
