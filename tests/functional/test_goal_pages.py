"""Goal pages on the engine under test: list with conversions and chart, add/edit/delete through the
real forms (level 4), read-only for lower levels, 422 naming the field, escaping of what users typed."""

from __future__ import annotations

import datetime as dt
import html
import json
import re

import webtest

from core import accounts
from core.models import Goal, Pageview, Session, Site
from tests.conftest import login

VIEWER_PASSWORD = "viewer-pass-123"


def example() -> Site:
    return Site.get(Site.domain == "example.com")


def seed_sessions(site):
    # Today (UTC site): two sessions, one reached /thanks.
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) - dt.timedelta(minutes=5)
    for i, paths in enumerate([["/", "/thanks"], ["/pricing"]]):
        session = Session.create(site=site, token=f"g{i}", started_at=now, last_seen_at=now)
        for j, path in enumerate(paths):
            Pageview.create(session=session, site=site, client_id=f"p{j}", url="https://example.com" + path,
                            path=path, started_at=now)


def test_add_goal_through_the_form_and_see_its_conversions(admin_client):
    site = example()
    seed_sessions(site)
    page = admin_client.get(f"/sites/{site.id}/goals")
    assert f'href="/sites/{site.id}/goals" aria-current="page"' in page.text  # the site tab
    assert "No goals yet." in page.text
    form = page.forms["goal-form"]
    form["name"] = "Reached thanks"
    form["kind"] = "page"
    form["path"] = "/thanks*"
    done = form.submit(status=303)
    goal = Goal.get(Goal.name == "Reached thanks")
    assert done.headers["Location"].endswith(f"/sites/{site.id}/goals?goal={goal.id}")
    listing = done.follow()
    assert "Goal “Reached thanks” added." in listing.text
    row = listing.html.select_one(f'tr[data-goal="{goal.id}"]')
    assert row.select_one(".conversions").text.strip() == "1"
    assert "50.0%" in row.select_one(".rate").text
    chart = json.loads(listing.html.select_one("canvas#goal-chart")["data-chart"])
    assert sum(chart["datasets"][0]["data"]) == 1 and sum(chart["datasets"][1]["data"]) == 2


def test_invalid_goal_is_422_naming_the_field_and_keeps_the_input(admin_client):
    site = example()
    form = admin_client.get(f"/sites/{site.id}/goals").forms["goal-form"]
    form["name"] = "Broken"
    form["kind"] = "page"
    form["path"] = "thanks"
    answer = form.submit(status=422)
    error = answer.html.select_one('.field-error[data-field="path"]')
    assert error is not None and "/" in error.text
    assert answer.forms["goal-form"]["name"].value == "Broken"
    assert Goal.select().count() == 0


def test_edit_and_delete(admin_client):
    site = example()
    goal = Goal.create(site=site, name="Old", kind="tag", tag="a", created_at=dt.datetime(2026, 1, 1))
    form = admin_client.get(f"/sites/{site.id}/goals/{goal.id}/edit").forms["goal-form"]
    assert form["tag"].value == "a"
    form["name"] = "New"
    form["kind"] = "event"
    form["category"] = "video"
    form["action"] = ""
    form.submit(status=303)
    goal = Goal.get_by_id(goal.id)
    assert (goal.name, goal.kind, goal.category, goal.tag) == ("New", "event", "video", "")
    listing = admin_client.get(f"/sites/{site.id}/goals")
    delete = next(f for f in listing.forms.values() if f.action.endswith(f"/goals/{goal.id}/delete"))
    delete.submit(status=303)
    assert Goal.select().count() == 0
    other = Site.create(domain="other.example", name="Other")
    admin_client.get(f"/sites/{other.id}/goals/{Goal.create(site=site, name='x', kind='tag', tag='t', created_at=dt.datetime(2026, 1, 1)).id}/edit", status=404)


def test_viewers_see_goals_but_cannot_change_them(app):
    site = example()
    Goal.create(site=site, name="<script>alert(1)</script>", kind="tag", tag="<b>t</b>", created_at=dt.datetime(2026, 1, 1))
    accounts.create_user("viewer", VIEWER_PASSWORD, 0, [site.id])
    client = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "203.0.113.9"})
    login(client, "viewer", VIEWER_PASSWORD)
    page = client.get(f"/sites/{site.id}/goals")
    assert "goal-form" not in page.forms
    assert "<script>alert(1)</script>" not in page.text
    assert html.escape("<script>alert(1)</script>", quote=False) in page.text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    client.post(f"/sites/{site.id}/goals", {"name": "x", "kind": "tag", "tag": "y", "csrf_token": token}, status=403)
    assert Goal.select().count() == 1
