"""REST API for goals and A/B tests on the engine under test: create/read/change/delete, 422s naming the
field, site access (404 for sites not granted), level checks, results, and responses checked against
the app's own OpenAPI document."""

from __future__ import annotations

import datetime as dt

from openapi_spec_validator import validate

from core.models import AbTest, AbVariant, Goal, Pageview, Session, SessionTag, Site
from tests.conftest import csrf_of
from tests.functional.test_api_sites import Api, user_with_token

HERO = {"name": "Hero", "page": "/pricing*", "variants": [
    {"name": "Control", "weight": 50},
    {"name": "Shorter", "weight": 50, "changes": [{"selector": "h1.hero", "text": "Buy now"},
                                                  {"selector": ".cta", "styles": {"color": "red"},
                                                   "attributes": {"href": "/buy"}}]}]}


def example() -> Site:
    return Site.get(Site.domain == "example.com")


def other_site() -> Site:
    return Site.create(domain="secret.example", name="Secret")


def admin(app) -> Api:
    return Api(app, user_with_token(4)[1])


def test_our_part_of_the_openapi_document_is_valid(app):
    doc = Api(app, None).doc
    paths = {p: ops for p, ops in doc["paths"].items() if "/goals" in p or "/ab-tests" in p}
    assert set(paths) == {
        "/api/v1/sites/{site_id}/goals", "/api/v1/goals/{goal_id}", "/api/v1/sites/{site_id}/goals/{goal_id}/conversions",
        "/api/v1/sites/{site_id}/ab-tests", "/api/v1/ab-tests/{test_id}", "/api/v1/ab-tests/{test_id}/results"}
    ours = {n: s for n, s in doc["components"]["schemas"].items() if n.startswith(("Goal", "Ab", "Error"))}
    validate({**doc, "paths": paths, "components": {**doc["components"], "schemas": ours}})
    assert paths["/api/v1/sites/{site_id}/goals"]["post"]["x-permission"] == "manage_goals"
    assert paths["/api/v1/ab-tests/{test_id}"]["patch"]["x-permission"] == "manage_ab_tests"


def test_goal_lifecycle(app):
    api = admin(app)
    site = example()
    created = api.call("POST", f"/api/v1/sites/{site.id}/goals",
                       {"name": "Thanks", "kind": "page", "path": "/thanks*"}, status=201)
    goal = created.json
    assert created.headers["Location"] == f"/api/v1/goals/{goal['id']}"
    assert (goal["name"], goal["kind"], goal["path"], goal["site_id"]) == ("Thanks", "page", "/thanks*", site.id)
    assert goal["created_at"].endswith("Z")
    assert api.call("GET", f"/api/v1/sites/{site.id}/goals", status=200).json["items"] == [goal]
    changed = api.call("PATCH", f"/api/v1/goals/{goal['id']}", {"kind": "event", "category": "signup"}, status=200).json
    assert (changed["kind"], changed["category"], changed["path"]) == ("event", "signup", "")
    assert Goal.get_by_id(goal["id"]).category == "signup"
    assert api.call("GET", f"/api/v1/goals/{goal['id']}", status=200).json == changed
    api.call("DELETE", f"/api/v1/goals/{goal['id']}", status=204)
    assert Goal.get_or_none(Goal.id == goal["id"]) is None
    api.call("GET", f"/api/v1/goals/{goal['id']}", status=404)


