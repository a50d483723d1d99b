"""REST API /api/v1/users: the same level rules as the users page, responses checked against openapi.json."""

from __future__ import annotations

import pytest

from core import accounts, sites
from core.models import ApiToken, LoginSession, Site, SiteAccess, User
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.functional.test_api_sites import Api, user_with_token

PASSWORD = "api-user-pass-1"


@pytest.fixture
def root_api(app):
    token, _row = accounts.create_api_token(User.get(User.username == ADMIN_USER), "root")
    return Api(app, token)


def example() -> Site:
    return Site.get(Site.domain == "example.com")


def test_list_users_with_grants(app, root_api):
    viewer = accounts.create_user("viewer", PASSWORD, 0, [example().id])
    items = {u["username"]: u for u in root_api.call("GET", "/api/v1/users", status=200).json["items"]}
    assert items["viewer"]["sites"] == [example().id] and items["viewer"]["level_name"] == "read-only"
    assert items[ADMIN_USER]["sites"] is None and items[ADMIN_USER]["level"] == 5
    assert root_api.call("GET", f"/api/v1/users/{viewer.id}", status=200).json == items["viewer"]


def test_create_user_and_log_in(app, root_api):
    body = root_api.call("POST", "/api/v1/users", {"username": "ana", "password": PASSWORD, "level": 3,
                                                   "sites": [example().id]}, status=201).json
    assert body["level"] == 3 and body["sites"] == [example().id]
    assert accounts.authenticate("ana", PASSWORD).id == body["id"]


@pytest.mark.parametrize(("body", "field"), [
    ({"password": PASSWORD}, "username"),
    ({"username": "bad name", "password": PASSWORD}, "username"),
    ({"username": ADMIN_USER, "password": PASSWORD}, "username"),
    ({"username": "x1"}, "password"),
    ({"username": "x1", "password": "short"}, "password"),
    ({"username": "x1", "password": PASSWORD, "level": 6}, "level"),
    ({"username": "x1", "password": PASSWORD, "level": "3"}, "level"),
    ({"username": "x1", "password": PASSWORD, "sites": [999999]}, "sites"),
    ({"username": "x1", "password": PASSWORD, "sites": "all"}, "sites"),
    ({"username": "x1", "password": PASSWORD, "shoe_size": 43}, "shoe_size"),
])
def test_create_user_validation(root_api, body, field):
    before = User.select().count()
    error = root_api.call("POST", "/api/v1/users", body, status=422).json
    assert error["field"] == field and error["error"] == "invalid"
    assert User.select().count() == before


def test_admin_cannot_touch_root_users(app):
    _admin, token = user_with_token(4)
    api = Api(app, token)
    root = User.get(User.username == ADMIN_USER)
    api.call("POST", "/api/v1/users", {"username": "r2", "password": PASSWORD, "level": 5}, status=403)
    api.call("PATCH", f"/api/v1/users/{root.id}", {"level": 0}, status=403)
    api.call("PATCH", f"/api/v1/users/{root.id}", {"password": "taken-over-1"}, status=403)
    api.call("DELETE", f"/api/v1/users/{root.id}", status=403)
    assert User.get_by_id(root.id).level == 5
    assert accounts.authenticate(ADMIN_USER, ADMIN_PASSWORD) is not None
    assert not User.select().where(User.username == "r2").exists()


def test_patch_level_sites_and_password(app, root_api):
    other = sites.create_site("other.example.net")
    user = accounts.create_user("pat", PASSWORD, 0, [example().id])
    accounts.start_login_session(user, 1)
    body = root_api.call("PATCH", f"/api/v1/users/{user.id}", {"level": 3, "sites": [other.id]}, status=200).json
    assert body["level"] == 3 and body["sites"] == [other.id]
    assert LoginSession.select().where(LoginSession.user == user).count() == 1  # no password change
    root_api.call("PATCH", f"/api/v1/users/{user.id}", {"password": "new-password-9"}, status=200)
    assert accounts.authenticate("pat", "new-password-9") is not None
    assert LoginSession.select().where(LoginSession.user == user).count() == 0
    body = root_api.call("PATCH", f"/api/v1/users/{user.id}", {"level": 4}, status=200).json
    assert body["sites"] is None and SiteAccess.select().where(SiteAccess.user == user).count() == 0


def test_patch_with_a_bad_password_changes_nothing(root_api):
    user = accounts.create_user("pat", PASSWORD, 0)
    error = root_api.call("PATCH", f"/api/v1/users/{user.id}", {"level": 3, "password": "short"}, status=422).json
    assert error["field"] == "password"
    assert User.get_by_id(user.id).level == 0


def test_self_rules(root_api):
    me = User.get(User.username == ADMIN_USER)
    assert root_api.call("PATCH", f"/api/v1/users/{me.id}", {"level": 4}, status=422).json["field"] == "level"
    assert root_api.call("PATCH", f"/api/v1/users/{me.id}", {"password": "new-password-9"},
                         status=422).json["field"] == "password"
    assert root_api.call("DELETE", f"/api/v1/users/{me.id}", status=422).json["field"] == "user_id"
    assert User.get_by_id(me.id).level == 5 and accounts.authenticate(ADMIN_USER, ADMIN_PASSWORD)


def test_delete_user_ends_their_tokens(app, root_api):
    user, token = user_with_token(0)
    root_api.call("DELETE", f"/api/v1/users/{user.id}", status=204)
    assert User.get_or_none(User.id == user.id) is None and ApiToken.select().where(ApiToken.user == user.id).count() == 0
    Api(app, token).call("GET", "/api/v1/me", status=401)
    root_api.call("GET", f"/api/v1/users/{user.id}", status=404)


def test_below_admin_is_403(app):
    _user, token = user_with_token(3)
    api = Api(app, token)
    assert api.call("GET", "/api/v1/users", status=403).json["error"] == "forbidden"
    api.call("POST", "/api/v1/users", {"username": "x", "password": PASSWORD}, status=403)
