"""Users pages and the own-account page: create, change level and sites, reset password, delete,
with the level rules (admins never touch root users, nobody demotes or deletes themselves,
the last root stays)."""

from __future__ import annotations

import re

import pytest
import webtest

from core import accounts, sites
from core.models import ApiToken, LoginSession, Site, SiteAccess, User
from core.permissions import LEVEL_NAMES
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, csrf_of, login

PASSWORD = "another-pass-7"


def as_user(app, level: int, name: str | None = None) -> tuple[webtest.TestApp, User]:
    user = accounts.create_user(name or f"lvl{level}_{User.select().count()}", PASSWORD, level)
    client = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "203.0.113.9"})
    assert login(client, user.username, PASSWORD).status_int == 303
    return client, user


def field_error(page, field: str) -> str:
    match = re.search(rf'data-field="{re.escape(field)}">([^<]+)<', page.text)
    assert match, f"no error shown for {field}: {page.text[:3000]}"
    return match.group(1)


def post(client, url: str, data: dict, status: int):
    return client.post(url, {"csrf_token": csrf_of(client), **data}, status=status)


def test_list_shows_levels_and_grants(app, admin_client):
    site = Site.get(Site.domain == "example.com")
    accounts.create_user("viewer", PASSWORD, 0, [site.id])
    page = admin_client.get("/settings/users")
    row = page.html.select_one('tr[data-user="viewer"]').text
    assert "0 · read-only" in row and "example.com" in row
    assert "all sites" in page.html.select_one(f'tr[data-user="{ADMIN_USER}"]').text
    # The create form offers every level to root (the installer's admin is root).
    options = [o["value"] for o in page.html.select("#user-create-form select[name=level] option")]
    assert options == [str(level) for level in sorted(LEVEL_NAMES, reverse=True)]


def test_create_user_with_sites_and_they_can_log_in(app, admin_client):
    site = Site.get(Site.domain == "example.com")
    other = sites.create_site("other.example.net")
    form = admin_client.get("/settings/users").forms["user-create-form"]
    form["username"] = "ana"
    form["password"] = PASSWORD
    form["level"] = "3"
    form.get("sites", index=0).checked = True  # sites are listed by domain: example.com first
    form.submit(status=303)
    ana = User.get(User.username == "ana")
    assert ana.level == 3
    assert [a.site_id for a in SiteAccess.select().where(SiteAccess.user == ana)] == [site.id]
    client = webtest.TestApp(app)
    assert login(client, "ana", PASSWORD).status_int == 303
    home = client.get("/")
    assert "example.com" in home.text and "other.example.net" not in home.text
    client.get(f"/sites/{other.id}", status=404)


def test_admin_level_users_get_no_grants(admin_client):
    site = Site.get(Site.domain == "example.com")
    post(admin_client, "/settings/users", {"username": "boss", "password": PASSWORD, "level": "4",
                                           "sites": str(site.id)}, 303)
    assert SiteAccess.select().where(SiteAccess.user == User.get(User.username == "boss")).count() == 0


@pytest.mark.parametrize(("data", "field"), [
    ({"username": "bad name!", "password": PASSWORD, "level": "0"}, "username"),
    ({"username": ADMIN_USER, "password": PASSWORD, "level": "0"}, "username"),
    ({"username": "shorty", "password": "short", "level": "0"}, "password"),
    ({"username": "lev", "password": PASSWORD, "level": "9"}, "level"),
    ({"username": "lev", "password": PASSWORD, "level": "x"}, "level"),
    ({"username": "lev", "password": PASSWORD, "level": "0", "sites": "999"}, "sites"),
    ({"username": "lev", "password": PASSWORD, "level": "0", "sites": "abc"}, "sites"),
])
def test_create_user_bad_input_is_422_and_stores_nothing(admin_client, data, field):
    before = User.select().count()
    page = post(admin_client, "/settings/users", data, 422)
    assert field_error(page, field)
    assert User.select().count() == before


def test_create_user_needs_csrf(admin_client):
    admin_client.post("/settings/users", {"username": "sneaky", "password": PASSWORD, "level": "5"}, status=403)
    assert not User.select().where(User.username == "sneaky").exists()


def test_admin_cannot_create_edit_or_delete_root(app):
    client, _admin = as_user(app, 4)
    root = User.get(User.username == ADMIN_USER)
    page = client.get("/settings/users")
    assert "5" not in [o["value"] for o in page.html.select("#user-create-form select[name=level] option")]
    assert f'href="/settings/users/{root.id}"' not in page.text
    post(client, "/settings/users", {"username": "newroot", "password": PASSWORD, "level": "5"}, 403)
    assert not User.select().where(User.username == "newroot").exists()
    post(client, f"/settings/users/{root.id}", {"level": "0"}, 403)
    post(client, f"/settings/users/{root.id}/password", {"password": "hijacked-123"}, 403)
    post(client, f"/settings/users/{root.id}/delete", {}, 403)
    root = User.get_by_id(root.id)
    assert root.level == 5 and accounts.authenticate(ADMIN_USER, ADMIN_PASSWORD) is not None
    # ... and cannot promote anyone to root.
    _c, analyst = as_user(app, 3)
    post(client, f"/settings/users/{analyst.id}", {"level": "5"}, 403)
    assert User.get_by_id(analyst.id).level == 3


