"""Heatmap queries: click, movement and scroll maps of one page (or a `/blog/*` group of pages).

Reads the rollup tables for everything at or below the rollup watermarks and the raw rows above
them, bucketed by the same rules (core.heatmaps), so the answer equals a direct count over the
raw data at any moment. Falls back to raw rows alone when the rollups cannot answer exactly:
the site's time zone changed since they were built, or the request narrows to a set of sessions
(a segment), which rollups do not keep.

Pure: no Bottle. Output shape is the REST contract (DESIGN.md §4) plus a few extra keys the
dashboard player uses (`total`, `anchors`, `rage`, `views`, `pages`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import peewee

if TYPE_CHECKING:
    import numpy as np

from core.heatmaps import (
    ANCHOR_STEPS,
    BIN,
    SCROLL_STEP,
    WIDTH_BANDS,
    anchor_offset,
    anchor_step,
    bands_for,
    page_key,
    scroll_depth,
    width_band,
)
from core.heatmaps.rollup import RollupState, pageview_rows, point_rows, rage_bursts
from core.models import HeatmapPoint, Pageview, Session
from core.models.analytics import POINT_CLICK, POINT_MOVE, POINT_SCROLL
from core.models.heatmaps import HeatmapGrid, HeatmapPage, HeatmapScroll
from core.models.recordings import RecordingPageSnapshot
from core.numbers import parse_whole
from core.queries.query import Query, QueryError, parse_site_query

KINDS = {"click": POINT_CLICK, "move": POINT_MOVE, "scroll": POINT_SCROLL}
MAX_POINTS = 20_000  # cells in one answer (a 1280 x 8000 px page has 102,400 possible)
MAX_ELEMENTS = 50
MAX_ANCHORS = 5_000
MAX_PAGES = 200  # pages one wildcard may group
TAIL_SCAN = 200_000  # raw rows above a watermark read by primary key (a few rollup intervals' worth)


@dataclass(frozen=True)
class HeatmapFilter:
    """What to draw, besides the Query's site and range."""

    url: str  # a path (may contain *) as given
    kind: str = "click"
    device: str | None = None
    width_min: int | None = None
    width_max: int | None = None

    @property
    def bands(self) -> tuple[int, ...] | None:
        if self.width_min is None and self.width_max is None:
            return None
        return bands_for(self.width_min, self.width_max)


def normalize_path(url: str) -> str:
    """A full URL or a path -> the path heatmaps are keyed by (no query or fragment)."""
    text = (url or "").strip()
    if not text:
        raise QueryError("url", "url is required: a page path such as /pricing or a full URL")
    if "://" in text or text.startswith("//"):
        try:
            text = urlsplit(text).path
        except ValueError:
            raise QueryError("url", "url is not a valid URL") from None
    else:
        text = text.split("#", 1)[0].split("?", 1)[0]
    if not text.startswith("/"):
        text = "/" + text
    if len(text) > 512:
        raise QueryError("url", "url is too long (at most 512 characters of path)")
    return text


def _int_param(params: Mapping[str, str], name: str) -> int | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    width = parse_whole(raw, 100_000)
    if width is None:
        raise QueryError(name, f"{name} must be a width in px between 0 and 100000")
    return width


def parse_filter(params: Mapping[str, str]) -> HeatmapFilter:
    """`url`, `kind`, `width_min`, `width_max` from request parameters (the device class comes
    from the Query's `device` filter, see `heatmap_for_params`)."""
    kind = (params.get("kind") or "click").strip()
    if kind not in KINDS:
        raise QueryError("kind", "kind must be click, move or scroll")
    low, high = _int_param(params, "width_min"), _int_param(params, "width_max")
    if low is not None and high is not None and low > high:
        raise QueryError("width_min", "width_min must not be above width_max")
    return HeatmapFilter(normalize_path(params.get("url", "")), kind, None, low, high)


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$")


