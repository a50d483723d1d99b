"""Login, logout, CSRF and throttling through the real HTTP layer."""

import re

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, csrf_of, login


def test_dashboard_redirects_to_login_when_anonymous(client):
    response = client.get("/", status=302)
    assert response.location.endswith("/login?next=/")


def test_login_sets_httponly_samesite_cookie_and_shows_sites(client):
    response = login(client)
    assert response.status_int == 303
    cookie = next(h for n, h in response.headerlist if n == "Set-Cookie" and h.startswith("uxwizz_session="))
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Secure" not in cookie
    page = client.get("/")
    assert "example.com" in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]


def test_wrong_password_is_401_with_message(client):
    response = login(client, ADMIN_USER, "wrong-password", status=401)
    assert "Wrong user name or password" in response.text
    assert "uxwizz_session" not in client.cookies


def test_login_without_csrf_cookie_is_refused(client):
    response = client.post("/login", {"username": ADMIN_USER, "password": ADMIN_PASSWORD,
                                      "csrf_token": "forged"}, status=403)
    assert "expired" in response.text


def test_throttle_after_repeated_failures(client):
    for _ in range(5):
        login(client, ADMIN_USER, "nope-nope", status=401)
    blocked = login(client, ADMIN_USER, ADMIN_PASSWORD, status=429)
    assert int(blocked.headers["Retry-After"]) > 0


def test_state_change_without_csrf_token_is_refused(admin_client):
    admin_client.post("/logout", {}, status=403)
    token = csrf_of(admin_client)
    admin_client.post("/logout", {"csrf_token": token}, status=303)
    admin_client.get("/", status=302)


def test_open_redirect_is_refused(client):
    form = client.get("/login?next=//evil.example/").forms["login-form"]
    form["username"], form["password"] = ADMIN_USER, ADMIN_PASSWORD
    assert form.submit(status=303).location.endswith("/") and "evil" not in form.submit().location


def test_logout_ends_the_server_side_session(admin_client):
    cookie = admin_client.cookies["uxwizz_session"]
    admin_client.post("/logout", {"csrf_token": csrf_of(admin_client)})
    admin_client.set_cookie("uxwizz_session", cookie)  # a stolen copy no longer works
    admin_client.get("/", status=302)
    assert re.search("login", admin_client.get("/login").text)
