"""Heatmap rollups: rollup + raw tail equals a direct count, across day boundaries and time zones."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from core.heatmaps import BIN, rollup
from core.heatmaps.rollup import RollupState, run_rollup
from core.models import HeatmapPoint, Site
from core.models.analytics import POINT_CLICK, POINT_MOVE
from core.models.heatmaps import HeatmapGrid
from core.queries.heatmaps import HeatmapFilter, heatmap, parse_filter, resolve_paths
from core.queries.query import Query, QueryError
from tests.unit.test_heatmap_data import add_points, make_pageview, make_session, make_site

UTC = dt.UTC


def clicks_rolled() -> int:
    return sum(g.points for g in HeatmapGrid.select().where(HeatmapGrid.kind == POINT_CLICK))


def roll(ctx, **kw):
    return run_rollup(ctx, settle_seconds=0, scroll_settle_seconds=0, **kw)


def q(site: Site, start: str, end: str) -> Query:
    return Query(site_id=site.id, timezone=site.timezone, start=dt.date.fromisoformat(start),
                 end=dt.date.fromisoformat(end))


def expected_cells(points: list[dict], zone: str, start: str, end: str, kind: int = POINT_CLICK) -> Counter:
    """The direct count, by hand: local day of each point in [start, end]."""
    lo, hi = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    out: Counter = Counter()
    for p in points:
        day = p["at"].replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).date()
        if lo <= day <= hi and p.get("kind", POINT_CLICK) == kind:
            out[(p["x"] // BIN * BIN + BIN // 2, p["y"] // BIN * BIN + BIN // 2)] += 1
    return out


def cells_of(answer: dict) -> Counter:
    return Counter({(p["x"], p["y"]): p["count"] for p in answer["points"]})


def points_around_midnights(zone: str, days: list[str]) -> list[dict]:
    """Clicks 1 minute before and after each local midnight, plus mid-day ones, at distinct spots."""
    out = []
    for i, day in enumerate(days):
        midnight = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), ZoneInfo(zone)).astimezone(UTC)
        midnight = midnight.replace(tzinfo=None)
        for j, delta in enumerate((-60, 60, 12 * 3600, 23 * 3600 + 3540)):
            out.append({"at": midnight + dt.timedelta(seconds=delta), "x": 100 + 40 * j, "y": 100 + 40 * i,
                        "sel": "#cta", "ox": 0.25, "oy": 0.75})
    return out


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"])
def test_rollup_plus_tail_equals_direct_count_across_day_boundaries(app, zone):
    site = make_site(f"z{abs(hash(zone)) % 10000}.example", zone)
    # Includes a DST change (New York: 2026-03-08; Chatham: 2026-04-05) and a +5:30 / +12:45 zone.
    days = ["2026-03-07", "2026-03-08", "2026-03-09", "2026-04-04", "2026-04-05"]
    pts = points_around_midnights(zone, days)
    session = make_session(site, pts[0]["at"])
    pageview = make_pageview(session)
    half = len(pts) // 2
    add_points(pageview, pts[:half])
    assert "rolled up" in roll(app.ctx)
    assert RollupState.load().points_id == HeatmapPoint.select().count()
    add_points(pageview, pts[half:])  # the raw tail, not rolled up yet
    flt = HeatmapFilter("/pricing")
    for start, end in [("2026-03-07", "2026-03-07"), ("2026-03-08", "2026-03-09"), ("2026-03-01", "2026-04-30"),
                       ("2026-04-05", "2026-04-05"), ("2026-03-09", "2026-04-04")]:
        answer = heatmap(q(site, start, end), flt)
        assert answer["source"] == "rollup+raw"
        expected = expected_cells(pts, zone, start, end)
        assert cells_of(answer) == expected, (start, end)
        assert answer["total"] == sum(expected.values())
        roll(app.ctx)  # everything rolled: same answer from rollups alone
        assert cells_of(heatmap(q(site, start, end), flt)) == expected
    # A 24-hour local day holds its own three points and the one a minute before the next midnight;
    # the one a minute before its own midnight belongs to the day before.
    assert heatmap(q(site, "2026-03-07", "2026-03-07"), flt)["total"] == 4


def test_time_zone_change_falls_back_to_raw_then_reaggregates(app):
    site = make_site("tzchange.example", "UTC")
    pts = points_around_midnights("UTC", ["2026-05-01", "2026-05-02"])
    add_points(make_pageview(make_session(site, pts[0]["at"])), pts)
    roll(app.ctx)
    Site.update(timezone="America/Los_Angeles").where(Site.id == site.id).execute()
    site = Site.get_by_id(site.id)
    answer = heatmap(q(site, "2026-05-01", "2026-05-01"), HeatmapFilter("/pricing"))
    assert answer["source"] == "raw"
    assert cells_of(answer) == expected_cells(pts, "America/Los_Angeles", "2026-05-01", "2026-05-01")
    assert "re-aggregated 1 site" in roll(app.ctx)
    answer = heatmap(q(site, "2026-05-01", "2026-05-01"), HeatmapFilter("/pricing"))
    assert answer["source"] == "rollup+raw"
    assert cells_of(answer) == expected_cells(pts, "America/Los_Angeles", "2026-05-01", "2026-05-01")


def test_elements_anchors_rage_and_filters(app):
    site = make_site("elements.example")
    at = dt.datetime(2026, 6, 1, 12, 0, 0)
    desk = make_pageview(make_session(site, at), viewport_w=1300)
    phone = make_pageview(make_session(site, at, device="mobile"), path="/pricing/", viewport_w=390)
    # Three quick clicks on one spot = one rage burst; two slow ones elsewhere are not.
    add_points(desk, [{"at": at + dt.timedelta(milliseconds=300 * i), "x": 500 + i, "y": 300, "sel": "button.buy",
                       "ox": 0.5, "oy": 0.5} for i in range(3)])
    add_points(desk, [{"at": at + dt.timedelta(seconds=5 * i), "x": 40, "y": 40, "sel": "a.logo", "ox": 0.1,
                       "oy": 0.9} for i in range(2)])
    add_points(desk, [{"at": at, "x": 700, "y": 900, "kind": POINT_MOVE}])
    roll(app.ctx)
    add_points(phone, [{"at": at, "x": 100, "y": 800, "sel": "button.buy", "ox": 0.9, "oy": 0.1}])
    query = q(site, "2026-06-01", "2026-06-01")
    both = heatmap(query, HeatmapFilter("/pricing"))  # trailing slash variant is the same page
    assert both["total"] == 6
    assert both["elements"][0] == {"selector": "button.buy", "count": 4, "share": 66.7}
    assert both["elements"][1]["selector"] == "a.logo" and both["elements"][1]["count"] == 2
    assert both["rage"] == [{"selector": "button.buy", "count": 1}]
    anchors = {(a["selector"], a["ox"], a["oy"]): a["count"] for a in both["anchors"]}
    assert anchors[("button.buy", 0.5125, 0.5125)] == 3 and anchors[("button.buy", 0.9125, 0.1125)] == 1
    assert heatmap(query, HeatmapFilter("/pricing", device="mobile"))["total"] == 1
    assert heatmap(query, HeatmapFilter("/pricing", width_min=1280, width_max=1439))["total"] == 5
    assert heatmap(query, HeatmapFilter("/pricing", width_min=300, width_max=500))["total"] == 1
    moves = heatmap(query, HeatmapFilter("/pricing", kind="move"))
    assert moves["points"] == [{"x": 705, "y": 905, "count": 1}] and moves["elements"] == []


def test_scroll_map_is_the_share_of_views_reaching_each_depth(app):
    site = make_site("scroll.example")
    at = dt.datetime(2026, 6, 2, 8, 0, 0)
    for depth in (0, 50, 100):
        make_pageview(make_session(site, at), path="/long", scroll=depth)
    roll(app.ctx)
    make_pageview(make_session(site, at, device="mobile"), path="/long", scroll=75, viewport_w=400)
    answer = heatmap(q(site, "2026-06-02", "2026-06-02"), HeatmapFilter("/long", kind="scroll"))
    curve = {row["depth_pct"]: row["visitors_pct"] for row in answer["scroll"]}
    assert answer["views"] == 4
    assert curve[0] == 100.0 and curve[50] == 75.0 and curve[55] == 50.0 and curve[80] == 25.0 and curve[100] == 25.0
    mobile = heatmap(q(site, "2026-06-02", "2026-06-02"), HeatmapFilter("/long", kind="scroll", device="mobile"))
    assert mobile["views"] == 1 and {r["depth_pct"]: r["visitors_pct"] for r in mobile["scroll"]}[80] == 0.0


def test_wildcards_group_pages(app):
    site = make_site("wild.example")
    at = dt.datetime(2026, 6, 3, 8, 0, 0)
    session = make_session(site, at)
    for path in ("/blog/a", "/blog/b/", "/about"):
        add_points(make_pageview(session, path=path), [{"at": at, "x": 5, "y": 5}])
    roll(app.ctx)
    add_points(make_pageview(session, path="/blog/c"), [{"at": at, "x": 5, "y": 5}])
    assert resolve_paths(site.id, "/blog/*") == ["/blog/a", "/blog/b/", "/blog/c"]
    assert heatmap(q(site, "2026-06-03", "2026-06-03"), HeatmapFilter("/blog/*"))["total"] == 3


def test_interrupted_rollup_leaves_consistent_data(app, monkeypatch):
    site = make_site("crash.example")
    at = dt.datetime(2026, 6, 4, 8, 0, 0)
    pts = [{"at": at + dt.timedelta(seconds=i), "x": i % 50 * 7, "y": i // 50 * 7} for i in range(250)]
    add_points(make_pageview(make_session(site, at)), pts)
    monkeypatch.setattr(rollup, "BATCH", 100)
    real_write, calls = rollup.write, []

    def failing_write(dialect, agg):
        calls.append(1)
        real_write(dialect, agg)
        if len(calls) == 2:
            raise RuntimeError("disk full")  # after the upserts, before the commit

    monkeypatch.setattr(rollup, "write", failing_write)
    with pytest.raises(RuntimeError):
        roll(app.ctx)
    first_id = HeatmapPoint.select().order_by(HeatmapPoint.id).first().id
    assert RollupState.load().points_id == first_id + 99  # the first batch only
    assert clicks_rolled() == 100
    query = q(site, "2026-06-04", "2026-06-04")
    assert cells_of(heatmap(query, HeatmapFilter("/pricing"))) == expected_cells(pts, "UTC", "2026-06-04", "2026-06-04")
    monkeypatch.setattr(rollup, "write", real_write)
    roll(app.ctx)
    assert clicks_rolled() == 250
    assert cells_of(heatmap(query, HeatmapFilter("/pricing"))) == expected_cells(pts, "UTC", "2026-06-04", "2026-06-04")


def test_rebuild_reports_progress_and_settle_lag_holds_back_new_rows(app):
    site = make_site("rebuild.example")
    at = dt.datetime(2026, 6, 5, 8, 0, 0)
    pts = [{"at": at, "x": 1, "y": 1}] * 10
    add_points(make_pageview(make_session(site, at)), pts)
    # With the default settle lag, the first run only notes what exists.
    now = 1_900_000_000.0
    run_rollup(app.ctx, now=now)
    assert RollupState.load().points_id == 0
    run_rollup(app.ctx, now=now + 60)
    assert RollupState.load().points_id == HeatmapPoint.select().count()
    seen = []
    run_rollup(app.ctx, rebuild=True, progress=lambda done, total, note: seen.append((done, total)))
    assert seen[0][0] == 0 and seen[-1][0] == seen[-1][1] and seen[-1][1] >= 10
    assert clicks_rolled() == 10


def test_bad_parameters_are_named():
    for params, name in [({"url": ""}, "url"), ({"url": "/", "kind": "hover"}, "kind"),
                         ({"url": "/", "width_min": "-4"}, "width_min"),
                         ({"url": "/", "width_min": "900", "width_max": "800"}, "width_min")]:
        with pytest.raises(QueryError) as info:
            parse_filter(params)
        assert info.value.field == name
    assert parse_filter({"url": "https://example.com/a/b?x=1#y"}).url == "/a/b"


def test_grid_arrays_round_trip_merge_and_sum_sparse_pages():
    import numpy as np

    from core.heatmaps import grids

    a = grids.cells_from_counts({(0, 4, 3, 7): 2, (2, 0, 3, 7): 1})
    b = grids.cells_from_counts({(0, 4, 3, 7): 5, (0, 4, 9000, 9000): 1})  # a stray point far away
    merged = grids.merge_cells([a, b])
    assert sorted(merged.tolist()) == [(0, 4, 3, 7, 7), (0, 4, 9000, 9000, 1), (2, 0, 3, 7, 1)]
    for compress in (False, True):
        assert grids.decode(grids.encode(merged, compress), grids.CELL).tolist() == merged.tolist()
    total = grids.CellSum()
    total.add(a)
    total.add(b)  # 9001 x 9001 cells is past the dense limit: sums sparsely, same answer
    assert total.sparse is not None
    bx, by, n = total.result()
    assert sorted(zip(bx.tolist(), by.tolist(), n.tolist(), strict=True)) == [(3, 7, 8), (9000, 9000, 1)]
    mobile = grids.keep(merged, "mobile", None)
    assert mobile.tolist() == [(2, 0, 3, 7, 1)]
    names: list[str] = []
    anchors = grids.anchors_from_counts({("#a", 0, 4, 1, 2): [3, 1], ("#b", 0, 4, 1, 2): [1, 0]}, names)
    assert names == ["#a", "#b"] and grids.merge_anchors([anchors, anchors])["n"].tolist() == [6, 2]
    assert np.array_equal(grids.merge_anchors([anchors])["rage"], [1, 0])


def test_rage_bursts_on_bogus_floods_stay_linear_and_exact():
    from core.heatmaps.rollup import rage_bursts

    at = dt.datetime(2026, 6, 6, 8, 0, 0)
    # 3,000 clicks in one second on one spot (a flood, not a person): each burst takes in the next
    # RAGE_LOOKAHEAD clicks at most, so the scan stays linear and the count bounded.
    flood = [(i, 1, "/p", POINT_CLICK, at, 10, 10, "#b", 0.5, 0.5, 1280, "desktop", 7) for i in range(3000)]
    assert len(rage_bursts([flood])) == -(-3000 // 41)
    # Two clicks, then a third 1.5 s later, or 50 px away: no rage.
    calm = [(1, 1, "/p", POINT_CLICK, at, 10, 10, "#b", 0.5, 0.5, 1280, "desktop", 8),
            (2, 1, "/p", POINT_CLICK, at + dt.timedelta(milliseconds=400), 12, 10, "#b", 0.5, 0.5, 1280, "desktop", 8),
            (3, 1, "/p", POINT_CLICK, at + dt.timedelta(milliseconds=1500), 11, 10, "#b", 0.5, 0.5, 1280, "desktop", 8),
            (4, 1, "/p", POINT_CLICK, at + dt.timedelta(milliseconds=500), 60, 10, "#b", 0.5, 0.5, 1280, "desktop", 8)]
    assert rage_bursts([calm]) == []
