"""The tracker in Chromium, cross-origin, against a real running server: what it sends, what lands
in the database, and what it must never send.

Fixture pages (tracker/fixtures/) are served from a second origin, http://localhost:<port>, so the
tracker runs like on a real site; the server under test runs at http://127.0.0.1:<port>.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

from core.db import open_database
from core.enrich.rules import sampled_in
from core.models import Event, HeatmapPoint, Pageview, Session, SessionTag, Site
from core.models.analytics import POINT_CLICK
from core.sites import create_site, update_site
from tests.support import HTML, PROJECT_ROOT, LiveServer, PageOrigin, free_port, query_db, wait_db

FIXTURES = os.path.join(PROJECT_ROOT, "tracker", "fixtures")
BUILD = os.path.join(PROJECT_ROOT, "static", "build", "ust.min.js")


class FixtureOrigin(PageOrigin):
    """tracker/fixtures over HTTP on its own port, with `__UST_SERVER__` replaced by the server URL."""

    def __init__(self, server_url: str):
        self.server_url = server_url
        super().__init__(self.page)

    def page(self, raw_path: str) -> tuple[bytes, str] | None:
        parts = urlsplit(raw_path)
        name = parts.path.strip("/").split("/")[0] or "links.html"
        if not name.endswith(".html"):
            name += ".html"  # SPA routes (/spa/products) come back to their page
        path = os.path.join(FIXTURES, os.path.basename(name))
        if not os.path.isfile(path):
            return None
        html = open(path, encoding="utf-8").read().replace("__UST_SERVER__", self.server_url)
        if "rr" in parts.query.split("&"):
            html = html.replace("/server/ust.min.js", "/server/ust-rr.min.js")
        return html.encode(), HTML

    def url(self, page: str) -> str:
        return f"{self.base}/{page}"


@dataclass
class Traffic:
    """Every request the page made to the uxwizz server, and every response it got."""

    server: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        def on_request(request: Any) -> None:
            if request.url.startswith(self.server):
                self.requests.append({"url": request.url, "method": request.method, "body": request.post_data,
                                      "headers": request.headers})

        def on_response(response: Any) -> None:
            if response.url.startswith(self.server):
                self.responses.append({"url": response.url, "status": response.status,
                                       "headers": response.headers})

        page.on("request", on_request)
        page.on("response", on_response)

    def batches(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.requests
                if r["method"] == "POST" and r["url"].endswith("/api/collect")]

    def bodies(self) -> str:
        return "\n".join(r["body"] or "" for r in self.requests)

    def items(self, kind: str) -> list[dict[str, Any]]:
        return [item for batch in self.batches() for item in batch.get(kind, [])]


@dataclass
class Tracked:
    server: LiveServer
    origin: FixtureOrigin
    db_url: str
    base_dir: str

    def traffic(self, page: Any) -> Traffic:
        traffic = Traffic(self.server.url)
        traffic.attach(page)
        return traffic

    def query(self, fn: Callable[[], Any]) -> Any:
        return query_db(self.db_url, self.base_dir, fn)

    def wait_rows(self, fn: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 10.0) -> Any:
        """Poll the database until ok(result): the server answers 202 first and writes within ~1 s."""
        return wait_db(self.db_url, self.base_dir, fn, ok, timeout)


@pytest.fixture
def tracked(installed_settings) -> Iterator[Callable[..., Tracked]]:  # type: ignore[no-untyped-def]
    """start(**tracking_settings): add the site `localhost`, start the server and the fixture origin.

    The test browser is headless Chromium, which sites drop as a bot by default: these sites don't.
    """
    assert os.path.exists(BUILD), "static/build/ust.min.js is missing: run `npm run build` (make install does)"
    started: list[Any] = []

    def start(**tracking: Any) -> Tracked:
        db_url, base_dir = installed_settings["database.url"], installed_settings.base_dir
        database = open_database(db_url, base_dir)
        try:
            with database.db.connection_context():
                site = create_site("localhost")
                update_site(site, settings={"filter_headless": False, **tracking})
        finally:
            database.close()
        server = LiveServer(installed_settings.config_path, free_port()).start()
        started.append(server)
        origin = FixtureOrigin(server.url)
        started.append(origin)
        return Tracked(server, origin, db_url, base_dir)

    yield start
    for thing in reversed(started):
        if isinstance(thing, LiveServer):
            thing.stop()
        else:
            thing.close()


def settle(page: Any, ms: int = 1500) -> None:
    page.wait_for_timeout(ms)


def force_send(page: Any) -> None:
    page.evaluate("UST.forceSendData()")
    page.wait_for_timeout(800)


def wait_tracking(page: Any) -> None:
    """Until the tracker fetched its config and sent the first page view."""
    page.wait_for_function("window.UST && UST.canRecord && UST.canRecord()", timeout=10000)


# -- what arrives --------------------------------------------------------------------------------

def test_pageview_clicks_scroll_and_tags_arrive_as_rows(tracked, page):
    site = tracked()
    traffic = site.traffic(page)
    page.goto(site.origin.url("links.html?utm_source=news&utm_medium=email&gclid=abc123&keep=1"))
    wait_tracking(page)
    page.click("#buy")
    page.click("section#top button.secondary")
    page.click("[data-ust_click_tag]")
    page.mouse.move(300, 300)
    page.mouse.move(400, 350, steps=5)
    page.mouse.wheel(0, 1200)
    page.wait_for_timeout(600)
    force_send(page)

    pages = traffic.items("pages")
    assert pages, "no page view was sent"
    first = pages[0]
    # Campaign parameters are captured into the session, then stripped from every URL.
    assert first["url"] == site.origin.url("links.html?keep=1")
    assert first["title"] == "Links and buttons"
    assert (first["vw"], first["vh"]) == (1280, 800)
    session = next(b["session"] for b in traffic.batches() if "session" in b)
    assert session["utm"]["source"] == "news" and session["utm"]["medium"] == "email"
    assert session["gclid"] == "abc123"
    assert "utm_source" not in session["landing"] and "gclid" not in session["landing"]
    clicks = [p for p in traffic.items("pointer") if p["k"] == "click"]
    assert [c["sel"] for c in clicks] == ["#buy", "#top > button.cta.secondary:nth-of-type(2)",
                                          "#top > button.cta:nth-of-type(3)"]
    buy = clicks[0]
    box = page.locator("#buy").bounding_box()
    assert 0 <= buy["ox"] <= 1 and 0 <= buy["oy"] <= 1
    assert abs(buy["x"] - (box["x"] + buy["ox"] * box["width"])) <= 2
    assert buy["vw"] == 1280
    assert any(p["k"] == "move" for p in traffic.items("pointer"))
    assert any(p["k"] == "scroll" and p["y"] > 0 for p in traffic.items("pointer"))
    assert max(p["scroll"] for p in traffic.items("pages")) > 40
    assert [t["tag"] for t in traffic.items("tags")] == ["newsletter-click"]
    assert all(r["status"] == 202 for r in traffic.responses if r["url"].endswith("/api/collect"))

    sid = traffic.batches()[0]["sid"]
    rows = site.wait_rows(
        lambda: (list(Session.select().where(Session.token == sid).dicts()),
                 list(Pageview.select().dicts()),
                 list(HeatmapPoint.select().where(HeatmapPoint.kind == POINT_CLICK).dicts()),
                 [t.tag for t in SessionTag.select()]),
        lambda r: r[0] and r[1] and len(r[2]) >= 3 and r[3])
    sessions, pageviews, click_rows, tags = rows
    assert len(sessions) == 1
    assert sessions[0]["utm_source"] == "news" and sessions[0]["gclid"] == "abc123"
    assert [pv["url"] for pv in pageviews] == [site.origin.url("links.html?keep=1")]
    assert {c["selector"] for c in click_rows} >= {"#buy"}
    assert tags == ["newsletter-click"]
    assert site.query(lambda: Site.get(Site.domain == "localhost").id) == sessions[0]["site"]


def test_selection_resize_and_time_on_page(tracked, page):
    site = tracked()
    traffic = site.traffic(page)
    page.goto(site.origin.url("links.html"))
    wait_tracking(page)
    page.mouse.move(200, 200)
    page.evaluate("""() => {
        const range = document.createRange();
        range.selectNodeContents(document.querySelector('p.lead'));
        getSelection().removeAllRanges();
        getSelection().addRange(range);
    }""")
    page.set_viewport_size({"width": 1000, "height": 700})
    page.wait_for_timeout(2500)
    force_send(page)
    pointer = traffic.items("pointer")
    selects = [p for p in pointer if p["k"] == "select"]
    assert selects and selects[-1]["sel"] == "#top > p.lead"
    assert selects[-1]["text_len"] == len("Some text a visitor may select and copy.")
    assert {"k": "resize", "w": 1000, "h": 700} in [{k: p[k] for k in ("k", "w", "h")} for p in pointer
                                                      if p["k"] == "resize"]
    last = traffic.items("pages")[-1]
    assert last["visible_ms"] >= 2000 and 0 < last["active_ms"] <= last["visible_ms"]
    assert last["dh"] > 3000 and last["dw"] >= 1000


def test_spa_route_changes_are_page_views(tracked, page):
    site = tracked()
    traffic = site.traffic(page)
    page.goto(site.origin.url("spa.html"))
    wait_tracking(page)
    page.click("#to-products")
    page.wait_for_timeout(300)
    page.click("#same-page")  # replaceState to the same URL: not a new page view
    page.click("#anchor")  # an in-page anchor: not a new page view
    page.click("#to-product")
    page.wait_for_timeout(300)
    page.go_back()
    page.wait_for_timeout(300)
    force_send(page)

    views: dict[str, dict[str, Any]] = {}
    for p in traffic.items("pages"):
        views.setdefault(p["pid"], p)
    urls = [p["url"] for p in views.values()]
    origin = site.origin.url("")
    assert urls == [origin + "spa.html", origin + "spa/products", origin + "spa/products/42?ref=list",
                    origin + "spa/products#details"]
    chain = list(views.values())
    assert chain[1]["referrer"] == chain[0]["url"]
    assert chain[2]["referrer"] == origin + "spa/products"  # the anchor was not a page of its own
    assert chain[2]["title"] == "Product 42"

    sid = traffic.batches()[0]["sid"]
    stored = site.wait_rows(
        lambda: [pv.url for pv in Pageview.select().join(Session).where(Session.token == sid).order_by(Pageview.id)],
        lambda r: len(r) >= 4)
    assert stored == urls


def test_calls_queued_before_load_are_replayed_in_order(tracked, page):
    site = tracked()
    traffic = site.traffic(page)
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.goto(site.origin.url("queued.html"))
    wait_tracking(page)
    force_send(page)

    assert [t["tag"] for t in traffic.items("tags")] == ["early-bird", "second-tag"]
    events = traffic.items("events")
    assert [(e["category"], e["action"]) for e in events] == [("video", "play"), ("signup", "start")]
    video = events[0]
    assert video["label"] == "intro" and video["value"] == 12.5 and video["item_id"] == "v1"
    assert video["data"] == {"q": "hd"}
    assert len([w for w in warnings if "[UST]" in w]) == 5, warnings
    assert all(e["pid"] == traffic.items("pages")[0]["pid"] for e in events)

    sid = traffic.batches()[0]["sid"]
    stored = site.wait_rows(
        lambda: ([(e.category, e.action, e.label, e.value, e.data) for e in Event.select().order_by(Event.id)],
                 sorted(t.tag for t in SessionTag.select().join(Session).where(Session.token == sid))),
        lambda r: len(r[0]) >= 2 and len(r[1]) >= 2)
    assert stored[0] == [("video", "play", "intro", 12.5, {"q": "hd"}), ("signup", "start", "", None, None)]
    assert stored[1] == ["early-bird", "second-tag"]


def test_hooks_fire_with_the_right_arguments(tracked, page):
    site = tracked()
    traffic = site.traffic(page)
    page.goto(site.origin.url("hooks.html"))
    wait_tracking(page)
    page.wait_for_function("hookCalls.some(c => c.name === 'onPageViewCreated')", timeout=10000)
    page.click("#go")
    page.wait_for_timeout(1500)
    page.wait_for_function("hookCalls.filter(c => c.name === 'onPageViewCreated').length === 2", timeout=10000)
    calls = page.evaluate("hookCalls")
    names = [c["name"] for c in calls]
    assert names[:4] == ["onTagAdded", "onEventAdded", "onLoaded", "onTrackingStarted"] or \
        names[:4] == ["onLoaded", "onTagAdded", "onEventAdded", "onTrackingStarted"], names
    by_name: dict[str, list[list[Any]]] = {}
    for call in calls:
        by_name.setdefault(call["name"], []).append(call["args"])
    assert by_name["onTagAdded"] == [["loaded-tag"]]
    assert by_name["onEventAdded"] == [[{"category": "hooks", "action": "loaded", "value": 1}]]
    batches = traffic.batches()
    sid = batches[0]["sid"]
    pids = list(dict.fromkeys(p["pid"] for p in traffic.items("pages")))
    assert by_name["onSessionCreated"] == [[sid]]
    assert by_name["onPageViewCreated"] == [[sid, pids[0]], [sid, pids[1]]]
    sent = by_name["onDataSent"]
    assert sent and sent[0][0]["sid"] == sid and sent[0][0]["bid"] == batches[0]["bid"]
    assert "onGDPRAccepted" not in by_name and "onGDPRDeclined" not in by_name
    assert names.index("onSessionCreated") < names.index("onPageViewCreated")


def test_on_tracking_started_returning_false_cancels(tracked, page):
    site = tracked()
    traffic = site.traffic(page)
    page.goto(site.origin.url("hooks.html?cancel"))
    page.wait_for_function("hookCalls.some(c => c.name === 'onTrackingStarted')", timeout=10000)
    page.evaluate("UST.addTag('after-cancel'); UST.forceSendData()")
    page.click("#go")
    settle(page, 2000)
    assert traffic.batches() == []
    assert page.evaluate("UST.canRecord()") is False


# -- privacy ---------------------------------------------------------------------------------------

def test_no_cookie_is_ever_set_or_sent(tracked, page):
    site = tracked()
    traffic = site.traffic(page)
    page.goto(site.origin.url("links.html"))
    wait_tracking(page)
    page.click("#buy")
    force_send(page)
    page.goto(site.origin.url("form.html"))
    wait_tracking(page)
    force_send(page)
    assert traffic.batches()
    assert page.evaluate("document.cookie") == ""
    assert page.context.cookies() == []
    assert not any("set-cookie" in r["headers"] for r in traffic.responses)
    assert not any("cookie" in r["headers"] for r in traffic.requests)
    # Identity is a tab-scoped token; localStorage holds no identifier.
    assert page.evaluate("sessionStorage.getItem('ust-sid')") == traffic.batches()[0]["sid"]
    stored = page.evaluate("JSON.stringify(localStorage)")
    assert traffic.batches()[0]["sid"] not in stored


def test_opt_out_means_not_a_single_request_until_opt_in(tracked, page):
    site = tracked()
    traffic = site.traffic(page)
    page.goto(site.origin.url("links.html?ust-opt-out"))
    settle(page)
    page.click("#buy")
    page.evaluate("UST.addTag('x'); UST.forceSendData()")
    page.goto(site.origin.url("spa.html"))
    page.click("#to-products")
    settle(page, 2000)
    assert page.evaluate("localStorage.getItem('ust-opt-out')") == "1"
    assert [r for r in traffic.requests if "/server/" not in r["url"]] == []

    page.goto(site.origin.url("links.html?ust-opt-in"))
    wait_tracking(page)
    force_send(page)
    assert page.evaluate("localStorage.getItem('ust-opt-out')") is None
    urls = [p["url"] for p in traffic.items("pages")]
    assert urls and all("ust-opt" not in url for url in urls)


def test_snippet_included_twice_runs_one_tracker(tracked, page):
    site = tracked()
    traffic = site.traffic(page)
    page.goto(site.origin.url("twice.html"))
    wait_tracking(page)
    page.evaluate("UST.addTag('after-load')")
    force_send(page)
    configs = [r for r in traffic.requests if "/api/collect/config" in r["url"]]
    assert len(configs) == 1
    assert len({p["pid"] for p in traffic.items("pages")}) == 1
    assert sorted(t["tag"] for t in traffic.items("tags")) == ["after-load", "from-page", "from-tag-manager"]


def test_broken_hooks_and_bad_calls_never_break_the_page(tracked, page):
    site = tracked()
    traffic = site.traffic(page)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(site.origin.url("links.html"))
    wait_tracking(page)
    result = page.evaluate("""() => {
        UST.onTagAdded = () => { throw new Error('site bug in a hook'); };
        UST.onEventAdded = 'not a function';
        const cyclic = {}; cyclic.self = cyclic;
        UST.addTag('still-works');
        UST.addTag(null); UST.addTag(undefined); UST.addTag(Symbol('s')); UST.addTag(['array']);
        UST.addEvent(null); UST.addEvent('text'); UST.addEvent({category: 'c', action: 'a', data: cyclic});
        UST.addEvent({category: 'c', action: 'a', value: Infinity});
        UST.addEvent({category: 'ok', action: 'fine', value: '3.5'});
        return 'page code continues';
    }""")
    assert result == "page code continues"
    force_send(page)
    assert errors == []
    assert [t["tag"] for t in traffic.items("tags")] == ["still-works"]
    assert [(e["category"], e["value"]) for e in traffic.items("events")] == [("ok", 3.5)]


def test_no_track_flag_means_no_request(tracked, page):
    site = tracked()
    traffic = site.traffic(page)
    page.goto(site.origin.url("notrack.html"))
    settle(page)
    page.click("#b")
    page.evaluate("UST.addTag('y'); UST.forceSendData()")
    settle(page)
    assert [r for r in traffic.requests if "/server/" not in r["url"]] == []


def test_consent_popup_blocks_sending_until_accepted(tracked, page):
    site = tracked(consent_popup=True, consent_text="May we <b>record</b> your visit?")
    traffic = site.traffic(page)
    page.goto(site.origin.url("hooks.html"))
    popup = page.locator("#ust-consent")
    popup.wait_for()
    assert popup.get_attribute("role") == "dialog"
    # Text from the site config is text, never markup.
    assert page.locator("#ust-consent-text").inner_text() == "May we <b>record</b> your visit?"
    assert page.evaluate("document.activeElement.id") == "ust-consent-accept"
    page.mouse.click(50, 50)
    page.evaluate("UST.forceSendData()")
    settle(page, 2500)
    assert traffic.batches() == [], "data was sent before consent"
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('ust-q'))") == []

    page.focus("#ust-consent-accept")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "ust-consent-decline"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    assert popup.count() == 0
    page.wait_for_function("hookCalls.some(c => c.name === 'onPageViewCreated')", timeout=10000)
    assert page.evaluate("localStorage.getItem('ust-consent')") == "1"
    assert any(c["name"] == "onGDPRAccepted" for c in page.evaluate("hookCalls"))
    # The page view started before the answer is counted, with what happened meanwhile.
    assert [t["tag"] for t in traffic.items("tags")] == ["loaded-tag"]
    assert any(p["k"] == "click" for p in traffic.items("pointer"))

    page.goto(site.origin.url("links.html"))
    wait_tracking(page)
    assert page.locator("#ust-consent").count() == 0  # asked once


def test_escape_closes_the_consent_popup_without_an_answer(tracked, page):
    site = tracked(consent_popup=True)
    traffic = site.traffic(page)
    page.goto(site.origin.url("form.html"))
    page.locator("#ust-consent").wait_for()
    page.keyboard.press("Escape")
    assert page.locator("#ust-consent").count() == 0
    assert page.evaluate("localStorage.getItem('ust-consent')") is None
    page.evaluate("UST.forceSendData()")
    settle(page)
    assert traffic.batches() == []
    page.reload()
    page.locator("#ust-consent").wait_for()  # asked again on the next page


def test_declined_consent_sends_nothing_and_is_remembered(tracked, page):
    site = tracked(consent_popup=True)
    traffic = site.traffic(page)
    page.goto(site.origin.url("hooks.html"))
    page.locator("#ust-consent").wait_for()
    page.click("#ust-consent-decline")
    assert any(c["name"] == "onGDPRDeclined" for c in page.evaluate("hookCalls"))
    page.goto(site.origin.url("links.html"))
    settle(page, 2000)
    assert page.locator("#ust-consent").count() == 0
    page.click("#buy")
    page.evaluate("UST.forceSendData()")
    settle(page)
    assert traffic.batches() == []
    assert page.evaluate("localStorage.getItem('ust-consent')") == "0"


def fill_form(page: Any) -> None:
    page.fill("#name", "Ada Lovelace")
    page.fill("#password", "hunter2-secret")
    page.click("#shown")
    page.keyboard.type("toggled-pass")
    page.evaluate("document.getElementById('shown').type = 'text'")  # a "show password" button
    page.keyboard.type("-more")
    page.fill("#secret", "my-noRecord-value")
    page.fill("#notes", "Plain notes")
    page.check("#agree")
    page.click("#submit")


def test_input_values_are_masked_and_passwords_never_sent(tracked, page):
    site = tracked()
    traffic = site.traffic(page)
    page.goto(site.origin.url("form.html"))
    wait_tracking(page)
    fill_form(page)
    force_send(page)
    inputs = {p["sel"]: p["value"] for p in traffic.items("pointer") if p["k"] == "input"}
    assert inputs == {"#name": "\u2022" * len("Ada Lovelace"), "#notes": "\u2022" * len("Plain notes"),
                      "#agree": "\u2022\u2022"}
    everything = traffic.bodies()
    for secret in ("Ada Lovelace", "hunter2", "toggled-pass", "my-noRecord-value", "Plain notes"):
        assert secret not in everything


def test_keyboard_recording_sends_values_but_still_never_passwords(tracked, page):
    site = tracked(record_keyboard=True)
    traffic = site.traffic(page)
    page.goto(site.origin.url("form.html"))
    wait_tracking(page)
    fill_form(page)
    force_send(page)
    inputs = {p["sel"]: p["value"] for p in traffic.items("pointer") if p["k"] == "input"}
    assert inputs == {"#name": "Ada Lovelace", "#notes": "Plain notes", "#agree": "on"}
    everything = traffic.bodies()
    for secret in ("hunter2", "toggled-pass", "my-noRecord-value"):
        assert secret not in everything


def test_do_not_track_is_respected_when_the_site_asks(tracked, page):
    site = tracked(respect_dnt=True)
    traffic = site.traffic(page)
    page.add_init_script("Object.defineProperty(navigator, 'doNotTrack', {get: () => '1'})")
    page.goto(site.origin.url("links.html"))
    settle(page, 2000)
    page.click("#buy")
    page.evaluate("UST.forceSendData()")
    settle(page)
    assert traffic.batches() == []
    assert [r["url"].split("?")[0] for r in traffic.requests if "/server/" not in r["url"]] == [
        site.server.url + "/api/collect/config"]


def test_sampling_zero_percent_sends_nothing(tracked, page):
    site = tracked(sample_percent=0)
    traffic = site.traffic(page)
    page.goto(site.origin.url("links.html"))
    settle(page, 2000)
    page.evaluate("UST.forceSendData()")
    settle(page)
    assert traffic.batches() == []


def test_a_dropped_answer_silences_the_tab(tracked, page):
    site = tracked(filter_headless=True)  # the server drops headless Chromium as a bot
    traffic = site.traffic(page)
    page.goto(site.origin.url("links.html"))
    page.wait_for_function("sessionStorage.getItem('ust-drop') === '1'", timeout=10000)
    page.click("#buy")
    page.evaluate("UST.addTag('z'); UST.forceSendData()")
    page.goto(site.origin.url("spa.html"))
    settle(page, 2000)
    page.evaluate("UST.forceSendData()")
    settle(page, 500)
    collect = [r for r in traffic.responses if r["url"].endswith("/api/collect")]
    assert [r["headers"].get("x-uxwizz-dropped") for r in collect] == ["bot"]
    assert site.query(lambda: Session.select().count()) == 0


@pytest.mark.parametrize("inside", [True, False])
def test_sampling_is_the_servers_rule_and_sticks_to_the_tab(tracked, page, inside):
    site = tracked(sample_percent=50)
    token = next(t for t in (f"sampletoken{i:06d}" for i in range(1000)) if sampled_in(t, 50) == inside)
    page.add_init_script(f"sessionStorage.getItem('ust-sid') || sessionStorage.setItem('ust-sid', '{token}')")
    traffic = site.traffic(page)
    for name in ("links.html", "spa.html"):
        page.goto(site.origin.url(name))
        settle(page, 1500)
        page.evaluate("UST.forceSendData()")
        settle(page, 500)
    batches = traffic.batches()
    if inside:
        assert {b["sid"] for b in batches} == {token}
        assert len({p["pid"] for p in traffic.items("pages")}) == 2
        assert not any(r["headers"].get("x-uxwizz-dropped") for r in traffic.responses)
    else:
        assert batches == []


def test_mobile_visitors_are_not_tracked_when_the_site_says_so(tracked, browser):
    site = tracked(track_mobile=False)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  user_agent="Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
                                             "(KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36")
    try:
        phone = context.new_page()
        traffic = site.traffic(phone)
        phone.goto(site.origin.url("links.html"))
        settle(phone, 2000)
        phone.evaluate("UST.forceSendData()")
        settle(phone, 500)
        assert traffic.batches() == []
        assert any("/api/collect/config" in r["url"] for r in traffic.requests)
    finally:
        context.close()


def test_unknown_site_stays_silent(tracked, page):
    site = tracked()
    traffic = site.traffic(page)
    # The same page under another host name (127.0.0.1 is not a registered site).
    page.goto(site.origin.url("links.html").replace("localhost", "127.0.0.1"))
    settle(page, 2000)
    page.click("#buy")
    page.evaluate("UST.forceSendData()")
    settle(page)
    assert traffic.batches() == []
    asked = [r["url"].split("?")[0] for r in traffic.requests if "/server/" not in r["url"]]
    assert asked == [site.server.url + "/api/collect/config"]


# -- transport -------------------------------------------------------------------------------------

def test_large_batches_are_split_under_the_keepalive_limit(tracked, page):
    site = tracked()
    traffic = site.traffic(page)
    page.goto(site.origin.url("links.html"))
    wait_tracking(page)
    force_send(page)
    page.evaluate("""() => {
        const blob = 'x'.repeat(3500);
        for (let i = 0; i < 250; i++) UST.addEvent({category: 'bulk', action: 'a' + i, data: {blob}});
        UST.forceSendData();
    }""")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(traffic.items("events")) < 250:
        page.wait_for_timeout(300)
    bulk = [r for r in traffic.requests if r["method"] == "POST" and '"bulk"' in (r["body"] or "")]
    assert len(bulk) >= 15
    assert all(len(r["body"].encode()) <= 60000 for r in bulk)
    assert [e["action"] for e in traffic.items("events")] == [f"a{i}" for i in range(250)]
    stored = site.wait_rows(lambda: Event.select().where(Event.category == "bulk").count(), lambda n: n == 250)
    assert stored == 250


def test_unsent_data_survives_a_server_outage_and_goes_out_on_the_next_page(tracked, page):
    site = tracked()
    traffic = site.traffic(page)
    page.goto(site.origin.url("links.html"))
    wait_tracking(page)
    force_send(page)
    site.server.kill()  # the server is gone: connection refused
    page.evaluate("UST.addTag('during-outage'); UST.forceSendData()")
    page.wait_for_function(
        "Object.keys(localStorage).some(k => k.startsWith('ust-q:') && localStorage[k].includes('during-outage'))",
        timeout=10000)
    site.server.start()
    page.goto(site.origin.url("spa.html"))
    wait_tracking(page)
    page.wait_for_function("!Object.keys(localStorage).some(k => k.startsWith('ust-q:'))", timeout=10000)
    tags = site.wait_rows(lambda: [t.tag for t in SessionTag.select()], lambda r: "during-outage" in r, 20)
    answers = [(r["status"], r["headers"].get("x-uxwizz-dropped")) for r in traffic.responses
               if r["url"].endswith("/api/collect")]
    assert tags == ["during-outage"], (answers, site.server.log()[-2000:])
    assert (202, None) in answers


def test_data_added_just_before_leaving_is_not_lost(tracked, page):
    site = tracked()
    page.goto(site.origin.url("links.html"))
    wait_tracking(page)
    page.evaluate("UST.addTag('leaving-now'); UST.addEvent({category: 'nav', action: 'leave'})")
    page.goto(site.origin.url("form.html"))  # pagehide: sent with keepalive, or kept for this page
    wait_tracking(page)
    stored = site.wait_rows(lambda: ([t.tag for t in SessionTag.select()], [e.action for e in Event.select()],
                                     Pageview.select().count()),
                            lambda r: r[0] and r[1] and r[2] == 2)
    assert stored == (["leaving-now"], ["leave"], 2)


def test_recording_bundle_tracks_like_the_default_one(tracked, page):
    site = tracked()
    traffic = site.traffic(page)
    page.goto(site.origin.url("links.html?rr"))
    wait_tracking(page)
    page.click("#buy")
    force_send(page)
    assert any(r["url"].split("?")[0].endswith("/server/ust-rr.min.js") for r in traffic.requests)
    assert [c["sel"] for c in traffic.items("pointer") if c["k"] == "click"] == ["#buy"]
    # Full-page recording is off for this site: the recorder chunk is not even requested.
    assert not any("recorder" in r["url"] for r in traffic.requests)


def test_recorder_chunk_is_loaded_lazily_only_by_the_rr_bundle(tracked, page):
    site = tracked(full_page_recording=True)
    traffic = site.traffic(page)
    page.goto(site.origin.url("links.html"))
    wait_tracking(page)
    settle(page, 1000)
    assert not any("ust-rr-recorder" in r["url"] for r in traffic.requests)
    page.goto(site.origin.url("links.html?rr"))
    wait_tracking(page)
    page.wait_for_function("!!UST.__rr", timeout=5000)
    settle(page, 1000)
    chunk = [r["url"] for r in traffic.requests if "/server/ust-rr-recorder.min.js" in r["url"]]
    assert chunk and chunk[0].endswith("?v=test")  # the same cache breaker as the snippet's
    force_send(page)
    current = {p["pid"] for p in traffic.items("pages") if p["url"].endswith("links.html?rr")}
    assert current == {page.evaluate("UST.__rr.pid()")}
