"""API tokens page: create (shown once), list with prefix and times, revoke; admins see others'."""

from __future__ import annotations

import re

import webtest

from core import accounts
from core.models import ApiToken, User
from tests.conftest import ADMIN_USER, csrf_of


def as_user(app, level: int) -> tuple[webtest.TestApp, User]:
    user = User.create(username=f"tok{level}_{User.select().count()}", password_hash="x", level=level)
    token, _session = accounts.start_login_session(user, 1)
    client = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "203.0.113.9"})
    client.set_cookie("uxwizz_session", token)
    return client, user


def test_create_shows_token_once_and_it_works(app):
    client, user = as_user(app, 0)
    form = client.get("/settings/tokens").forms["token-create-form"]
    form["name"] = "reporting"
    page = form.submit(status=201)
    assert page.headers["Cache-Control"] == "no-store"
    token = page.html.select_one("#token-value").text
    assert re.fullmatch(r"uxw_[A-Za-z0-9_-]{40,}", token)
    row = ApiToken.get(ApiToken.user == user)
    assert row.name == "reporting" and row.prefix == token[:10] and token not in row.token_hash
    me = webtest.TestApp(app).get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json
    assert me["username"] == user.username
    listing = client.get("/settings/tokens")
    assert token not in listing.text and row.prefix in listing.text
    assert "reporting" in listing.html.select_one(f'tr[data-token="{row.id}"]').text


def test_last_used_is_shown(app):
    client, user = as_user(app, 0)
    token, row = accounts.create_api_token(user, "cron")
    assert "never" in client.get("/settings/tokens").html.select_one(f'tr[data-token="{row.id}"]').text
    webtest.TestApp(app).get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    cells = client.get("/settings/tokens").html.select_one(f'tr[data-token="{row.id}"]').text
    assert "never" not in cells and " UTC" in cells


def test_token_name_too_long_is_422_and_stores_nothing(app):
    client, user = as_user(app, 0)
    page = client.post("/settings/tokens", {"csrf_token": csrf_of(client), "name": "n" * 101}, status=422)
    assert page.html.select_one('[data-field="name"]').text.startswith("Token name")
    assert ApiToken.select().where(ApiToken.user == user).count() == 0


def test_create_and_revoke_need_csrf(app):
    client, user = as_user(app, 0)
    client.post("/settings/tokens", {"name": "x"}, status=403)
    assert ApiToken.select().count() == 0
    _token, row = accounts.create_api_token(user, "x")
    client.post(f"/settings/tokens/{row.id}/revoke", {}, status=403)
    assert ApiToken.get_or_none(ApiToken.id == row.id) is not None


def test_revoke_own_token_stops_it(app):
    client, user = as_user(app, 0)
    token, row = accounts.create_api_token(user, "old")
    client.post(f"/settings/tokens/{row.id}/revoke", {"csrf_token": csrf_of(client)}, status=303)
    assert ApiToken.get_or_none(ApiToken.id == row.id) is None
    webtest.TestApp(app).get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}, status=401)


def test_users_cannot_see_or_revoke_others_tokens(app):
    client, _user = as_user(app, 3)
    _other_client, other = as_user(app, 0)
    _token, row = accounts.create_api_token(other, "theirs")
    assert "theirs" not in client.get("/settings/tokens").text
    client.post(f"/settings/tokens/{row.id}/revoke", {"csrf_token": csrf_of(client)}, status=404)
    assert ApiToken.get_or_none(ApiToken.id == row.id) is not None


def test_admin_sees_and_revokes_others_but_not_roots(app):
    client, _admin = as_user(app, 4)
    _c, other = as_user(app, 0)
    _t, theirs = accounts.create_api_token(other, "theirs")
    root = User.get(User.username == ADMIN_USER)
    _t, roots = accounts.create_api_token(root, "root-token")
    page = client.get("/settings/tokens")
    assert other.username in page.html.select_one(f'tr[data-token="{theirs.id}"]').text
    assert page.html.select_one(f'tr[data-token="{roots.id}"]') is None
    client.post(f"/settings/tokens/{roots.id}/revoke", {"csrf_token": csrf_of(client)}, status=404)
    assert ApiToken.get_or_none(ApiToken.id == roots.id) is not None
    client.post(f"/settings/tokens/{theirs.id}/revoke", {"csrf_token": csrf_of(client)}, status=303)
    assert ApiToken.get_or_none(ApiToken.id == theirs.id) is None


def test_root_sees_every_token(app, admin_client):
    _c, other = as_user(app, 4)
    _t, row = accounts.create_api_token(other, "admin-script")
    page = admin_client.get("/settings/tokens")
    assert page.html.select_one(f'tr[data-token="{row.id}"]') is not None


def test_token_names_are_escaped(app):
    client, user = as_user(app, 0)
    accounts.create_api_token(user, "<img src=x onerror=alert(1)>")
    page = client.get("/settings/tokens")
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