def _variants(path: str) -> list[str]:
    """`/pricing` and `/pricing/` are one page."""
    if path == "/":
        return ["/"]
    bare = path.rstrip("/") or "/"
    return [bare, bare + "/"]


def _tail_paths(site_id: int, state: RollupState, model: type[peewee.Model], since: int) -> set[str]:
    if _short_tail(model, since):
        return {p for (s, p) in model.select(model.site_id, model.path).where(model.id > since).tuples()
                if s == site_id}
    return {p for (p,) in model.select(model.path).where((model.id > since) & (model.site == site_id))
            .distinct().tuples()}


def resolve_paths(site_id: int, pattern: str, state: RollupState | None = None) -> list[str]:
    """The stored paths a request means: both slash variants, or every match of a wildcard."""
    if "*" not in pattern:
        return _variants(pattern)
    state = state or RollupState.load()
    known = {p for (p,) in HeatmapPage.select(HeatmapPage.path).where(HeatmapPage.site == site_id).tuples()}
    known |= _tail_paths(site_id, state, HeatmapPoint, state.points_id)
    known |= _tail_paths(site_id, state, Pageview, state.pageviews_id)
    matcher = _wildcard(pattern)
    return sorted(p for p in known if matcher.match(p))[:MAX_PAGES]


def top_pages(site_id: int, limit: int = 30) -> list[dict[str, Any]]:
    """Pages with the most heatmap data (all time, rolled up), for the page picker."""
    rows = (HeatmapPage.select(HeatmapPage.path, HeatmapPage.points).where(HeatmapPage.site == site_id)
            .order_by(HeatmapPage.points.desc(), HeatmapPage.path).limit(limit).tuples())
    return [{"path": path, "points": int(points)} for path, points in rows]


def _rollup_where(model: type[peewee.Model], query: Query, flt: HeatmapFilter, keys: list[str]) -> Any:
    cond = (model.site == query.site_id) & (model.page_key << keys) & (model.day >= query.start) & (
        model.day <= query.end)
    if flt.device:
        cond &= model.device == flt.device
    if flt.bands is not None:
        cond &= model.width_band << list(flt.bands)
    return cond


def _short_tail(model: type[peewee.Model], since: int) -> bool:
    """Whether the rows above `since` are few enough to read by primary key and filter here.

    They are, between two rollup runs. Then `id > since` alone must drive the query: with the
    site/page conditions next to it, SQLite's planner prefers the (site, path, kind, time) index
    and walks every point of the page in the range (1 M index entries ≈ 1 s) to find the tail."""
    return since > 0 and int(model.select(peewee.fn.MAX(model.id)).scalar() or 0) - since <= TAIL_SCAN


def _raw_points(query: Query, flt: HeatmapFilter, paths: list[str], kinds: list[int], since: int,
                session_ids: Any = None) -> list[tuple]:
    """Raw points above `since` matching the filter (width bands checked in Python, the same way
    the rollup buckets them)."""
    low, high = query.utc_bounds()
    P = HeatmapPoint
    bands = flt.bands
    if session_ids is None and _short_tail(P, since):
        # `site_id + 0`, `kind + 0`: expressions no index can serve, on both engines, so the
        # primary key range drives the scan. Raw cursor rows: peewee's per-value conversion
        # would cost more than the whole query.
        tail = point_rows(P.select().where((P.id > since) & ((P.site + 0) == query.site_id) & ((P.kind + 0) << kinds)
                                           & (P.occurred_at >= low) & (P.occurred_at < high)))
        wanted = set(paths)
        rows = []
        for r in P._meta.database.execute_sql(*tail.sql()):
            if r[2] in wanted and (not flt.device or r[11] == flt.device) and (
                    bands is None or width_band(r[10]) in bands):
                at = r[4] if isinstance(r[4], dt.datetime) else dt.datetime.fromisoformat(r[4])
                rows.append((*r[:4], at, *r[5:]))
        return rows
    cond = ((P.site == query.site_id) & (P.path << paths) & (P.kind << kinds)
            & (P.occurred_at >= low) & (P.occurred_at < high))
    if since:
        cond &= P.id > since
    if flt.device:
        cond &= P.device == flt.device
    if session_ids is not None:
        cond &= P.session << session_ids
    return [r for r in point_rows(P.select().where(cond)).tuples() if bands is None or width_band(r[10]) in bands]


