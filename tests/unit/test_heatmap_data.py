"""Builders for heatmap and retention tests: sessions, pageviews and points written directly.

(Named test_heatmap_* so it sits with the tests it serves; it holds no tests itself.)
"""

from __future__ import annotations

import datetime as dt
import itertools

from core.models import Event, HeatmapPoint, Pageview, RecordingChunk, Session, SessionTag, Site
from core.models.analytics import POINT_CLICK, POINT_MOVE

_counter = itertools.count(1)


def make_site(domain: str = "heat.example", timezone: str = "UTC") -> Site:
    return Site.create(domain=domain, name=domain, timezone=timezone, settings={})


def make_session(site: Site, started: dt.datetime, device: str = "desktop") -> Session:
    n = next(_counter)
    return Session.create(site=site, token=f"tok{n:020d}", started_at=started, last_seen_at=started,
                          device=device)


def make_pageview(session: Session, path: str = "/pricing", started: dt.datetime | None = None,
                  viewport_w: int = 1280, scroll: int = 0, doc_h: int = 3000) -> Pageview:
    n = next(_counter)
    return Pageview.create(session=session, site=session.site_id, client_id=f"pv{n:012d}",
                           url=f"https://{Site.get_by_id(session.site_id).domain}{path}", path=path,
                           started_at=started or session.started_at, viewport_w=viewport_w, viewport_h=800,
                           doc_w=viewport_w, doc_h=doc_h, max_scroll_pct=scroll)


def add_points(pageview: Pageview, points: list[dict], device: str | None = None) -> None:
    """points: dicts with at, x, y and optionally kind, sel, ox, oy, vw."""
    session = Session.get_by_id(pageview.session_id)
    rows = [{
        "site": pageview.site_id, "session": pageview.session_id, "pageview": pageview.id, "path": pageview.path,
        "kind": p.get("kind", POINT_CLICK), "occurred_at": p["at"], "x": p["x"], "y": p["y"],
        "selector": p.get("sel", ""), "offset_x": p.get("ox"), "offset_y": p.get("oy"),
        "viewport_w": p.get("vw", pageview.viewport_w), "device": device or session.device,
    } for p in points]
    for start in range(0, len(rows), 500):
        HeatmapPoint.insert_many(rows[start:start + 500]).execute()


def full_session(site: Site, started: dt.datetime, points: int = 3) -> Session:
    """A session with a pageview, points of both kinds, an event, a tag and a recording chunk."""
    session = make_session(site, started)
    pageview = make_pageview(session, started=started, scroll=50)
    add_points(pageview, [{"at": started, "x": 10 * i, "y": 20, "kind": POINT_CLICK if i % 2 else POINT_MOVE}
                          for i in range(points)])
    Event.create(session=session, pageview=pageview, site=site, occurred_at=started, category="c", action="a")
    SessionTag.create(session=session, site=site, tag="t", created_at=started)
    RecordingChunk.create(session=session, pageview=pageview, site=site, seq=0, mode="pointer", event_count=1,
                          first_t=0, last_t=0, size=3, data=b"abc")
    return session