def test_goal_validation_is_422_naming_the_field_and_stores_nothing(app):
    api = admin(app)
    site = example()
    for body, field in [({"kind": "page", "path": "/"}, "name"), ({"name": "x", "kind": "visit"}, "kind"),
                        ({"name": "x", "kind": "page", "path": "no-slash"}, "path"),
                        ({"name": "x", "kind": "event"}, "category"), ({"name": "x", "kind": "tag", "bad": 1}, "bad")]:
        answer = api.call("POST", f"/api/v1/sites/{site.id}/goals", body, status=422).json
        assert (answer["error"], answer["field"]) == ("invalid", field), answer
        assert field in answer["detail"]
    assert Goal.select().count() == 0
    api.call("POST", f"/api/v1/sites/{site.id}/goals", raw="{not json", status=400)
    goal = api.call("POST", f"/api/v1/sites/{site.id}/goals", {"name": "T", "kind": "tag", "tag": "x"}, status=201).json
    assert api.call("PATCH", f"/api/v1/goals/{goal['id']}", {"tag": ""}, status=422).json["field"] == "tag"
    assert Goal.get_by_id(goal["id"]).tag == "x"


def test_goal_conversions_endpoint(app):
    api = admin(app)
    site = example()
    goal = api.call("POST", f"/api/v1/sites/{site.id}/goals", {"name": "T", "kind": "page", "path": "/thanks"},
                    status=201).json
    start = dt.datetime(2026, 2, 3, 10)
    for i, paths in enumerate([["/", "/thanks"], ["/"], ["/thanks"]]):
        session = Session.create(site=site, token=f"s{i}", started_at=start, last_seen_at=start)
        for j, path in enumerate(paths):
            Pageview.create(session=session, site=site, client_id=f"p{j}", url="https://example.com" + path,
                            path=path, started_at=start)
    body = api.call("GET", f"/api/v1/sites/{site.id}/goals/{goal['id']}/conversions?from=2026-02-01&to=2026-02-05",
                    status=200).json
    assert (body["sessions"], body["conversions"], body["rate"]) == (3, 2, 66.67)
    assert [p["conversions"] for p in body["points"]] == [0, 0, 2, 0, 0]
    bad = api.call("GET", f"/api/v1/sites/{site.id}/goals/{goal['id']}/conversions?from=2026-02-09&to=2026-02-01",
                   status=422).json
    assert bad["field"] == "from"
    assert api.call("GET", f"/api/v1/sites/{site.id}/goals/{goal['id']}/conversions?unit=minute",
                    status=422).json["field"] == "unit"
    elsewhere = other_site()
    api.call("GET", f"/api/v1/sites/{elsewhere.id}/goals/{goal['id']}/conversions", status=404)


def test_ab_test_lifecycle_and_variant_ids_kept(app):
    api = admin(app)
    site = example()
    goal = api.call("POST", f"/api/v1/sites/{site.id}/goals", {"name": "T", "kind": "tag", "tag": "buyer"},
                    status=201).json
    test = api.call("POST", f"/api/v1/sites/{site.id}/ab-tests", {**HERO, "goal_id": goal["id"]}, status=201).json
    assert (test["status"], test["started_at"], test["goal_id"]) == ("draft", None, goal["id"])
    control, variant = test["variants"]
    assert control["control"] and not variant["control"]
    assert variant["tag"] == f"AB-{test['id']}-{variant['key']}"
    assert len({control["key"], variant["key"]}) == 2 and variant["key"].isalnum() and len(variant["key"]) == 6
    assert variant["changes"][1] == {"selector": ".cta", "styles": {"color": "red"}, "attributes": {"href": "/buy"}}
    started = api.call("PATCH", f"/api/v1/ab-tests/{test['id']}", {"status": "running"}, status=200).json
    assert started["status"] == "running" and started["started_at"].endswith("Z")
    # Keep the control by id, drop "Shorter", add a new one.
    patched = api.call("PATCH", f"/api/v1/ab-tests/{test['id']}", {"variants": [
        {"id": control["id"], "name": "Original", "weight": 30}, {"name": "Green", "weight": 70, "changes": [
            {"selector": ".cta", "styles": {"background-color": "green"}}]}]}, status=200).json
    assert patched["variants"][0]["id"] == control["id"] and patched["variants"][0]["name"] == "Original"
    # A new variant never gets a deleted one's tag (SQLite may hand out the same row id again).
    assert patched["variants"][1]["key"] not in (control["key"], variant["key"])
    assert AbVariant.get_or_none(AbVariant.key == variant["key"]) is None
    # A variant sent by id without weight/changes keeps them.
    kept = api.call("PATCH", f"/api/v1/ab-tests/{test['id']}", {"variants": [
        {"id": control["id"], "name": "Original"}, {"id": patched["variants"][1]["id"], "name": "Green 2"}]},
        status=200).json
    assert [(v["weight"], v["changes"]) for v in kept["variants"]] == [(30, []), (70, patched["variants"][1]["changes"])]
    assert api.call("PATCH", f"/api/v1/ab-tests/{test['id']}", {"variants": [
        {"id": control["id"], "name": "O", "weight": 0}, {"id": patched["variants"][1]["id"], "name": "G", "weight": 0}]},
        status=422).json["field"] == "variants[0].weight"
    stopped = api.call("PATCH", f"/api/v1/ab-tests/{test['id']}", {"status": "stopped"}, status=200).json
    assert stopped["stopped_at"] is not None
    listed = api.call("GET", f"/api/v1/sites/{site.id}/ab-tests", status=200).json["items"]
    assert [t["id"] for t in listed] == [test["id"]]
    # Deleting the test's goal leaves the test without one.
    api.call("DELETE", f"/api/v1/goals/{goal['id']}", status=204)
    assert api.call("GET", f"/api/v1/ab-tests/{test['id']}", status=200).json["goal_id"] is None
    api.call("DELETE", f"/api/v1/ab-tests/{test['id']}", status=204)
    assert AbTest.select().count() == 0 and AbVariant.select().count() == 0


