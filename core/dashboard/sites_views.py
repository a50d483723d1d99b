"""Site settings pages: add a site, edit its name/domain/time zone and tracking settings, delete it."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import bottle
import peewee

from core import sites
from core.context import AppContext
from core.dashboard.render import flash, render
from core.dashboard.site_input import validate_site_input
from core.i18n import _
from core.models import Site


@lru_cache(maxsize=1)
def timezone_choices() -> list[str]:
    from zoneinfo import available_timezones

    # Legacy aliases (e.g. "US/Pacific", "Etc/GMT+3") clutter the list; canonical Area/City stay.
    names = {n for n in available_timezones() if "/" in n and not n.startswith(("Etc/", "SystemV/", "US/"))}
    return ["UTC", *sorted(names)]


def form_settings(forms: bottle.FormsDict) -> dict[str, Any]:
    """Tracking settings as the settings form posts them: `setting.<key>` fields."""
    return {key[len("setting."):]: forms.getunicode(key) or "" for key in forms.keys()
            if key.startswith("setting.")}


def setting_rows(values: dict[str, Any], errors: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for spec in sites.TRACKING_SETTINGS:
        value = values.get(spec.key, spec.default)
        if spec.kind == "list" and isinstance(value, list):
            value = ", ".join(value)
        rows.append({"spec": spec, "value": value, "error": errors.get(f"settings.{spec.key}")})
    return rows


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    db = ctx.database.db

    def new_page(values: dict[str, str], errors: dict[str, str], status: int = 200) -> str:
        bottle.response.status = status
        return render(ctx, "dashboard/site_new.html", values=values, errors=errors,
                      timezones=timezone_choices())

    @app.get("/settings/sites/new", permission="manage_sites")
    def site_new() -> Any:
        return new_page({"domain": "", "name": "", "timezone": "UTC"}, {})

    @app.post("/settings/sites/new", permission="manage_sites")
    def site_create() -> Any:
        forms = bottle.request.forms
        raw = {k: forms.getunicode(k) or "" for k in ("domain", "name", "timezone")}
        clean, errors = validate_site_input(raw)
        if errors:
            return new_page(raw, errors, 422)
        try:
            site = sites.create_site(clean["domain"], clean["name"], clean["timezone"])
        except (sites.SiteError, peewee.IntegrityError):  # the same domain added a moment ago
            return new_page(raw, {"domain": _("A site with the domain {domain} already exists.").format(
                domain=clean["domain"])}, 422)
        flash(ctx, _("Site {domain} added. Put this tracking code on its pages.").format(domain=site.domain),
              "success")
        return bottle.redirect(f"/sites/{site.id}/snippet", 303)

    def edit_page(site: Site, values: dict[str, Any], settings: dict[str, Any], errors: dict[str, str],
                  status: int = 200) -> str:
        bottle.response.status = status
        return render(ctx, "dashboard/site_settings.html", site=site, values=values, errors=errors,
                      settings=setting_rows(settings, errors), timezones=timezone_choices())

    @app.get("/settings/sites/<site_id:int>", permission="manage_sites")
    def site_edit(site_id: int) -> Any:
        site = Site.get_by_id(site_id)
        values = {"domain": site.domain, "name": site.name, "timezone": site.timezone}
        return edit_page(site, values, sites.tracking_settings(site), {})

    @app.post("/settings/sites/<site_id:int>", permission="manage_sites")
    def site_update(site_id: int) -> Any:
        site = Site.get_by_id(site_id)
        forms = bottle.request.forms
        raw: dict[str, Any] = {k: forms.getunicode(k) or "" for k in ("domain", "name", "timezone")}
        raw["settings"] = form_settings(forms)
        clean, errors = validate_site_input(raw, site=site, from_form=True)
        if errors:
            shown = {**sites.tracking_settings(site), **raw["settings"]}
            for spec in sites.TRACKING_SETTINGS:  # show unticked boxes as unticked
                if spec.kind == "bool" and spec.key not in raw["settings"]:
                    shown[spec.key] = False
            return edit_page(site, raw, shown, errors, 422)
        try:
            with db.atomic():
                sites.update_site(site, **clean)
        except (sites.SiteError, peewee.IntegrityError):
            return edit_page(site, raw, {**sites.tracking_settings(site), **raw["settings"]}, {
                "domain": _("A site with the domain {domain} already exists.").format(domain=clean["domain"])}, 422)
        flash(ctx, _("Settings of {domain} saved.").format(domain=site.domain), "success")
        return bottle.redirect(f"/settings/sites/{site.id}", 303)

    @app.post("/settings/sites/<site_id:int>/delete", permission="manage_sites")
    def site_delete(site_id: int) -> Any:
        site = Site.get_by_id(site_id)
        typed = (bottle.request.forms.getunicode("confirm_domain") or "").strip().lower()
        if typed != site.domain:
            values = {"domain": site.domain, "name": site.name, "timezone": site.timezone}
            errors = {"confirm_domain": _("Type the domain {domain} to confirm.").format(domain=site.domain)}
            return edit_page(site, values, sites.tracking_settings(site), errors, 422)
        with db.atomic():
            # Foreign keys cascade: sessions, pageviews, events, heatmaps, recordings, access grants.
            site.delete_instance()
        flash(ctx, _("Site {domain} and all its data were deleted.").format(domain=site.domain), "success")
        return bottle.redirect("/", 303)
