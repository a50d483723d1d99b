"""The heatmap page (`/sites/<id>/heatmaps`) and the page snapshot it draws over.

Backgrounds, best first: the newest stored DOM snapshot of the page (from session recording),
served from this origin with scripts forbidden (CSP `script-src 'none'` and an iframe sandbox
without `allow-scripts`) so the player can find clicked elements by their selectors; the live
page in an iframe when the owner picks it (coordinates only: its DOM is another origin's, and it
may refuse framing); else a plain page-sized canvas. The data comes from the REST endpoint
`/api/v1/sites/{id}/heatmap`, drawn by static/js/heatmap.js.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode, urlsplit

import bottle

from core.context import AppContext
from core.dashboard.menu import SiteNavLink
from core.dashboard.render import render
from core.heatmaps import rollup
from core.i18n import _
from core.models import Site
from core.numbers import parse_whole
from core.queries import heatmaps as queries
from core.queries.query import QueryError, parse_site_query
from core.web import DASHBOARD_CSP

SNAPSHOT_CSP = (
    "default-src 'none'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data: http: https:; "
    "font-src 'self' data: http: https:; media-src 'none'; object-src 'none'; form-action 'none'; "
    "base-uri 'none'; frame-ancestors 'self'"
)
BACKGROUNDS = ("snapshot", "live", "none")
PREVIEW_WIDTHS = {"desktop": 1280, "tablet": 820, "mobile": 390}
DEAD_CLICK_SESSIONS = 100  # recordings decoded per page load for the dead-click panel
DEAD_CLICK_MATCH_MS = 3000  # a dead click takes the selector of the tracked click nearest in time


def _preview_width(params: Any, snapshot: tuple[str, int] | None) -> int:
    if snapshot and snapshot[1] > 0:
        return snapshot[1]
    low = parse_whole(params.get("width_min"), 100_000) or 0
    high = parse_whole(params.get("width_max"), 100_000)
    wanted = PREVIEW_WIDTHS.get(params.get("device") or "", 1280)
    if high is not None:
        wanted = min(wanted, high)
    return max(320, max(wanted, low))


def _band_choices() -> list[dict[str, Any]]:
    out = [{"value": "", "label": _("Any width")}]
    for band in queries.width_bands():
        high = band["max"]
        label = f"{band['min']}–{high} px" if high is not None else f"≥ {band['min']} px"
        out.append({"value": f"{band['min']}-{high if high is not None else ''}", "label": label})
    return out


def _snapshot_html(site_id: int, digest: str) -> str | None:
    """The stored snapshot document with its stylesheets pointing at the stored copies."""
    try:  # recordings own snapshot storage; without it there is simply no snapshot background
        from core.models.recordings import RecordingPageSnapshot
        from core.recordings import store
        from core.recordings.sanitize import rewrite_document_assets
    except ImportError:
        return None
    html = store.blob_text(site_id, "html", digest)
    if html is None:
        return None
    pageviews = [row.pageview_id for row in RecordingPageSnapshot.select(RecordingPageSnapshot.pageview)
                 .where((RecordingPageSnapshot.site == site_id) & (RecordingPageSnapshot.hash == digest)).limit(200)]
    return rewrite_document_assets(html, store.asset_map(site_id, pageviews))


def dead_clicks(query: Any, paths: list[str]) -> dict[str, Any] | None:
    """Dead clicks on these pages in range, from the recordings of the newest sessions that had any.

    The recording summary counts dead clicks per session; only those sessions are decoded (at most
    DEAD_CLICK_SESSIONS, newest first), and only their page views of these paths are judged. The
    element of a dead click is the selector of the tracked click of that page view nearest in time.
    """
    try:  # recordings own the analysis; without them there is nothing to show
        from core.models import HeatmapPoint, Pageview, Session
        from core.models.analytics import POINT_CLICK
        from core.models.recordings import RecordingSummary
        from core.recordings import analysis, store
    except ImportError:
        return None
    if not paths:
        return {"total": 0, "elements": [], "sessions": 0, "capped": False, "cap": DEAD_CLICK_SESSIONS}
    low, high = query.utc_bounds()
    rows = (Pageview.select(Pageview.id, Pageview.session)
            .join(RecordingSummary, on=(RecordingSummary.session == Pageview.session))
            .where((Pageview.site == query.site_id) & Pageview.path.in_(paths)
                   & (Pageview.started_at >= low) & (Pageview.started_at < high)
                   & (RecordingSummary.dead_clicks > 0))
            .order_by(Pageview.session.desc()).tuples())
    wanted: dict[int, set[int]] = {}
    capped = False
    for pageview_id, session_id in rows.iterator():
        if session_id not in wanted and len(wanted) >= DEAD_CLICK_SESSIONS:
            capped = True
            break
        wanted.setdefault(session_id, set()).add(pageview_id)
    counts: dict[str, int] = {}
    total = 0
    for session in Session.select().where(Session.id.in_(list(wanted) or [0])):
        items = store.session_recording(session)
        for index, item in enumerate(items):
            if item["pageview_id"] not in wanted[session.id]:
                continue
            dead = [c for c in analysis.item_clicks(item, analysis._next_page_start(items, index)) if c.dead]
            if not dead:
                continue
            tracked = [(store.naive_ms(at), sel) for at, sel in
                       HeatmapPoint.select(HeatmapPoint.occurred_at, HeatmapPoint.selector)
                       .where((HeatmapPoint.pageview == item["pageview_id"]) & (HeatmapPoint.kind == POINT_CLICK))
                       .tuples()]
            for click in dead:
                near = min(tracked, key=lambda p: abs(p[0] - click.t), default=None)
                selector = near[1] if near and near[1] and abs(near[0] - click.t) <= DEAD_CLICK_MATCH_MS else ""
                counts[selector] = counts.get(selector, 0) + 1
                total += 1
    elements = sorted(({"selector": k, "count": v} for k, v in counts.items()), key=lambda e: (-e["count"], e["selector"]))
    return {"total": total, "elements": elements[:30], "sessions": len(wanted), "capped": capped,
            "cap": DEAD_CLICK_SESSIONS}


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    ctx.services.setdefault("site_nav", []).append(SiteNavLink(_("Heatmaps"), "heatmaps", "view", 40))
    rollup.register(ctx)

    @app.get("/sites/<site_id:int>/heatmaps", permission="view")
    def heatmap_page(site_id: int) -> Any:
        site = Site.get_by_id(site_id)
        params = bottle.request.query
        pages = queries.top_pages(site_id)
        values: dict[str, Any] = {"site": site, "pages": pages, "bands": _band_choices(), "error": None,
                                  "api_url": "", "frame_url": "", "background_used": "none", "preview_width": 1280,
                                  "dead": None}
        url = (params.get("url") or "").strip() or (pages[0]["path"] if pages else "")
        band = (params.get("band") or "").strip()
        request_params = {k: params.get(k) for k in params.keys()}
        if band and "-" in band:
            low, _sep, high = band.partition("-")
            request_params["width_min"], request_params["width_max"] = low, high
        request_params["url"] = url
        background = params.get("background") if params.get("background") in BACKGROUNDS else "snapshot"
        try:
            query = parse_site_query(site_id, site.timezone or "UTC", request_params)
            flt = queries.parse_filter(request_params) if url else None
        except QueryError as exc:
            values["error"] = str(exc)
            query, flt = parse_site_query(site_id, site.timezone or "UTC", {}), None
        values.update(url=url, kind=(flt.kind if flt else "click"), band=band, background=background,
                      device=request_params.get("device") or "", start=query.start.isoformat(),
                      end=query.end.isoformat(), today=dt.date.today().isoformat())
        frame_src = ""
        snapshot = None
        if flt is not None:
            paths = queries.resolve_paths(site_id, flt.url)
            api = {k: v for k, v in request_params.items() if v and k not in ("band", "background")}
            api.update(url=flt.url, kind=flt.kind, **{"from": query.start.isoformat(), "to": query.end.isoformat()})
            values["api_url"] = f"/api/v1/sites/{site_id}/heatmap?" + urlencode(sorted(api.items()))
            if background == "snapshot":
                snapshot = queries.snapshot_for(site_id, paths, flt.bands)
                if snapshot:
                    values["frame_url"] = f"/sites/{site_id}/heatmaps/snapshot/{snapshot[0]}"
                else:
                    background = "none"
            elif background == "live":
                live = queries.latest_url(site_id, paths)
                if live:
                    values["frame_url"] = live
                    parts = urlsplit(live)
                    frame_src = f"{parts.scheme}://{parts.netloc}"
                else:
                    background = "none"
            values["background_used"] = background
            values["preview_width"] = _preview_width(request_params, snapshot)
            if flt.kind == "click":
                values["dead"] = dead_clicks(query, paths)
        page = render(ctx, "dashboard/heatmaps/page.html", **values)
        if frame_src:
            bottle.response.set_header("Content-Security-Policy",
                                       DASHBOARD_CSP.replace("frame-src 'self'", f"frame-src 'self' {frame_src}"))
        return page

    @app.get("/sites/<site_id:int>/heatmaps/snapshot/<digest:re:[0-9a-f]{64}>", permission="view")
    def heatmap_snapshot(site_id: int, digest: str) -> Any:
        html = _snapshot_html(site_id, digest)
        if html is None:
            raise bottle.HTTPError(404, _("No such snapshot."))
        # Same origin so the player can read element boxes; no script of the page ever runs.
        return bottle.HTTPResponse(html, 200, {
            "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": SNAPSHOT_CSP,
            "X-Frame-Options": "SAMEORIGIN", "Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer",
        })

