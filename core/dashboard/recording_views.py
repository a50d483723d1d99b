"""Recording pages: the list, the player, share links, the public shared player, replay documents.

The recorded page's code never runs in the dashboard's origin: full-page replays are rebuilt
by rrweb inside an iframe sandboxed without scripts, and pointer-mode snapshots are served
with a `sandbox` CSP (an opaque origin: no cookies, no scripts) into an iframe sandboxed with
no permissions at all. The player page itself allows inline styles (rrweb writes recorded
<style> elements) and recorded images, nothing else from elsewhere.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import bottle

from core import accounts, sites
from core.context import AppContext
from core.dashboard.access import authenticate_request, current_user
from core.dashboard.base_url import base_url
from core.dashboard.menu import SiteNavLink
from core.dashboard.render import flash, render
from core.i18n import _
from core.models import Pageview, Session, Site
from core.models.recordings import RecordingAsset, RecordingPageSnapshot
from core.queries.query import QueryError, parse_query
from core.recordings import listing, maintenance, replay, store
from core.recordings.sanitize import rewrite_document_assets

PLAYER_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob: http: https:; font-src 'self' data: http: https:; media-src 'self' http: https:; "
    "connect-src 'self'; frame-src 'self'; child-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SNAPSHOT_CSP = (
    "sandbox; default-src 'none'; script-src 'none'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: http: https:; font-src 'self' data:; media-src 'none'; object-src 'none'; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)
DIRTY_REFRESH_LIMIT = 50  # summaries refreshed while the list is opened (the job does the rest)


def _session(site_id: int, session_id: int) -> Session:
    session = Session.get_or_none((Session.id == session_id) & (Session.site == site_id))
    if session is None:
        raise bottle.HTTPError(404, _("No such recording."))
    return session


def _shared_session(token: str) -> tuple[Session, Any]:
    share = replay.find_share(token)
    if share is None:
        raise bottle.HTTPError(404, _("This link does not exist or was revoked."))
    return Session.get_by_id(share.session_id), share


def _player_json(data: Any) -> bottle.HTTPResponse:
    """Player data, gzip-compressed when the browser accepts it (10 minutes of events ≈ 1.3 MB of JSON)."""
    body = json.dumps(data, separators=(",", ":")).encode("utf-8")
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store", "Vary": "Accept-Encoding",
               "Referrer-Policy": "no-referrer"}
    if len(body) > 10_000 and "gzip" in bottle.request.headers.get("Accept-Encoding", ""):
        body = gzip.compress(body, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
    return bottle.HTTPResponse(body, 200, headers)


def _player_headers() -> None:
    bottle.response.set_header("Content-Security-Policy", PLAYER_CSP)
    bottle.response.set_header("Cache-Control", "no-store")


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    ctx.services.setdefault("site_nav", []).append(SiteNavLink(_("Recordings"), "recordings", "view", 30))

    @app.get("/sites/<site_id:int>/recordings", permission="view")
    def recording_list(site_id: int) -> Any:
        site = Site.get_by_id(site_id)
        params = {k: bottle.request.query.getunicode(k) or "" for k in bottle.request.query.keys()}
        errors: dict[str, str] = {}
        maintenance.refresh_dirty(site_id, DIRTY_REFRESH_LIMIT)
        try:
            query = parse_query(site_id, site.timezone, params, listing.FILTERS)
            page = max(1, int(params.get("page") or 1))
            rows, total = listing.list_recordings(query, ctx.database.dialect, current_user().id,
                                                  params.get("sort") or "activity", listing.PAGE_SIZE,
                                                  (page - 1) * listing.PAGE_SIZE)
        except (QueryError, ValueError) as exc:
            errors[getattr(exc, "field", "page")] = str(exc)
            query = parse_query(site_id, site.timezone, {})
            rows, total, page = [], 0, 1
            bottle.response.status = 422
        return render(ctx, "dashboard/recordings/list.html", site=site, rows=rows, total=total, page=page,
                      page_size=listing.PAGE_SIZE, query=query, params=params, errors=errors,
                      sorts=listing.SORTS, storage=maintenance.site_storage(site_id),
                      quota_mb=sites.tracking_settings(site)["recording_quota_mb"])

    @app.get("/sites/<site_id:int>/recordings/<session_id:int>", permission="view")
    def recording_player(site_id: int, session_id: int) -> Any:
        site = Site.get_by_id(site_id)
        session = _session(site_id, session_id)
        user = current_user()
        replay.mark_watched(session.id, user.id)
        _player_headers()
        from core.permissions import allows

        return render(ctx, "dashboard/recordings/player.html", site=site, session=session,
                      data_url=f"/sites/{site_id}/recordings/{session_id}/data", share_token="",
                      can_share=allows(user.level, "share_recordings"),
                      shares=replay.active_shares(session.id), new_link=bottle.request.query.get("new_link", ""),
                      live_replay=sites.tracking_settings(site)["live_replay"])

    @app.get("/sites/<site_id:int>/recordings/<session_id:int>/data", permission="view")
    def recording_data(site_id: int, session_id: int) -> Any:
        return _player_json(replay.player_data(_session(site_id, session_id)))

    @app.post("/sites/<site_id:int>/recordings/<session_id:int>/share", permission="share_recordings")
    def share_create(site_id: int, session_id: int) -> Any:
        session = _session(site_id, session_id)
        token = replay.create_share(session, current_user().id)
        link = f"{base_url(ctx).rstrip('/')}/shared/{token}"
        flash(ctx, _("Share link created. Copy it now; it is shown only once: {link}").format(link=link), "success")
        return bottle.redirect(f"/sites/{site_id}/recordings/{session_id}", 303)

    @app.post("/sites/<site_id:int>/recordings/<session_id:int>/share/<share_id:int>/revoke",
              permission="share_recordings")
    def share_revoke(site_id: int, session_id: int, share_id: int) -> Any:
        session = _session(site_id, session_id)
        if replay.revoke_share(share_id, session.id):
            flash(ctx, _("The share link was revoked; it no longer works."), "success")
        else:
            flash(ctx, _("No such share link."), "error")
        return bottle.redirect(f"/sites/{site_id}/recordings/{session_id}", 303)

    @app.get("/shared/<token>", permission="public")
    def shared_player(token: str) -> Any:
        session, _share = _shared_session(token)
        _player_headers()
        bottle.response.set_header("Referrer-Policy", "no-referrer")  # the token is in the URL
        return render(ctx, "player/shared.html", session=session, site=Site.get_by_id(session.site_id),
                      data_url=f"/shared/{token}/data", share_token=token)

    @app.get("/shared/<token>/data", permission="public")
    def shared_data(token: str) -> Any:
        session, _share = _shared_session(token)
        return _player_json(replay.player_data(session))

    @app.get("/replay/snapshot/<site_id:int>/<digest:re:[0-9a-f]{64}>", permission="public")
    def snapshot_document(site_id: int, digest: str) -> Any:
        if not _may_see_snapshot(ctx, site_id, digest, bottle.request.query.get("share", "")):
            raise bottle.HTTPError(404, _("No such snapshot."))
        html = store.blob_text(site_id, "html", digest)
        if html is None:
            raise bottle.HTTPError(404, _("No such snapshot."))
        pageviews = [row.pageview_id for row in RecordingPageSnapshot.select(RecordingPageSnapshot.pageview)
                     .where((RecordingPageSnapshot.site == site_id) & (RecordingPageSnapshot.hash == digest))]
        html = rewrite_document_assets(html, store.asset_map(site_id, pageviews))
        return bottle.HTTPResponse(html, 200, {
            "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": SNAPSHOT_CSP,
            "X-Frame-Options": "SAMEORIGIN", "Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer",
        })

    @app.get("/replay/asset/<digest:re:[0-9a-f]{64}>", permission="public")
    def replay_asset(digest: str) -> Any:
        # Content-addressed copies of public stylesheets and fonts: anyone holding the hash may
        # fetch them (sandboxed replay documents have no cookies to show).
        asset = RecordingAsset.get_or_none(RecordingAsset.hash == digest)
        if asset is None:
            raise bottle.HTTPError(404, _("No such asset."))
        return bottle.HTTPResponse(bytes(asset.data), 200, {
            "Content-Type": asset.content_type, "Cache-Control": "public, max-age=31536000, immutable",
            "Access-Control-Allow-Origin": "*",  # fonts load in CORS mode from the sandboxed (opaque) document
            "Content-Security-Policy": "default-src 'none'; sandbox", "X-Content-Type-Options": "nosniff",
        })


def _may_see_snapshot(ctx: AppContext, site_id: int, digest: str, share_token: str) -> bool:
    if share_token:
        share = replay.find_share(share_token)
        if share is None or share.site_id != site_id:
            return False
        # The shared session must use this snapshot: a share link opens one recording, not a site.
        return (RecordingPageSnapshot.select()
                .join(Pageview, on=(RecordingPageSnapshot.pageview == Pageview.id))
                .where((RecordingPageSnapshot.hash == digest) & (Pageview.session == share.session_id)).exists())
    user, _how = authenticate_request(ctx)
    return user is not None and accounts.can_see_site(user, site_id)
