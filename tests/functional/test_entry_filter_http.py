"""The `entry` filter means the same on every surface: dashboard pages, CSV export, REST API and saved
segments (hand-made sessions, both engines). The matching itself is in tests/unit/test_entry_filter.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from urllib.parse import quote

import pytest

from core.enrich.urls import url_path
from core.models import Pageview, Session, Site
from tests.functional.test_api_sites import Api, user_with_token

AT = dt.datetime(2026, 3, 29, 10, 0)
RANGE = "from=2026-03-29&to=2026-03-29"
LANDINGS = ["https://example.com/pricing", "https://example.com/x/pricing", "https://example.com/pricing?a=1",
            "https://example.com/pricing/"]
EXACT = {"https://example.com/pricing", "https://example.com/pricing?a=1"}


@pytest.fixture
def site(app) -> Site:
    site = Site.get(Site.domain == "example.com")
    for number, url in enumerate(LANDINGS):
        session = Session.create(site=site, token=f"t{number}", landing_url=url, started_at=AT, last_seen_at=AT,
                                 pageview_count=1)
        Pageview.create(session=session, site=site, client_id="p1", url=url, path=url_path(url), started_at=AT)
    return site


def landing_of(session_ids: set[int]) -> set[str]:
    return {s.landing_url for s in Session.select().where(Session.id.in_(list(session_ids)))}


def test_dashboard_pages_and_csv_export(admin_client, site):
    page = admin_client.get(f"/sites/{site.id}/sessions?{RANGE}&entry=/pricing")
    assert landing_of({int(i) for i in re.findall(r'data-session="(\d+)"', page.text)}) == EXACT
    assert "Entry page" in page.text  # the active filter chip
    overview = admin_client.get(f"/sites/{site.id}/overview?{RANGE}&entry=*/pricing")
    sessions = re.search(r'data-metric="sessions"[^>]*>\s*<span class="metric-label">[^<]*</span>\s*'
                         r'<span class="metric-value">([^<]*)<', overview.text)
    assert sessions and sessions.group(1) == "3"
    export = admin_client.get(f"/sites/{site.id}/export/sessions.csv?{RANGE}&entry=/pricing/")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [row["landing_url"] for row in rows] == ["https://example.com/pricing/"]
    bad = admin_client.get(f"/sites/{site.id}/sessions?{RANGE}&entry={quote('/pricing?a=1')}", status=422)
    assert "entry" in bad.text and "?query" in bad.text


def test_rest_api_and_saved_segments(app, site):
    api = Api(app, user_with_token(4)[1])
    listed = api.call("GET", f"/api/v1/sites/{site.id}/sessions?{RANGE}&entry=/pricing", status=200).json
    assert listed["total"] == 2 and {item["landing_url"] for item in listed["items"]} == EXACT
    stats = api.call("GET", f"/api/v1/sites/{site.id}/stats?{RANGE}&entry=/x/pricing", status=200).json
    assert stats["current"]["sessions"] == 1
    bad = api.call("GET", f"/api/v1/sites/{site.id}/stats?{RANGE}&entry=pricing", status=422).json
    assert bad["field"] == "entry"

    saved = api.call("POST", f"/api/v1/sites/{site.id}/segments",
                     {"name": "Pricing landings", "filters": {"entry": "https://example.com/pricing"}}, status=201).json
    assert saved["filters"] == {"entry": "/pricing"}  # a full URL is kept as its path
    again = api.call("GET", f"/api/v1/sites/{site.id}/sessions?{RANGE}&entry={quote(saved['filters']['entry'])}",
                     status=200).json
    assert {item["landing_url"] for item in again["items"]} == EXACT
    refused = api.call("POST", f"/api/v1/sites/{site.id}/segments",
                       {"name": "Never", "filters": {"entry": "/pricing?a=1"}}, status=422).json
    assert refused["field"] == "entry"