def test_admin_edits_level_and_sites(app):
    client, _admin = as_user(app, 4)
    site = Site.get(Site.domain == "example.com")
    _c, target = as_user(app, 0)
    form = client.get(f"/settings/users/{target.id}").forms["user-access-form"]
    form["level"] = "3"
    form.get("sites", index=0).checked = True
    form.submit(status=303)
    assert User.get_by_id(target.id).level == 3
    assert [a.site_id for a in SiteAccess.select().where(SiteAccess.user == target)] == [site.id]
    form = client.get(f"/settings/users/{target.id}").forms["user-access-form"]
    form.get("sites", index=0).checked = False
    form.submit(status=303)
    assert SiteAccess.select().where(SiteAccess.user == target).count() == 0


def test_nobody_demotes_or_deletes_themselves_and_last_root_stays(admin_client):
    me = User.get(User.username == ADMIN_USER)
    page = post(admin_client, f"/settings/users/{me.id}", {"level": "4"}, 422)
    assert "own access level" in field_error(page, "level")
    page = post(admin_client, f"/settings/users/{me.id}/delete", {}, 422)
    assert "your own account" in field_error(page, "delete")
    assert User.get_by_id(me.id).level == 5
    assert accounts.count_roots() == 1


def test_root_may_demote_another_root_but_not_the_last(app, admin_client):
    second = accounts.create_user("root2", PASSWORD, 5)
    post(admin_client, f"/settings/users/{second.id}", {"level": "4"}, 303)
    assert User.get_by_id(second.id).level == 4
    # One root left. The self rules already stop its owner; the last-root rule also stops a
    # root whose own account vanished meanwhile (a concurrent delete), so test it directly.
    from core.dashboard import user_rules

    me = User.get(User.username == ADMIN_USER)
    ghost = User(id=10**6, username="ghost", level=5)
    with pytest.raises(accounts.AccountError, match="last root"):
        user_rules.delete_user(ghost, me)
    with pytest.raises(accounts.AccountError, match="last root"):
        user_rules.update_user(ghost, me, 4, [])
    assert User.get_by_id(me.id).level == 5


def test_reset_password_ends_their_logins(app, admin_client):
    client, target = as_user(app, 0)
    assert LoginSession.select().where(LoginSession.user == target).count() == 1
    page = post(admin_client, f"/settings/users/{target.id}/password", {"password": "x"}, 422)
    assert "at least 8" in field_error(page, "password")
    post(admin_client, f"/settings/users/{target.id}/password", {"password": "brand-new-pass"}, 303)
    assert LoginSession.select().where(LoginSession.user == target).count() == 0
    client.get("/", status=302)
    assert accounts.authenticate(target.username, "brand-new-pass") is not None


def test_own_password_reset_goes_through_account_page(admin_client):
    me = User.get(User.username == ADMIN_USER)
    page = post(admin_client, f"/settings/users/{me.id}/password", {"password": "brand-new-pass"}, 422)
    assert "account page" in field_error(page, "password")


def test_delete_user_removes_tokens_and_access(app, admin_client):
    site = Site.get(Site.domain == "example.com")
    target = accounts.create_user("leaver", PASSWORD, 0, [site.id])
    accounts.create_api_token(target, "script")
    form = admin_client.get(f"/settings/users/{target.id}").forms["user-delete-form"]
    form.submit(status=303)
    assert User.get_or_none(User.id == target.id) is None
    assert ApiToken.select().where(ApiToken.user == target.id).count() == 0
    assert SiteAccess.select().where(SiteAccess.user == target.id).count() == 0
    admin_client.get(f"/settings/users/{target.id}", status=404)


def test_user_pages_forbidden_below_admin(app):
    client, _user = as_user(app, 3)
    client.get("/settings/users", status=403)
    post(client, "/settings/users", {"username": "x", "password": PASSWORD, "level": "0"}, 403)
    assert "/settings/users" not in client.get("/").text  # not in the menu either


def test_usernames_are_escaped(admin_client):
    User.create(username="<b>bold</b>", password_hash="x", level=0)  # not creatable via the form
    page = admin_client.get("/settings/users")
    assert "<b>bold</b>" not in page.text and "&lt;b&gt;bold&lt;/b&gt;" in page.text


# --- own account ---------------------------------------------------------------------------

def test_change_own_password_keeps_this_login_and_ends_others(app):
    client, me = as_user(app, 0)
    other_device = webtest.TestApp(app)
    login(other_device, me.username, PASSWORD)
    form = client.get("/settings/account").forms["account-password-form"]
    form["current_password"] = PASSWORD
    form["new_password"] = form["new_password2"] = "fresh-password-1"
    page = form.submit(status=303).follow()
    assert "Password changed" in page.text
    client.get("/", status=200)
    other_device.get("/", status=302)
    assert accounts.authenticate(me.username, "fresh-password-1") is not None


@pytest.mark.parametrize(("current", "new", "again", "field"), [
    ("wrong-password", "fresh-password-1", "fresh-password-1", "current_password"),
    (PASSWORD, "fresh-password-1", "fresh-password-2", "new_password2"),
    (PASSWORD, "short", "short", "new_password"),
])
def test_change_own_password_rejects_bad_input(app, current, new, again, field):
    client, me = as_user(app, 0)
    page = post(client, "/settings/account", {"current_password": current, "new_password": new,
                                              "new_password2": again}, 422)
    assert field_error(page, field)
    assert accounts.authenticate(me.username, PASSWORD) is not None


def test_account_change_needs_csrf(app):
    client, me = as_user(app, 0)
    client.post("/settings/account", {"current_password": PASSWORD, "new_password": "fresh-password-1",
                                      "new_password2": "fresh-password-1"}, status=403)
    assert accounts.authenticate(me.username, PASSWORD) is not None
