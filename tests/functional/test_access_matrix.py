"""Every route of the built app × every access level: the access rules hold everywhere.

Routes are enumerated from the installed app (`app._wsgi.routes`), so routes added later are
covered without touching this file. Expectations come from each route's declared permission and
core.permissions, never from a hand-written list:
  - every route declares a known permission;
  - levels the permission allows are not refused (no 401/403, no redirect to login) and do not crash (500);
  - lower levels get 403; anonymous users get a redirect to /login (pages) or 401 (/api/);
  - with a site the user is not granted (levels below ALL_SITES_LEVEL), allowed levels get 404;
  - /api/ routes behave the same with `Authorization: Bearer` tokens; a bad token gets 401;
  - cookie requests that change state are refused (403) without the CSRF token.
Each request gets fresh objects for its path arguments (a new site, user, token, ...), so routes
that delete or change things cannot disturb the next request. Paths served outside Bottle
(`ctx.fast_paths`, such as POST /api/collect) are not routes and are tested by their owners.

A route whose path argument cannot be filled fails with a message: add a filler below.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import webtest

from core import accounts
from core.dashboard.access import PRELOGIN_CSRF_COOKIE, SESSION_COOKIE, SPECIAL
from core.models import ApiToken, Session, Site, SiteAccess, User
from core.models.experiments import AbTest, Goal
from core.permissions import ALL_SITES_LEVEL, LEVEL_NAMES, PERMISSIONS, allows

_ARG = re.compile(r"<([A-Za-z_]\w*)(?::[^>]*)?>")
_counter = itertools.count(1)
SAFE = {"GET", "HEAD", "OPTIONS"}
ACCESS_ERROR_CODES = {"unauthenticated", "invalid_token", "forbidden", "csrf"}


@dataclass
class Fill:
    """What a filler knows: who asks, whether objects go on a granted site, and the site made so far
    (objects of one URL share it: /sites/<site_id>/goals/<goal_id> gets a goal of that site)."""

    user: User | None
    granted: bool = True
    site: Site | None = None


NOW = dt.datetime(2026, 1, 1, 12)


def _fresh_site(fill: Fill) -> Site:
    if fill.site is None:
        n = next(_counter)
        fill.site = Site.create(domain=f"matrix{n}.example.net", name=f"Matrix {n}")
        if fill.user is not None and fill.granted:
            SiteAccess.create(user=fill.user, site=fill.site)
    return fill.site


def _fresh_session(fill: Fill) -> Session:
    return Session.create(site=_fresh_site(fill), token=f"m{next(_counter)}", started_at=NOW, last_seen_at=NOW)


def _fresh_goal(fill: Fill) -> Goal:
    return Goal.create(site=_fresh_site(fill), name="Matrix goal", kind="page", path="/thanks", created_at=NOW)


def _fresh_ab_test(fill: Fill) -> AbTest:
    return AbTest.create(site=_fresh_site(fill), name="Matrix test", created_at=NOW)


def _fresh_user(fill: Fill) -> User:
    return User.create(username=f"target{next(_counter)}", password_hash="x", level=0)


def _own_token(fill: Fill) -> ApiToken:
    owner = fill.user or _fresh_user(fill)
    return accounts.create_api_token(owner, "matrix target")[1]


@dataclass(frozen=True)
class Filler:
    make: Callable[[Fill], Any]
    site_scoped: bool = False  # True: "not granted" variants of this argument must answer 404


# Path argument name -> how to make a value for one request. Add yours when you add a route.
FILLERS: dict[str, Filler] = {
    "site_id": Filler(lambda f: _fresh_site(f).id, site_scoped=True),
    "session_id": Filler(lambda f: _fresh_session(f).id, site_scoped=True),
    "goal_id": Filler(lambda f: _fresh_goal(f).id, site_scoped=True),
    "test_id": Filler(lambda f: _fresh_ab_test(f).id, site_scoped=True),
    "user_id": Filler(lambda f: _fresh_user(f).id),
    "token_id": Filler(lambda f: _own_token(f).id),
    "path": Filler(lambda f: "css/app.css"),
    "domain": Filler(lambda f: _fresh_site(f).domain),
    # Recordings: a content hash, a share token, a share link id (unknown ones answer 404).
    "digest": Filler(lambda f: "0" * 64),
    "token": Filler(lambda f: "no-such-share-token"),
    "share_id": Filler(lambda f: 1),
    # Statistics: a breakdown dimension, a saved segment id (unknown ones are refused politely).
    "dimension": Filler(lambda f: "country"),
    "segment_id": Filler(lambda f: 1),
    "tag": Filler(lambda f: "no-such-tag"),
}
# (rule, argument) -> filler, for names that mean different things on different routes.
RULE_FILLERS: dict[tuple[str, str], Filler] = {
    (r"/server/<name:re:ust[a-z0-9-]*\.min\.js(?:\.map)?>", "name"): Filler(lambda f: "ust.min.js"),
    ("/server/ab/<name>", "name"): Filler(lambda f: _fresh_site(f).domain + ".ab.js"),
}


@dataclass
class Identity:
    label: str
    user: User | None
    token: str | None = None  # API token text


def filler_for(rule: str, name: str) -> Filler:
    filler = RULE_FILLERS.get((rule, name)) or FILLERS.get(name)
    if filler is None:
        raise LookupError(
            f"route {rule!r} has a path argument <{name}> the access matrix cannot fill: add a filler "
            f"for {name!r} to FILLERS (or RULE_FILLERS) in tests/functional/test_access_matrix.py"
        )
    return filler


def build_url(rule: str, fill: Fill) -> str:
    return _ARG.sub(lambda m: str(filler_for(rule, m.group(1)).make(fill)), rule)


def is_site_scoped(rule: str) -> bool:
    return any(filler_for(rule, name).site_scoped for name in _ARG.findall(rule))


def cookie_client(app, user: User) -> tuple[webtest.TestApp, str]:
    """A client with a fresh login session of `user` (fresh each time: /logout may end it)."""
    token, session = accounts.start_login_session(user, 1)
    client = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "198.51.100.7"})
    client.set_cookie(SESSION_COOKIE, token)
    return client, session.csrf_token


def send(client: webtest.TestApp, method: str, url: str, *, api: bool, csrf: str | None,
         headers: dict[str, str] | None = None) -> webtest.TestResponse:
    headers = dict(headers or {})
    if method in SAFE:
        return client.request(url, method=method, headers=headers, expect_errors=True)
    if csrf:
        headers["X-CSRF-Token"] = csrf
    if api:
        return client.request(url, method=method, body=b"{}", headers=headers,
                              content_type="application/json", expect_errors=True)
    body = f"csrf_token={csrf}".encode() if csrf else b""
    return client.request(url, method=method, body=body, headers=headers,
                          content_type="application/x-www-form-urlencoded", expect_errors=True)


def denied_by_access_check(response: webtest.TestResponse) -> bool:
    """True when the access plugin (not the handler) refused: login redirect or its error codes."""
    if response.status_int in (301, 302, 303) and "/login?next=" in response.headers.get("Location", ""):
        return True
    if response.status_int in (401, 403):
        if response.content_type == "application/json":
            return response.json.get("error") in ACCESS_ERROR_CODES
        return True
    return False


def describe(identity: Identity, method: str, url: str, response: webtest.TestResponse) -> str:
    return f"{identity.label}: {method} {url} -> {response.status} {response.text[:120]!r}"


def test_every_route_declares_a_known_permission(app):
    for route in app._wsgi.routes:
        permission = route.config.get("permission")
        assert permission is not None, f"{route.method} {route.rule} declares no permission="
        assert permission in PERMISSIONS or permission in SPECIAL, f"{route.method} {route.rule}: {permission!r}"


def test_every_argument_of_every_route_can_be_filled(app):
    problems = []
    for route in app._wsgi.routes:
        for name in _ARG.findall(route.rule):
            try:
                filler_for(route.rule, name)
            except LookupError as exc:
                problems.append(str(exc))
    assert not problems, "\n".join(problems)


def run_matrix(app, only: Callable[[Any], bool] = lambda route: True) -> tuple[list[str], int]:
    """(problems found, checks made) over every route of the app (or those `only` keeps)."""
    run = next(_counter)
    users = {level: User.create(username=f"matrix{run}_{LEVEL_NAMES[level]}", password_hash="x", level=level)
             for level in LEVEL_NAMES}
    tokens = {level: accounts.create_api_token(user, "matrix")[0] for level, user in users.items()}
    problems: list[str] = []
    checked = 0

    def expect(ok: bool, identity: Identity, method: str, url: str, response: webtest.TestResponse,
               why: str) -> None:
        nonlocal checked
        checked += 1
        if not ok:
            problems.append(f"{why} — {describe(identity, method, url, response)}")

    for route in filter(only, app._wsgi.routes):
        method = "GET" if route.method == "ANY" else route.method.upper()
        if method == "HEAD":
            continue
        rule, permission = route.rule, route.config["permission"]
        api = rule.startswith("/api/")
        site_scoped = is_site_scoped(rule)

        def allowed(level: int) -> bool:
            return permission in SPECIAL or allows(level, permission)  # noqa: B023

        # Anonymous.
        anon = Identity("anonymous", None)
        url = build_url(rule, Fill(None))
        client = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "198.51.100.7"})
        if permission == "public":
            # Pre-login forms carry the double-submit token; the handler's answer is its own business.
            client.set_cookie(PRELOGIN_CSRF_COOKIE, "matrix-csrf")
            response = send(client, method, url, api=api, csrf="matrix-csrf")
            expect(not denied_by_access_check(response) or rule == "/login" and method == "POST",
                   anon, method, url, response, "public route refused an anonymous request")
            expect(response.status_int != 500, anon, method, url, response, "server error")
            continue
        response = send(client, method, url, api=api, csrf=None)
        if api:
            expect(response.status_int == 401 and response.json.get("error") == "unauthenticated",
                   anon, method, url, response, "anonymous API request not answered 401")
            bad = send(client, method, url, api=True, csrf=None, headers={"Authorization": "Bearer uxw_forged"})
            expect(bad.status_int == 401 and bad.json.get("error") == "invalid_token",
                   Identity("bad token", None), method, url, bad, "forged token not answered 401")
        else:
            expect(response.status_int == 302 and "/login?next=" in response.headers.get("Location", ""),
                   anon, method, url, response, "anonymous page request not redirected to /login")

        for level, user in users.items():
            ways: list[tuple[str, Callable[[], tuple[webtest.TestApp, str | None, dict[str, str]]]]] = [
                ("cookie", lambda user=user: (*cookie_client(app, user), {})),
            ]
            if api:
                ways.append(("bearer", lambda level=level: (
                    webtest.TestApp(app), None, {"Authorization": f"Bearer {tokens[level]}"})))
            for how, connect in ways:
                who = Identity(f"level {level} ({LEVEL_NAMES[level]}) by {how}", user)
                client, csrf, headers = connect()
                url = build_url(rule, Fill(user))
                response = send(client, method, url, api=api, csrf=csrf, headers=headers)
                if allowed(level):
                    expect(not denied_by_access_check(response) and response.status_int not in (401, 403),
                           who, method, url, response, "allowed level was refused")
                    expect(response.status_int != 500, who, method, url, response, "server error")
                else:
                    expect(response.status_int == 403, who, method, url, response, "lower level not refused with 403")
                if allowed(level) and site_scoped and level < ALL_SITES_LEVEL:
                    client, csrf, headers = connect()
                    url = build_url(rule, Fill(user, granted=False))
                    response = send(client, method, url, api=api, csrf=csrf, headers=headers)
                    expect(response.status_int == 404, who, method, url, response,
                           "a site the user is not granted did not answer 404")
                if allowed(level) and how == "cookie" and method not in SAFE:
                    client, _csrf, headers = connect()
                    url = build_url(rule, Fill(user))
                    response = send(client, method, url, api=api, csrf=None, headers=headers)
                    expect(response.status_int == 403 and (not api or response.json.get("error") == "csrf"),
                           who, method, url, response, "cookie request without CSRF token not refused")

    return problems, checked


def test_access_matrix(app):
    problems, checked = run_matrix(app)
    assert not problems, f"{len(problems)} of {checked} access checks failed:\n" + "\n".join(problems)
    assert checked > 300  # the matrix really ran over the routes


def test_ids_too_large_for_the_database_are_404_not_500(app):
    """`<x:int>` accepts at most 18 digits: a 20-digit id would overflow SQLite's INTEGER."""
    user = User.create(username="bigid", password_hash="x", level=5)
    token = accounts.create_api_token(user, "bigid")[0]
    client = webtest.TestApp(app)
    int_routes = [r for r in app._wsgi.routes if re.search(r"<\w+:int>", r.rule)]
    assert int_routes
    for route in int_routes:
        url = re.sub(r"<\w+:int>", "99999999999999999999", route.rule)
        url = _ARG.sub(lambda m, rule=route.rule: str(filler_for(rule, m.group(1)).make(Fill(user))), url)
        response = send(client, route.method, url, api=True, csrf=None,
                        headers={"Authorization": f"Bearer {token}"})
        assert response.status_int == 404, f"{route.method} {url} -> {response.status}"


