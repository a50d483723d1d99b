"""The statistics dashboard in Chromium against a real server on seeded data: log in, see the overview
chart drawn, apply a segment, open a session, delete one; screenshots of the main views."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from core.db import open_database
from core.models import Session, Site
from core.seed import SeedPlan, seed_site
from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER, screenshot
from tests.support import PROJECT_ROOT, LiveServer, free_port

BUNDLE = os.path.join(PROJECT_ROOT, "static", "build", "dashboard.min.js")
SOURCE = os.path.join(PROJECT_ROOT, "static", "js", "dashboard-charts.js")


def build_dashboard_bundle() -> None:
    """static/build/dashboard.min.js from this tree's sources (esbuild, ~1 s)."""
    if os.path.exists(BUNDLE) and os.path.getmtime(BUNDLE) >= os.path.getmtime(SOURCE):
        return
    subprocess.run(["node", "tracker/build.mjs"], cwd=PROJECT_ROOT, check=False, capture_output=True, timeout=120)
    assert os.path.exists(BUNDLE), "the build did not produce static/build/dashboard.min.js"


def with_db(settings: Any, fn: Any) -> Any:
    database = open_database(settings["database.url"], settings.base_dir)
    try:
        with database.db.connection_context():
            return fn(database)
    finally:
        database.close()


@pytest.fixture
def seeded(installed_settings) -> Iterator[tuple[LiveServer, Any, int]]:  # type: ignore[no-untyped-def]
    build_dashboard_bundle()
    end = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)

    def seed(database: Any) -> int:
        site = Site.get(Site.domain == "example.com")
        seed_site(database.db, site, SeedPlan(sessions=400, days=13, end=end, recording_share=0.05))
        return site.id

    site_id = with_db(installed_settings, seed)
    server = LiveServer(installed_settings.config_path, free_port()).start()
    yield server, installed_settings, site_id
    server.stop()


def log_in(browser: Any, server: LiveServer) -> Any:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" and "status of 404" not in msg.text
           else None)
    # Missing files show as 404 responses (the browser's own /favicon.ico probe is not ours to serve).
    tab.on("response", lambda r: problems.append(f"{r.status} {r.url}")
           if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    tab.problems = problems  # type: ignore[attr-defined]
    tab.goto(server.url + "/login")
    tab.fill("input[name=username]", ADMIN_USER)
    tab.fill("input[name=password]", ADMIN_PASSWORD)
    tab.click("#login-form button[type=submit]")
    tab.wait_for_url(server.url + "/")
    return tab


def painted_pixels(tab: Any, selector: str) -> int:
    return tab.evaluate("""(sel) => {
        const c = document.querySelector(sel);
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
        return n;
    }""", selector)


def test_overview_segment_session_and_delete(seeded, browser):
    server, settings, site_id = seeded
    tab = log_in(browser, server)

    tab.goto(f"{server.url}/sites/{site_id}")
    tab.wait_for_url(f"{server.url}/sites/{site_id}/overview")
    tab.wait_for_selector("#overview-chart[data-drawn=true]")
    assert painted_pixels(tab, "#overview-chart") > 2000  # axes, grid and the line are drawn
    total = int(tab.inner_text("[data-metric=sessions] .metric-value").replace(",", ""))
    assert total == with_db(settings, lambda db: Session.select().where(Session.site == site_id).count())
    screenshot(tab, "overview")

    # A preset from the range picker applies at once.
    tab.select_option("select[name=range]", "7d")
    tab.wait_for_url("**range=7d**")
    tab.wait_for_selector("#overview-chart[data-drawn=true]")
    assert tab.input_value("input[name=from]") == ""

    # Apply a segment: desktop sessions from Germany.
    tab.click(".segment-fields summary")
    tab.fill(".segment-fields input[name=country]", "de")
    tab.fill(".segment-fields input[name=device]", "desktop")
    tab.click("#filter-form button[type=submit]")
    tab.wait_for_url("**country=de**")  # as typed; the server normalises it
    assert "device=desktop" in tab.url and "range=7d" in tab.url and "tag=" not in tab.url
    chips = tab.inner_text("#active-filters")
    assert "Country: DE" in chips and "Device: desktop" in chips
    today = dt.datetime.now(dt.UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    low = today - dt.timedelta(days=6)  # "last 7 days" in the site's zone (UTC here), today included

    def expected(db: Any) -> int:
        return Session.select().where((Session.site == site_id) & (Session.country == "DE")
                                      & (Session.device == "desktop") & (Session.started_at >= low)).count()

    shown = int(tab.inner_text("[data-metric=sessions] .metric-value").replace(",", ""))
    assert shown == with_db(settings, expected) > 0
    tab.wait_for_selector("#overview-chart[data-drawn=true]")
    screenshot(tab, "overview-segment")

    # The same segment on the sessions list; open the newest session.
    sessions_tab = tab.locator(".site-nav a[href*='/sessions']")
    assert "country=de" in sessions_tab.get_attribute("href") and "range=7d" in sessions_tab.get_attribute("href")
    sessions_tab.click()
    tab.wait_for_url("**/sessions?**country=de**")
    rows = tab.locator("#sessions-table tbody tr[data-session]")
    assert rows.count() == min(50, shown)
    locations = tab.locator("#sessions-table tbody tr[data-session] td:nth-child(7)").all_inner_texts()
    assert locations and all(text.startswith("DE") for text in locations)
    screenshot(tab, "sessions")
    first_id = int(rows.first.get_attribute("data-session"))
    rows.first.locator("a.session-link").click()
    tab.wait_for_url(f"**/sessions/{first_id}")
    assert tab.locator("#session-timeline li").count() >= 1
    screenshot(tab, "session")

    # Delete it (confirming the dialog): it is gone from the database with everything under it.
    tab.once("dialog", lambda dialog: dialog.accept())
    tab.click("#delete-session")
    tab.wait_for_url(f"{server.url}/sites/{site_id}/sessions")
    assert "Session deleted" in tab.inner_text(".flash")
    assert with_db(settings, lambda db: Session.get_or_none(Session.id == first_id)) is None

    for page, name in (("events", "events"), ("tags", "tags"), ("breakdown/page", "breakdown-pages")):
        tab.goto(f"{server.url}/sites/{site_id}/{page}?range=14d")
        if page in ("events", "tags"):
            tab.wait_for_selector(f"#{page}-chart[data-drawn=true]")
            assert painted_pixels(tab, f"#{page}-chart") > 1000
        screenshot(tab, name)
    assert not tab.problems, tab.problems  # no script errors, no CSP violations
    tab.context.close()


def test_bulk_delete_selected_sessions(seeded, browser):
    server, settings, site_id = seeded
    tab = log_in(browser, server)
    tab.goto(f"{server.url}/sites/{site_id}/sessions?range=14d&sort=pages")
    boxes = tab.locator("#sessions-table tbody input[name=session]")
    chosen = [int(boxes.nth(i).get_attribute("value")) for i in range(3)]
    for i in range(3):
        boxes.nth(i).check()
    tab.once("dialog", lambda dialog: dialog.accept())
    tab.click("#delete-selected")
    tab.wait_for_selector(".flash")
    assert "Deleted 3 sessions" in tab.inner_text(".flash")
    assert "sort=pages" in tab.url
    left = with_db(settings, lambda db: Session.select().where(Session.id.in_(chosen)).count())
    assert left == 0
    # "Select all" ticks every box on the page.
    tab.check("[data-select-all=session]")
    assert tab.locator("#sessions-table tbody input[name=session]:checked").count() == boxes.count()
    tab.context.close()