def test_ab_test_validation_is_422_naming_the_field_and_stores_nothing(app):
    api = admin(app)
    site = example()
    url = f"/api/v1/sites/{site.id}/ab-tests"
    bad_change = {**HERO, "variants": [HERO["variants"][0], {"name": "B", "changes": [
        {"selector": "h1", "text": "ok"}, {"selector": "a", "styles": {"background": "url(https://evil.example/x)"}}]}]}
    answer = api.call("POST", url, bad_change, status=422).json
    assert answer["field"] == "variants[1].changes[1].styles.background"
    assert api.call("POST", url, {**HERO, "variants": HERO["variants"][:1]}, status=422).json["field"] == "variants"
    assert api.call("POST", url, {**HERO, "goal_id": 999}, status=422).json["field"] == "goal_id"
    js_link = {**HERO, "variants": [HERO["variants"][0], {"name": "B", "changes": [
        {"selector": "a", "attributes": {"href": "javascript:alert(1)"}}]}]}
    assert api.call("POST", url, js_link, status=422).json["field"] == "variants[1].changes[0].attributes.href"
    assert AbTest.select().count() == 0 and AbVariant.select().count() == 0
    test = api.call("POST", url, HERO, status=201).json
    # A variant id of another test is refused, and nothing of the PATCH is kept.
    other = api.call("POST", url, HERO, status=201).json
    answer = api.call("PATCH", f"/api/v1/ab-tests/{test['id']}", {"name": "Renamed", "variants": [
        {"id": other["variants"][0]["id"], "name": "X"}, {"name": "Y"}]}, status=422).json
    assert answer["field"] == "variants[0].id"
    assert AbTest.get_by_id(test["id"]).name == "Hero"
    assert [v.name for v in AbVariant.select().where(AbVariant.test == test["id"]).order_by(AbVariant.position)] == \
        ["Control", "Shorter"]


