"""REST statistics: /api/v1/sites/{id}/stats, timeseries, breakdowns, tags, events, segments — hand-computed
answers, 422 naming the field, site rights; every response validated against openapi.json."""

from __future__ import annotations

import datetime as dt

import pytest

from core.models import Segment, Site
from tests.functional.test_api_sites import Api, user_with_token
from tests.unit.test_queries import add_session

RANGE = "from=2026-03-28&to=2026-03-29"


@pytest.fixture
def site(app):
    site = Site.get(Site.domain == "example.com")  # UTC
    u = dt.datetime
    add_session(site, u(2026, 3, 28, 10), 120, ["/", "/pricing", "/signup"], "A", tags=("newsletter",),
                events=[("form", "submit", 10.0, None)])
    add_session(site, u(2026, 3, 29, 9), 0, ["/"], "A", country="US", tags=("newsletter", "vip"))
    add_session(site, u(2026, 3, 29, 15), 60, ["/blog", "/pricing"], "B", device="mobile",
                events=[("video", "play", 30.0, 100.0), ("video", "play", 50.0, 100.0)])
    add_session(site, u(2026, 3, 27, 12), 0, ["/"], "C")  # previous period
    return site


@pytest.fixture
def api(app):
    return Api(app, user_with_token(4)[1])


def test_stats_with_previous_period(api, site):
    body = api.call("GET", f"/api/v1/sites/{site.id}/stats?{RANGE}", status=200).json
    assert body["current"] == {"visitors": 2, "sessions": 3, "pageviews": 6, "events": 3, "bounces": 1,
                               "bounce_rate": 33.3, "avg_duration": 60.0, "pages_per_session": 2.0}
    assert body["previous"]["sessions"] == 1 and body["change"]["sessions"] == 200.0
    assert (body["previous_from"], body["previous_to"]) == ("2026-03-26", "2026-03-27")
    segment = api.call("GET", f"/api/v1/sites/{site.id}/stats?{RANGE}&tag=newsletter,vip", status=200).json
    assert segment["current"]["sessions"] == 1


def test_timeseries_and_breakdowns(api, site):
    series = api.call("GET", f"/api/v1/sites/{site.id}/timeseries?{RANGE}&unit=day", status=200).json
    assert [(p["bucket"], p["sessions"], p["pageviews"]) for p in series["points"]] == [
        ("2026-03-28", 1, 3), ("2026-03-29", 2, 3)]
    pages = api.call("GET", f"/api/v1/sites/{site.id}/breakdowns/page?{RANGE}&limit=2", status=200).json
    assert pages["total"] == 4 and [(i["value"], i["pageviews"]) for i in pages["items"]] == [("/", 2), ("/pricing", 2)]
    devices = api.call("GET", f"/api/v1/sites/{site.id}/breakdowns/device?{RANGE}", status=200).json
    assert {i["value"]: i["sessions"] for i in devices["items"]} == {"desktop": 2, "mobile": 1}
    api.call("GET", f"/api/v1/sites/{site.id}/breakdowns/password?{RANGE}", status=404)
    online = api.call("GET", f"/api/v1/sites/{site.id}/online", status=200).json
    assert online == {"online": 0}


def test_tags_and_events_reports(api, site):
    tags = api.call("GET", f"/api/v1/sites/{site.id}/tags?{RANGE}&unit=day", status=200).json
    assert [(i["tag"], i["sessions"]) for i in tags["items"]] == [("newsletter", 2), ("vip", 1)]
    assert {s["tag"]: s["points"] for s in tags["series"]} == {"newsletter": [1, 1], "vip": [0, 1]}
    events = api.call("GET", f"/api/v1/sites/{site.id}/events?{RANGE}&unit=day", status=200).json
    assert events["total"] == 3 and events["points"] == [1, 2]
    video = events["items"][0]
    assert (video["category"], video["count"], video["value_avg"], video["value_secondary_sum"]) == \
        ("video", 2, 40.0, 200.0)
    labels = api.call("GET", f"/api/v1/sites/{site.id}/events?{RANGE}&group=action&category=video",
                      status=200).json
    assert [(i["action"], i["count"]) for i in labels["items"]] == [("play", 2)]


@pytest.mark.parametrize("query,field", [
    ("from=2026-02-30", "from"), ("from=2026-03-10&to=2026-03-01", "from"), ("range=forever", "range"),
    ("min_duration=soon", "min_duration"), ("country=Germany", "country"), ("unit=fortnight", "unit"),
])
def test_bad_parameters_are_422_naming_the_field(api, site, query, field):
    path = "timeseries" if field == "unit" else "stats"
    body = api.call("GET", f"/api/v1/sites/{site.id}/{path}?{query}", status=422).json
    assert body["error"] == "invalid" and body["field"] == field


def test_breakdown_paging_parameters_are_checked(api, site):
    for query, field in (("limit=0", "limit"), ("offset=-1", "offset"), ("sort=price", "sort")):
        body = api.call("GET", f"/api/v1/sites/{site.id}/breakdowns/page?{query}", status=422).json
        assert body["field"] == field


def test_rights_follow_the_token_user(app, site):
    other = Site.create(domain="other.example", settings={})
    _user, token = user_with_token(0, [other.id])
    reader = Api(app, token)
    reader.call("GET", f"/api/v1/sites/{site.id}/stats?{RANGE}", status=404)
    assert reader.call("GET", f"/api/v1/sites/{other.id}/stats", status=200).json["current"]["sessions"] == 0
    reader.call("POST", f"/api/v1/sites/{other.id}/segments", {"name": "x", "filters": {"tag": "a"}}, status=403)
    Api(app, None).call("GET", f"/api/v1/sites/{site.id}/stats", status=401)


def test_segments_crud(api, site):
    created = api.call("POST", f"/api/v1/sites/{site.id}/segments",
                       {"name": "Mobile readers", "filters": {"device": "mobile", "page": "/blog*"}}, status=201).json
    assert created["filters"] == {"device": "mobile", "page": "/blog*"} and created["created_at"].endswith("Z")
    listed = api.call("GET", f"/api/v1/sites/{site.id}/segments", status=200).json["items"]
    assert [s["name"] for s in listed] == ["Mobile readers"]
    # The saved filters work as query parameters of every statistics endpoint.
    stats = api.call("GET", f"/api/v1/sites/{site.id}/stats?{RANGE}&device=mobile&page=/blog*", status=200).json
    assert stats["current"]["sessions"] == 1
    for body, field in (({"name": "", "filters": {"tag": "x"}}, "name"), ({"name": "n", "filters": {}}, "filters"),
                        ({"name": "n", "filters": {"colour": "red"}}, "filters"),
                        ({"name": "n", "filters": {"device": "phone"}}, "device"),
                        ({"name": "n", "filters": {"tag": 5}}, "filters")):
        assert api.call("POST", f"/api/v1/sites/{site.id}/segments", body, status=422).json["field"] == field
    assert Segment.select().count() == 1
    api.call("DELETE", f"/api/v1/sites/{site.id}/segments/{created['id']}", status=204)
    api.call("DELETE", f"/api/v1/sites/{site.id}/segments/{created['id']}", status=404)
