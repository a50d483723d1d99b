"""REST API: /api/v1/me and /api/v1/sites through bearer tokens and cookies, responses checked
against the app's own OpenAPI document."""

from __future__ import annotations

import re

import jsonschema
import pytest
import webtest

from core import accounts, sites
from core.models import ApiToken, Site, SiteAccess, User
from tests.conftest import csrf_of


class Api:
    """A JSON client with a bearer token that validates every response against openapi.json."""

    def __init__(self, app, token: str | None):
        self.client = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "203.0.113.9"})
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.doc = self.client.get("/api/v1/openapi.json").json

    def call(self, method: str, url: str, body=None, status: int | str = "*", raw: str | None = None):
        kwargs = {"headers": self.headers, "status": status, "expect_errors": True}
        if raw is not None:
            response = self.client.request(url, method=method, body=raw.encode(), headers=self.headers,
                                           content_type="application/json", expect_errors=True)
            assert status == "*" or response.status_int == status, response.text
        elif body is not None:
            response = getattr(self.client, f"{method.lower()}_json")(url, body, **kwargs)
        else:
            response = getattr(self.client, method.lower())(url, **kwargs)
        self.check(method, url, response)
        return response

    def check(self, method: str, url: str, response) -> None:
        """The status must be documented for the operation, and the body match its schema."""
        path = url.split("?")[0]
        for template, operations in self.doc["paths"].items():
            if re.fullmatch(re.sub(r"\{\w+\}", r"[^/]+", template), path) and method.lower() in operations:
                operation = operations[method.lower()]
                break
        else:
            raise AssertionError(f"{method} {path} is not in openapi.json")
        documented = operation["responses"].get(str(response.status_int))
        assert documented, f"{method} {path} answered {response.status_int}, not documented"
        content = documented.get("content")
        if content is None:
            assert response.body == b""
            return
        schema = {**content["application/json"]["schema"], "components": self.doc["components"]}
        jsonschema.Draft202012Validator(schema).validate(response.json)


def user_with_token(level: int, site_ids=()) -> tuple[User, str]:
    user = User.create(username=f"api{level}_{User.select().count()}", password_hash="x", level=level)
    for site_id in site_ids:
        SiteAccess.create(user=user, site=site_id)
    token, _row = accounts.create_api_token(user, "test")
    return user, token


@pytest.fixture
def admin_api(app):
    _user, token = user_with_token(4)
    return Api(app, token)


def example() -> Site:
    return Site.get(Site.domain == "example.com")


def test_me_describes_the_token_owner(app):
    user, token = user_with_token(3)
    body = Api(app, token).call("GET", "/api/v1/me", status=200).json
    assert body["username"] == user.username and body["level"] == 3 and body["level_name"] == "analyst"
    assert "delete_sessions" in body["permissions"] and "manage_sites" not in body["permissions"]
    assert body["all_sites"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["created_at"])
    assert ApiToken.get(ApiToken.user == user).last_used_at is not None


def test_missing_and_revoked_tokens_are_401(app):
    _user, token = user_with_token(5)
    anonymous = Api(app, None)
    assert anonymous.call("GET", "/api/v1/me", status=401).json["error"] == "unauthenticated"
    assert Api(app, "uxw_not-a-real-token").call("GET", "/api/v1/sites", status=401).json["error"] == "invalid_token"
    ApiToken.delete().execute()
    assert Api(app, token).call("GET", "/api/v1/me", status=401).json["error"] == "invalid_token"


def test_create_site_with_domain_only(admin_api):
    response = admin_api.call("POST", "/api/v1/sites", {"domain": "https://New.Example.net/x"}, status=201)
    body = response.json
    assert body["domain"] == "new.example.net" and body["name"] == "new.example.net"
    assert body["timezone"] == "UTC" and body["settings"] == sites.default_tracking_settings()
    assert response.headers["Location"] == f"/api/v1/sites/{body['id']}"
    assert admin_api.call("GET", f"/api/v1/sites/{body['id']}", status=200).json == body


def test_create_site_with_everything(admin_api):
    body = admin_api.call("POST", "/api/v1/sites", {
        "domain": "full.example.net", "name": "Full", "timezone": "Asia/Tokyo",
        "settings": {"sample_percent": 10, "ignored_ips": ["10.*"], "record_keyboard": True},
    }, status=201).json
    stored = Site.get_by_id(body["id"])
    assert (stored.name, stored.timezone) == ("Full", "Asia/Tokyo")
    saved = sites.tracking_settings(stored)
    assert saved["sample_percent"] == 10 and saved["ignored_ips"] == ["10.*"] and saved["record_keyboard"] is True