def heatmap(query: Query, flt: HeatmapFilter, *, session_ids: Any = None) -> dict[str, Any]:
    """The map of one page or page group. `session_ids`: a subquery of session ids (a segment)."""
    import numpy as np  # loaded with the first heatmap, not at start-up (~15 MB, ~150 ms)

    from core.heatmaps import grids

    state = RollupState.load()
    paths = resolve_paths(query.site_id, flt.url, state)
    use_rollups = session_ids is None and state.rolled_zone(query.site_id) == query.timezone
    points_since = state.points_id if use_rollups else 0
    views_since = state.pageviews_id if use_rollups else 0
    keys = [page_key(p) for p in paths]
    result: dict[str, Any] = {"kind": flt.kind, "url": flt.url, "points": [], "elements": [], "scroll": [],
                              "total": 0, "anchors": [], "rage": [], "views": 0, "pages": paths,
                              "bin": BIN, "source": "rollup+raw" if use_rollups else "raw"}
    if not paths:
        return result
    if flt.kind == "scroll":
        result.update(_scroll(query, flt, paths, keys, use_rollups, views_since, session_ids))
        return result

    kind = KINDS[flt.kind]
    selectors: list[str] = []
    index: dict[str, int] = {}
    cells = grids.CellSum()
    anchor_parts: list[tuple[np.ndarray, ...]] = []  # (selector index, ox, oy, n, rage)
    if use_rollups:
        G = HeatmapGrid
        wanted = [kind, grids.ANCHORS] if kind == POINT_CLICK else [kind]
        rows = (G.select(G.kind, G.data, G.selectors)
                .where((G.site == query.site_id) & (G.page_key << keys) & (G.kind << wanted)
                       & (G.day >= query.start) & (G.day <= query.end)).tuples())
        for grid_kind, data, names in rows:
            if grid_kind != grids.ANCHORS:
                cells.add(grids.keep(grids.decode(data, grids.CELL), flt.device, flt.bands))
                continue
            found = grids.keep(grids.decode(data, grids.ANCHOR), flt.device, flt.bands)
            if len(found):
                # Each day has its own selector list: renumber into this answer's list.
                remap = np.array([_selector_index(index, selectors, name) for name in grids.selectors_of(names)],
                                 dtype=np.int64)
                anchor_parts.append((remap[found["sel"]], found["ox"], found["oy"], found["n"], found["rage"]))
    tail_cells: Counter = Counter()
    tail_anchors: Counter = Counter()
    tail_rage: Counter = Counter()
    clicks: dict[int, list[tuple]] = {}
    for row in _raw_points(query, flt, paths, [kind], points_since, session_ids):
        tail_cells[(0, 0, max(0, row[5]) // BIN, max(0, row[6]) // BIN)] += 1
        if kind == POINT_CLICK and row[7]:
            tail_anchors[(_selector_index(index, selectors, row[7]), anchor_step(row[8]), anchor_step(row[9]))] += 1
            clicks.setdefault(row[12], []).append(row)
    for start in rage_bursts(clicks.values()):
        tail_rage[index[start[7]]] += 1
    cells.add(grids.cells_from_counts(tail_cells))

    bx, by, counts = cells.result()
    total = int(counts.sum())
    result["total"] = total
    order = _top(counts, MAX_POINTS)
    half = BIN // 2
    result["points"] = [{"x": x, "y": y, "count": n} for x, y, n in zip(
        (bx[order] * BIN + half).tolist(), (by[order] * BIN + half).tolist(), counts[order].tolist(), strict=True)]
    if kind != POINT_CLICK or not selectors:
        return result
    if tail_anchors:
        keys_ = np.array(list(tail_anchors.keys()), dtype=np.int64).reshape(-1, 3)
        anchor_parts.append((keys_[:, 0], keys_[:, 1], keys_[:, 2],
                             np.fromiter(tail_anchors.values(), dtype=np.int64, count=len(tail_anchors)),
                             np.zeros(len(tail_anchors), dtype=np.int64)))
    sel, ox, oy, n, rage_n = (np.concatenate([part[i] for part in anchor_parts]) for i in range(5))
    steps = ANCHOR_STEPS
    # One slot per (selector, ox, oy): 40 x 40 offsets per element, added with bincount.
    linear = sel * (steps * steps) + ox.astype(np.int64) * steps + oy.astype(np.int64)
    slots = np.bincount(linear, weights=n, minlength=len(selectors) * steps * steps).astype(np.int64)
    per_element = slots.reshape(len(selectors), steps * steps).sum(axis=1)
    rage = np.bincount(sel, weights=rage_n, minlength=len(selectors)).astype(np.int64)
    for s, extra in tail_rage.items():
        rage[s] += extra
    result["elements"] = [{"selector": selectors[s], "count": int(per_element[s]),
                           "share": round(100.0 * int(per_element[s]) / total, 1) if total else 0.0}
                          for s in _top(per_element, MAX_ELEMENTS).tolist() if per_element[s] > 0]
    used = np.flatnonzero(slots)
    top = used[_top(slots[used], MAX_ANCHORS)]
    result["anchors"] = [{"selector": selectors[slot // (steps * steps)], "ox": anchor_offset(slot // steps % steps),
                          "oy": anchor_offset(slot % steps), "count": c}
                         for slot, c in zip(top.tolist(), slots[top].tolist(), strict=True)]
    result["rage"] = [{"selector": selectors[s], "count": int(rage[s])}
                      for s in _top(rage, MAX_ELEMENTS).tolist() if rage[s] > 0]
    return result


def _selector_index(index: dict[str, int], selectors: list[str], name: str) -> int:
    found = index.get(name)
    if found is None:
        found = index[name] = len(selectors)
        selectors.append(name)
    return found


def _top(values: np.ndarray, limit: int) -> np.ndarray:
    """Indexes of the `limit` largest values, largest first (ties: lower index first)."""
    import numpy as np

    if len(values) > limit:
        candidates = np.argpartition(-values, limit - 1)[:limit]
    else:
        candidates = np.arange(len(values))
    return candidates[np.lexsort((candidates, -values[candidates]))]


def _scroll(query: Query, flt: HeatmapFilter, paths: list[str], keys: list[str], use_rollups: bool,
            since: int, session_ids: Any) -> dict[str, Any]:
    depths: Counter = Counter()
    if use_rollups:
        S = HeatmapScroll
        for depth, n in (S.select(S.depth, peewee.fn.SUM(S.views)).where(_rollup_where(S, query, flt, keys))
                         .group_by(S.depth).tuples()):
            depths[int(depth)] += int(n)
    low, high = query.utc_bounds()
    V = Pageview
    bands = flt.bands
    if session_ids is None and _short_tail(V, since):
        wanted = set(paths)
        rows = [r for r in pageview_rows(V.select().where(V.id > since)).tuples()
                if r[1] == query.site_id and r[2] in wanted and low <= r[3] < high
                and (not flt.device or r[6] == flt.device)]
    else:
        cond = (V.site == query.site_id) & (V.path << paths) & (V.started_at >= low) & (V.started_at < high)
        if since:
            cond &= V.id > since
        if flt.device:
            cond &= Session.device == flt.device
        if session_ids is not None:
            cond &= V.session << session_ids
        rows = list(pageview_rows(V.select()).where(cond).tuples())
    for row in rows:
        if bands is None or width_band(row[4]) in bands:
            depths[scroll_depth(row[5])] += 1
    views = sum(depths.values())
    curve = []
    for step in range(0, 101, SCROLL_STEP):
        reached = sum(n for depth, n in depths.items() if depth >= step)
        curve.append({"depth_pct": step, "visitors_pct": round(100.0 * reached / views, 1) if views else 0.0})
    return {"scroll": curve, "views": views, "total": views}


def width_bands() -> list[dict[str, Any]]:
    """The width bands a width filter snaps to, for the dashboard's selector."""
    out = []
    for i, low in enumerate(WIDTH_BANDS):
        high = WIDTH_BANDS[i + 1] - 1 if i + 1 < len(WIDTH_BANDS) else None
        out.append({"min": low, "max": high})
    return out


def heatmap_for_params(site_id: int, timezone: str, params: Mapping[str, str], dialect: Any) -> dict[str, Any]:
    """Everything from request parameters: range and segment (the Query), page, kind, widths.

    A single `device` class is answered from rollups; several, or any other segment filter,
    narrow to the matching sessions' raw points."""
    query = parse_site_query(site_id, timezone, params)
    flt = parse_filter(params)
    device = query.filters.get("device")
    if device and "," not in device:
        flt = replace(flt, device=device)
        query = query.with_filters(device=None)
    session_ids = None
    if query.filters:
        from core.queries.filters import session_filters

        where = Session.site == site_id
        for condition in session_filters(query, dialect):
            where &= condition
        session_ids = Session.select(Session.id).where(where)
    result = heatmap(query, flt, session_ids=session_ids)
    result["from"], result["to"] = query.start.isoformat(), query.end.isoformat()
    result["page_height"] = page_height(site_id, result["pages"])
    return result


def page_height(site_id: int, paths: list[str]) -> int:
    """The median document height of the latest pageviews of these pages (0 when unknown)."""
    heights: list[int] = []
    for path in paths[:5]:
        heights += [h for (h,) in Pageview.select(Pageview.doc_h)
                    .where((Pageview.site == site_id) & (Pageview.path == path) & (Pageview.doc_h > 0))
                    .order_by(Pageview.id.desc()).limit(100).tuples()]
    heights.sort()
    return int(heights[len(heights) // 2]) if heights else 0


def latest_url(site_id: int, paths: list[str]) -> str | None:
    """The newest full URL recorded for these pages (http/https only), for the live-page mode."""
    best: tuple[int, str] | None = None
    for path in paths[:5]:
        row = (Pageview.select(Pageview.id, Pageview.url).where((Pageview.site == site_id) & (Pageview.path == path))
               .order_by(Pageview.id.desc()).limit(1).tuples().first())
        if row and (best is None or row[0] > best[0]):
            best = (row[0], row[1])
    if best is None or urlsplit(best[1]).scheme not in ("http", "https"):
        return None
    parts = urlsplit(best[1])
    return f"{parts.scheme}://{parts.netloc}{parts.path or '/'}"


def snapshot_for(site_id: int, paths: list[str], bands: tuple[int, ...] | None = None) -> tuple[str, int] | None:
    """(hash, viewport width) of the newest stored DOM snapshot of these pages, preferring one
    taken at a width inside `bands`."""
    if not paths:
        return None
    R = RecordingPageSnapshot
    rows = (R.select(R.hash, Pageview.viewport_w).join(Pageview, on=(R.pageview == Pageview.id))
            .where((Pageview.site == site_id) & (Pageview.path << paths)).order_by(R.id.desc()).limit(50).tuples())
    first = None
    for digest, width in rows:
        first = first or (digest, int(width or 0))
        if bands is None or width_band(width or 0) in bands:
            return digest, int(width or 0)
    return first
