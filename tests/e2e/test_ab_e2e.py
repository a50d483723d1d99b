"""A/B tests in Chromium against a real running server, with the page on a second origin.

The fixture page embeds ab.js and the UXWizz snippet the way the dashboard tells webmasters to. With a
running test whose variant B has weight 100: B's changes are visible, the body is never shown with
the original content and is revealed well within 800 ms, and the tag AB-<test>-<key> arrives as a
session_tags row. The assignment is sticky: after the weights flip to 100 % control, the same browser
keeps B while a new browser gets the control. Opted-out visitors see the original page and send nothing.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from core import accounts
from core.db import open_database
from core.experiments import rules, store
from core.models import Session, SessionTag, User
from core.sites import create_site, update_site
from tests.e2e.conftest import screenshot
from tests.support import HTML, LiveServer, PageOrigin, free_port, wait_db

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Pricing</title>
<script>
  // Samples what a visitor could see from the first moment: body opacity and the headline text.
  window.samples = [];
  (function () {
    var t0 = performance.now();
    function sample(why) {
      var body = document.body, h = document.getElementById('headline');
      window.samples.push({t: performance.now() - t0, why: why,
        opacity: body ? getComputedStyle(body).opacity : null, text: h ? h.textContent : null});
    }
    new MutationObserver(function () { sample('mutation'); }).observe(document.documentElement,
      {childList: true, subtree: true});
    (function frame() { sample('frame'); if (performance.now() - t0 < 1500) requestAnimationFrame(frame); })();
  })();
</script>
<script src="__SERVER__/server/ab/localhost.ab.js__ABQ__"></script>
<script>
  UST_CT = [];
  UST = { s: Date.now(), addTag: function(tag) { UST_CT.push(tag) } };
  UST.addEvent = UST.addTag;
</script>
<script src="__SERVER__/server/ust.min.js?v=test" async></script>
</head>
<body>
<h1 id="headline">Original headline</h1>
<p><a class="cta" href="/signup">Sign up</a></p>
</body>
</html>
"""
VARIANT_TEXT = "Variant headline: 50% off & <3 \"quotes\""


class Origin(PageOrigin):
    """Serves PAGE at http://localhost:<port>/pricing (a second origin, like a real site)."""

    def __init__(self, server_url: str):
        self.server_url = server_url
        super().__init__(self.page)

    def page(self, raw_path: str) -> tuple[bytes, str]:
        query = raw_path.partition("?")[2]
        ab_query = "?v=" + query.split("ab=")[1].split("&")[0] if "ab=" in query else ""
        page = PAGE
        if "noab" in query.split("&"):  # the A/B script is left out (a test adds it late)
            page = "\n".join(line for line in page.split("\n") if "ab.js" not in line)
        return page.replace("__SERVER__", self.server_url).replace("__ABQ__", ab_query).encode(), HTML

    def url(self, query: str = "") -> str:
        return f"{self.base}/pricing" + (f"?{query}" if query else "")


@pytest.fixture
def setup(installed_settings):
    db_url, base_dir = installed_settings["database.url"], installed_settings.base_dir
    database = open_database(db_url, base_dir)
    try:
        with database.db.connection_context():
            site = create_site("localhost")
            update_site(site, settings={"filter_headless": False})  # headless Chromium is a bot by default
            test = store.create_test(database.db, site.id, rules.validate_test({
                "name": "Headline", "page": "/pricing", "status": "running", "variants": [
                    {"name": "Control", "weight": 0},
                    {"name": "Loud", "weight": 100, "changes": [
                        {"selector": "#headline", "text": VARIANT_TEXT},
                        {"selector": "a.cta", "styles": {"color": "rgb(255, 0, 0)"},
                         "attributes": {"title": "</script><!--"}}]}]}))
            control, loud = store.variants_of(test)
            token, _row = accounts.create_api_token(User.get(User.username == "admin"), "e2e")
            info = {"test": test.id, "control": control, "loud": loud, "token": token}
    finally:
        database.close()
    server = LiveServer(installed_settings.config_path, free_port()).start()
    origin = Origin(server.url)

    def wait_rows(fn, ok, timeout=10.0):
        return wait_db(db_url, base_dir, fn, ok, timeout)

    yield {**info, "server": server, "origin": origin, "wait_rows": wait_rows}
    origin.close()
    server.stop()


