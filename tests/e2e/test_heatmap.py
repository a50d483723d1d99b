"""Heatmaps in Chromium, end to end: the real tracker clicks and scrolls a fixture page (second
origin) at two widths and with a fixed header; the dashboard draws the map over the stored page
snapshot and the hot spots sit on the clicked elements at both widths (canvas pixels read back)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from core.db import open_database
from core.models import HeatmapPoint, Pageview
from core.models.analytics import POINT_CLICK
from core.models.recordings import RecordingPageSnapshot
from core.sites import create_site, update_site
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.e2e.conftest import screenshot
from tests.support import HTML, PROJECT_ROOT, LiveServer, PageOrigin, free_port, query_db, wait_db

# Responsive: two columns from 900 px (Buy on the right), one column below (Buy under the text);
# a fixed header whose Menu button stays at the top of the viewport however far the page scrolls.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Heat fixture</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script>UST_CT = []; UST = { s: Date.now(), addTag: function(t) { UST_CT.push(t) } }; UST.addEvent = UST.addTag;</script>
<script src="__UST_SERVER__/server/ust-rr.min.js?v=test" async></script>
<style>
  body { margin: 0; font-family: sans-serif; }
  header { position: fixed; top: 0; left: 0; right: 0; height: 60px; background: #223; color: #fff; z-index: 2; }
  #menu { position: absolute; right: 16px; top: 10px; width: 120px; height: 40px; }
  main { padding-top: 80px; }
  .grid { display: grid; grid-template-columns: 1fr; gap: 20px; padding: 20px; }
  .copy { height: 500px; background: #eef; }
  #buy { width: 220px; height: 60px; }
  .filler { height: 3000px; background: linear-gradient(#fff, #ddd); }
  @media (min-width: 900px) { .grid { grid-template-columns: 2fr 1fr; } .copy { height: 300px; } }
</style></head>
<body>
<header><strong>Shop</strong><button id="menu">Menu</button></header>
<main>
  <div class="grid"><div class="copy"><h1>Welcome</h1><p>Text.</p></div><div><button id="buy">Buy now</button></div></div>
  <div class="filler"></div>
</main>
</body></html>
"""


class Origin(PageOrigin):
    """The fixture page on http://localhost:<port>/<anything>.html, tracking to the server under test."""

    def __init__(self, server_url: str):
        body = PAGE.replace("__UST_SERVER__", server_url).encode()
        super().__init__(lambda _path: (body, HTML))

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


@pytest.fixture
def live(installed_settings) -> Iterator[tuple[LiveServer, Origin, Any]]:  # type: ignore[no-untyped-def]
    database = open_database(installed_settings["database.url"], installed_settings.base_dir)
    with database.db.connection_context():
        site = create_site("localhost")
        # Pointer-mode recording (full page sampled at 0 %): the tracker stores one page snapshot.
        update_site(site, settings={"filter_headless": False, "full_page_recording": True,
                                    "fullpage_sample_percent": 0})
        site_id = site.id
    database.close()
    server = LiveServer(installed_settings.config_path, free_port()).start()
    origin = Origin(server.url)
    yield server, origin, (installed_settings, site_id)
    origin.close()
    server.stop()


def query(settings: Any, fn: Any) -> Any:
    return query_db(settings["database.url"], settings.base_dir, fn)


def wait_for(settings: Any, fn: Any, ok: Any, timeout: float = 15.0) -> Any:
    return wait_db(settings["database.url"], settings.base_dir, fn, ok, timeout)


def visit(browser: Any, origin: Origin, path: str, width: int, actions: Any) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800})
    tab = context.new_page()
    tab.goto(origin.url(path))
    tab.wait_for_function("window.UST && UST.canRecord && UST.canRecord()", timeout=10000)
    tab.wait_for_timeout(700)  # the recorder chunk loads and uploads the page snapshot
    actions(tab)
    tab.wait_for_timeout(300)
    tab.evaluate("UST.forceSendData()")
    tab.wait_for_timeout(800)
    context.close()


def roll_up(settings: Any) -> None:
    out = subprocess.run([sys.executable, "uxwizz.py", "jobs", "run", "heatmap-rollup", "--rebuild", "--config",
                          settings.config_path], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def dashboard(browser: Any, server: LiveServer, width: int = 1400) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900})
    tab = context.new_page()
    tab.goto(server.url + "/login")
    tab.fill("input[name=username]", ADMIN_USER)
    tab.fill("input[name=password]", ADMIN_PASSWORD)
    tab.click("#login-form button[type=submit]")
    tab.wait_for_url(server.url + "/")
    return tab


