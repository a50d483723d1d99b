"""A/B test pages on the engine under test: the editor (add variant, change rows, save), 422 naming the
variant and change, start/stop/delete, the results table and chart, the ab.js snippet line, read-only
access below level 4, and escaping of what users typed."""

from __future__ import annotations

import datetime as dt
import json
import re

import webtest

from core import accounts
from core.experiments import rules, store
from core.models import AbTest, AbVariant, Goal, Session, SessionTag, Site
from tests.conftest import login


def example() -> Site:
    return Site.get(Site.domain == "example.com")


def fill_editor(form, name="Hero"):
    form["name"] = name
    form["page"] = "/pricing*"
    form["v1_name"] = "Loud"
    form["v1_weight"] = "70"
    form["v0_weight"] = "30"
    form["v1_c0_selector"] = "h1.hero"
    form["v1_c0_kind"] = "text"
    form["v1_c0_value"] = "Buy now & save"
    form["v1_c1_selector"] = ".cta"
    form["v1_c1_kind"] = "style"
    form["v1_c1_name"] = "color"
    form["v1_c1_value"] = "red"


def test_create_a_test_in_the_editor(admin_client):
    site = example()
    listing = admin_client.get(f"/sites/{site.id}/ab-tests")
    assert f'href="/sites/{site.id}/ab-tests" aria-current="page"' in listing.text
    snippet = listing.html.select_one("#ab-snippet").text
    assert snippet == '<script src="http://localhost:80/server/ab/example.com.ab.js"></script>'
    editor = admin_client.get(f"/sites/{site.id}/ab-tests/new")
    form = editor.forms["abtest-form"]
    fill_editor(form)
    # "Add variant" re-renders with a third block and keeps what was typed; nothing is saved yet.
    bigger = form.submit("action", value="add_variant", status=200)
    assert AbTest.select().count() == 0
    form = bigger.forms["abtest-form"]
    assert form["v1_c0_value"].value == "Buy now & save" and form["v2_name"].value == "Variant C"
    form["v2_weight"] = "0"
    form["v2_c0_selector"] = "a.buy"
    form["v2_c0_kind"] = "attr"
    form["v2_c0_name"] = "href"
    form["v2_c0_value"] = "/checkout"
    saved = form.submit("action", value="save", status=303)
    test = AbTest.get(AbTest.name == "Hero")
    assert saved.headers["Location"].endswith(f"/sites/{site.id}/ab-tests/{test.id}")
    assert (test.page, test.status) == ("/pricing*", "draft")
    variants = store.variants_of(test)
    assert [(v.name, v.weight) for v in variants] == [("Control", 30), ("Loud", 70), ("Variant C", 0)]
    assert variants[0].changes == []
    assert variants[1].changes == [{"selector": "h1.hero", "text": "Buy now & save"},
                                   {"selector": ".cta", "styles": {"color": "red"}}]
    assert variants[2].changes == [{"selector": "a.buy", "attributes": {"href": "/checkout"}}]
    # Editing shows the same rows and keeps variant ids (so their tags and results) on save.
    form = admin_client.get(f"/sites/{site.id}/ab-tests/{test.id}/edit").forms["abtest-form"]
    assert form["v1_c1_name"].value == "color" and form["v1_id"].value == str(variants[1].id)
    form["v1_c0_value"] = "Buy today"
    form["v2_removed"] = True
    form.submit("action", value="save", status=303)
    after = store.variants_of(test)
    assert [v.key for v in after] == [variants[0].key, variants[1].key]
    assert after[1].changes[0]["text"] == "Buy today"


def test_editor_errors_name_the_variant_and_change_and_store_nothing(admin_client):
    site = example()
    form = admin_client.get(f"/sites/{site.id}/ab-tests/new").forms["abtest-form"]
    fill_editor(form)
    form["v1_c1_value"] = "url(https://evil.example/x.png)"
    form["v1_c1_name"] = "background"
    answer = form.submit("action", value="save", status=422)
    error = answer.html.select_one("#editor-error")
    assert error["data-field"] == "variants[1].changes[1].styles.background"
    assert error.text.startswith("Variant 2, change 2: styles.background")
    assert answer.forms["abtest-form"]["v1_c1_value"].value == "url(https://evil.example/x.png)"
    form = answer.forms["abtest-form"]
    form["v1_c1_name"] = "onclick"
    form["v1_c1_kind"] = "attr"
    form["v1_c1_value"] = "alert(1)"
    assert form.submit("action", value="save", status=422).html.select_one("#editor-error")["data-field"] == \
        "variants[1].changes[1].attributes.onclick"
    assert AbTest.select().count() == 0 and AbVariant.select().count() == 0