def test_matrix_catches_broken_routes(app):
    """The matrix is only worth something if it fails: plant three faulty routes and see it report each."""
    import bottle

    bottle_app = app._wsgi
    bottle_app.route("/matrix-selftest/refuses", "GET", lambda: bottle.HTTPError(403, "no"), permission="view")
    bottle_app.route("/api/v1/matrix-selftest/<session_id:int>", "GET", lambda session_id: {"ok": True},
                     permission="view")  # forgets to check the session's site
    problems, _checked = run_matrix(app, only=lambda route: "matrix-selftest" in route.rule)
    refused = [p for p in problems if "/matrix-selftest/refuses" in p]
    assert refused and all("allowed level was refused" in p for p in refused)
    assert len(refused) == len(LEVEL_NAMES)  # every level may "view"
    leaks = [p for p in problems if "/api/v1/matrix-selftest/" in p]
    assert leaks and all("not granted did not answer 404" in p for p in leaks)
    assert len(problems) == len(refused) + len(leaks)
    bottle_app.route("/matrix-selftest/<widget_id:int>", "GET", lambda widget_id: "", permission="view")
    try:
        run_matrix(app, only=lambda route: "matrix-selftest" in route.rule)
    except LookupError as exc:
        assert "add a filler for 'widget_id'" in str(exc)
    else:
        raise AssertionError("an unfillable path argument was not reported")
