"""REST sessions: list with items/total and paging, detail with pageviews/events/tags, tagging, delete with
everything under it, and 404 for sessions of sites the token's user cannot see."""

from __future__ import annotations

import datetime as dt

import pytest

from core.models import Event, Pageview, Session, SessionTag, Site
from tests.functional.test_api_sites import Api, user_with_token
from tests.unit.test_queries import add_session

RANGE = "from=2026-03-28&to=2026-03-29"


@pytest.fixture
def data(app):
    site = Site.get(Site.domain == "example.com")
    u = dt.datetime
    sessions = [
        add_session(site, u(2026, 3, 28, 10), 120, ["/", "/pricing"], "A", tags=("newsletter",),
                    events=[("form", "submit", 10.0, None)]),
        add_session(site, u(2026, 3, 29, 9), 5, ["/"], "A", country="US"),
        add_session(site, u(2026, 3, 29, 15), 60, ["/blog", "/pricing", "/signup"], "B"),
    ]
    return site, sessions


@pytest.fixture
def api(app, data):
    return Api(app, user_with_token(3, [data[0].id])[1])  # an analyst granted example.com


def test_list_sessions_with_total_and_paging(api, data):
    site, s = data
    body = api.call("GET", f"/api/v1/sites/{site.id}/sessions?{RANGE}&limit=2", status=200).json
    assert body["total"] == 3 and [i["id"] for i in body["items"]] == [s[2].id, s[1].id]
    first = body["items"][0]
    assert first["started_at"] == "2026-03-29T15:00:00Z" and first["duration"] == 60 and first["pageviews"] == 3
    rest = api.call("GET", f"/api/v1/sites/{site.id}/sessions?{RANGE}&limit=2&offset=2", status=200).json
    assert [i["id"] for i in rest["items"]] == [s[0].id] and rest["items"][0]["tags"] == ["newsletter"]
    longest = api.call("GET", f"/api/v1/sites/{site.id}/sessions?{RANGE}&sort=duration", status=200).json
    assert [i["id"] for i in longest["items"]] == [s[0].id, s[2].id, s[1].id]
    us = api.call("GET", f"/api/v1/sites/{site.id}/sessions?{RANGE}&country=US", status=200).json
    assert us["total"] == 1 and us["items"][0]["country"] == "US"
    for query, field in (("limit=0", "limit"), ("limit=501", "limit"), ("offset=x", "offset"),
                         ("sort=ip", "sort"), ("order=up", "order"), ("to=31.03.2026", "to")):
        assert api.call("GET", f"/api/v1/sites/{site.id}/sessions?{query}", status=422).json["field"] == field


def test_session_detail(api, data):
    _site, s = data
    body = api.call("GET", f"/api/v1/sessions/{s[0].id}", status=200).json
    assert [p["path"] for p in body["pageviews"]] == ["/", "/pricing"]
    assert [(e["category"], e["action"], e["value"]) for e in body["events"]] == [("form", "submit", 10.0)]
    assert [t["tag"] for t in body["tags"]] == ["newsletter"]
    assert body["started_at"] == "2026-03-28T10:00:00Z" and body["pageviews"][1]["started_at"].endswith("Z")
    api.call("GET", "/api/v1/sessions/999999", status=404)


def test_sessions_of_other_sites_are_404(app, data):
    _site, s = data
    other = Site.create(domain="other.example", settings={})
    _user, token = user_with_token(3, [other.id])
    outsider = Api(app, token)
    outsider.call("GET", f"/api/v1/sessions/{s[0].id}", status=404)
    outsider.call("DELETE", f"/api/v1/sessions/{s[0].id}", status=404)
    outsider.call("POST", f"/api/v1/sessions/{s[0].id}/tags", {"tag": "x"}, status=404)
    assert Session.get_or_none(Session.id == s[0].id) is not None


def test_tag_add_and_remove(api, data):
    _site, s = data
    body = api.call("POST", f"/api/v1/sessions/{s[1].id}/tags", {"tag": "  follow-up "}, status=201).json
    assert [t["tag"] for t in body["tags"]] == ["follow-up"]
    api.call("POST", f"/api/v1/sessions/{s[1].id}/tags", {"tag": "follow-up"}, status=201)
    assert SessionTag.select().where(SessionTag.session == s[1].id).count() == 1
    assert api.call("POST", f"/api/v1/sessions/{s[1].id}/tags", {"tag": ""}, status=422).json["field"] == "tag"
    assert api.call("POST", f"/api/v1/sessions/{s[1].id}/tags", {"tag": "x" * 200}, status=422).json["field"] == "tag"
    assert api.call("POST", f"/api/v1/sessions/{s[1].id}/tags", {"tag": "a", "b": 1}, status=422).json["field"] == "b"
    api.call("DELETE", f"/api/v1/sessions/{s[1].id}/tags/follow-up", status=204)
    api.call("DELETE", f"/api/v1/sessions/{s[1].id}/tags/follow-up", status=404)


def test_delete_removes_everything_under_the_session(app, api, data):
    site, s = data
    reader = Api(app, user_with_token(0, [site.id])[1])
    reader.call("DELETE", f"/api/v1/sessions/{s[0].id}", status=403)
    api.call("DELETE", f"/api/v1/sessions/{s[0].id}", status=204)
    api.call("GET", f"/api/v1/sessions/{s[0].id}", status=404)
    for model in (Pageview, Event, SessionTag):
        assert model.select().where(model.session == s[0].id).count() == 0
    assert api.call("GET", f"/api/v1/sites/{site.id}/sessions?{RANGE}", status=200).json["total"] == 2
