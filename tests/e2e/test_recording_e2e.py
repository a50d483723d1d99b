"""Record a visit in Chromium with ust-rr.min.js, then replay it in the dashboard player.

The fixture pages (tracker/fixtures/recording/) are served from a second origin, their stylesheet
and font from a third one that sends no CORS headers; the uxwizz server runs as a subprocess on
the engine under test. Before replaying, both fixture origins are shut down: the replay must need
neither the live page nor its stylesheet host.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from core.db import open_database
from core.models import Pageview, RecordingChunk, Session
from core.models.recordings import RecordingAsset, RecordingAssetUrl, RecordingSnapshot
from core.sites import create_site, update_site
from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER, screenshot
from tests.support import HTML, PROJECT_ROOT, LiveServer, PageOrigin, free_port, query_db, wait_db

FIXTURES = os.path.join(PROJECT_ROOT, "tracker", "fixtures", "recording")
BUILD = os.path.join(PROJECT_ROOT, "static", "build")
SECRETS = ("visitor@example.org", "hunter2-secret", "4242-CARD-TYPED", "4242-NORECORD-TEXT")


def build_assets() -> None:
    """The bundles under test are built from the sources in this tree (esbuild takes ~1 s)."""
    needed = ["ust-rr.min.js", "ust-rr-recorder.min.js", "player.min.js", "player.min.css"]
    sources = [os.path.join(PROJECT_ROOT, p) for p in ("static/js/player.js", "tracker/src/recorder/index.js",
                                                        "tracker/src/recorder/snapshot.js")]
    newest = max(os.path.getmtime(s) for s in sources)
    if all(os.path.exists(os.path.join(BUILD, n)) and os.path.getmtime(os.path.join(BUILD, n)) >= newest
           for n in needed):
        return
    subprocess.run(["node", "tracker/build.mjs"], cwd=PROJECT_ROOT, check=False, capture_output=True, timeout=120)
    missing = [n for n in needed if not os.path.exists(os.path.join(BUILD, n))]
    assert not missing, f"npm run build did not produce {missing}"


class Origin(PageOrigin):
    """A folder over HTTP on its own port and host name, with placeholders filled in."""

    def __init__(self, host: str, replacements: dict[str, str], cors: bool = False):
        self.replacements = replacements
        super().__init__(self.page, host=host)

    def page(self, raw_path: str) -> tuple[bytes, str] | None:
        path = urlsplit(raw_path).path
        name = "app.html" if path.startswith("/app") else (os.path.basename(path) or "app.html")
        if name == "font.woff2":
            return b"wOF2 not really a font", "font/woff2"
        full = os.path.join(FIXTURES, name)
        if not os.path.isfile(full):
            return None
        text = open(full, encoding="utf-8").read()
        for key, value in self.replacements.items():
            text = text.replace(key, value)
        if "plain" in urlsplit(raw_path).query.split("&"):  # the default tracker instead
            text = text.replace("/server/ust-rr.min.js", "/server/ust.min.js")
        kind = {"css": "text/css", "html": HTML}.get(name.rsplit(".", 1)[-1], "text/plain")
        return text.encode(), kind

    @property
    def url(self) -> str:
        return self.base


class Recorded:
    def __init__(self, settings: Any, server: LiveServer, app: Origin, assets: Origin):
        self.settings = settings
        self.server = server
        self.app = app
        self.assets = assets

    def query(self, fn: Callable[[], Any]) -> Any:
        return query_db(self.settings["database.url"], self.settings.base_dir, fn)

    def wait(self, fn: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 15.0) -> Any:
        return wait_db(self.settings["database.url"], self.settings.base_dir, fn, ok, timeout)

    def run_job(self, name: str) -> str:
        done = subprocess.run([sys.executable, "uxwizz.py", "jobs", "run", name, "--config",
                               self.settings.config_path], cwd=PROJECT_ROOT, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr


@pytest.fixture
def recorded_site(installed_settings) -> Iterator[Callable[..., Recorded]]:  # type: ignore[no-untyped-def]
    build_assets()
    started: list[Any] = []

    def start(**tracking: Any) -> Recorded:
        database = open_database(installed_settings["database.url"], installed_settings.base_dir)
        try:
            with database.db.connection_context():
                site = create_site("localhost")
                # Headless Chromium is dropped as a bot by default; the stylesheet host is listed.
                update_site(site, settings={"filter_headless": False, "full_page_recording": True,
                                            "replay_asset_hosts": ["127.0.0.1"], **tracking})
        finally:
            database.close()
        server = LiveServer(installed_settings.config_path, free_port()).start()
        started.append(server)
        assets = Origin("127.0.0.1", {})
        started.append(assets)
        app = Origin("localhost", {"__UST_SERVER__": server.url, "__ASSETS__": assets.url})
        started.append(app)
        return Recorded(installed_settings, server, app, assets)

    yield start
    for thing in reversed(started):
        if isinstance(thing, LiveServer):
            thing.stop()
        else:
            thing.close()


def request_bodies(page: Any, server_url: str) -> list[str]:
    bodies: list[str] = []
    page.on("request", lambda r: bodies.append(r.post_data or "") if r.url.startswith(server_url) else None)
    return bodies


def visit(page: Any, site: Recorded) -> None:
    """The visit being recorded: type, add an item, change route, rage-click a dead button."""
    page.goto(site.app.url + "/app")
    page.wait_for_function("window.UST && UST.__rr && UST.canRecord()", timeout=15000)
    page.wait_for_timeout(1200)  # the recorder chunk loads and takes its full snapshot
    page.fill("#email", "visitor@example.org")
    page.fill("#password", "hunter2-secret")
    page.fill("#card", "4242-CARD-TYPED")
    page.wait_for_timeout(1000)
    page.click("#add")
    page.wait_for_timeout(1500)
    page.click("#spa-link")
    page.wait_for_selector("#step2")
    page.wait_for_timeout(1200)
    for _ in range(4):
        page.click("#dead", delay=20)
        page.wait_for_timeout(120)
    page.mouse.move(200, 200)
    page.wait_for_timeout(2300)
    page.mouse.move(300, 260, steps=4)
    page.evaluate("UST.forceSendData()")
    page.wait_for_timeout(1500)
    page.evaluate("UST.forceSendData()")
    page.wait_for_timeout(800)


def login(page: Any, server_url: str) -> None:
    page.goto(server_url + "/login")
    page.fill("input[name=username]", ADMIN_USER)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("form#login-form button[type=submit]")
    page.wait_for_load_state()


def stored_text(site: Recorded) -> str:
    """Everything stored for recordings, decompressed: chunks and blobs."""
    def read() -> str:
        parts = [zlib.decompress(bytes(c.data)).decode() for c in RecordingChunk.select()]
        parts += [zlib.decompress(bytes(s.data)).decode() for s in RecordingSnapshot.select()]
        return "\n".join(parts)

    return site.query(read)


def replay_frame(page: Any) -> Any:
    page.wait_for_selector(".replayer-wrapper iframe", state="attached", timeout=10000)
    handle = page.query_selector(".replayer-wrapper iframe")
    return handle, handle.content_frame()


def test_record_and_replay_a_full_page_session(recorded_site, browser):
    site = recorded_site()
    visitor = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = visitor.new_page()
    bodies = request_bodies(tab, site.server.url)
    visit(tab, site)
    visitor.close()

    def dom_pages() -> list[int]:
        return sorted({c.pageview_id for c in RecordingChunk.select().where(RecordingChunk.mode == "dom")})

    pageviews = site.wait(dom_pages, lambda ids: len(ids) >= 2)
    assert len(pageviews) == 2, "both the first page and the SPA route got full-page chunks"
    # Privacy: typed values, the password and the .noRecord block never left the page...
    sent = "\n".join(bodies)
    assert '"dom"' in sent
    for secret in SECRETS:
        assert secret not in sent, f"{secret!r} was sent"
    # ...and are in nothing stored.
    stored = stored_text(site)
    assert "Item added" in stored and "Recording fixture" in stored
    for secret in SECRETS:
        assert secret not in stored, f"{secret!r} was stored"

    # The stylesheet is fetched by the server; then both fixture origins go away.
    assert "fetched" in site.run_job("recording-assets")
    fetched = site.query(lambda: {u.url.rsplit("/", 1)[-1]: u.status for u in RecordingAssetUrl.select()})
    assert fetched.get("style.css") == "ok" and fetched.get("font.woff2") == "ok", fetched
    assert site.query(lambda: RecordingAsset.select().count()) == 2
    site.assets.close()
    site.app.close()

    session_id, site_id = site.query(lambda: (lambda s: (s.id, s.site_id))(
        Session.get(Session.id == Pageview.get_by_id(pageviews[0]).session_id)))
    admin = browser.new_context(viewport={"width": 1400, "height": 900})
    page = admin.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, site.server.url)
    listing = page.goto(f"{site.server.url}/sites/{site_id}/recordings")
    assert listing.status == 200
    row = page.locator(f"tr[data-session='{session_id}']")
    assert "rage" in row.inner_text()
    page.click(f"tr[data-session='{session_id}'] a.button")
    page.wait_for_selector("#player[data-state=ready]", timeout=15000)
    assert page.locator("#player-pages li").count() == 2  # the SPA route change is a page change
    assert page.get_attribute("#player", "data-mode") == "dom"

    frame_element, frame = replay_frame(page)
    sandbox = frame_element.get_attribute("sandbox") or ""
    assert "allow-scripts" not in sandbox, sandbox  # the recorded page's code cannot run here
    # Styles from the (now unreachable) stylesheet host, served by uxwizz's copy.
    frame.wait_for_selector("h1#title", state="attached", timeout=10000)
    color = frame.eval_on_selector("h1#title", "h => getComputedStyle(h).color")
    assert color == "rgb(200, 0, 0)"
    hrefs = frame.eval_on_selector_all("link[rel=stylesheet]", "links => links.map(l => l.getAttribute('href'))")
    assert hrefs and all(h.startswith("/replay/asset/") for h in hrefs), hrefs
    # Masked and blocked content is absent from the replayed document too.
    replayed = frame.content()
    for secret in SECRETS:
        assert secret not in replayed
    # Page one's clicks were answered (a new item, a route change): no dead or rage markers there.
    assert page.locator("#player-timeline .marker-dead, #player-timeline .marker-rage").count() == 0
    assert page.locator("#player-timeline .marker-click").count() >= 2
    # The mutated content appears at the right time: not before the click, there after it.
    added_at = page.evaluate("""() => {
        const p = window.uxwizzPlayer; const page = p.pages[0];
        const e = page.events.find(ev => JSON.stringify(ev.data).includes('Item added'));
        return e.timestamp - p.engine.start; }""")
    assert added_at > 500
    page.evaluate(f"window.uxwizzPlayer.engine.seek({added_at - 300}, false)")
    page.wait_for_timeout(300)
    assert frame.locator("li.added").count() == 0
    page.evaluate(f"window.uxwizzPlayer.engine.seek({added_at + 300}, false)")
    frame.wait_for_selector("li.added", state="attached", timeout=5000)
    assert frame.locator("li.added").inner_text() == "Item added"

    # Mid-replay: play from just before the click and take the screenshot.
    page.evaluate(f"window.uxwizzPlayer.engine.seek({max(0, added_at - 800)}, true); window.uxwizzPlayer.setPlaying(true)")
    page.wait_for_timeout(1200)
    screenshot(page, "recording-player-mid-replay")
    assert int(page.get_attribute("#player", "data-time")) > added_at - 800
    # The second page (the SPA route) replays its own snapshot, with rage and dead click markers.
    page.click("#player-pages li:nth-child(2) button")
    page.wait_for_function("document.querySelector('#player').dataset.page === '1'")
    _element, second = replay_frame(page)
    second.wait_for_selector("#step2", state="attached", timeout=10000)
    assert page.locator("#player-timeline .marker-rage").count() >= 1
    assert page.locator("#player-timeline .marker-dead").count() >= 1
    page.wait_for_timeout(500)
    assert page.evaluate("document.body.getAttribute('data-pwned')") is None

    # Share: a public link that works logged out, until it is revoked.
    page.click("#share-create")
    page.wait_for_selector(".flash")
    link = re.search(r"https?://\S+/shared/[A-Za-z0-9_-]+", page.inner_text(".flash")).group(0)
    outsider = browser.new_context()
    public = outsider.new_page()
    response = public.goto(link)
    assert response.status == 200 and "/login" not in public.url
    public.wait_for_selector("#player[data-state=ready]", timeout=15000)
    _element, shared_frame = replay_frame(public)
    shared_frame.wait_for_selector("h1#title", state="attached", timeout=10000)
    assert public.evaluate("document.body.getAttribute('data-pwned')") is None
    page.click("[data-share-revoke]")
    page.wait_for_selector(".flash-success")
    assert public.goto(link).status == 404
    assert public.goto(link + "/data").status == 404
    outsider.close()
    admin.close()


@pytest.mark.parametrize("tracker, settings", [
    ("ust-rr.min.js", {"fullpage_sample_percent": 0}),  # visitors sampled out of full-page mode
    ("ust.min.js", {"full_page_recording": False}),      # the default tracker
])
def test_pointer_mode_replays_over_the_recorded_snapshot(recorded_site, browser, tracker, settings):
    """Pointer events over a page snapshot that is uploaded once per page version."""
    site = recorded_site(**settings)
    plain = "?plain" if tracker == "ust.min.js" else ""
    visitor = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = visitor.new_page()
    bodies = request_bodies(tab, site.server.url)
    tab.goto(site.app.url + "/app" + plain)
    tab.wait_for_function("window.UST && UST.__rr && UST.canRecord()", timeout=15000)
    tab.fill("#password", "hunter2-secret")
    tab.fill("#card", "4242-CARD-TYPED")
    tab.wait_for_timeout(1500)
    tab.mouse.move(100, 100)
    tab.mouse.move(500, 300, steps=8)
    tab.click("#add")
    tab.wait_for_timeout(600)
    tab.evaluate("UST.forceSendData()")
    tab.wait_for_timeout(1500)
    # A second visit shows the same page version: its snapshot is not uploaded again.
    uploads_before = sum(1 for b in bodies if '"kind": "html"' in b or '"kind":"html"' in b)
    tab.goto(site.app.url + "/app?again=1" + plain.replace("?", "&"))
    tab.wait_for_function("window.UST && UST.__rr && UST.canRecord()", timeout=15000)
    tab.wait_for_timeout(2000)
    tab.evaluate("UST.forceSendData()")
    tab.wait_for_timeout(1200)
    visitor.close()
    sent = "\n".join(bodies)
    for secret in ("hunter2-secret", "4242-CARD-TYPED", "4242-NORECORD-TEXT"):
        assert secret not in sent
    uploads_after = sum(1 for b in bodies if '"kind":"html"' in b)
    assert uploads_before == uploads_after == 1
    snapshots = site.wait(lambda: RecordingSnapshot.select().where(RecordingSnapshot.kind == "html").count(),
                          lambda n: n >= 1)
    assert snapshots == 1
    site.wait(lambda: RecordingChunk.select().count(), lambda n: n >= 1)
    site.run_job("recording-assets")
    site.assets.close()
    site.app.close()
    session_id, site_id = site.query(lambda: (lambda s: (s.id, s.site_id))(Session.select().order_by(Session.id).first()))

    admin = browser.new_context(viewport={"width": 1400, "height": 900})
    page = admin.new_page()
    login(page, site.server.url)
    page.goto(f"{site.server.url}/sites/{site_id}/recordings/{session_id}")
    page.wait_for_selector("#player[data-state=ready]", timeout=15000)
    assert page.get_attribute("#player", "data-mode") == "pointer"
    frame_element = page.wait_for_selector("iframe.player-frame", state="attached")
    assert frame_element.get_attribute("sandbox") == ""  # no scripts, no same-origin
    src = frame_element.get_attribute("src")
    assert src.startswith(f"/replay/snapshot/{site_id}/")
    frame = frame_element.content_frame()
    frame.wait_for_selector("h1#title", state="attached", timeout=10000)
    assert frame.eval_on_selector("h1#title", "h => getComputedStyle(h).color") == "rgb(200, 0, 0)"
    snapshot_html = frame.content()
    for gone in ("hunter2-secret", "4242-CARD-TYPED", "4242-NORECORD-TEXT", "data-pwned"):
        assert gone not in snapshot_html
    page.evaluate("window.uxwizzPlayer.engine.seek(window.uxwizzPlayer.engine.duration(), false)")
    page.wait_for_timeout(200)
    assert page.is_visible(".player-cursor")
    assert page.evaluate("document.body.getAttribute('data-pwned')") is None
    # Logged out, without a share token, the snapshot document is not served.
    outsider = browser.new_context()
    assert outsider.new_page().goto(site.server.url + src).status == 404
    outsider.close()
    admin.close()


def test_recorder_falls_back_to_pointer_mode_on_busy_and_huge_pages(recorded_site, browser):
    site = recorded_site()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    tab.goto(site.app.url + "/busy.html")
    tab.wait_for_function("window.UST && UST.__rr && UST.__rr.stats && UST.__rr.stats.reason === 'busy'",
                          timeout=20000)
    # The rest of this tab's pages start in pointer mode; the page itself kept running.
    assert tab.evaluate("sessionStorage.getItem('ust-rr-mode')") == "pointer"
    before = tab.evaluate("Number(document.querySelector('#ticker span').textContent)")
    tab.wait_for_timeout(300)
    assert tab.evaluate("Number(document.querySelector('#ticker span').textContent)") > before
    context.close()

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    tab.goto(site.app.url + "/big.html?rows=4000")  # 16,000 elements
    tab.evaluate(f"window.__startTracker('{site.server.url}')")
    tab.wait_for_function("window.UST && UST.__rr && UST.__rr.stats && UST.__rr.stats.mode", timeout=20000)
    stats = tab.evaluate("UST.__rr.stats")
    assert (stats["mode"], stats["reason"], stats["fullSnapshotMs"]) == ("pointer", "large", 0)
    context.close()
