"""A/B test pages of a site (`/sites/<id>/ab-tests`): the list with the ab.js snippet line, the editor
(variants, weights, element changes; level ≥ 4), start/stop/delete, and results per variant.

The editor is a plain form: "Add variant" and "Add change" re-render it with one more blank block
(nothing is saved until "Save"), so it works without any script. Form rows become the same JSON
shape the REST API takes and go through the same rules.
"""

from __future__ import annotations

import json
import re
from typing import Any

import bottle

from core import ab_script
from core.context import AppContext
from core.dashboard.access import current_user
from core.dashboard.base_url import base_url
from core.dashboard.menu import SiteNavLink
from core.dashboard.render import flash, render
from core.dashboard.stats_common import helpers, invalid_query_page, site_query
from core.experiments import rules, store
from core.i18n import _
from core.models import AbTest, AbVariant, Site
from core.numbers import parse_whole
from core.permissions import allows
from core.queries import experiments

STATUS_LABELS = {"draft": _("Draft"), "running": _("Running"), "stopped": _("Stopped")}
ROW_KINDS = {"text": _("Text"), "style": _("Style"), "attr": _("Attribute")}
BLANK_ROWS = 2  # empty change rows shown under each variant


def snippet_line(base: str, domain: str) -> str:
    return f'<script src="{base.rstrip("/")}/server/ab/{domain}.ab.js"></script>'


def site_test(site_id: int, test_id: int) -> AbTest:
    test = AbTest.get_or_none((AbTest.id == test_id) & (AbTest.site == site_id))
    if test is None:
        raise bottle.HTTPError(404, _("No such A/B test."))
    return test