def test_results_endpoint_counts_tagged_sessions(app):
    api = admin(app)
    site = example()
    goal = api.call("POST", f"/api/v1/sites/{site.id}/goals", {"name": "Buyer", "kind": "tag", "tag": "buyer"},
                    status=201).json
    test = api.call("POST", f"/api/v1/sites/{site.id}/ab-tests", HERO, status=201).json
    start = dt.datetime(2026, 2, 3, 10)
    plan = [(0, True), (0, False), (0, False), (0, False), (1, True), (1, True), (1, False), (1, False)]
    for i, (which, bought) in enumerate(plan):
        session = Session.create(site=site, token=f"r{i}", started_at=start, last_seen_at=start)
        SessionTag.create(session=session, site=site, tag=test["variants"][which]["tag"], created_at=start)
        if bought:
            SessionTag.create(session=session, site=site, tag="buyer", created_at=start)
    url = f"/api/v1/ab-tests/{test['id']}/results?from=2026-02-01&to=2026-02-05"
    plain = api.call("GET", url, status=200).json
    assert plain["goal_id"] is None and [v["sessions"] for v in plain["variants"]] == [4, 4]
    body = api.call("GET", url + f"&goal={goal['id']}", status=200).json
    control, b = body["variants"]
    assert (control["conversions"], control["rate"], b["conversions"], b["rate"]) == (1, 25.0, 2, 50.0)
    assert b["uplift"] == 100.0 and 0 < b["p_value"] < 1
    assert api.call("GET", url + "&goal=abc", status=422).json["field"] == "goal"
    foreign = Goal.create(site=other_site(), name="x", kind="tag", tag="buyer", created_at=start)
    assert api.call("GET", url + f"&goal={foreign.id}", status=422).json["field"] == "goal"
    # The test's own goal is the default.
    api.call("PATCH", f"/api/v1/ab-tests/{test['id']}", {"goal_id": goal["id"]}, status=200)
    assert api.call("GET", url, status=200).json["variants"][1]["conversions"] == 2


def test_site_access_is_checked_for_objects_addressed_by_their_own_id(app):
    site, secret = example(), other_site()
    goal = Goal.create(site=secret, name="Hidden", kind="tag", tag="t", created_at=dt.datetime(2026, 1, 1))
    test = AbTest.create(site=secret, name="Hidden", created_at=dt.datetime(2026, 1, 1))
    # An analyst granted only example.com: the other site's objects do not exist for them.
    analyst = Api(app, user_with_token(3, [site.id])[1])
    for url in (f"/api/v1/goals/{goal.id}", f"/api/v1/ab-tests/{test.id}", f"/api/v1/ab-tests/{test.id}/results",
                f"/api/v1/sites/{secret.id}/goals", f"/api/v1/sites/{secret.id}/ab-tests"):
        assert analyst.call("GET", url, status=404).json["error"] == "not_found"
    assert analyst.call("GET", f"/api/v1/sites/{site.id}/goals", status=200).json == {"items": []}
    # Level 3 may look but not change (manage_goals / manage_ab_tests are level 4).
    assert analyst.call("POST", f"/api/v1/sites/{site.id}/goals", {"name": "x", "kind": "tag", "tag": "t"},
                        status=403).json["error"] == "forbidden"
    assert analyst.call("POST", f"/api/v1/sites/{site.id}/ab-tests", HERO, status=403).json["error"] == "forbidden"
    # A level-4 admin sees every site; a PATCH of a test they can see works.
    boss = admin(app)
    assert boss.call("PATCH", f"/api/v1/ab-tests/{test.id}", {"name": "Seen"}, status=200).json["name"] == "Seen"
    assert boss.call("DELETE", f"/api/v1/goals/{goal.id}", status=204)


def test_cookie_writes_need_the_csrf_token(admin_client):
    site = example()
    body = {"name": "T", "kind": "tag", "tag": "x"}
    refused = admin_client.post_json(f"/api/v1/sites/{site.id}/goals", body, status=403)
    assert refused.json["error"] == "csrf" and Goal.select().count() == 0
    admin_client.post_json(f"/api/v1/sites/{site.id}/goals", body, headers={"X-CSRF-Token": csrf_of(admin_client)},
                           status=201)
    assert Goal.select().count() == 1
