"""GET /server/ab/<domain>.ab.js on the engine under test: running tests only, escaping, caching with
ETag, gzip, CORS, subdomains, a valid empty script for unknown domains, and fresh content after a change."""

from __future__ import annotations

import gzip
import json
import re

import webob

from core.experiments import rules, store
from core.models import Site
from tests.conftest import csrf_of

HOSTILE = "</script><script>alert(1)</script><!--"
TEXT = "New & <3 \u2028 \u2029 */"


def make_test(site, status="running", title=HOSTILE, weight_b=50):
    return store.create_test(Site._meta.database, site.id, rules.validate_test({
        "name": "Hero", "status": status, "variants": [
            {"name": "A", "weight": 100 - weight_b},
            {"name": "B", "weight": weight_b, "changes": [{"selector": "h1", "text": TEXT,
                                                            "attributes": {"title": title}}]}]}))


def embedded(body: str):
    match = re.search(r"\}\)\((\[.*\])\);\s*$", body, re.S)
    assert match, body[-300:]
    return json.loads(match.group(1))


def test_running_tests_are_published_safely(client):
    site = Site.get(Site.domain == "example.com")
    running = make_test(site)
    make_test(site, status="draft")
    make_test(site, status="stopped")
    response = client.get("/server/ab/example.com.ab.js")
    assert response.status_int == 200
    assert response.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"] == "public, max-age=60"
    body = response.text
    assert "</script" not in body.lower() and "<!--" not in body and "\u2028" not in body and "\u2029" not in body
    tests = embedded(body)
    keys = [v.key for v in store.variants_of(running)]
    assert tests == [{"id": running.id, "page": "", "variants": [
        {"key": keys[0], "weight": 50, "changes": []},
        {"key": keys[1], "weight": 50, "changes": [{"selector": "h1", "text": TEXT,
                                                    "attributes": {"title": HOSTILE}}]}]}]
    assert "Hero" not in body  # names are not published
    assert "UST_AB_TESTS" in body and "sourceMappingURL" not in body


def test_etag_revalidation_and_gzip(client):
    make_test(Site.get(Site.domain == "example.com"))
    first = client.get("/server/ab/example.com.ab.js")
    etag = first.headers["ETag"]
    again = client.get("/server/ab/example.com.ab.js", headers={"If-None-Match": etag}, status=304)
    assert again.body == b""
    # WebTest would un-gzip the body: ask through webob to see what is sent.
    zipped = webob.Request.blank("/server/ab/example.com.ab.js", headers={"Accept-Encoding": "gzip"}).get_response(
        client.app)
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.body) == first.body
    client.get("/server/ab/example.com.ab.js", headers={"If-None-Match": zipped.headers["ETag"]}, status=304)


def test_subdomain_and_case_find_the_site(client):
    make_test(Site.get(Site.domain == "example.com"))
    for name in ("www.example.com", "Shop.Example.COM"):
        assert len(embedded(client.get(f"/server/ab/{name}.ab.js").text)) == 1


def test_unknown_domain_is_a_404_that_is_still_valid_javascript(client):
    for name in ("nosuch.example.ab.js", "evil*alert(1)*.ab.js", "example.com.js"):
        response = client.get(f"/server/ab/{name}", status=404)
        assert response.headers["Content-Type"] == "application/javascript; charset=utf-8"
        text = response.text.strip()
        assert text.startswith("/*") and text.endswith("*/") and text.count("*/") == 1


def test_a_site_without_running_tests_gets_an_empty_list(client):
    assert embedded(client.get("/server/ab/example.com.ab.js").text) == []


def test_starting_and_stopping_in_the_dashboard_changes_the_script_at_once(admin_client):
    site = Site.get(Site.domain == "example.com")
    test = make_test(site, status="draft")
    assert embedded(admin_client.get("/server/ab/example.com.ab.js").text) == []  # cached now
    token = csrf_of(admin_client)
    admin_client.post(f"/sites/{site.id}/ab-tests/{test.id}/status", {"status": "running", "csrf_token": token},
                      status=303)
    assert [t["id"] for t in embedded(admin_client.get("/server/ab/example.com.ab.js").text)] == [test.id]
    admin_client.patch_json(f"/api/v1/ab-tests/{test.id}", {"status": "stopped"}, headers={"X-CSRF-Token": token})
    assert embedded(admin_client.get("/server/ab/example.com.ab.js").text) == []