def rows_of(changes: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Stored changes as editor rows: one row per text, style property or attribute."""
    rows = []
    for change in changes:
        if "text" in change:
            rows.append({"selector": change["selector"], "kind": "text", "name": "", "value": change["text"]})
        for name, value in (change.get("styles") or {}).items():
            rows.append({"selector": change["selector"], "kind": "style", "name": name, "value": value})
        for name, value in (change.get("attributes") or {}).items():
            rows.append({"selector": change["selector"], "kind": "attr", "name": name, "value": value})
    return rows


def blank_row() -> dict[str, str]:
    return {"selector": "", "kind": "text", "name": "", "value": ""}


def editor_from_test(test: AbTest | None) -> dict[str, Any]:
    if test is None:
        variants = [{"id": "", "name": str(_("Control")), "weight": "50", "rows": []},
                    {"id": "", "name": str(_("Variant B")), "weight": "50", "rows": []}]
        return {"name": "", "page": "", "goal_id": "", "variants": variants}
    variants = [{"id": str(v.id), "name": v.name, "weight": str(v.weight), "rows": rows_of(v.changes)}
                for v in store.variants_of(test)]
    return {"name": test.name, "page": test.page, "goal_id": str(test.goal_id or ""), "variants": variants}


def editor_from_form() -> dict[str, Any]:
    forms = bottle.request.forms

    def get(name: str) -> str:
        return forms.getunicode(name) or ""

    variants = []
    count = min(parse_whole(get("variant_count")) or 0, rules.MAX_VARIANTS + 1)
    for i in range(count):
        if get(f"v{i}_removed"):
            continue
        rows_count = get(f"v{i}_rows")
        rows = []
        for j in range(min(parse_whole(rows_count) or 0, rules.MAX_CHANGES + BLANK_ROWS + 1)):
            rows.append({key: get(f"v{i}_c{j}_{key}") for key in ("selector", "kind", "name", "value")})
        variants.append({"id": get(f"v{i}_id"), "name": get(f"v{i}_name"), "weight": get(f"v{i}_weight"),
                         "rows": rows})
    return {"name": get("name"), "page": get("page"), "goal_id": get("goal_id"), "variants": variants}


def body_of(editor: dict[str, Any]) -> dict[str, Any]:
    """The editor's rows as the API's JSON body (blank rows dropped)."""
    variants = []
    for variant in editor["variants"]:
        changes: list[dict[str, Any]] = []
        for row in variant["rows"]:
            if not row["selector"].strip() and not row["value"].strip() and not row["name"].strip():
                continue
            if row["kind"] == "style":
                changes.append({"selector": row["selector"], "styles": {row["name"]: row["value"]}})
            elif row["kind"] == "attr":
                changes.append({"selector": row["selector"], "attributes": {row["name"]: row["value"]}})
            else:
                changes.append({"selector": row["selector"], "text": row["value"]})
        weight = variant["weight"].strip()
        item: dict[str, Any] = {"name": variant["name"], "changes": changes,
                                "weight": parse_whole(weight, 1_000_000) if parse_whole(weight, 1_000_000) is not None else -1}
        if parse_whole(variant["id"]) is not None:
            item["id"] = parse_whole(variant["id"])
        variants.append(item)
    goal = editor["goal_id"].strip()
    return {"name": editor["name"], "page": editor["page"], "goal_id": parse_whole(goal),
            "variants": variants}


def field_label(field: str) -> str:
    """`variants[1].changes[0].selector` → `Variant 2, change 1: selector` (editor rows are changes)."""
    match = re.match(r"variants\[(\d+)\](?:\.changes\[(\d+)\])?\.?(.*)", field)
    if not match:
        return field
    out = _("Variant {n}").format(n=int(match.group(1)) + 1)
    if match.group(2) is not None:
        out += ", " + _("change {n}").format(n=int(match.group(2)) + 1)
    return out + (f": {match.group(3)}" if match.group(3) else "")


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    ctx.services.setdefault("site_nav", []).append(SiteNavLink(_("A/B tests"), "ab-tests", "view", 75))
    database = ctx.database
    db = database.db

    @app.get("/sites/<site_id:int>/ab-tests", permission="view")
    def tests_page(site_id: int) -> Any:
        site = Site.get_by_id(site_id)
        tests = list(AbTest.select().where(AbTest.site == site_id).order_by(AbTest.id.desc()))
        counts: dict[int, int] = {}
        for variant in AbVariant.select(AbVariant.test).where(AbVariant.test.in_([t.id for t in tests] or [0])):
            counts[variant.test_id] = counts.get(variant.test_id, 0) + 1
        return render(ctx, "dashboard/abtests/list.html", site=site, tests=tests, counts=counts,
                      status_labels=STATUS_LABELS, snippet=snippet_line(base_url(ctx), site.domain),
                      can_manage=allows(current_user().level, "manage_ab_tests"))

    def editor_page(site: Site, test: AbTest | None, editor: dict[str, Any], error: str = "",
                    error_field: str = "", status: int = 200) -> Any:
        for variant in editor["variants"]:
            while sum(1 for row in variant["rows"] if not row["selector"] and not row["value"]) < BLANK_ROWS \
                    and len(variant["rows"]) < rules.MAX_CHANGES:
                variant["rows"].append(blank_row())
        bottle.response.status = status
        return render(ctx, "dashboard/abtests/edit.html", site=site, test=test, editor=editor,
                      goals=store.site_goals(site.id), error=error, error_field=error_field, row_kinds=ROW_KINDS,
                      style_names=sorted(rules.STYLE_PROPERTIES), attribute_names=sorted(rules.ATTRIBUTES),
                      max_variants=rules.MAX_VARIANTS)

    def save(site_id: int, test: AbTest | None) -> Any:
        site = Site.get_by_id(site_id)
        editor = editor_from_form()
        action = bottle.request.forms.getunicode("action") or "save"
        if action == "add_variant":
            if len(editor["variants"]) < rules.MAX_VARIANTS:
                letter = chr(ord("A") + len(editor["variants"]))
                editor["variants"].append({"id": "", "name": _("Variant {letter}").format(letter=letter),
                                           "weight": "50", "rows": []})
            return editor_page(site, test, editor)
        if action.startswith("add_rows:"):
            index = action.partition(":")[2]
            number = parse_whole(index)
            if number is not None and number < len(editor["variants"]):
                editor["variants"][number]["rows"] += [blank_row() for _i in range(3)]
            return editor_page(site, test, editor)
        try:
            clean = rules.validate_test(body_of(editor))
            if test is None:
                test = store.create_test(db, site_id, clean)
            else:
                store.update_test(db, test, clean)
        except rules.RuleError as exc:
            return editor_page(site, test, editor, f"{field_label(exc.field)} {exc.message}", exc.field, 422)
        ab_script.invalidate(ctx, site_id)
        flash(ctx, _("A/B test “{name}” saved.").format(name=test.name), "success")
        return bottle.redirect(f"/sites/{site_id}/ab-tests/{test.id}", 303)

    @app.get("/sites/<site_id:int>/ab-tests/new", permission="manage_ab_tests")
    def test_new(site_id: int) -> Any:
        return editor_page(Site.get_by_id(site_id), None, editor_from_test(None))

    @app.post("/sites/<site_id:int>/ab-tests", permission="manage_ab_tests")
    def test_create(site_id: int) -> Any:
        return save(site_id, None)

    @app.get("/sites/<site_id:int>/ab-tests/<test_id:int>/edit", permission="manage_ab_tests")
    def test_edit(site_id: int, test_id: int) -> Any:
        test = site_test(site_id, test_id)
        return editor_page(Site.get_by_id(site_id), test, editor_from_test(test))

    @app.post("/sites/<site_id:int>/ab-tests/<test_id:int>", permission="manage_ab_tests")
    def test_save(site_id: int, test_id: int) -> Any:
        return save(site_id, site_test(site_id, test_id))

    @app.post("/sites/<site_id:int>/ab-tests/<test_id:int>/status", permission="manage_ab_tests")
    def test_status(site_id: int, test_id: int) -> Any:
        test = site_test(site_id, test_id)
        status = bottle.request.forms.getunicode("status") or ""
        if status not in STATUS_LABELS:
            raise bottle.HTTPError(422, _("status must be one of {values}").format(values=", ".join(STATUS_LABELS)))
        store.update_test(db, test, {"status": status})
        ab_script.invalidate(ctx, site_id)
        flash(ctx, {"running": _("The test is running: it is in the site's ab.js now."),
                    "stopped": _("The test is stopped: visitors see the original page."),
                    "draft": _("The test is a draft again.")}[status], "success")
        return bottle.redirect(f"/sites/{site_id}/ab-tests/{test_id}", 303)

    @app.post("/sites/<site_id:int>/ab-tests/<test_id:int>/delete", permission="manage_ab_tests")
    def test_delete(site_id: int, test_id: int) -> Any:
        test = site_test(site_id, test_id)
        with db.atomic():
            test.delete_instance()
        ab_script.invalidate(ctx, site_id)
        flash(ctx, _("A/B test “{name}” deleted.").format(name=test.name), "success")
        return bottle.redirect(f"/sites/{site_id}/ab-tests", 303)

    @app.get("/sites/<site_id:int>/ab-tests/<test_id:int>", permission="view")
    def test_results(site_id: int, test_id: int) -> Any:
        site = Site.get_by_id(site_id)
        test = site_test(site_id, test_id)
        q, field, message = site_query(site, {k: bottle.request.query.getunicode(k) or ""
                                              for k in bottle.request.query.keys() if k != "goal"})
        if q is None:
            raise invalid_query_page(field or "", message or "")
        goals = store.site_goals(site_id)
        raw = bottle.request.query.get("goal") or ""
        # No parameter: the test's own goal; "none": sessions only.
        goal = next((g for g in goals if str(g.id) == raw), None) if raw else \
            next((g for g in goals if g.id == test.goal_id), None)
        variants = store.variants_of(test)
        report = experiments.results(database, q, test, variants, goal)
        metric = "rate" if goal is not None else "sessions"
        chart = json.dumps({"type": "bar", "labels": [row["name"] for row in report["variants"]],
                            "datasets": [{"label": str(_("Conversion rate (%)") if goal else _("Sessions")),
                                          "data": [row[metric] for row in report["variants"]]}]})
        extra = {"goal": str(goal.id) if goal is not None else "none"}
        return render(ctx, "dashboard/abtests/results.html", **helpers(site, q, f"ab-tests/{test.id}", extra),
                      test=test, variants=variants, goals=goals, goal=goal, report=report, chart=chart,
                      status_labels=STATUS_LABELS, can_manage=allows(current_user().level, "manage_ab_tests"))