def open_map(tab: Any, server: LiveServer, site_id: int, **params: str) -> None:
    query_string = "&".join(f"{k}={v}" for k, v in params.items())
    tab.goto(f"{server.url}/sites/{site_id}/heatmaps?{query_string}")
    tab.wait_for_selector("#heatmap-stage[data-state]", state="attached", timeout=15000)
    assert tab.get_attribute("#heatmap-stage", "data-state") == "ready"


HEAT_AT = """(selector) => {
  const frame = document.getElementById('heatmap-frame');
  const el = frame.contentDocument.querySelector(selector);
  const r = el.getBoundingClientRect();
  const x = Math.round(r.left + r.width / 2), y = Math.round(r.top + r.height / 2);
  const px = document.getElementById('heatmap-canvas').getContext('2d').getImageData(x, y, 1, 1).data;
  return {x, y, r: px[0], g: px[1], b: px[2], a: px[3]};
}"""
ALPHA_AT = """([x, y]) => document.getElementById('heatmap-canvas').getContext('2d').getImageData(x, y, 1, 1).data[3]"""


def test_click_hot_spots_land_on_the_clicked_elements_at_two_widths(live, browser):
    server, origin, (settings, site_id) = live

    def wide(tab: Any) -> None:
        for _ in range(3):
            tab.click("#buy")
        tab.mouse.wheel(0, 1500)
        tab.wait_for_timeout(400)
        tab.click("#menu")  # fixed header, page scrolled by 1500 px: its page y is ~1530

    def narrow(tab: Any) -> None:
        tab.click("#buy")
        tab.click("#buy")
        tab.mouse.wheel(0, 1200)
        tab.wait_for_timeout(400)
        tab.click("#menu")

    visit(browser, origin, "/shop.html", 1280, wide)
    visit(browser, origin, "/shop.html", 500, narrow)
    clicks = wait_for(settings, lambda: list(HeatmapPoint.select().where(HeatmapPoint.kind == POINT_CLICK).dicts()),
                      lambda rows: len(rows) >= 7)
    assert len(clicks) == 7
    menu_ys = sorted(c["y"] for c in clicks if c["selector"] == "#menu")
    assert menu_ys[0] > 1000  # recorded page coordinates drifted far below the header…
    snapshots = wait_for(settings, lambda: RecordingPageSnapshot.select().count(), lambda n: n >= 2)
    assert snapshots >= 2, "the tracker stored no page snapshots"
    roll_up(settings)

    tab = dashboard(browser, server)
    # Wide layout: Buy sits in the right column.
    open_map(tab, server, site_id, url="/shop.html", kind="click", band="1280-1439")
    assert int(tab.get_attribute("#heatmap-stage", "data-resolved")) == 4
    buy = tab.evaluate(HEAT_AT, "#buy")
    menu = tab.evaluate(HEAT_AT, "#menu")  # …but the anchored click is drawn on the header button
    assert buy["x"] > 800 and buy["a"] > 100, buy
    assert menu["y"] < 60 and menu["a"] > 50, menu
    assert tab.evaluate(ALPHA_AT, [40, 1530]) == 0  # nothing where the raw coordinates pointed
    assert tab.evaluate(ALPHA_AT, [300, 2600]) == 0
    rows = tab.locator("#heatmap-elements tbody tr").all_inner_texts()
    assert rows[0].split("\t")[:2] == ["#buy", "3"] and "75%" in rows[0]
    screenshot(tab, "heatmap-click")

    # Narrow layout: Buy moved under the text, to the left.
    open_map(tab, server, site_id, url="/shop.html", kind="click", band="480-767")
    buy = tab.evaluate(HEAT_AT, "#buy")
    assert buy["x"] < 300 and buy["y"] > 500 and buy["a"] > 100, buy
    assert tab.evaluate(HEAT_AT, "#menu")["a"] > 50
    screenshot(tab, "heatmap-click-narrow")

    # All widths together, with the download: a PNG of the same size as the canvas.
    open_map(tab, server, site_id, url="/shop.html", kind="click")
    with tab.expect_download() as info:
        tab.click("#heatmap-download")
    assert info.value.suggested_filename == "heatmap-click.png"
    with open(info.value.path(), "rb") as handle:
        png = handle.read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert tab.get_attribute("#heatmap-stage", "data-png") == "page"
    assert tab.locator("#heatmap-png-note").is_hidden()
    width, height, pixel = decode_png(png)
    assert (width, height) == (int(tab.evaluate("document.getElementById('heatmap-canvas').width")),
                               int(tab.evaluate("document.getElementById('heatmap-canvas').height")))
    # The page itself is in the image: the fixed header's #223 and the text column's #eef.
    assert pixel(250, 30)[:3] == (0x22, 0x22, 0x33), pixel(250, 30)
    assert pixel(100, 350)[:3] == (0xEE, 0xEE, 0xFF), pixel(100, 350)
    assert pixel(300, 2600)[:3] != (0xFF, 0xFF, 0xFF)  # the filler's gradient, not a blank page

    # Plain background: no page to draw, so the PNG falls back and says so.
    open_map(tab, server, site_id, url="/shop.html", kind="click", background="none")
    with tab.expect_download() as info:
        tab.click("#heatmap-download")
    assert tab.get_attribute("#heatmap-stage", "data-png") == "plain"
    assert "heat layer and element outlines only" in tab.inner_text("#heatmap-png-note")
    with open(info.value.path(), "rb") as handle:
        assert decode_png(handle.read())[2](250, 30)[:3] == (0xFF, 0xFF, 0xFF)


