"""Site settings pages: add, edit (name, domain, time zone, tracking settings), delete; snippet and site page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import webtest

from core import accounts, sites
from core.app import create_app
from core.models import Event, Pageview, Session, SessionTag, Site, SiteAccess, User
from tests.conftest import csrf_of

XSS = "<script>alert(1)</script>"


def as_user(app, level: int, site_ids=()) -> tuple[webtest.TestApp, User]:
    """A client logged in as a new user of `level` (session made directly: no password hashing)."""
    user = User.create(username=f"u{level}_{User.select().count()}", password_hash="x", level=level)
    for site_id in site_ids:
        SiteAccess.create(user=user, site=site_id)
    token, _session = accounts.start_login_session(user, 1)
    client = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "203.0.113.9"})
    client.set_cookie("uxwizz_session", token)
    return client, user


def example_site() -> Site:
    return Site.get(Site.domain == "example.com")


def field_error(page: webtest.TestResponse, field: str) -> str:
    match = re.search(rf'data-field="{re.escape(field)}">([^<]+)<', page.text)
    assert match, f"no error shown for {field}"
    return match.group(1)


def test_add_site_normalises_domain_and_goes_to_snippet(admin_client):
    form = admin_client.get("/settings/sites/new").forms["site-new-form"]
    form["domain"] = "https://WWW.Shop.Example.org/path?q=1"
    form["name"] = "Shop"
    form["timezone"] = "Europe/Berlin"
    response = form.submit(status=303)
    site = Site.get(Site.domain == "www.shop.example.org")
    assert (site.name, site.timezone) == ("Shop", "Europe/Berlin")
    assert site.settings == sites.default_tracking_settings()
    assert response.location.endswith(f"/sites/{site.id}/snippet")
    page = response.follow()
    assert "added" in page.text and "/server/ust.min.js?v=" in page.text


@pytest.mark.parametrize(("domain", "timezone", "field"), [
    ("not a domain", "UTC", "domain"),
    ("", "UTC", "domain"),
    ("example.com", "UTC", "domain"),  # already exists
    ("new.example.net", "Mars/Olympus", "timezone"),
    ("https://", "UTC", "domain"),
])
def test_add_site_rejects_bad_input_and_stores_nothing(admin_client, domain, timezone, field):
    before = Site.select().count()
    token = csrf_of(admin_client)
    page = admin_client.post("/settings/sites/new", {"csrf_token": token, "domain": domain, "name": "x",
                                                     "timezone": timezone}, status=422)
    assert field_error(page, field)
    assert Site.select().count() == before
    assert f'value="{domain}"' in page.text  # what was typed stays in the form


def test_add_site_needs_csrf(admin_client):
    admin_client.post("/settings/sites/new", {"domain": "csrf.example.net"}, status=403)
    assert not Site.select().where(Site.domain == "csrf.example.net").exists()


def test_edit_site_saves_every_tracking_setting(admin_client):
    site = example_site()
    form = admin_client.get(f"/settings/sites/{site.id}").forms["site-settings-form"]
    for spec in sites.TRACKING_SETTINGS:  # every registry setting has a field, with its label
        assert f"setting.{spec.key}" in form.fields
    page = admin_client.get(f"/settings/sites/{site.id}")
    for spec in sites.TRACKING_SETTINGS:
        assert spec.label.split(" (")[0] in page.text.replace("&#34;", '"')
    form["name"] = "Renamed"
    form["timezone"] = "America/New_York"
    form["setting.record_sessions"] = False
    form["setting.respect_dnt"] = True
    form["setting.sample_percent"] = "25"
    form["setting.ignored_ips"] = "10.0.0.*, 192.168.1.1"
    form["setting.consent_text"] = "Allow?"
    form.submit(status=303).follow()
    site = Site.get_by_id(site.id)
    saved = sites.tracking_settings(site)
    assert (site.name, site.timezone) == ("Renamed", "America/New_York")
    assert saved["record_sessions"] is False and saved["respect_dnt"] is True
    assert saved["sample_percent"] == 25 and saved["ignored_ips"] == ["10.0.0.*", "192.168.1.1"]
    assert saved["consent_text"] == "Allow?" and saved["hash_ip"] is True


def test_edit_site_bad_value_names_the_field_and_saves_nothing(admin_client):
    site = example_site()
    form = admin_client.get(f"/settings/sites/{site.id}").forms["site-settings-form"]
    form["name"] = "Should not be saved"
    form["setting.sample_percent"] = "250"
    page = form.submit(status=422)
    assert "between 0 and 100" in field_error(page, "settings.sample_percent")
    assert Site.get_by_id(site.id).name == "example.com"
    assert sites.tracking_settings(Site.get_by_id(site.id))["sample_percent"] == 100


def test_edit_site_domain_taken(admin_client):
    other = sites.create_site("other.example.net")
    form = admin_client.get(f"/settings/sites/{other.id}").forms["site-settings-form"]
    form["domain"] = "EXAMPLE.com"
    page = form.submit(status=422)
    assert "already exists" in field_error(page, "domain")
    assert Site.get_by_id(other.id).domain == "other.example.net"


def test_delete_site_needs_typed_domain_and_removes_everything(admin_client):
    site = sites.create_site("doomed.example.net")
    keep = example_site()
    now = dt.datetime(2026, 1, 1, 12)
    viewer = User.create(username="viewer", password_hash="x", level=0)
    SiteAccess.create(user=viewer, site=site)
    for target in (site, keep):
        session = Session.create(site=target, token=f"t{target.id}", started_at=now, last_seen_at=now)
        pageview = Pageview.create(session=session, site=target, client_id="p1", url="https://x/", path="/",
                                   started_at=now)
        Event.create(session=session, pageview=pageview, site=target, occurred_at=now, category="c", action="a")
        SessionTag.create(session=session, site=target, tag="t", created_at=now)
    form = admin_client.get(f"/settings/sites/{site.id}").forms["site-delete-form"]
    assert "cannot be undone" in form.text and "data-confirm" in form.text
    form["confirm_domain"] = "wrong.example.net"
    assert "Type the domain" in field_error(form.submit(status=422), "confirm_domain")
    assert Site.get_or_none(Site.id == site.id) is not None
    form = admin_client.get(f"/settings/sites/{site.id}").forms["site-delete-form"]
    form["confirm_domain"] = "doomed.example.net"
    assert form.submit(status=303).location.endswith("/")
    assert Site.get_or_none(Site.id == site.id) is None
    for model in (Session, Pageview, Event, SessionTag):
        assert model.select().where(model.site == site.id).count() == 0, model
        assert model.select().where(model.site == keep.id).count() == 1, model
    assert SiteAccess.select().where(SiteAccess.site == site.id).count() == 0
    admin_client.get(f"/settings/sites/{site.id}", status=404)


def test_site_pages_escape_tracked_names(admin_client):
    site = sites.create_site("xss.example.net", name=XSS)
    for url in ("/", f"/sites/{site.id}/snippet", f"/settings/sites/{site.id}",
                "/settings/users"):
        page = admin_client.get(url)
        assert XSS not in page.text, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, url


def test_snippet_page_uses_request_host_and_has_all_variants(admin_client):
    site = example_site()
    cookie = f"uxwizz_session={admin_client.cookies['uxwizz_session']}"
    page = admin_client.get(f"/sites/{site.id}/snippet", status=200,
                            extra_environ={"HTTP_HOST": "stats.example.org:8443", "HTTP_COOKIE": cookie})
    assert page.html.select_one("#snippet").text == sites.snippet("http://stats.example.org:8443")
    assert "ust-rr.min.js" in page.html.select_one("#snippet-rr").text
    assert 'next/script' in page.html.select_one("#snippet-next").text
    assert "Google Tag Manager" in page.text
    assert page.html.select_one('button[data-copy="#snippet"]') is not None
    assert "<script" not in page.text.split("</textarea>")[-1].replace('<script src="/static/js/app.js', "")


def test_snippet_uses_configured_base_url(installed_settings):
    application = create_app(installed_settings.replace({"server.base_url": "https://analytics.example.org/"}))
    try:
        client, _user = as_user(application, 0, [example_site().id])
        page = client.get(f"/sites/{example_site().id}/snippet")
        assert 'src="https://analytics.example.org/server/ust.min.js' in page.html.select_one("#snippet").text
    finally:
        application.shutdown()


def test_snippet_page_is_a_site_tab_and_links_settings_for_admins(admin_client):
    site = example_site()
    page = admin_client.get(f"/sites/{site.id}/snippet")
    tabs = page.html.select(".site-nav a")
    assert f"/sites/{site.id}/snippet" in [a["href"] for a in tabs]
    assert f'href="/settings/sites/{site.id}"' in page.text


def test_non_admin_sees_granted_site_but_not_its_settings(app):
    site = example_site()
    client, _user = as_user(app, 3, [site.id])
    page = client.get(f"/sites/{site.id}/snippet", status=200)
    assert f'href="/settings/sites/{site.id}"' not in page.text
    client.get(f"/settings/sites/{site.id}", status=403)
    client.get("/settings/sites/new", status=403)
    other = sites.create_site("hidden.example.net")
    client.get(f"/sites/{other.id}", status=404)
    client.get(f"/sites/{other.id}/snippet", status=404)
