"""The heatmap page, its snapshot background and GET /api/v1/sites/{id}/heatmap, through the real app."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import webtest

from core import accounts
from core.heatmaps.rollup import RollupState
from core.models import HeatmapPoint, Site
from core.models.analytics import POINT_CLICK
from tests.conftest import login
from tests.support import PROJECT_ROOT
from tests.unit.test_heatmap_data import add_points, make_pageview, make_session

DAY = dt.date.today()
AT = dt.datetime.combine(DAY, dt.time(12, 0))


def seed(site: Site, path: str = "/pricing", selector: str = "button.buy") -> None:
    pageview = make_pageview(make_session(site, AT), path=path, scroll=80)
    add_points(pageview, [{"at": AT, "x": 200 + i, "y": 300, "sel": selector, "ox": 0.5, "oy": 0.5,
                           "kind": POINT_CLICK} for i in range(4)])


def api(client: webtest.TestApp, site_id: int, status: int = 200, **params: str) -> webtest.TestResponse:
    query = {"from": DAY.isoformat(), "to": DAY.isoformat(), **params}
    return client.get(f"/api/v1/sites/{site_id}/heatmap", params=query, status=status)


def test_api_answers_the_contract_shape_for_paths_and_full_urls(admin_client):
    site = Site.get(Site.domain == "example.com")
    seed(site)
    body = api(admin_client, site.id, url="/pricing", kind="click").json
    assert {"kind", "url", "points", "elements", "scroll"} <= set(body)
    assert body["kind"] == "click" and body["url"] == "/pricing"
    assert body["points"] == [{"x": 205, "y": 305, "count": 4}]
    assert body["elements"][0]["selector"] == "button.buy" and body["elements"][0]["count"] == 4
    full = api(admin_client, site.id, url="https://example.com/pricing?utm_source=x", kind="click").json
    assert full["points"] == body["points"] and full["url"] == "/pricing"
    scroll = api(admin_client, site.id, url="/pricing", kind="scroll").json
    assert {r["depth_pct"]: r["visitors_pct"] for r in scroll["scroll"]}[80] == 100.0
    assert api(admin_client, site.id, url="/pricing", device="mobile").json["total"] == 0
    paths = admin_client.get("/api/v1/openapi.json").json["paths"]
    assert "get" in paths["/api/v1/sites/{site_id}/heatmap"]


def test_api_rejects_bad_parameters_with_the_field_named(admin_client):
    site = Site.get(Site.domain == "example.com")
    assert api(admin_client, site.id, 422, url="/x", kind="hover").json["field"] == "kind"
    assert api(admin_client, site.id, 422, kind="click").json["field"] == "url"
    assert api(admin_client, site.id, 422, url="/x", **{"from": "yesterday"}).json["field"] == "from"
    assert api(admin_client, site.id, 422, url="/x", device="tv").json["field"] == "device"
    assert api(admin_client, 99999, 404, url="/x").json["error"] == "not_found"


def test_api_access_follows_site_grants_and_tokens(client):
    site = Site.get(Site.domain == "example.com")
    other = Site.create(domain="other.example", name="other", settings={})
    seed(other)
    api(client, site.id, 401, url="/x")
    reader = accounts.create_user("reader", "reader-pass-123", 0, [site.id])
    token, _row = accounts.create_api_token(reader, "ci")
    bearer = {"Authorization": f"Bearer {token}"}
    ok = client.get(f"/api/v1/sites/{site.id}/heatmap", params={"url": "/"}, headers=bearer, status=200)
    assert ok.json["total"] == 0
    client.get(f"/api/v1/sites/{other.id}/heatmap", params={"url": "/pricing"}, headers=bearer, status=404)


def test_page_lists_top_pages_and_escapes_tracked_text(admin_client):
    site = Site.get(Site.domain == "example.com")
    assert "heatmap-empty" in admin_client.get(f"/sites/{site.id}/heatmaps").text
    evil = '/"><script>alert(1)</script>'
    seed(site, path=evil, selector='a[title="<img src=x onerror=alert(2)>"]')
    from core.heatmaps.rollup import run_rollup

    run_rollup(admin_client.app.ctx, settle_seconds=0, scroll_settle_seconds=0)
    page = admin_client.get(f"/sites/{site.id}/heatmaps")
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)" in page.text
    assert 'id="heatmap-stage"' in page.text and "/api/v1/sites/" in page.text
    assert f'href="/sites/{site.id}/heatmaps"' in page.text  # the site tab
    assert "<script>" not in page.text.split("</main>")[0]  # no inline script in the page body
    chosen = admin_client.get(f"/sites/{site.id}/heatmaps", params={"url": "/pricing", "kind": "scroll",
                                                                    "band": "1280-1439", "device": "desktop"})
    assert "width_max=1439" in chosen.text and "kind=scroll" in chosen.text
    assert 'data-label-reached="{pct}% reached"' in chosen.text  # gettext formatting kept the braces
    bad = admin_client.get(f"/sites/{site.id}/heatmaps", params={"url": "/pricing", "kind": "nope"})
    assert 'id="heatmap-error"' in bad.text


def test_live_background_allows_only_the_sites_origin_in_frames(admin_client):
    site = Site.get(Site.domain == "example.com")
    seed(site)
    page = admin_client.get(f"/sites/{site.id}/heatmaps", params={"url": "/pricing", "background": "live"})
    assert "frame-src 'self' https://example.com" in page.headers["Content-Security-Policy"]
    assert 'sandbox="allow-scripts"' in page.text and 'src="https://example.com/pricing"' in page.text
    plain = admin_client.get(f"/sites/{site.id}/heatmaps", params={"url": "/pricing"})
    assert "<iframe" not in plain.text  # no snapshot stored: plain background


def test_snapshot_background_is_served_without_scripts(admin_client):
    from core.models.recordings import RecordingPageSnapshot
    from core.recordings import store

    site = Site.get(Site.domain == "example.com")
    seed(site)
    html = "<html><body><button class='buy'>Buy</button><script>parent.hacked=1</script></body></html>"
    digest = store.sha256_hex(html.encode())
    store.store_blob(site.id, "html", digest, "https://example.com/pricing", html)
    pageview = HeatmapPoint.select().first().pageview_id
    RecordingPageSnapshot.create(pageview=pageview, site=site.id, hash=digest, t=0)
    page = admin_client.get(f"/sites/{site.id}/heatmaps", params={"url": "/pricing"})
    assert f'src="/sites/{site.id}/heatmaps/snapshot/{digest}"' in page.text
    assert 'sandbox="allow-same-origin"' in page.text
    doc = admin_client.get(f"/sites/{site.id}/heatmaps/snapshot/{digest}")
    assert "script-src 'none'" in doc.headers["Content-Security-Policy"]
    assert "Buy" in doc.text
    admin_client.get(f"/sites/{site.id}/heatmaps/snapshot/{'0' * 64}", status=404)


def test_rollup_job_runs_from_the_cli_with_rebuild(installed_settings, app):
    site = Site.get(Site.domain == "example.com")
    seed(site)
    out = subprocess.run([sys.executable, "uxwizz.py", "jobs", "run", "heatmap-rollup", "--rebuild",
                          "--config", installed_settings.config_path], cwd=PROJECT_ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "rolled up 4 point(s)" in out.stderr + out.stdout
    assert RollupState.load().points_id == HeatmapPoint.select().count()
    listed = subprocess.run([sys.executable, "uxwizz.py", "jobs", "list", "--config", installed_settings.config_path],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert "heatmap-rollup" in listed.stdout and "retention" in listed.stdout


def test_a_read_only_user_sees_heatmaps_of_granted_sites_only(client):
    site = Site.get(Site.domain == "example.com")
    other = Site.create(domain="hidden.example", name="hidden", settings={})
    accounts.create_user("viewer", "viewer-pass-123", 0, [site.id])
    assert login(client, "viewer", "viewer-pass-123").status_int == 303
    client.get(f"/sites/{site.id}/heatmaps", status=200)
    client.get(f"/sites/{other.id}/heatmaps", status=404)


def record_dead_click(site: Site, selector: str, path: str = "/pricing") -> None:
    """A full-page recording whose one click gets no reaction, plus the tracked click on `selector`."""
    from core.recordings import maintenance, store

    session = make_session(site, AT)
    pageview = make_pageview(session, path=path)
    t0 = store.naive_ms(AT)
    events = [{"type": 4, "timestamp": t0, "data": {"href": "https://example.com" + path}},
              {"type": 2, "timestamp": t0, "data": {}},
              {"type": 3, "timestamp": t0 + 1000, "data": {"source": 2, "type": 2, "x": 20, "y": 30}},
              {"type": 3, "timestamp": t0 + 4000, "data": {"source": 1, "positions": []}}]
    store.write_chunk(site_id=site.id, session_id=session.id, pageview_id=pageview.id, mode="dom",
                      events=events, time_key="timestamp")
    add_points(pageview, [{"at": AT + dt.timedelta(seconds=1), "x": 20, "y": 30, "sel": selector,
                           "ox": 0.5, "oy": 0.5, "kind": POINT_CLICK}])
    assert maintenance.update_summary(session)["dead_clicks"] == 1


def test_side_panel_lists_dead_clicks_of_recordings_escaped_and_capped(admin_client, monkeypatch):
    from core.dashboard import heatmap_views

    site = Site.get(Site.domain == "example.com")
    evil = 'a[title="<img src=x onerror=alert(3)>"]'
    record_dead_click(site, evil)
    record_dead_click(site, evil)
    record_dead_click(site, "div.banner")
    record_dead_click(site, "div.banner", path="/other")  # another page: not counted
    params = {"url": "/pricing", "from": DAY.isoformat(), "to": DAY.isoformat()}
    page = admin_client.get(f"/sites/{site.id}/heatmaps", params=params)
    assert "3 dead clicks in 3 recorded sessions" in page.text
    rows = page.html.select("#heatmap-dead tbody tr")
    assert [[td.get_text() for td in row.select("td")] for row in rows] == [[evil, "2"], ["div.banner", "1"]]
    assert "<img src=x onerror" not in page.text and "&lt;img src=x onerror=alert(3)&gt;" in page.text
    assert 'id="heatmap-dead-capped"' not in page.text
    before = dt.date.fromordinal(DAY.toordinal() - 3).isoformat()
    empty = admin_client.get(f"/sites/{site.id}/heatmaps", params={**params, "from": before, "to": before})
    assert "0 dead clicks in 0 recorded sessions" in empty.text
    monkeypatch.setattr(heatmap_views, "DEAD_CLICK_SESSIONS", 2)
    capped = admin_client.get(f"/sites/{site.id}/heatmaps", params=params)
    assert "2 dead clicks in 2 recorded sessions" in capped.text
    assert "Only the newest 2 sessions with dead clicks were examined." in capped.text