def decode_png(data: bytes) -> tuple[int, int, Any]:
    """Width, height and a pixel(x, y) reader of an 8-bit, non-interlaced RGB/RGBA PNG."""
    import struct
    import zlib

    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 4 if colour == 6 else 3
    raw, stride = zlib.decompress(idat), width * bpp
    rows: list[bytearray] = []
    prev = bytearray(stride)
    for y in range(height):
        kind_byte, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if kind_byte == 1:
                line[i] = (line[i] + a) & 255
            elif kind_byte == 2:
                line[i] = (line[i] + b) & 255
            elif kind_byte == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind_byte == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, lambda x, y: tuple(rows[y][x * bpp:(x + 1) * bpp])


def test_scroll_map_shows_the_share_reaching_each_depth(live, browser):
    server, origin, (settings, site_id) = live

    def scroller(fraction: float) -> Any:
        def act(tab: Any) -> None:
            height = tab.evaluate("document.documentElement.scrollHeight - innerHeight")
            tab.evaluate(f"window.scrollTo(0, {int(height * fraction)})")
            tab.wait_for_timeout(500)
            tab.mouse.move(200, 200)
            tab.mouse.move(600, 400, steps=8)
        return act

    for fraction in (0.0, 0.5, 1.0):
        visit(browser, origin, "/long.html", 1280, scroller(fraction))
    depths = wait_for(settings, lambda: sorted(p.max_scroll_pct for p in Pageview.select()),
                      lambda d: len(d) == 3 and d[-1] == 100)
    # 800 px of a 3,520 px page is visible at the top: 23 %, half way 61 %, the bottom 100 %.
    assert depths[0] in range(20, 27) and depths[1] in range(57, 66) and depths[2] == 100, depths

    tab = dashboard(browser, server)
    open_map(tab, server, site_id, url="/long.html", kind="scroll")  # raw rows: not rolled up yet
    data = tab.evaluate("fetch(document.getElementById('heatmap-stage').dataset.api).then(r => r.json())")
    curve = {row["depth_pct"]: row["visitors_pct"] for row in data["scroll"]}
    assert curve[0] == 100.0 and curve[20] == 100.0 and curve[30] == 66.7 and curve[70] == 33.3
    assert curve[100] == 33.3 and data["views"] == 3
    table = tab.locator("#heatmap-scroll-table tbody tr").all_inner_texts()
    assert table[3].split("\t") == ["30%", "66.7%"]
    height = int(tab.evaluate("document.getElementById('heatmap-canvas').height"))
    assert tab.evaluate(ALPHA_AT, [600, 10]) > 0 and tab.evaluate(ALPHA_AT, [600, height - 5]) > 0
    screenshot(tab, "heatmap-scroll")

    roll_up(settings)
    open_map(tab, server, site_id, url="/long.html", kind="move")
    assert tab.evaluate("document.getElementById('heatmap-stage').dataset.resolved") == "0"
    assert "movement points" in tab.inner_text("#heatmap-summary")
    screenshot(tab, "heatmap-move")