@pytest.mark.parametrize(("body", "field"), [
    ({}, "domain"),
    ({"domain": "not a domain"}, "domain"),
    ({"domain": 42}, "domain"),
    ({"domain": "example.com"}, "domain"),  # taken
    ({"domain": "ok.example.net", "timezone": "Nowhere/City"}, "timezone"),
    ({"domain": "ok.example.net", "name": "x" * 201}, "name"),
    ({"domain": "ok.example.net", "name": ["list"]}, "name"),
    ({"domain": "ok.example.net", "settings": {"sample_percent": 101}}, "settings.sample_percent"),
    ({"domain": "ok.example.net", "settings": {"no_such_setting": 1}}, "settings.no_such_setting"),
    ({"domain": "ok.example.net", "settings": "all"}, "settings"),
    ({"domain": "ok.example.net", "colour": "red"}, "colour"),
    ({"domain": "ok.example.net", "name": "tab\there"}, "name"),
    ({"domain": "ok.example.net", "settings": {"ignored_ips": [{"a": 1}]}}, "settings.ignored_ips"),
    ({"domain": "ok.example.net", "settings": {"ignored_ips": "10.*"}}, "settings.ignored_ips"),
    ({"domain": "ok.example.net", "settings": {"record_sessions": "yes"}}, "settings.record_sessions"),
    ({"domain": "ok.example.net", "settings": {"sample_percent": True}}, "settings.sample_percent"),
    ({"domain": "ok.example.net", "settings": {"sample_percent": 1.5}}, "settings.sample_percent"),
    ({"domain": "ok.example.net", "settings": {"consent_text": 5}}, "settings.consent_text"),
    ({"domain": "ok.example.net", "settings": {"consent_text": "x" * 501}}, "settings.consent_text"),
])
def test_create_site_validation_is_422_naming_the_field(admin_api, body, field):
    before = Site.select().count()
    error = admin_api.call("POST", "/api/v1/sites", body, status=422).json
    assert error["error"] == "invalid" and error["field"] == field and error["detail"]
    assert Site.select().count() == before


def test_bad_json_and_non_object_are_400(admin_api):
    before = Site.select().count()
    assert admin_api.call("POST", "/api/v1/sites", raw="{nope", status=400).json["error"] == "invalid_json"
    assert admin_api.call("POST", "/api/v1/sites", raw='["example.org"]', status=400).json["error"] == "bad_request"
    assert Site.select().count() == before


def test_list_shows_only_granted_sites(app):
    hidden = sites.create_site("hidden.example.net")
    _user, token = user_with_token(0, [example().id])
    api = Api(app, token)
    items = api.call("GET", "/api/v1/sites", status=200).json["items"]
    assert [item["domain"] for item in items] == ["example.com"]
    assert api.call("GET", f"/api/v1/sites/{hidden.id}", status=404).json["error"] == "not_found"
    assert api.call("GET", "/api/v1/sites/999999", status=404).json["error"] == "not_found"
    admin_items = Api(app, user_with_token(4)[1]).call("GET", "/api/v1/sites", status=200).json["items"]
    assert {item["domain"] for item in admin_items} == {"example.com", "hidden.example.net"}


def test_low_levels_cannot_change_sites(app):
    _user, token = user_with_token(3, [example().id])
    api = Api(app, token)
    assert api.call("POST", "/api/v1/sites", {"domain": "x.example.net"}, status=403).json["error"] == "forbidden"
    api.call("PATCH", f"/api/v1/sites/{example().id}", {"name": "no"}, status=403)
    api.call("DELETE", f"/api/v1/sites/{example().id}", status=403)
    assert example().name == "example.com"


def test_patch_changes_only_what_is_sent(admin_api):
    site = example()
    body = admin_api.call("PATCH", f"/api/v1/sites/{site.id}",
                          {"name": "Main", "settings": {"respect_dnt": True}}, status=200).json
    assert body["name"] == "Main" and body["domain"] == "example.com"
    assert body["settings"]["respect_dnt"] is True and body["settings"]["record_sessions"] is True
    stored = Site.get_by_id(site.id)
    assert stored.name == "Main" and sites.tracking_settings(stored)["respect_dnt"] is True


def test_patch_with_one_bad_field_changes_nothing(admin_api):
    site = example()
    error = admin_api.call("PATCH", f"/api/v1/sites/{site.id}",
                           {"name": "Changed", "settings": {"sample_percent": "lots"}}, status=422).json
    assert error["field"] == "settings.sample_percent"
    stored = Site.get_by_id(site.id)
    assert stored.name == "example.com" and sites.tracking_settings(stored)["sample_percent"] == 100


def test_patch_domain_to_own_domain_is_fine_but_not_to_another(admin_api):
    other = sites.create_site("b.example.net")
    admin_api.call("PATCH", f"/api/v1/sites/{other.id}", {"domain": "b.example.net"}, status=200)
    assert admin_api.call("PATCH", f"/api/v1/sites/{other.id}", {"domain": "example.com"},
                          status=422).json["field"] == "domain"


def test_delete_site(admin_api):
    site = sites.create_site("gone.example.net")
    response = admin_api.call("DELETE", f"/api/v1/sites/{site.id}", status=204)
    assert response.body == b""
    assert Site.get_or_none(Site.id == site.id) is None
    admin_api.call("DELETE", f"/api/v1/sites/{site.id}", status=404)


def test_cookie_requests_need_the_csrf_header(admin_client):
    admin_client.post_json("/api/v1/sites", {"domain": "cookie.example.net"}, status=403)
    assert not Site.select().where(Site.domain == "cookie.example.net").exists()
    response = admin_client.post_json("/api/v1/sites", {"domain": "cookie.example.net"}, status=201,
                                      headers={"X-CSRF-Token": csrf_of(admin_client)})
    assert response.json["domain"] == "cookie.example.net"
    assert admin_client.get("/api/v1/me").json["username"] == "admin"


def test_unknown_api_paths_and_methods_answer_json(admin_api):
    missing = admin_api.client.get("/api/v1/nothing-here", headers=admin_api.headers, status=404)
    assert missing.json["error"] == "not_found"
    wrong = admin_api.client.put_json("/api/v1/sites", {}, headers=admin_api.headers, status=405)
    assert wrong.json["error"] == "method_not_allowed"


def test_tracked_name_is_returned_verbatim_as_json(admin_api):
    body = admin_api.call("POST", "/api/v1/sites", {"domain": "xss.example.net",
                                                    "name": "<script>alert(1)</script>"}, status=201)
    assert body.json["name"] == "<script>alert(1)</script>"
    assert body.content_type == "application/json"
