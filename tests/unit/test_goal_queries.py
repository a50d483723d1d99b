"""Goal conversions and A/B test results against a hand-built data set, on both engines.

Site in UTC, range 2026-05-01..2026-05-02. Test T has variants A (control) and B.

    id  UTC start    pages                      tags              events         country
    S1  05-01 10:00  / /pricing /thanks/123     AB-T-A            signup/start   DE
    S2  05-01 11:00  /pricing                   AB-T-A                           DE
    S3  05-01 12:00  /pricing /thanks           AB-T-B            signup/done    US
    S4  05-02 09:00  /                          AB-T-B, customer                 DE
    S5  05-02 15:00  /blog                      AB-T-B            video/play     DE
    S6  04-30 23:00  /thanks                    AB-T-A                           DE   (before the range)
    S7  other site, 05-01, /thanks                                               DE

Goal "/thanks*": S1, S3 → 2 of 5 sessions (40 %); 05-01: 2 of 3, 05-02: 0 of 2.
A: S1, S2 → 2 sessions, 1 conversion (50 %). B: S3, S4, S5 → 3 sessions, 1 conversion (33.33 %).
Uplift of B: (1/3 − 1/2) / (1/2) = −33.33 %. z = (1/3 − 1/2) / √(0.4 · 0.6 · (1/3 + 1/2)) = −0.3727,
two-sided p = 0.70939.
"""

from __future__ import annotations

import datetime as dt
import math
from statistics import NormalDist

import pytest

from core import migrations
from core.db import open_database
from core.experiments import rules, store
from core.models import Event, Goal, Pageview, Session, SessionTag, Site
from core.queries import experiments, goals
from core.queries.query import parse_site_query

NOW = dt.datetime(2026, 5, 3, 12, 0, tzinfo=dt.UTC)


def add_session(site, start, paths, tags=(), events=(), country="DE"):
    session = Session.create(site=site, token=f"t-{site.id}-{start.isoformat()}", country=country,
                             started_at=start, last_seen_at=start, pageview_count=len(paths))
    for i, path in enumerate(paths):
        pv = Pageview.create(session=session, site=site, client_id=f"p{i}", url=f"https://{site.domain}{path}",
                             path=path, started_at=start + dt.timedelta(seconds=10 * i))
    for tag in tags:
        SessionTag.create(session=session, site=site, tag=tag, created_at=start)
    for category, action in events:
        Event.create(session=session, pageview=pv, site=site, occurred_at=start, category=category, action=action)
    return session


@pytest.fixture
def data(make_db_url):
    database = open_database(make_db_url("goals"))
    migrations.migrate_up(database.db)
    site = Site.create(domain="shop.example", settings={})
    other = Site.create(domain="other.example", settings={})
    test = store.create_test(database.db, site.id, rules.validate_test({
        "name": "Hero", "variants": [{"name": "A", "weight": 50}, {"name": "B", "weight": 50, "changes": [
            {"selector": "h1", "text": "Hello"}]}]}))
    a, b = store.variants_of(test)
    tag_a, tag_b = rules.variant_tag(test.id, a.key), rules.variant_tag(test.id, b.key)
    u = dt.datetime
    add_session(site, u(2026, 5, 1, 10), ["/", "/pricing", "/thanks/123"], [tag_a], [("signup", "start")])
    add_session(site, u(2026, 5, 1, 11), ["/pricing"], [tag_a])
    add_session(site, u(2026, 5, 1, 12), ["/pricing", "/thanks"], [tag_b], [("signup", "done")], country="US")
    add_session(site, u(2026, 5, 2, 9), ["/"], [tag_b, "customer"])
    add_session(site, u(2026, 5, 2, 15), ["/blog"], [tag_b], [("video", "play")])
    add_session(site, u(2026, 4, 30, 23), ["/thanks"], [tag_a])
    add_session(other, u(2026, 5, 1, 12), ["/thanks"])
    yield database, site, test
    database.close()


def query(site, **params):
    return parse_site_query(site.id, site.timezone, {"from": "2026-05-01", "to": "2026-05-02", **params}, now=NOW)


def goal(site, **fields):
    return store.create_goal(Site._meta.database, site.id, rules.validate_goal({"name": "g", **fields}))


def test_page_goal_conversions_total_and_per_day(data):
    database, site, _test = data
    g = goal(site, kind="page", path="/thanks*")
    result = goals.conversions(database, query(site), g)
    assert (result["sessions"], result["conversions"], result["rate"]) == (5, 2, 40.0)
    assert [(p["bucket"], p["sessions"], p["conversions"], p["rate"]) for p in result["points"]] == [
        ("2026-05-01", 3, 2, 66.67), ("2026-05-02", 2, 0, 0.0)]


