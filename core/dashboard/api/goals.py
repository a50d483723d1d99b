"""/api/v1 goals: list and add a site's goals, read/change/delete one, and its conversions over time."""

from __future__ import annotations

from typing import Any

import bottle

from core import accounts
from core.context import AppContext
from core.dashboard.access import current_user
from core.dashboard.api.common import TIME_SCHEMA, iso, json_object_body
from core.dashboard.api.spec import QueryParam, ValidationFailed, api_spec
from core.experiments import rules, store
from core.i18n import _
from core.models import Goal, Site
from core.queries import goals as goal_queries
from core.queries.query import QueryError, parse_site_query
from core.queries.stats import UNITS
from core.web import ApiError, json_response

_GOAL_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "maxLength": rules.NAME_MAX},
    "kind": {"type": "string", "enum": ["page", "event", "tag"],
             "description": "page: a page view whose path matches `path`; event: an event with `category` "
                            "(and `action` when set); tag: a session tag `tag`."},
    "path": {"type": "string", "maxLength": rules.PATH_MAX, "description": "kind page: `/thanks`, `/order/*/done`."},
    "category": {"type": "string", "maxLength": rules.EVENT_MAX, "description": "kind event (`*` wildcards)."},
    "action": {"type": "string", "maxLength": rules.EVENT_MAX, "description": "kind event; empty: any action."},
    "tag": {"type": "string", "maxLength": rules.TAG_MAX, "description": "kind tag."},
}
GOAL_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["id", "site_id", "name", "kind", "path", "category", "action", "tag", "created_at"],
    "properties": {"id": {"type": "integer"}, "site_id": {"type": "integer"}, **_GOAL_FIELDS,
                   "created_at": TIME_SCHEMA},
}
GOAL_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["name", "kind"], "additionalProperties": False, "properties": _GOAL_FIELDS,
}
RANGE_PARAMS = (
    QueryParam("from", {"type": "string", "format": "date"}, "First day (site time zone); default 13 days before `to`."),
    QueryParam("to", {"type": "string", "format": "date"}, "Last day, inclusive; default today."),
)
CONVERSIONS_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["goal_id", "from", "to", "sessions", "conversions", "rate", "unit", "points"],
    "properties": {
        "goal_id": {"type": "integer"}, "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date"}, "timezone": {"type": "string"},
        "sessions": {"type": "integer", "description": "Sessions started in the range (and segment)."},
        "conversions": {"type": "integer", "description": "Those of them that met the goal."},
        "rate": {"type": "number", "description": "conversions / sessions, in percent."},
        "unit": {"type": "string", "enum": list(UNITS)},
        "points": {"type": "array", "items": {"type": "object", "properties": {
            "bucket": {"type": "string"}, "sessions": {"type": "integer"}, "conversions": {"type": "integer"},
            "rate": {"type": "number"}}}},
    },
}


def goal_out(goal: Goal) -> dict[str, Any]:
    data = store.goal_json(goal)
    data["created_at"] = iso(data["created_at"])
    return data


def rule_failed(exc: rules.RuleError) -> ValidationFailed:
    return ValidationFailed(exc.field, f"{exc.field} {exc.message}")


def visible_goal(goal_id: int) -> Goal:
    """The goal, if the user may see its site; 404 otherwise (no hint that it exists)."""
    goal = Goal.get_or_none(Goal.id == goal_id)
    if goal is None or not accounts.can_see_site(current_user(), goal.site_id):
        raise ApiError(404, "not_found", _("No such goal."))
    return goal


