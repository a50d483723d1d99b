"""Goal pages of a site (`/sites/<id>/goals`): conversions per goal for the range and segment, a chart
of one goal over time, and adding, editing and deleting goals (level ≥ 4)."""

from __future__ import annotations

import json
from typing import Any

import bottle

from core.context import AppContext
from core.dashboard.access import current_user
from core.dashboard.menu import SiteNavLink
from core.dashboard.render import flash, render
from core.dashboard.stats_common import helpers, invalid_query_page, site_query
from core.experiments import rules, store
from core.i18n import _
from core.models import Goal, Site
from core.permissions import allows
from core.queries import goals as goal_queries
from core.queries.stats import default_unit

KIND_LABELS = {"page": _("Visited a page"), "event": _("Fired an event"), "tag": _("Carries a tag")}
GOAL_FORM_FIELDS = ("name", "kind", "path", "category", "action", "tag")


def describe(goal: Goal) -> str:
    if goal.kind == "page":
        return _("page {path}").format(path=goal.path)
    if goal.kind == "event":
        return _("event {category} / {action}").format(category=goal.category, action=goal.action or "*")
    return _("tag {tag}").format(tag=goal.tag)


def site_goal(site_id: int, goal_id: int) -> Goal:
    goal = Goal.get_or_none((Goal.id == goal_id) & (Goal.site == site_id))
    if goal is None:
        raise bottle.HTTPError(404, _("No such goal."))
    return goal


def form_values() -> dict[str, str]:
    return {name: bottle.request.forms.getunicode(name) or "" for name in GOAL_FORM_FIELDS}


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    ctx.services.setdefault("site_nav", []).append(SiteNavLink(_("Goals"), "goals", "view", 70))
    database = ctx.database
    db = database.db

    def list_page(site: Site, form: dict[str, str] | None = None, error: rules.RuleError | None = None,
                  status: int = 200) -> Any:
        q, field, message = site_query(site)
        if q is None:
            raise invalid_query_page(field or "", message or "")
        goals = store.site_goals(site.id)
        summary = goal_queries.goals_summary(database, q, goals)
        raw = bottle.request.query.get("goal") or ""
        chosen = next((g for g in goals if str(g.id) == raw), goals[0] if goals else None)
        chart = None
        if chosen is not None:
            series = goal_queries.conversions(database, q, chosen, default_unit(q))
            chart = json.dumps({"type": "line", "labels": [p["bucket"] for p in series["points"]],
                                "datasets": [{"label": str(_("Conversions")),
                                              "data": [p["conversions"] for p in series["points"]]},
                                             {"label": str(_("Sessions")),
                                              "data": [p["sessions"] for p in series["points"]]}]})
        bottle.response.status = status
        extra = {"goal": str(chosen.id)} if chosen is not None and raw else {}
        return render(ctx, "dashboard/goals/list.html", **helpers(site, q, "goals", extra), goals=goals, summary=summary,
                      chosen=chosen, chart=chart, describe=describe, kind_labels=KIND_LABELS,
                      can_manage=allows(current_user().level, "manage_goals"),
                      form=form or {**dict.fromkeys(GOAL_FORM_FIELDS, ""), "kind": "page"}, error=error)

    @app.get("/sites/<site_id:int>/goals", permission="view")
    def goals_page(site_id: int) -> Any:
        return list_page(Site.get_by_id(site_id))

    @app.post("/sites/<site_id:int>/goals", permission="manage_goals")
    def goals_create(site_id: int) -> Any:
        form = form_values()
        try:
            goal = store.create_goal(db, site_id, rules.validate_goal(form))
        except rules.RuleError as exc:
            return list_page(Site.get_by_id(site_id), form, exc, 422)
        flash(ctx, _("Goal “{name}” added.").format(name=goal.name), "success")
        return bottle.redirect(f"/sites/{site_id}/goals?goal={goal.id}", 303)

    def edit_page(site: Site, goal: Goal, form: dict[str, str], error: rules.RuleError | None = None,
                  status: int = 200) -> Any:
        bottle.response.status = status
        return render(ctx, "dashboard/goals/edit.html", site=site, goal=goal, form=form, error=error,
                      kind_labels=KIND_LABELS)

    @app.get("/sites/<site_id:int>/goals/<goal_id:int>/edit", permission="manage_goals")
    def goal_edit(site_id: int, goal_id: int) -> Any:
        goal = site_goal(site_id, goal_id)
        form = {name: str(getattr(goal, name)) for name in GOAL_FORM_FIELDS}
        return edit_page(Site.get_by_id(site_id), goal, form)

    @app.post("/sites/<site_id:int>/goals/<goal_id:int>", permission="manage_goals")
    def goal_save(site_id: int, goal_id: int) -> Any:
        goal = site_goal(site_id, goal_id)
        form = form_values()
        try:
            store.update_goal(db, goal, rules.validate_goal(form))
        except rules.RuleError as exc:
            return edit_page(Site.get_by_id(site_id), goal, form, exc, 422)
        flash(ctx, _("Goal saved."), "success")
        return bottle.redirect(f"/sites/{site_id}/goals?goal={goal.id}", 303)

    @app.post("/sites/<site_id:int>/goals/<goal_id:int>/delete", permission="manage_goals")
    def goal_delete(site_id: int, goal_id: int) -> Any:
        goal = site_goal(site_id, goal_id)
        with db.atomic():
            goal.delete_instance()
        flash(ctx, _("Goal “{name}” deleted.").format(name=goal.name), "success")
        return bottle.redirect(f"/sites/{site_id}/goals", 303)