def test_exact_path_event_and_tag_goals(data):
    database, site, _test = data
    q = query(site)
    exact = goal(site, kind="page", path="/thanks")  # no wildcard: /thanks/123 does not count
    done = goal(site, kind="event", category="signup", action="done")
    any_signup = goal(site, kind="event", category="signup")
    customer = goal(site, kind="tag", tag="customer")
    summary = goals.goals_summary(database, q, [exact, done, any_signup, customer])
    assert {g_id: row["conversions"] for g_id, row in summary.items()} == {
        exact.id: 1, done.id: 1, any_signup.id: 2, customer.id: 1}
    assert summary[any_signup.id]["rate"] == 40.0 and summary[customer.id]["sessions"] == 5


def test_goals_ignore_letter_case_on_both_engines(data):
    """As the segment filters do: /Thanks, SIGNUP/Done and Customer match what was tracked in lower case."""
    database, site, _test = data
    q = query(site)
    page = goal(site, kind="page", path="/Thanks")
    wild = goal(site, kind="page", path="/THANKS*")
    event = goal(site, kind="event", category="SIGNUP", action="Done")
    tag = goal(site, kind="tag", tag="Customer")
    other = goal(site, kind="page", path="/thanks-not")
    summary = goals.goals_summary(database, q, [page, wild, event, tag, other])
    assert {g_id: row["conversions"] for g_id, row in summary.items()} == {
        page.id: 1, wild.id: 2, event.id: 1, tag.id: 1, other.id: 0}
    assert goals.conversions(database, q, page)["conversions"] == 1


def test_segment_filter_applies_to_conversions(data):
    database, site, _test = data
    g = goal(site, kind="page", path="/thanks*")
    result = goals.conversions(database, query(site, country="US"), g)
    assert (result["sessions"], result["conversions"], result["rate"]) == (1, 1, 100.0)


def test_ab_results_per_variant_with_uplift_and_p_value(data):
    database, site, test = data
    g = goal(site, kind="page", path="/thanks*")
    report = experiments.results(database, query(site), test, store.variants_of(test), g)
    control, b = report["variants"]
    assert (control["name"], control["sessions"], control["conversions"], control["rate"]) == ("A", 2, 1, 50.0)
    assert control["uplift"] is None and control["p_value"] is None
    assert (b["sessions"], b["conversions"], b["rate"]) == (3, 1, 33.33)
    assert b["uplift"] == -33.33
    assert b["p_value"] == pytest.approx(0.709388, abs=1e-6)
    assert b["significant"] is False
    assert b["tag"] == f"AB-{test.id}-{store.variants_of(test)[1].key}"


def test_ab_results_without_goal_count_sessions_only(data):
    database, site, test = data
    report = experiments.results(database, query(site), test, store.variants_of(test), None)
    assert [(r["sessions"], r["conversions"], r["rate"]) for r in report["variants"]] == [(2, None, None),
                                                                                         (3, None, None)]
    # The segment narrows variants too: only S3 is in the US.
    report = experiments.results(database, query(site, country="US"), test, store.variants_of(test), None)
    assert [r["sessions"] for r in report["variants"]] == [0, 1]


def test_two_proportion_z_test_matches_the_normal_distribution():
    # 20 % of 1000 vs 15 % of 1000: pooled 0.175, z = 0.05 / √(0.175·0.825·0.002) = 2.9424.
    p = experiments.two_proportion_p_value(200, 1000, 150, 1000)
    z = 0.05 / math.sqrt(0.175 * 0.825 * 0.002)
    assert z == pytest.approx(2.9424494, abs=1e-6)
    assert p == pytest.approx(2 * (1 - NormalDist().cdf(z)), abs=1e-9)
    assert p == pytest.approx(0.0032563, abs=1e-7)
    assert experiments.two_proportion_p_value(0, 10, 0, 10) is None  # nobody converted: undefined
    assert experiments.two_proportion_p_value(10, 10, 5, 5) is None  # everybody converted
    assert experiments.two_proportion_p_value(1, 0, 1, 10) is None


def test_goal_of_other_kind_is_refused(data):
    database, site, _test = data
    broken = Goal(site=site, kind="nope", name="x")
    with pytest.raises(ValueError):
        goals.conversions(database, query(site), broken)