def site_query(site: Site, extra: tuple[str, ...] = ()) -> Any:
    params = {key: bottle.request.query.getunicode(key) or "" for key in bottle.request.query.keys()
              if key not in extra}
    try:
        return parse_site_query(site.id, site.timezone, params)
    except QueryError as exc:
        raise ValidationFailed(exc.field, str(exc)) from None


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    spec = api_spec(ctx)
    goal_ref = spec.schema("Goal", GOAL_SCHEMA)
    input_ref = spec.schema("GoalInput", GOAL_INPUT_SCHEMA)
    patch_ref = spec.schema("GoalPatch", {**GOAL_INPUT_SCHEMA, "required": []})
    goal_list = spec.schema("GoalList", {"type": "object", "required": ["items"],
                                         "properties": {"items": {"type": "array", "items": goal_ref}}})
    conversions_ref = spec.schema("GoalConversions", CONVERSIONS_SCHEMA)
    database = ctx.database
    db = database.db

    @spec.route(app, "GET", "/api/v1/sites/{site_id}/goals", permission="view", tag="goals", response=goal_list,
                summary="A site's goals")
    def list_goals(site_id: int) -> Any:
        return {"items": [goal_out(goal) for goal in store.site_goals(site_id)]}

    @spec.route(app, "POST", "/api/v1/sites/{site_id}/goals", permission="manage_goals", tag="goals", status=201,
                request=input_ref, response=goal_ref, summary="Add a goal",
                description='`{"name": "Signed up", "kind": "page", "path": "/welcome*"}`')
    def create_goal(site_id: int) -> Any:
        try:
            goal = store.create_goal(db, site_id, rules.validate_goal(json_object_body()))
        except rules.RuleError as exc:
            raise rule_failed(exc) from None
        return json_response(goal_out(goal), 201, headers={"Location": f"/api/v1/goals/{goal.id}"})

    @spec.route(app, "GET", "/api/v1/goals/{goal_id}", permission="view", tag="goals", response=goal_ref,
                summary="One goal")
    def get_goal(goal_id: int) -> Any:
        return goal_out(visible_goal(goal_id))

    @spec.route(app, "PATCH", "/api/v1/goals/{goal_id}", permission="manage_goals", tag="goals", request=patch_ref,
                response=goal_ref, summary="Change a goal",
                description="Fields left out keep their values; the result must still be a whole goal.")
    def patch_goal(goal_id: int) -> Any:
        goal = visible_goal(goal_id)
        body = json_object_body()
        merged = {k: v for k, v in store.goal_json(goal).items() if k in _GOAL_FIELDS}
        unknown = sorted(set(body) - set(_GOAL_FIELDS))
        if unknown:
            raise ValidationFailed(unknown[0], _("{field} is not a goal field").format(field=unknown[0]))
        merged.update(body)
        try:
            store.update_goal(db, goal, rules.validate_goal(merged))
        except rules.RuleError as exc:
            raise rule_failed(exc) from None
        return goal_out(goal)

    @spec.route(app, "DELETE", "/api/v1/goals/{goal_id}", permission="manage_goals", tag="goals", status=204,
                summary="Delete a goal", description="A/B tests that used it as their goal keep running without one.")
    def delete_goal(goal_id: int) -> Any:
        goal = visible_goal(goal_id)
        with db.atomic():
            goal.delete_instance()
        return None

    @spec.route(app, "GET", "/api/v1/sites/{site_id}/goals/{goal_id}/conversions", permission="view", tag="goals",
                response=conversions_ref, query=(*RANGE_PARAMS, QueryParam(
                    "unit", {"type": "string", "enum": list(UNITS), "default": "day"}, "Bucket size.")),
                summary="A goal's conversions over time",
                description="Sessions started in the range (site time zone) and how many met the goal. "
                            "The segment filters of the statistics endpoints apply too (`tag=…`, `country=…`).")
    def goal_conversions(site_id: int, goal_id: int) -> Any:
        goal = Goal.get_or_none((Goal.id == goal_id) & (Goal.site == site_id))
        if goal is None:
            raise ApiError(404, "not_found", _("No such goal."))
        site = Site.get_by_id(site_id)
        unit = bottle.request.query.get("unit") or "day"
        if unit not in UNITS:
            raise ValidationFailed("unit", _("unit must be one of {values}").format(values=", ".join(UNITS)))
        q = site_query(site, ("unit",))
        return goal_queries.conversions(database, q, goal, unit)
