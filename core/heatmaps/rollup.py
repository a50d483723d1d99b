"""The `heatmap-rollup` job: raw heatmap points and pageview scroll depths into per-day rollups.

Incremental by id watermarks kept in `KeyValue["heatmap-rollup:state"]`: every raw point with
id <= `points_id` (and pageview with id <= `pageviews_id`) is in the rollup tables, nothing else
is, so a heatmap query reads the rollups plus the raw rows above the watermarks and always gets
exact counts. Each batch upserts its counts and moves the watermark in one transaction: a run
that stops half-way leaves consistent data and the next run goes on from there.

Days are days in the site's time zone (the zone each site was rolled up in is recorded in the
state): a dashboard range of whole local days then maps onto whole rollup rows. When a site's
time zone changes, queries read that site's raw points until the next run re-aggregates it.

Watermarks lag a little behind the newest rows: MySQL hands out auto-increment ids before a
transaction commits, so an id may become visible after a higher one. The job only rolls up to
the highest id it saw at least SETTLE_SECONDS ago (pageviews: SCROLL_SETTLE, because the tracker
keeps raising a pageview's scroll depth while the page stays open).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import peewee

from core.heatmaps import (
    BIN,
    RAGE_CLICKS,
    RAGE_RADIUS,
    RAGE_SECONDS,
    LocalDays,
    anchor_step,
    page_key,
    scroll_depth,
    width_band,
)
from core.models import HeatmapPoint, KeyValue, Pageview, Session, Site
from core.models.analytics import POINT_CLICK
from core.models.heatmaps import HeatmapGrid, HeatmapPage, HeatmapScroll

log = logging.getLogger("uxwizz.heatmaps")
STATE_KEY = "heatmap-rollup:state"
LOCK_NAME = "heatmap-rollup"
JOB_SECONDS = 300
BATCH = 50_000  # raw rows per transaction: ~0.5 s of work, so writers never wait long
SETTLE_SECONDS = 30.0
SCROLL_SETTLE_SECONDS = 2 * 3600.0
UPSERT_CHUNK = 400
RAGE_LOOKAHEAD = 40
EPOCH = dt.datetime(1970, 1, 1)
Progress = Callable[[int, int, str], None]


@dataclass
class RollupState:
    points_id: int = 0
    pageviews_id: int = 0
    tz: dict[str, str] = field(default_factory=dict)  # site id -> zone its rows were rolled in
    seen: list[list[Any]] = field(default_factory=list)  # [unix time, max point id, max pageview id]

    @classmethod
    def load(cls) -> RollupState:
        row = KeyValue.get_or_none(KeyValue.key == STATE_KEY)
        value = row.value if row is not None and isinstance(row.value, dict) else {}
        return cls(int(value.get("points_id", 0)), int(value.get("pageviews_id", 0)),
                   dict(value.get("tz", {})), list(value.get("seen", [])))

    def save(self) -> None:
        KeyValue.replace(key=STATE_KEY, value={
            "points_id": self.points_id, "pageviews_id": self.pageviews_id, "tz": self.tz, "seen": self.seen,
        }).execute()

    def rolled_zone(self, site_id: int) -> str | None:
        return self.tz.get(str(site_id))


def _max_id(model: type[peewee.Model]) -> int:
    return int(model.select(peewee.fn.MAX(model.id)).scalar() or 0)


def _targets(state: RollupState, now: float, settle: float, scroll_settle: float) -> tuple[int, int]:
    """The highest ids safe to roll up now, and remember what exists at this moment."""
    current = [now, _max_id(HeatmapPoint), _max_id(Pageview)]
    state.seen.append(current)
    points = max([s[1] for s in state.seen if s[0] <= now - settle] or [state.points_id])
    views = max([s[2] for s in state.seen if s[0] <= now - scroll_settle] or [state.pageviews_id])
    # Keep the newest sample old enough for each limit, and everything younger.
    oldest_needed = max([s[0] for s in state.seen if s[0] <= now - scroll_settle] or [0])
    state.seen = [s for s in state.seen if s[0] >= oldest_needed][-200:]
    return max(points, state.points_id), max(views, state.pageviews_id)


# -- aggregation (pure) -----------------------------------------------------------------------

PointRow = tuple  # (id, site_id, path, kind, occurred_at, x, y, selector, ox, oy, viewport_w, device, pageview_id)


class Aggregate:
    """Counts for one batch: per grid (site, page, kind, day) the cells, per anchor grid the
    element offsets, plus page totals and scroll depths (keyed like their tables' unique keys)."""

    def __init__(self, zones: dict[int, str]):
        from core.heatmaps import grids  # numpy: loaded when the first rollup runs, not at start-up

        self.grids = grids
        self.zones = zones
        self._days: dict[int, LocalDays] = {}
        self.cells: dict[tuple, Counter] = defaultdict(Counter)
        self.anchors: dict[tuple, dict[tuple, list[int]]] = defaultdict(dict)
        self.pages: dict[tuple[int, str], list[Any]] = {}
        self.scroll: Counter = Counter()

    def day(self, site_id: int, moment: dt.datetime) -> dt.date:
        local = self._days.get(site_id)
        if local is None:
            local = self._days[site_id] = LocalDays(self.zones.get(site_id, "UTC"))
        return local(moment)

    def _page(self, site_id: int, path: str, points: int) -> str:
        key = page_key(path)
        entry = self.pages.get((site_id, key))
        if entry is None:
            entry = self.pages[(site_id, key)] = [path, 0]
        entry[1] += points
        return key

    def add_points(self, rows: Iterable[PointRow]) -> None:
        clicks: dict[int, list[PointRow]] = defaultdict(list)
        device_code, band_code = self.grids.device_code, self.grids.band_code
        for row in rows:
            _id, site_id, path, kind, at, x, y, selector, _ox, _oy, vw, device, pageview_id = row
            key = self._page(site_id, path, 1)
            day = self.day(site_id, at)
            cell = (device_code(device), band_code(width_band(vw)), max(0, x) // BIN, max(0, y) // BIN)
            self.cells[(site_id, key, kind, day)][cell] += 1
            if kind == POINT_CLICK and selector:
                self._anchor(row, key, day)[0] += 1
                clicks[pageview_id].append(row)
        for start in rage_bursts(clicks.values()):
            self._anchor(start, page_key(start[2]), self.day(start[1], start[4]))[1] += 1

    def _anchor(self, row: PointRow, key: str, day: dt.date) -> list[int]:
        grid = self.anchors[(row[1], key, day)]
        akey = (row[7], self.grids.device_code(row[11]), self.grids.band_code(width_band(row[10])), anchor_step(row[8]),
                anchor_step(row[9]))
        entry = grid.get(akey)
        if entry is None:
            entry = grid[akey] = [0, 0]
        return entry

    def add_pageviews(self, rows: Iterable[tuple]) -> None:
        for _id, site_id, path, started_at, vw, depth, device in rows:
            key = self._page(site_id, path, 0)
            self.scroll[(site_id, key, self.day(site_id, started_at), (device or "desktop")[:16],
                         width_band(vw), scroll_depth(depth))] += 1


def rage_bursts(groups: Iterable[list[PointRow]]) -> list[PointRow]:
    """First click of every rage burst: >= RAGE_CLICKS clicks of one pageview within
    RAGE_SECONDS and RAGE_RADIUS px of the burst's first click. Stored times may have whole
    seconds only (MySQL DATETIME), so a burst there may really span up to ~2 s."""
    starts: list[PointRow] = []
    for clicks in groups:
        clicks = sorted(clicks, key=lambda r: (r[4], r[0]))
        seconds = [(c[4] - EPOCH).total_seconds() for c in clicks]
        used = [False] * len(clicks)
        for i, first in enumerate(clicks):
            if used[i]:
                continue
            members = [i]
            # A person clicks at most ~20 times a second: looking further than RAGE_LOOKAHEAD
            # clicks ahead only costs time (and bogus data with thousands of clicks in one
            # second would make this quadratic).
            for j in range(i + 1, min(len(clicks), i + 1 + RAGE_LOOKAHEAD)):
                if seconds[j] - seconds[i] > RAGE_SECONDS:
                    break
                if (not used[j] and abs(clicks[j][5] - first[5]) <= RAGE_RADIUS
                        and abs(clicks[j][6] - first[6]) <= RAGE_RADIUS):
                    members.append(j)
            if len(members) >= RAGE_CLICKS:
                starts.append(first)
                for j in members:
                    used[j] = True
    return starts


# -- writing ----------------------------------------------------------------------------------

def _upsert(dialect: Any, model: type[peewee.Model], fields: list[peewee.Field], rows: list[tuple],
            added: list[peewee.Field]) -> None:
    """INSERT … or add to the existing row's counters (the unique key decides)."""
    key = [f for f in fields if all(f is not a for a in added) and f.name not in ("path", "selector")]
    for start in range(0, len(rows), UPSERT_CHUNK):
        insert = model.insert_many(rows[start:start + UPSERT_CHUNK], fields=fields)
        dialect.upsert_adding(insert, key, added).execute()


def _save_grid(site_id: int, key: str, kind: int, day: dt.date, merge: Callable[[Any], dict[str, Any]]) -> None:
    """Read-merge-write one grid row (only the rollup job writes grids, under its lock)."""
    G = HeatmapGrid
    existing = G.get_or_none((G.site == site_id) & (G.page_key == key) & (G.kind == kind) & (G.day == day))
    row = merge(existing)
    if existing is None:
        G.insert(site=site_id, page_key=key, day=day, **row).execute()
    else:
        G.update(**row).where(G.id == existing.id).execute()


def write(dialect: Any, agg: Aggregate) -> None:
    from core.heatmaps import grids

    P, S = HeatmapPage, HeatmapScroll
    if agg.pages:
        _upsert(dialect, P, [P.site, P.page_key, P.path, P.points],
                [(s, k, path, n) for (s, k), (path, n) in agg.pages.items()], [P.points])
    for (site_id, key, kind, day), counts in agg.cells.items():
        def merge_cells(existing: Any, counts: Counter = counts, kind: int = kind) -> dict[str, Any]:
            old = [grids.decode(existing.data, grids.CELL)] if existing is not None else []
            return grids.grid_row(kind, grids.merge_cells([*old, grids.cells_from_counts(counts)]))

        _save_grid(site_id, key, kind, day, merge_cells)
    for (site_id, key, day), entries in agg.anchors.items():
        def merge_anchors(existing: Any, entries: dict = entries) -> dict[str, Any]:
            selectors = grids.selectors_of(existing.selectors) if existing is not None else []
            old = [grids.decode(existing.data, grids.ANCHOR)] if existing is not None else []
            new = grids.anchors_from_counts(entries, selectors)
            return grids.grid_row(grids.ANCHORS, grids.merge_anchors([*old, new]), selectors)

        _save_grid(site_id, key, grids.ANCHORS, day, merge_anchors)
    if agg.scroll:
        _upsert(dialect, S, [S.site, S.page_key, S.day, S.device, S.width_band, S.depth, S.views],
                [(*key, n) for key, n in agg.scroll.items()], [S.views])


def point_rows(query: peewee.ModelSelect) -> peewee.ModelSelect:
    P = HeatmapPoint
    return query.select(P.id, P.site_id, P.path, P.kind, P.occurred_at, P.x, P.y, P.selector, P.offset_x,
                        P.offset_y, P.viewport_w, P.device, P.pageview_id)


def pageview_rows(query: peewee.ModelSelect) -> peewee.ModelSelect:
    V = Pageview
    return query.select(V.id, V.site_id, V.path, V.started_at, V.viewport_w, V.max_scroll_pct,
                        Session.device).join(Session, on=(V.session == Session.id))


# -- the job ----------------------------------------------------------------------------------

def _zones() -> dict[int, str]:
    return {site_id: tz or "UTC" for site_id, tz in Site.select(Site.id, Site.timezone).tuples()}


def _roll_range(db: peewee.Database, dialect: Any, state: RollupState, zones: dict[int, str],
                model: type[peewee.Model], start: int, target: int, on_batch: Callable[[int], None],
                site_id: int | None = None) -> int:
    """Roll up rows (start, target] of one raw table in transactions of BATCH rows."""
    rolled = 0
    last = start
    is_points = model is HeatmapPoint
    while last < target:
        query = model.select().where((model.id > last) & (model.id <= target))
        if site_id is not None:
            query = query.where(model.site == site_id)
        query = (point_rows(query) if is_points else pageview_rows(query)).order_by(model.id).limit(BATCH)
        rows = list(query.tuples())
        if not rows:
            break
        batch_last = rows[-1][0]
        agg = Aggregate(zones)
        (agg.add_points if is_points else agg.add_pageviews)(rows)
        with db.atomic():
            write(dialect, agg)
            if site_id is None:
                if is_points:
                    state.points_id = batch_last
                else:
                    state.pageviews_id = batch_last
                state.save()
        rolled += len(rows)
        last = batch_last
        on_batch(len(rows))
    if site_id is None:
        # Nothing above `last` up to `target`: move the watermark over the gap too.
        with db.atomic():
            if is_points:
                state.points_id = max(state.points_id, target)
            else:
                state.pageviews_id = max(state.pageviews_id, target)
            state.save()
    return rolled


def forget_site(site_id: int) -> None:
    for model in (HeatmapGrid, HeatmapScroll, HeatmapPage):
        model.delete().where(model.site == site_id).execute()


def forget_days_before(site_id: int, day: dt.date) -> int:
    """Drop a site's rolled-up days before `day` (the retention age limit applies to them too)."""
    removed = 0
    for model in (HeatmapGrid, HeatmapScroll):
        removed += model.delete().where((model.site == site_id) & (model.day < day)).execute()
    return removed


def reset_all() -> None:
    for model in (HeatmapGrid, HeatmapScroll, HeatmapPage):
        model.delete().execute()
    KeyValue.delete().where(KeyValue.key == STATE_KEY).execute()


def run_rollup(ctx: Any, *, rebuild: bool = False, progress: Progress | None = None,
               settle_seconds: float = SETTLE_SECONDS, scroll_settle_seconds: float = SCROLL_SETTLE_SECONDS,
               now: float | None = None) -> str:
    """The job. `rebuild` drops every rollup and aggregates all raw rows again (no settle lag).

    Takes its own named lock: two runs at once (the scheduler's and `jobs run` from a shell)
    would add the same rows twice."""
    db, dialect = ctx.database.db, ctx.database.dialect
    handle = dialect.acquire_lock(db, LOCK_NAME, ctx.settings.data_dir)
    if handle is None:
        return "skipped: a heatmap rollup is running in another process"
    try:
        return _run(ctx, rebuild, progress, settle_seconds, scroll_settle_seconds, now)
    finally:
        dialect.release_lock(db, handle)


def _run(ctx: Any, rebuild: bool, progress: Progress | None, settle_seconds: float,
         scroll_settle_seconds: float, now: float | None) -> str:
    db, dialect = ctx.database.db, ctx.database.dialect
    now = time.time() if now is None else now
    if rebuild:
        with db.atomic():
            reset_all()
        settle_seconds = scroll_settle_seconds = 0.0
    state = RollupState.load()
    point_target, view_target = _targets(state, now, settle_seconds, scroll_settle_seconds)
    zones = _zones()
    # Sites whose time zone changed since they were rolled up: aggregate them again.
    moved = [sid for sid, tz in zones.items() if state.rolled_zone(sid) not in (None, tz)]
    for sid in zones:
        state.tz.setdefault(str(sid), zones[sid])
    state.save()
    total = max(0, point_target - state.points_id) + max(0, view_target - state.pageviews_id)
    done = 0

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        if progress is not None:
            progress(min(done, total), max(total, done), "")

    if progress is not None:
        progress(0, total, "")
    for sid in moved:
        with db.atomic():
            forget_site(sid)
        _roll_range(db, dialect, state, zones, HeatmapPoint, 0, state.points_id, lambda n: None, site_id=sid)
        _roll_range(db, dialect, state, zones, Pageview, 0, state.pageviews_id, lambda n: None, site_id=sid)
        state.tz[str(sid)] = zones[sid]
        state.save()
    points = _roll_range(db, dialect, state, zones, HeatmapPoint, state.points_id, point_target, advance)
    views = _roll_range(db, dialect, state, zones, Pageview, state.pageviews_id, view_target, advance)
    if progress is not None:
        progress(total, total, "")
    note = f"; re-aggregated {len(moved)} site(s) after a time zone change" if moved else ""
    return f"rolled up {points} point(s) and {views} pageview(s){note}"


def register(ctx: Any) -> None:
    from core.tasks import Job, add_jobs

    add_jobs(ctx, Job("heatmap-rollup", run_rollup, "Aggregate new heatmap points and scroll depths.",
                      seconds=JOB_SECONDS, supports_rebuild=True))