def test_start_stop_results_and_delete(admin_client):
    site = example()
    goal = Goal.create(site=site, name="Bought", kind="tag", tag="buyer", created_at=dt.datetime(2026, 1, 1))
    test = store.create_test(Site._meta.database, site.id, rules.validate_test({
        "name": "Hero <i>x</i>", "goal_id": goal.id, "variants": [{"name": "A"}, {"name": "B <b>", "changes": [
            {"selector": "h1", "text": "Hi"}]}]}))
    a, b = store.variants_of(test)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) - dt.timedelta(minutes=5)
    for i, (variant, bought) in enumerate([(a, False), (a, True), (b, True), (b, True)]):
        session = Session.create(site=site, token=f"x{i}", started_at=now, last_seen_at=now)
        SessionTag.create(session=session, site=site, tag=rules.variant_tag(test.id, variant.key), created_at=now)
        if bought:
            SessionTag.create(session=session, site=site, tag="buyer", created_at=now)
    page = admin_client.get(f"/sites/{site.id}/ab-tests/{test.id}")
    assert "Hero <i>x</i>" not in page.text and "Hero &lt;i&gt;x&lt;/i&gt;" in page.text
    rows = {int(r["data-variant"]): r for r in page.html.select("#results-table tr[data-variant]")}
    assert rows[b.id].select_one(".sessions").text.strip() == "2"
    assert rows[a.id].select_one(".rate").text.strip() == "50.0%"
    assert rows[b.id].select_one(".rate").text.strip() == "100.0%"
    assert rows[b.id].select_one(".uplift").text.strip() == "+100.00%"
    chart = json.loads(page.html.select_one("canvas#abtest-chart")["data-chart"])
    assert chart["labels"] == ["A", "B <b>"] and chart["datasets"][0]["data"] == [50.0, 100.0]
    # Without a goal: sessions only.
    plain = admin_client.get(f"/sites/{site.id}/ab-tests/{test.id}?goal=none")
    assert json.loads(plain.html.select_one("canvas#abtest-chart")["data-chart"])["datasets"][0]["data"] == [2, 2]
    start = next(f for f in page.forms.values() if f.action.endswith("/status"))
    started = start.submit("status", value="running", status=303).follow()
    assert AbTest.get_by_id(test.id).status == "running"
    assert "The test is running" in started.text
    stop = next(f for f in started.forms.values() if f.action.endswith("/status"))
    stop.submit("status", value="stopped", status=303)
    assert AbTest.get_by_id(test.id).status == "stopped" and AbTest.get_by_id(test.id).stopped_at is not None
    delete = next(f for f in page.forms.values() if f.action.endswith("/delete"))
    delete.submit(status=303)
    assert AbTest.select().count() == 0


def test_lower_levels_see_results_but_cannot_edit(app):
    site = example()
    test = store.create_test(Site._meta.database, site.id, rules.validate_test({
        "name": "Hero", "variants": [{"name": "A"}, {"name": "B"}]}))
    accounts.create_user("analyst", "analyst-pass-123", 3, [site.id])
    client = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "203.0.113.9"})
    login(client, "analyst", "analyst-pass-123")
    listing = client.get(f"/sites/{site.id}/ab-tests")
    assert "New A/B test" not in listing.text
    page = client.get(f"/sites/{site.id}/ab-tests/{test.id}")
    assert "/edit" not in page.text and not any(f.action.endswith("/status") for f in page.forms.values())
    client.get(f"/sites/{site.id}/ab-tests/new", status=403)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    client.post(f"/sites/{site.id}/ab-tests/{test.id}/status", {"status": "running", "csrf_token": token}, status=403)
    assert AbTest.get_by_id(test.id).status == "draft"
    other = Site.create(domain="other.example", name="Other")
    client.get(f"/sites/{other.id}/ab-tests", status=404)