def tags_of(sid: str) -> list[str]:
    return sorted(t.tag for t in SessionTag.select().join(Session, on=(SessionTag.session == Session.id))
                  .where(Session.token == sid))


def visit(page, url: str) -> dict[str, Any]:
    page.goto(url)
    page.wait_for_function("document.readyState === 'complete'")
    page.wait_for_timeout(300)
    return page.evaluate("""() => ({
        text: document.getElementById('headline').textContent,
        color: getComputedStyle(document.querySelector('a.cta')).color,
        title: document.querySelector('a.cta').getAttribute('title'),
        hider: !!document.getElementById('ust-ab-hide'),
        opacity: getComputedStyle(document.body).opacity,
        samples: window.samples,
        assigned: window.UST_AB ? window.UST_AB.variants : null,
    })""")


def wait_sent(page) -> str:
    page.wait_for_function("window.UST && UST.canRecord && UST.canRecord()", timeout=10000)
    page.evaluate("UST.forceSendData()")
    page.wait_for_timeout(500)
    return page.evaluate("sessionStorage.getItem('ust-sid')")


def test_variant_applied_without_flicker_tagged_and_sticky(setup, browser):
    test_id, control, loud = setup["test"], setup["control"], setup["loud"]
    loud_tag, control_tag = rules.variant_tag(test_id, loud.key), rules.variant_tag(test_id, control.key)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    seen = visit(page, setup["origin"].url())
    screenshot(page, "ab-variant")
    assert seen["text"] == VARIANT_TEXT
    assert seen["color"] == "rgb(255, 0, 0)" and seen["title"] == "</script><!--"
    assert seen["assigned"] == {str(test_id): loud.key}
    # Never left hidden, never showed the original: once the headline exists and the body is visible,
    # it is the variant's; the body was hidden for well under 800 ms.
    assert not seen["hider"] and seen["opacity"] == "1"
    with_headline = [s for s in seen["samples"] if s["text"] is not None and s["opacity"] is not None]
    assert with_headline, seen["samples"]
    assert all(s["text"] == VARIANT_TEXT for s in with_headline if s["opacity"] == "1"), with_headline
    hidden = [s["t"] for s in seen["samples"] if s["opacity"] == "0"]
    assert not hidden or max(hidden) < 800, hidden
    assert errors == []

    sid = wait_sent(page)
    found = setup["wait_rows"](lambda: tags_of(sid), lambda tags: loud_tag in tags)
    assert found == [loud_tag]

    # Flip the weights through the API: everyone new gets the control from now on.
    request = urllib.request.Request(
        f"{setup['server'].url}/api/v1/ab-tests/{test_id}", method="PATCH",
        data=json.dumps({"variants": [{"id": control.id, "name": "Control", "weight": 100},
                                      {"id": loud.id, "name": "Loud", "weight": 0}]}).encode(),
        headers={"Authorization": f"Bearer {setup['token']}", "Content-Type": "application/json"})
    assert urllib.request.urlopen(request, timeout=10).status == 200

    # The same browser, a new tab (so a new session), a fresh copy of ab.js: still the variant.
    second = context.new_page()
    again = visit(second, setup["origin"].url("ab=2"))
    assert again["text"] == VARIANT_TEXT and again["assigned"] == {str(test_id): loud.key}
    sid2 = wait_sent(second)
    assert sid2 != sid
    assert setup["wait_rows"](lambda: tags_of(sid2), lambda tags: bool(tags)) == [loud_tag]

    # A new browser (another visitor) gets the control now: the original page, the control's tag.
    other = browser.new_context(viewport={"width": 1280, "height": 800})
    fresh = other.new_page()
    original = visit(fresh, setup["origin"].url("ab=3"))
    assert original["text"] == "Original headline" and original["assigned"] == {str(test_id): control.key}
    sid3 = wait_sent(fresh)
    assert setup["wait_rows"](lambda: tags_of(sid3), lambda tags: bool(tags)) == [control_tag]
    other.close()
    context.close()


def test_opted_out_visitors_see_the_original_and_send_nothing(setup, browser):
    context = browser.new_context()
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if r.url.startswith(setup["server"].url) else None)
    seen = visit(page, setup["origin"].url("ust-opt-out"))
    assert seen["text"] == "Original headline" and seen["assigned"] is None and not seen["hider"]
    assert all(s["opacity"] in ("1", None) for s in seen["samples"])  # never hidden
    # The flag outlives the URL parameter (the tracker stores it): still the original on the next page.
    page.wait_for_timeout(300)
    assert visit(page, setup["origin"].url("ab=4"))["text"] == "Original headline"
    assert not any("/api/collect" in url for url in requests)
    assert page.evaluate(f"localStorage.getItem('ust-ab-{setup['test']}')") is None
    context.close()


