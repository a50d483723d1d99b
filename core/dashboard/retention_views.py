"""`/settings/retention`: each site's sessions, storage estimate and limits; run retention now."""

from __future__ import annotations

from typing import Any

import bottle

from core import retention, sites
from core.context import AppContext
from core.dashboard.menu import MenuLink
from core.dashboard.render import flash, render
from core.i18n import _
from core.models import KeyValue, Site
from core.tasks import run_task_now


def _last_run(name: str) -> dict[str, Any] | None:
    row = KeyValue.get_or_none(KeyValue.key == f"job:{name}:last_run")
    return row.value if row is not None and isinstance(row.value, dict) else None


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    retention.register(ctx)
    # The plugin manager builds the menu after every part registered, extra links included.
    ctx.services.setdefault("extra_menu_links", []).append(
        MenuLink(_("Retention"), "/settings/retention", "manage_sites", 70))

    @app.get("/settings/retention", permission="manage_sites")
    def retention_page() -> Any:
        rows = []
        for site in Site.select().order_by(Site.name):
            settings = sites.tracking_settings(site)
            storage = retention.site_storage(site)
            rows.append({"site": site, "max_sessions": settings["max_sessions"],
                         "max_age_days": settings["max_age_days"], "size": _size(storage["bytes"]), **storage})
        return render(ctx, "dashboard/retention.html", rows=rows, last_run=_last_run("retention"),
                      rollup_run=_last_run("heatmap-rollup"))

    @app.post("/settings/retention/run", permission="manage_sites")
    def retention_run() -> Any:
        result = run_task_now(ctx, "retention")
        flash(ctx, _("Retention ran: {result}").format(result=result), "success")
        return bottle.redirect("/settings/retention", 303)
