"""Stored XSS is impossible: tracked fields full of script, event-handler and javascript: payloads, then
every statistics view opened in Chromium — no dialog, no payload flag set, no injected element."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from core.models import Event, Pageview, Session, SessionTag, Site
from core.queries import segments
from tests.e2e.test_dashboard import build_dashboard_bundle, log_in, with_db
from tests.support import LiveServer, free_port

# Each payload, if it ever ran, would open a dialog or set window.__xss; injected elements carry "pwn".
PAYLOADS = [
    "<script>window.__xss=1;alert(1)</script>",
    "<img src=x class=pwn onerror=\"window.__xss=2;alert(2)\">",
    "<svg class=pwn onload=\"window.__xss=3;alert(3)\"></svg>",
    "javascript:window.__xss=4;alert(4)",
    "\"><img src=x class=pwn onerror=alert(5)>",
    "' onmouseover='alert(6)' data-pwn='",
    "</textarea></title><script>alert(7)</script>",
    "{{7*7}}<iframe class=pwn src=javascript:alert(8)>",
]


def hostile_rows(database: Any) -> tuple[int, list[int]]:
    site = Site.get(Site.domain == "example.com")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    ids = []
    for i, payload in enumerate(PAYLOADS):
        start = now - dt.timedelta(hours=i + 1)
        session = Session.create(
            site=site, token=f"hostile{i}", visitor_hash=payload[:64], ip=None, country="DE",
            city=payload[:100], region=payload[:100], browser=payload[:64], browser_version=payload[:32],
            os=payload[:64], os_version=payload[:32], device="desktop", screen_w=1280, screen_h=800,
            language=payload[:35], referrer=payload, referrer_domain=payload[:253], landing_url=payload,
            utm_source=payload[:200], utm_medium=payload[:200], utm_campaign=payload[:200], started_at=start,
            last_seen_at=start + dt.timedelta(seconds=40), pageview_count=2, event_count=1, has_recording=False)
        first = Pageview.create(session=session, site=site, client_id="a", url=payload, path=payload[:512],
                                title=payload, referrer=payload, started_at=start, active_ms=5000)
        Pageview.create(session=session, site=site, client_id="b", url=f"https://example.com/{quote(payload)}",
                        path="/" + payload[:500], title=payload, started_at=start + dt.timedelta(seconds=20))
        Event.create(session=session, pageview=first, site=site, occurred_at=start, category=payload[:128],
                     action=payload[:128], label=payload[:256], item_id=payload[:256], value=1.0,
                     data={"html": payload})
        SessionTag.create(session=session, site=site, tag=payload[:128], created_at=start)
        ids.append(session.id)
    segments.save_segment(site.id, PAYLOADS[1][:100], {"tag": "<b>x</b>", "page": PAYLOADS[2][:200]}, None)
    return site.id, ids


@pytest.fixture
def hostile(installed_settings) -> Iterator[tuple[LiveServer, int, list[int]]]:  # type: ignore[no-untyped-def]
    build_dashboard_bundle()
    site_id, ids = with_db(installed_settings, hostile_rows)
    server = LiveServer(installed_settings.config_path, free_port()).start()
    yield server, site_id, ids
    server.stop()


CHECK = """() => ({
    xss: window.__xss === undefined ? null : window.__xss,
    injected: document.querySelectorAll('.pwn, [data-pwn], script:not([src]), iframe, [onerror], [onload], '
        + '[onmouseover]').length,
    jsLinks: [...document.querySelectorAll('a[href], iframe[src], img[src]')].filter(
        (el) => /^\\s*javascript:/i.test(el.getAttribute('href') || el.getAttribute('src') || '')).length,
    foreignScripts: [...document.querySelectorAll('script[src]')].filter(
        (s) => new URL(s.src).origin !== location.origin).length,
})"""


def test_no_view_runs_tracked_markup(hostile, browser):
    server, site_id, ids = hostile
    tab = log_in(browser, server)
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    base = f"{server.url}/sites/{site_id}"
    views = ["overview", "overview?unit=hour", "sessions", "sessions?sort=events", "events",
             "events?group=label", "events?group=action", "tags", "segments",
             *(f"breakdown/{d}" for d in ("page", "entry", "exit", "referrer_domain", "referrer", "utm_source",
                                          "utm_medium", "utm_campaign", "country", "city", "browser", "os",
                                          "device", "screen", "language")),
             *(f"sessions/{i}" for i in ids),
             f"sessions?tag={quote(PAYLOADS[0][:128])}", f"overview?page={quote('/' + PAYLOADS[1][:100])}",
             f"events?category={quote(PAYLOADS[2][:128])}"]
    for view in views:
        tab.goto(f"{base}/{view}")
        tab.wait_for_load_state("load")
        # Hover every row and link, as a curious webmaster would (mouseover payloads).
        for row in tab.locator("tbody tr:visible, .timeline li:visible").all()[:40]:
            row.hover(timeout=2000)
        result = tab.evaluate(CHECK)
        assert result == {"xss": None, "injected": 0, "jsLinks": 0, "foreignScripts": 0}, (view, result)
    assert dialogs == []
    # The payloads are shown, as text.
    tab.goto(f"{base}/sessions/{ids[0]}")
    assert PAYLOADS[0] in tab.inner_text("#session-timeline")
    tab.goto(f"{base}/tags")
    assert PAYLOADS[1][:128] in tab.inner_text("#tags-table")
    # The tags chart received the hostile tag names as labels and drew them on canvas only.
    tab.wait_for_selector("#tags-chart[data-drawn=true]")
    assert tab.evaluate(CHECK)["injected"] == 0 and dialogs == []
    tab.context.close()
