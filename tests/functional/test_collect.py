"""POST /api/collect → 202 → flush → exact rows, on the engine under test (WebTest, no server).

Also: CORS, size caps, malformed input, typed drops, client IP / X-Forwarded-For, the tracker
config endpoint, and the site cache seeing sites created after start-up.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import zlib
from typing import Any

import pytest
import webtest

from core.app import create_app
from core.models import (
    CollectBatch,
    Event,
    HeatmapPoint,
    Pageview,
    RecordingChunk,
    Session,
    SessionTag,
    Site,
)
from core.models.analytics import POINT_CLICK, POINT_MOVE, POINT_SCROLL
from core.sites import create_site, update_site

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")
HEADLESS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 "
            "Safari/537.36")
ORIGIN = "https://www.example.com"
SID = "k3J9aQ2xP0c7VbN1mZt8Ru"
PID = "p8Hq2LmX0a"


def now_ms() -> int:
    return int(time.time() * 1000)


def payload(bid: str = "0001", *, sid: str = SID, site: str = "www.example.com", t: int | None = None,
            session: bool = True, **parts: Any) -> dict[str, Any]:
    t = t or now_ms()
    body: dict[str, Any] = {"v": 1, "site": site, "sid": sid, "bid": f"{sid}-{bid}", "sent": t}
    if session:
        body["session"] = {
            "screen": [1920, 1080], "lang": "en-GB", "tz": "Europe/London",
            "referrer": "https://www.google.com/search?q=x",
            "landing": "https://www.example.com/?utm_source=news&utm_medium=email&ref=7",
            "utm": {"source": "news", "medium": "email", "campaign": "nov", "term": "", "content": ""},
            "gclid": "", "fbclid": "",
        }
    body["pages"] = parts.pop("pages", [page(t=t - 5000)])
    body.update(parts)
    return body


def page(pid: str = PID, *, t: int, url: str = "https://www.example.com/pricing?gclid=abc&plan=pro", **more: Any):
    base = {"pid": pid, "url": url, "title": "Pricing", "referrer": "https://www.google.com/", "t": t,
            "vw": 1280, "vh": 720, "dw": 1280, "dh": 3400, "active_ms": 5400, "visible_ms": 9000, "scroll": 62}
    base.update(more)
    return base


def post(client: webtest.TestApp, body: Any, *, status: int | str = 202, origin: str | None = ORIGIN,
         ua: str = CHROME, headers: dict[str, str] | None = None, raw: bytes | None = None,
         **environ: Any) -> webtest.TestResponse:
    all_headers = {"Content-Type": "text/plain;charset=UTF-8", "User-Agent": ua, **(headers or {})}
    if origin is not None:
        all_headers["Origin"] = origin
    data = raw if raw is not None else json.dumps(body).encode()
    return client.post("/api/collect", data, headers=all_headers, status=status, extra_environ=environ or None)


def flush(app) -> Any:  # type: ignore[no-untyped-def]
    return app.ctx.services["ingest"].flush_now()


def site_settings(**changes: Any) -> None:
    site = Site.get(Site.domain == "example.com")
    update_site(site, settings=changes)


def refresh_sites(app) -> None:  # type: ignore[no-untyped-def]
    app.ctx.services["ingest"].sites.refresh()


# -- the happy path -----------------------------------------------------------------------------


def test_payload_is_stored_as_exact_rows(app, client):
    t = now_ms() - 60_000
    body = payload(
        t=t,
        events=[{"pid": PID, "t": t - 3000, "category": "video", "action": "play", "label": "intro",
                 "value": 12.5, "value_secondary": None, "item_id": "v1", "data": {"q": "hd"}}],
        tags=[{"pid": PID, "t": t - 2000, "tag": "newsletter"}, {"pid": PID, "t": t - 1000, "tag": "newsletter"}],
        pointer=[
            {"pid": PID, "t": t - 4000, "k": "click", "x": 640, "y": 1210, "sel": "a.cta", "ox": 0.42, "oy": 0.5,
             "vw": 1280},
            {"pid": PID, "t": t - 4100, "k": "move", "x": 600, "y": 1190, "vw": 1280},
            {"pid": PID, "t": t - 3500, "k": "scroll", "y": 900, "vw": 1280},
            {"pid": PID, "t": t - 3400, "k": "resize", "w": 1024, "h": 700},
            {"pid": PID, "t": t - 3300, "k": "select", "sel": "p.lead", "text_len": 12},
            {"pid": PID, "t": t - 3200, "k": "input", "sel": "#email", "value": "secret"},
        ],
    )
    response = post(client, body)
    assert response.json == {"ok": True}
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert app.ctx.services["ingest_depth"]() == 1
    assert Session.select().count() == 0  # nothing written on the request thread
    report = flush(app)
    assert (report.entries, report.stored, report.duplicates) == (1, 1, 0)
    assert app.ctx.services["ingest_depth"]() == 0

    session = Session.get()
    assert session.site.domain == "example.com" and session.token == SID
    assert len(session.visitor_hash) == 64 and session.ip is None
    assert (session.browser, session.os, session.device) == ("Chrome", "Windows", "desktop")
    assert (session.screen_w, session.screen_h, session.language, session.timezone) == (1920, 1080, "en-GB",
                                                                                      "Europe/London")
    assert session.referrer_domain == "www.google.com"
    assert session.landing_url == "https://www.example.com/?ref=7"  # utm_* stripped again
    assert (session.utm_source, session.utm_medium, session.utm_campaign) == ("news", "email", "nov")
    assert (session.pageview_count, session.event_count, session.click_count) == (1, 1, 1)
    assert session.has_recording

    pv = Pageview.get()
    assert pv.url == "https://www.example.com/pricing?plan=pro" and pv.path == "/pricing"
    assert (pv.active_ms, pv.visible_ms, pv.max_scroll_pct, pv.doc_h) == (5400, 9000, 62, 3400)

    event = Event.get()
    assert (event.category, event.action, event.label, event.value, event.item_id, event.data) == (
        "video", "play", "intro", 12.5, "v1", {"q": "hd"})
    assert event.pageview_id == pv.id
    assert [t.tag for t in SessionTag.select()] == ["newsletter"]

    points = sorted((p.kind, p.x, p.y, p.selector, p.device, p.path) for p in HeatmapPoint.select())
    assert points == [(POINT_CLICK, 640, 1210, "a.cta", "desktop", "/pricing"),
                      (POINT_MOVE, 600, 1190, "", "desktop", "/pricing"),
                      (POINT_SCROLL, 0, 900, "", "desktop", "/pricing")]
    chunk = RecordingChunk.get()
    assert (chunk.mode, chunk.seq, chunk.event_count, chunk.pageview_id) == ("pointer", 1, 6, pv.id)
    events = json.loads(zlib.decompress(chunk.data))
    assert [e["k"] for e in events] == ["move", "click", "scroll", "resize", "select", "input"]  # by time
    assert events[-1]["value"] == "••••••"  # keyboard recording is off: masked again on the server
    assert chunk.first_t == events[0]["t"] and chunk.last_t == events[-1]["t"]
    assert [b.batch_id for b in CollectBatch.select()] == [f"{SID}-0001"]


def test_same_batch_twice_is_stored_once_and_later_batches_update(app, client):
    t = now_ms() - 60_000
    first = payload("0001", t=t, tags=[{"pid": PID, "t": t, "tag": "a"}],
                    pointer=[{"pid": PID, "t": t, "k": "click", "x": 1, "y": 2}])
    post(client, first)
    post(client, first)  # a retry after a lost response
    flush(app)
    post(client, first)  # and once more after it was stored
    second = payload("0002", t=t + 1000, session=False,
                     pages=[page(t=t - 5000, active_ms=100, visible_ms=20000, scroll=90, dh=5000)],
                     tags=[{"pid": PID, "t": t + 1000, "tag": "a"}, {"pid": PID, "t": t + 1000, "tag": "b"}],
                     events=[{"pid": PID, "t": t + 900, "category": "c", "action": "a"}],
                     pointer=[{"pid": PID, "t": t + 900, "k": "click", "x": 5, "y": 6}])
    post(client, second)
    report = flush(app)
    assert (report.stored, report.duplicates) == (1, 1)
    assert Session.select().count() == 1 and Pageview.select().count() == 1
    pv = Pageview.get()
    assert (pv.active_ms, pv.visible_ms, pv.max_scroll_pct, pv.doc_h) == (5400, 20000, 90, 5000)  # maxima
    assert sorted(t.tag for t in SessionTag.select()) == ["a", "b"]
    session = Session.get()
    assert (session.pageview_count, session.event_count, session.click_count) == (1, 1, 2)
    assert session.last_seen_at > session.started_at
    assert [(c.seq, c.event_count) for c in RecordingChunk.select().order_by(RecordingChunk.seq)] == [(1, 1), (2, 1)]
    assert CollectBatch.select().count() == 2
    stats = client.get("/healthz").json["collect"]
    assert stats["accepted"] == 4 and stats["stored"] == 2 and stats["duplicates"] == 2


def test_session_values_come_from_the_first_batch_that_has_them(app, client):
    t = now_ms() - 10_000
    post(client, payload("0001", t=t, session=False))
    flush(app)
    assert Session.get().landing_url == ""
    post(client, payload("0002", t=t))
    later = payload("0003", t=t)
    later["session"]["lang"] = "fr-FR"
    post(client, later)
    flush(app)
    session = Session.get()
    assert session.language == "en-GB" and session.utm_source == "news" and session.screen_w == 1920


def test_events_may_reference_a_page_of_an_earlier_batch(app, client):
    t = now_ms() - 10_000
    post(client, payload("0001", t=t))
    flush(app)
    post(client, payload("0002", t=t, session=False, pages=[],
                         events=[{"pid": PID, "t": t, "category": "c", "action": "a"}],
                         pointer=[{"pid": PID, "t": t, "k": "click", "x": 3, "y": 4},
                                  {"pid": "unknownpage1", "t": t, "k": "click", "x": 3, "y": 4}]))
    flush(app)
    pv = Pageview.get()
    assert Event.get().pageview_id == pv.id
    assert [p.pageview_id for p in HeatmapPoint.select()] == [pv.id]  # the unknown page's point is skipped


def test_client_clock_skew_is_corrected(app, client):
    server_now = now_ms()
    skewed = server_now - 3_600_000  # the visitor's clock is an hour behind
    body = payload(t=skewed, events=[{"pid": PID, "t": skewed - 10_000, "category": "c", "action": "a"}])
    post(client, body)
    flush(app)
    occurred = Event.get().occurred_at
    expected = dt.datetime.fromtimestamp((server_now - 10_000) // 1000, dt.UTC).replace(tzinfo=None)
    assert abs((occurred - expected).total_seconds()) <= 2  # not an hour off


# -- CORS, sizes, malformed input ---------------------------------------------------------------


def test_cors_only_for_known_site_origins(client):
    ok = client.options("/api/collect", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
                        status=204)
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN and ok.headers["Vary"] == "Origin"
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    sub = client.options("/api/collect", headers={"Origin": "http://shop.example.com"}, status=204)
    assert sub.headers["Access-Control-Allow-Origin"] == "http://shop.example.com"
    for other in ("https://evil.test", "https://notexample.com", "null"):
        denied = client.options("/api/collect", headers={"Origin": other}, status=404)
        assert "Access-Control-Allow-Origin" not in denied.headers
    # A request from a foreign origin naming our site is refused, without CORS headers.
    refused = post(client, payload(), origin="https://evil.test", status=403)
    assert refused.json["error"] == "origin_mismatch" and "Access-Control-Allow-Origin" not in refused.headers
    # No Origin at all (server-side senders, same-origin beacons): accepted, no CORS header.
    plain = post(client, payload("0002"), origin=None)
    assert "Access-Control-Allow-Origin" not in plain.headers
    assert "*" not in plain.headers.get("Access-Control-Allow-Origin", "")
    for response in (ok, refused, plain):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_unknown_site_is_404_and_wrong_method_405(client):
    response = post(client, payload(site="other.org"), origin="https://other.org", status=404)
    assert response.json["error"] == "unknown_site"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert client.get("/api/collect", status=405).json["error"] == "method_not_allowed"


def test_body_size_cap(app, client):
    limit = app.ctx.settings["ingest.max_body_bytes"]
    big = payload(events=[{"pid": PID, "t": now_ms(), "category": "c", "action": "a", "label": "x" * 200}] * 200)
    big["pad"] = "x" * limit
    response = post(client, big, status=413)
    assert response.json["error"] == "too_large" and str(limit) in response.json["detail"]
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN  # the tracker can read the answer
    assert app.ctx.services["ingest_depth"]() == 0


def test_body_without_content_length_is_capped_too(app, client):
    limit = app.ctx.settings["ingest.max_body_bytes"]
    body = (b'{"v":1,"pad":"' + b"x" * (limit + 10) + b'"}')
    response = client.post("/api/collect", body, headers={"Content-Type": "text/plain"}, status=413,
                           extra_environ={"CONTENT_LENGTH": ""})
    assert response.json["error"] == "too_large"


@pytest.mark.parametrize(("raw", "status", "code", "detail"), [
    (b"not json", 400, "invalid_json", "not valid"),
    (b"\xff\xfe{}", 400, "invalid_json", "UTF-8"),
    (b"[1,2]", 400, "invalid_json", "object"),
    (b'{"v": 2}', 422, "invalid", "v:"),
    (b'{"v": 1, "site": "example.com", "sid": "short", "bid": "12345678", "sent": 1764489600123}', 422,
     "invalid", "sid:"),
    (b'{"v": 1, "site": "example.com", "sid": "k3J9aQ2xP0c7VbN1mZt8Ru", "bid": "12345678", "sent": NaN}', 400,
     "invalid_json", "JSON"),
])
def test_malformed_bodies_get_a_reason(app, client, raw, status, code, detail):
    response = post(client, None, raw=raw, status=status)
    assert response.json["error"] == code and detail in response.json["detail"]
    assert app.ctx.services["ingest_depth"]() == 0


def test_a_bad_field_deep_inside_is_named_and_nothing_is_stored(app, client):
    body = payload(events=[{"pid": PID, "t": now_ms(), "category": "c", "action": "a"},
                           {"pid": PID, "t": now_ms(), "category": "", "action": "a"}])
    response = post(client, body, status=422)
    assert response.json["detail"].startswith("events[1].category:")
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN  # the tracker can read why
    flush(app)
    assert Session.select().count() == 0 and CollectBatch.select().count() == 0


# -- typed drops --------------------------------------------------------------------------------


def dropped(response: webtest.TestResponse) -> str | None:
    return response.headers.get("X-UXWizz-Dropped")


def test_drop_reasons_answer_202_with_the_reason_and_are_counted(app, client):
    assert dropped(post(client, payload("0001"), ua="curl/8.5.0")) == "bot"
    assert dropped(post(client, payload("0002"), ua="Googlebot/2.1 (+http://www.google.com/bot.html)")) == "bot"
    assert dropped(post(client, payload("0003"), ua="")) == "bot"
    assert dropped(post(client, payload("0004"), ua=HEADLESS)) == "bot"  # filter_headless is on by default
    opted = payload("0005")
    opted["opt_out"] = True
    assert dropped(post(client, opted)) == "opted-out"
    assert dropped(post(client, payload("0006"), headers={"DNT": "1"})) is None  # respect_dnt is off
    site_settings(respect_dnt=True, ignored_ips=["198.51.100.*", "10.0.0.1"], filter_headless=False,
                  sample_percent=0)
    refresh_sites(app)
    assert dropped(post(client, payload("0007"), headers={"DNT": "1"})) == "dnt"
    assert dropped(post(client, payload("0008"), headers={"Sec-GPC": "1"})) == "dnt"
    assert dropped(post(client, payload("0009"), REMOTE_ADDR="198.51.100.77")) == "ignored-ip"
    assert dropped(post(client, payload("0010"), REMOTE_ADDR="10.0.0.1")) == "ignored-ip"
    assert dropped(post(client, payload("0011"), REMOTE_ADDR="10.0.0.12")) == "sampled-out"
    response = post(client, payload("0012"), ua=HEADLESS)
    assert dropped(response) == "sampled-out"
    assert response.headers["Access-Control-Expose-Headers"] == "X-UXWizz-Dropped"
    site_settings(sample_percent=100)
    refresh_sites(app)
    assert dropped(post(client, payload("0013"), ua=HEADLESS)) is None  # headless allowed now
    flush(app)
    assert CollectBatch.select().count() == 2  # 0006 and 0013
    stats = client.get("/healthz").json["collect"]
    assert stats["dropped"] == {"bot": 4, "opted-out": 1, "dnt": 2, "ignored-ip": 2, "sampled-out": 2}


def test_mobile_visitors_dropped_at_flush_when_the_site_turns_them_off(app, client):
    site_settings(track_mobile=False)
    refresh_sites(app)
    post(client, payload("0001"), ua=IPHONE)
    post(client, payload("0002", sid="desktopSession00001"), ua=CHROME)
    report = flush(app)
    assert report.dropped == {"mobile-off": 1} and report.stored == 1
    assert [s.device for s in Session.select()] == ["desktop"]


def test_settings_shape_what_is_stored(app, client):
    site_settings(hash_ip=False, record_sessions=False, click_heatmaps=False, record_keyboard=True,
                  capture_utm=False)
    refresh_sites(app)
    t = now_ms()
    post(client, payload(t=t, pointer=[{"pid": PID, "t": t, "k": "click", "x": 1, "y": 2},
                                       {"pid": PID, "t": t, "k": "move", "x": 1, "y": 2}]),
         ua=IPHONE, REMOTE_ADDR="::ffff:203.0.113.50")
    flush(app)
    session = Session.get()
    assert session.ip == "203.0.113.50" and session.device == "mobile" and session.utm_source == ""
    assert not session.has_recording and RecordingChunk.select().count() == 0
    assert [(p.kind, p.device) for p in HeatmapPoint.select()] == [(POINT_MOVE, "mobile")]


# -- client IP ----------------------------------------------------------------------------------


def make_client(installed_settings, **overrides: Any):  # type: ignore[no-untyped-def]
    application = create_app(installed_settings.replace(overrides))
    return application, webtest.TestApp(application, extra_environ={"REMOTE_ADDR": "127.0.0.1"})


def test_forwarded_for_believed_only_from_trusted_proxies(installed_settings):
    application, client = make_client(installed_settings, **{"server.trusted_proxies": "127.0.0.1"})
    try:
        site_settings(hash_ip=False)
        refresh_sites(application)
        post(client, payload("0001", sid="viaTrustedProxy0001"), headers={"X-Forwarded-For": "198.51.100.4"})
        post(client, payload("0002", sid="viaUntrustedHop0001"), headers={"X-Forwarded-For": "198.51.100.5"},
             REMOTE_ADDR="192.0.2.1")
        post(client, payload("0003", sid="spoofedChainXX0001"),
             headers={"X-Forwarded-For": "1.1.1.1, 198.51.100.6, 127.0.0.1"})
        flush(application)
        ips = {s.token: s.ip for s in Session.select()}
        assert ips == {"viaTrustedProxy0001": "198.51.100.4", "viaUntrustedHop0001": "192.0.2.1",
                       "spoofedChainXX0001": "198.51.100.6"}
    finally:
        application.shutdown()


# -- config endpoint and the site cache ---------------------------------------------------------


def test_config_endpoint(client):
    response = client.get("/api/collect/config?site=www.example.com", headers={"Origin": ORIGIN})
    assert response.json == {
        "site": "example.com", "record": True, "sample": 100, "mobile": True, "clicks": True, "moves": True,
        "keyboard": False, "strip": ["utm_*", "gclid", "fbclid"], "utm": True, "dnt": False, "consent": False,
        "consent_text": response.json["consent_text"], "fullpage": False}
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN and response.headers["Vary"] == "Origin"
    missing = client.get("/api/collect/config?site=nope.org", headers={"Origin": "https://nope.org"}, status=404)
    assert missing.json["error"] == "unknown_site" and "Access-Control-Allow-Origin" not in missing.headers
    assert client.get("/api/collect/config?site=%3Cscript%3E", status=400).json["error"] == "invalid"


def test_sites_created_after_start_are_found(app, client):
    create_site("new-shop.test")
    # The config endpoint refreshes on a miss, so a tracker on a brand-new site starts at once.
    assert client.get("/api/collect/config?site=new-shop.test").json["site"] == "new-shop.test"
    post(client, payload(site="new-shop.test"), origin="https://new-shop.test")
    report = flush(app)
    assert report.stored == 1
    assert Session.get().site.domain == "new-shop.test"


def test_a_deleted_site_drops_its_journaled_entries(app, client):
    other = create_site("gone.test")
    refresh_sites(app)
    post(client, payload(site="gone.test"), origin="https://gone.test")
    other.delete_instance()
    report = flush(app)
    assert report.dropped == {"unknown-site": 1} and Session.select().count() == 0