def test_body_is_revealed_after_800_ms_when_an_element_never_appears(setup, browser):
    request = urllib.request.Request(
        f"{setup['server'].url}/api/v1/ab-tests/{setup['test']}", method="PATCH",
        data=json.dumps({"variants": [{"id": setup["control"].id, "name": "Control"},
                                      {"id": setup["loud"].id, "name": "Loud", "changes": [
                                          {"selector": "#not-on-this-page", "text": "x"},
                                          {"selector": "a.cta", "text": "Join"}]}]}).encode(),
        headers={"Authorization": f"Bearer {setup['token']}", "Content-Type": "application/json"})
    assert urllib.request.urlopen(request, timeout=10).status == 200
    context = browser.new_context()
    page = context.new_page()
    visit(page, setup["origin"].url("ab=5"))
    page.wait_for_timeout(700)
    after = page.evaluate("[getComputedStyle(document.body).opacity, !!document.getElementById('ust-ab-hide'),"
                          " document.querySelector('a.cta').textContent]")
    assert after == ["1", False, "Join"]  # revealed, and the change that could apply did
    samples = page.evaluate("window.samples")
    last_hidden = max(i for i, s in enumerate(samples) if s["opacity"] == "0")
    # Removing the hider is a DOM mutation, so the page's observer samples the reveal itself (animation
    # frames alone can stall on a loaded machine). Times count from the page's first script, just
    # before ab.js is fetched and run: the 800 ms cap plus that fetch, never much earlier or later.
    revealed = next(s for s in samples[last_hidden + 1:] if s["opacity"] == "1")
    assert 780 <= revealed["t"] < 1500, samples
    context.close()


def test_loaded_late_it_applies_changes_without_hiding_the_visible_page(setup, browser):
    context = browser.new_context()
    page = context.new_page()
    seen = visit(page, setup["origin"].url("noab"))
    assert seen["text"] == "Original headline" and seen["assigned"] is None
    # As a tag manager would: inserted after the page is shown.
    page.evaluate("""(src) => new Promise((resolve) => {
        window.sawHider = false;
        new MutationObserver(() => { if (document.getElementById('ust-ab-hide')) window.sawHider = true; })
            .observe(document.documentElement, {childList: true, subtree: true});
        const script = document.createElement('script');
        script.src = src;
        script.onload = () => setTimeout(resolve, 200);
        document.head.appendChild(script);
    })""", f"{setup['server'].url}/server/ab/localhost.ab.js?v=late")
    assert page.evaluate("document.getElementById('headline').textContent") == VARIANT_TEXT
    assert page.evaluate("window.sawHider") is False
    context.close()


def test_dashboard_editor_and_results_chart_in_chromium(setup, browser):
    from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("response", lambda r: errors.append(f"{r.status} {r.url}")
           if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    base = setup["server"].url
    tab.goto(f"{base}/login")
    tab.fill("input[name=username]", ADMIN_USER)
    tab.fill("input[name=password]", ADMIN_PASSWORD)
    tab.click("#login-form button[type=submit]")
    tab.wait_for_load_state()
    site_id = setup["control"].test.site_id
    # The editor without any script: "Add variant" comes back with a third block.
    tab.goto(f"{base}/sites/{site_id}/ab-tests/new")
    tab.fill("input[name=name]", "Button colour")
    tab.click("button[value=add_variant]")
    assert tab.locator("fieldset.variant").count() == 3
    tab.fill("input[name=v1_c0_selector]", ".cta")
    tab.select_option("select[name=v1_c0_kind]", "style")
    tab.fill("input[name=v1_c0_name]", "color")
    tab.fill("input[name=v1_c0_value]", "green")
    tab.click("button[value=save]")
    tab.wait_for_selector("#results-table")
    assert tab.locator("#results-table tr[data-variant]").count() == 3
    # The results of the running test: the chart is drawn by the dashboard bundle under the CSP.
    tab.goto(f"{base}/sites/{site_id}/ab-tests/{setup['test']}")
    tab.wait_for_selector("canvas#abtest-chart[data-drawn=true]", timeout=10000)
    screenshot(tab, "ab-results")
    assert errors == []
    context.close()
