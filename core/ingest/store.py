"""Write enriched hits to the analytics tables in one transaction per batch.

Batch ids (`collect_batches`, unique per site) are inserted in the same transaction as the rows,
so a replayed journal entry or a retried request is recognised and skipped: stored exactly once.
Upserts keep first values for sessions and maxima for pageviews; tags have set semantics.
Queries are batched (one select per table per batch, multi-row inserts) so MySQL round trips stay
few: ~2000 small payloads ≈ 20 statements.
"""

from __future__ import annotations

import datetime as dt
import logging
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import peewee

from core.enrich.pipeline import MAX_PAST_MS, Hit
from core.models import CollectBatch, Event, HeatmapPoint, JSONField, Pageview, RecordingChunk, Session, SessionTag
from core.models.analytics import POINT_CLICK, POINT_MOVE, POINT_SCROLL

from .parts import CollectPart

log = logging.getLogger("uxwizz.flush")
CHUNK_ROWS = 200  # rows per multi-row INSERT: well under SQLite's variable limit for 32 columns


def ms_to_dt(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms // 1000, dt.UTC).replace(tzinfo=None)


def chunks(items: Sequence[Any], size: int = CHUNK_ROWS) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def insert_rows(model: type[peewee.Model], rows: Sequence[dict[str, Any]]) -> None:
    """Multi-row INSERT with one prepared statement (cursor.executemany).

    peewee's insert_many builds SQL through its expression tree: ~150 µs a row here, which made the
    flush the bottleneck. This is ~5 µs a row; values still go through each field's db_value.
    Keys not given take the field's default.
    """
    if not rows:
        return
    meta = model._meta
    # Every column but the key: defaults are Python-side in peewee, so the SQL must name them all.
    fields = [f for f in meta.sorted_fields if not f.primary_key]
    names = [f.name for f in fields]
    defaults = []
    for spec in fields:
        default = spec.default
        defaults.append(default() if callable(default) else default)
    # Only dates and JSON need converting; ints, floats, strings, bools and bytes go to both drivers as is.
    convert = [spec.db_value if isinstance(spec, (peewee.DateTimeField, JSONField)) else None for spec in fields]
    plan = list(zip(convert, names, [conv(d) if conv else d for conv, d in zip(convert, defaults, strict=True)],
                    strict=True))
    params = []
    for row in rows:
        values = []
        for conv, name, default in plan:
            if name in row:
                value = row[name]
                values.append(conv(value) if conv is not None else value)
            else:
                values.append(default)
        params.append(values)
    insert_tuples(model, names, params)


def insert_tuples(model: type[peewee.Model], names: Sequence[str], params: Sequence[Sequence[Any]]) -> None:
    """executemany of ready-made value tuples (in `names` order, already in database form)."""
    if not params:
        return
    meta = model._meta
    db = meta.database
    left, right = db.quote[0], db.quote[1]
    columns = ", ".join(f"{left}{meta.fields[name].column_name}{right}" for name in names)
    marks = ", ".join([db.param] * len(names))
    sql = f"INSERT INTO {left}{meta.table_name}{right} ({columns}) VALUES ({marks})"
    cursor = db.cursor()
    try:
        with peewee.__exception_wrapper__:  # driver errors become peewee's IntegrityError, OperationalError…
            for start in range(0, len(params), 1000):
                cursor.executemany(sql, params[start:start + 1000])
    finally:
        cursor.close()

def marks(n: int) -> str:
    return ", ".join([Session._meta.database.param] * n)


def query(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """A raw SELECT (`?` marks become the driver's): peewee's query builder costs ~15 µs per IN
    value, which dominated the flush with 500-value IN lists."""
    db = Session._meta.database
    if db.param != "?":
        sql = sql.replace("?", db.param)
    return list(db.execute_sql(sql, params).fetchall())


@dataclass
class StoreResult:
    stored: int = 0
    duplicates: int = 0
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class _SessionState:
    id: int
    has_values: bool
    last_seen: dt.datetime
    new_pageviews: int = 0
    events: int = 0
    clicks: int = 0
    recorded: bool = False
    fill_values: dict[str, Any] | None = None  # a first `session` block for a row created without one


def _session_columns(hit: Hit, started: dt.datetime, last_seen: dt.datetime) -> dict[str, Any]:
    values = {
        "site": hit.site.id,
        "token": hit.payload["sid"],
        "visitor_hash": hit.visitor_hash or None,
        "ip": hit.stored_ip,
        "country": hit.geo.country,
        "region": hit.geo.region,
        "city": hit.geo.city,
        "browser": hit.ua.browser,
        "browser_version": hit.ua.browser_version,
        "os": hit.ua.os,
        "os_version": hit.ua.os_version,
        "device": hit.ua.device,
        "started_at": started,
        "last_seen_at": last_seen,
    }
    values.update(hit.session_values)
    return values


def _hit_times(hit: Hit) -> tuple[dt.datetime, dt.datetime]:
    payload = hit.payload
    times = [item["t"] for name in ("pages", "events", "tags", "pointer") for item in payload.get(name, ())]
    times = [hit.time(min(times)), hit.time(max(times))] if times else [hit.received_ms]
    return ms_to_dt(min(times)), ms_to_dt(max(times))


def store_hits(hits: Iterable[Hit], parts: dict[str, CollectPart] | None = None) -> StoreResult:
    """Store the hits; call inside a transaction (the caller owns commit and retry)."""
    result = StoreResult()
    parts = parts or {}
    hits = list(hits)
    fresh = _skip_known_batches(hits, result)
    if not fresh:
        return result
    sessions = _upsert_sessions(fresh, result)
    pageviews = _upsert_pageviews(fresh, sessions, result, parts)
    _insert_events_tags(fresh, sessions, pageviews, result)
    _insert_pointer(fresh, sessions, pageviews, result)
    _write_parts(fresh, sessions, pageviews, parts)
    _update_sessions(sessions)
    rows = [{"site": h.site.id, "batch_id": h.payload["bid"], "received_at": ms_to_dt(h.received_ms)} for h in fresh]
    for part in chunks(rows):
        insert_rows(CollectBatch, part)
    result.stored = len(fresh)
    return result


def _skip_known_batches(hits: list[Hit], result: StoreResult) -> list[Hit]:
    wanted: dict[int, set[str]] = defaultdict(set)
    for hit in hits:
        wanted[hit.site.id].add(hit.payload["bid"])
    seen: set[tuple[int, str]] = set()
    for site_id, bids in wanted.items():
        for part in chunks(sorted(bids), 500):
            rows = query(f"SELECT batch_id FROM collect_batches WHERE site_id = ? AND batch_id IN ({marks(len(part))})",
                         [site_id, *part])
            seen.update((site_id, bid) for (bid,) in rows)
    fresh = []
    for hit in hits:
        key = (hit.site.id, hit.payload["bid"])
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        fresh.append(hit)
    return fresh


def _upsert_sessions(hits: list[Hit], result: StoreResult) -> dict[tuple[int, str], _SessionState]:
    tokens: dict[int, set[str]] = defaultdict(set)
    for hit in hits:
        tokens[hit.site.id].add(hit.payload["sid"])
    states: dict[tuple[int, str], _SessionState] = {}
    to_datetime = Session.last_seen_at.python_value
    for site_id, wanted in tokens.items():
        for part in chunks(sorted(wanted), 500):
            rows = query("SELECT id, token, landing_url, screen_w, language, last_seen_at FROM sessions "
                         f"WHERE site_id = ? AND token IN ({marks(len(part))})", [site_id, *part])
            for sid, tok, landing, screen_w, language, last_seen in rows:
                states[(site_id, tok)] = _SessionState(sid, bool(landing or screen_w or language),
                                                       to_datetime(last_seen))
    # New sessions: the first hit with a `session` block gives the values (first seen wins).
    new_rows: dict[tuple[int, str], dict[str, Any]] = {}
    for hit in hits:
        key = (hit.site.id, hit.payload["sid"])
        started, last_seen = _hit_times(hit)
        state = states.get(key)
        if state is not None:
            state.last_seen = max(state.last_seen, last_seen)
            if not state.has_values and "session" in hit.payload and state.fill_values is None:
                state.fill_values = dict(hit.session_values)
            continue
        row = new_rows.get(key)
        if row is None:
            row = new_rows[key] = _session_columns(hit, started, last_seen)
            row["_has_values"] = "session" in hit.payload
        else:
            row["started_at"] = min(row["started_at"], started)
            row["last_seen_at"] = max(row["last_seen_at"], last_seen)
            if not row["_has_values"] and "session" in hit.payload:
                row.update(hit.session_values)
                row["_has_values"] = True
    if new_rows:
        rows = list(new_rows.values())
        for row in rows:
            row.pop("_has_values")
        for part in chunks(rows):
            insert_rows(Session, part)
        result.rows["sessions"] += len(rows)
        by_site: dict[int, list[str]] = defaultdict(list)
        for site_id, tok in new_rows:
            by_site[site_id].append(tok)
        for site_id, toks in by_site.items():
            for part in chunks(toks, 500):
                rows = query(f"SELECT id, token, last_seen_at FROM sessions WHERE site_id = ? AND token IN "
                             f"({marks(len(part))})", [site_id, *part])
                for sid, tok, last_seen in rows:
                    states[(site_id, tok)] = _SessionState(sid, True, to_datetime(last_seen))
    return states


def _page_updates(old: dict[str, int], page: dict[str, Any]) -> dict[str, int]:
    merged = {
        "active_ms": max(old["active_ms"], page["active_ms"]),
        "visible_ms": max(old["visible_ms"], page["visible_ms"]),
        "max_scroll_pct": max(old["max_scroll_pct"], page["scroll"]),
        "doc_h": max(old["doc_h"], page["dh"]),
        "doc_w": max(old["doc_w"], page["dw"]),
    }
    return {k: v for k, v in merged.items() if v != old[k]}


def _part_pids(hit: Hit, parts: dict[str, CollectPart]) -> set[str]:
    pids: set[str] = set()
    for name, value in (hit.payload.get("x") or {}).items():
        part = parts.get(name)
        if part is not None:
            pids |= part.pids(value)
    return pids


def _upsert_pageviews(hits: list[Hit], sessions: dict[tuple[int, str], _SessionState],
                      result: StoreResult, parts: dict[str, CollectPart]) -> dict[tuple[int, str], int]:
    """Pageview ids by (session id, pid) for every pid the hits mention (pages and references)."""
    referenced: dict[int, set[str]] = defaultdict(set)
    for hit in hits:
        session_id = sessions[(hit.site.id, hit.payload["sid"])].id
        for name in ("pages", "events", "tags", "pointer"):
            for item in hit.payload.get(name, ()):
                referenced[session_id].add(item["pid"])
        referenced[session_id] |= _part_pids(hit, parts)
    existing: dict[tuple[int, str], dict[str, int]] = {}
    session_ids = sorted(referenced)
    for part in chunks(session_ids, 300):
        pids = sorted({pid for sid in part for pid in referenced[sid]})
        rows = query("SELECT id, session_id, client_id, active_ms, visible_ms, max_scroll_pct, doc_h, doc_w "
                     f"FROM pageviews WHERE session_id IN ({marks(len(part))}) AND client_id IN ({marks(len(pids))})",
                     [*part, *pids])
        for pv_id, session_id, client_id, active, visible, scroll, doc_h, doc_w in rows:
            if client_id in referenced[session_id]:
                existing[(session_id, client_id)] = {
                    "id": pv_id, "active_ms": active, "visible_ms": visible, "max_scroll_pct": scroll,
                    "doc_h": doc_h, "doc_w": doc_w}
    new_rows: dict[tuple[int, str], dict[str, Any]] = {}
    for hit in hits:
        state = sessions[(hit.site.id, hit.payload["sid"])]
        for page in hit.payload.get("pages", ()):
            key = (state.id, page["pid"])
            old = existing.get(key)
            if old is not None:
                changes = _page_updates(old, page)
                if changes:
                    old.update(changes)
                    Pageview.update(**changes).where(Pageview.id == old["id"]).execute()
                continue
            row = new_rows.get(key)
            if row is not None:  # the same page twice in one flush: keep maxima
                row.update(_page_updates(row, page))
                continue
            new_rows[key] = {
                "session": state.id, "site": hit.site.id, "client_id": page["pid"], "url": page["url"],
                "path": page["path"], "title": page["title"], "referrer": page["referrer"][:2048],
                "started_at": ms_to_dt(hit.time(page["t"])), "viewport_w": page["vw"], "viewport_h": page["vh"],
                "doc_w": page["dw"], "doc_h": page["dh"], "active_ms": page["active_ms"],
                "visible_ms": page["visible_ms"], "max_scroll_pct": page["scroll"],
            }
            state.new_pageviews += 1
    ids = {key: old["id"] for key, old in existing.items()}
    if new_rows:
        rows = list(new_rows.values())
        for part in chunks(rows):
            insert_rows(Pageview, part)
        result.rows["pageviews"] += len(rows)
        keys = list(new_rows)
        for part in chunks(keys, 300):
            session_part = sorted({sid for sid, _pid in part})
            pid_part = sorted({pid for _sid, pid in part})
            rows = query(f"SELECT id, session_id, client_id FROM pageviews WHERE session_id IN "
                         f"({marks(len(session_part))}) AND client_id IN ({marks(len(pid_part))})",
                         [*session_part, *pid_part])
            for pv_id, session_id, client_id in rows:
                ids[(session_id, client_id)] = pv_id
    return ids


def _insert_events_tags(hits: list[Hit], sessions: dict[tuple[int, str], _SessionState],
                        pageviews: dict[tuple[int, str], int], result: StoreResult) -> None:
    events: list[dict[str, Any]] = []
    wanted_tags: dict[tuple[int, str], dict[str, Any]] = {}
    for hit in hits:
        state = sessions[(hit.site.id, hit.payload["sid"])]
        for item in hit.payload.get("events", ()):
            events.append({
                "session": state.id, "pageview": pageviews.get((state.id, item["pid"])), "site": hit.site.id,
                "occurred_at": ms_to_dt(hit.time(item["t"])), "category": item["category"],
                "action": item["action"], "label": item["label"], "value": item["value"],
                "value_secondary": item["value_secondary"], "item_id": item["item_id"],
                "data": item["data"],
            })
            state.events += 1
        for item in hit.payload.get("tags", ()):
            wanted_tags.setdefault((state.id, item["tag"]), {
                "session": state.id, "site": hit.site.id, "tag": item["tag"],
                "created_at": ms_to_dt(hit.time(item["t"]))})
    for part in chunks(events):
        insert_rows(Event, part)
    result.rows["events"] += len(events)
    if wanted_tags:
        session_ids = sorted({sid for sid, _tag in wanted_tags})
        have: set[tuple[int, str]] = set()
        for part in chunks(session_ids, 500):
            have.update(query(f"SELECT session_id, tag FROM session_tags WHERE session_id IN ({marks(len(part))})",
                              list(part)))
        rows = [row for key, row in wanted_tags.items() if key not in have]
        for part in chunks(rows):
            insert_rows(SessionTag, part)
        result.rows["tags"] += len(rows)


HEATMAP_COLUMNS = ("site", "session", "pageview", "path", "kind", "occurred_at", "x", "y", "selector", "offset_x",
                   "offset_y", "viewport_w", "device")
HEAT_KINDS = {"click": POINT_CLICK, "move": POINT_MOVE, "scroll": POINT_SCROLL}


class _SecondText:
    """ms epoch → 'YYYY-MM-DD HH:MM:SS' (what both engines store), memoised per second: a batch's
    points share a few seconds, and formatting costs more than the insert."""

    def __init__(self) -> None:
        self._cache: dict[int, str] = {}

    def __call__(self, ms: int) -> str:
        second = ms // 1000
        text = self._cache.get(second)
        if text is None:
            text = self._cache[second] = ms_to_dt(ms).isoformat(" ")
        return text


def _insert_pointer(hits: list[Hit], sessions: dict[tuple[int, str], _SessionState],
                    pageviews: dict[tuple[int, str], int], result: StoreResult) -> None:
    """Heatmap points (clicks, moves, scrolls) and pointer-mode recording chunks.

    The hot loop of the flush (a batch carries up to 2000 points), hence tuples and inlined times.
    """
    points: list[tuple[Any, ...]] = []
    recordings: dict[int, list[tuple[int, Hit, list[dict[str, Any]]]]] = defaultdict(list)
    paths: dict[int, str] = {}
    for hit in hits:
        state = sessions[(hit.site.id, hit.payload["sid"])]
        for page in hit.payload.get("pages", ()):
            pv = pageviews.get((state.id, page["pid"]))
            if pv is not None:
                paths[pv] = page["path"]
    unknown_paths = {pv for hit in hits for pv in _pointer_pageviews(hit, sessions, pageviews)} - set(paths)
    for part in chunks(sorted(unknown_paths), 500):
        paths.update(query(f"SELECT id, path FROM pageviews WHERE id IN ({marks(len(part))})", list(part)))
    second_text = _SecondText()
    for hit in hits:
        pointer = hit.payload.get("pointer")
        if not pointer:
            continue
        state = sessions[(hit.site.id, hit.payload["sid"])]
        settings = hit.site.settings
        kinds = dict(HEAT_KINDS)
        if not settings.get("click_heatmaps", True):
            del kinds["click"]
        if not settings.get("move_heatmaps", True):
            del kinds["move"]
        record = settings.get("record_sessions", True)
        skew, high = hit.skew_ms, hit.received_ms
        low = high - MAX_PAST_MS
        site_id, session_id, device = hit.site.id, state.id, hit.ua.device
        by_pageview: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for point in pointer:
            pv = pageviews.get((session_id, point["pid"]))
            if pv is None:
                continue  # a page never received: nothing to attach the point to
            t = point["t"] + skew
            t = low if t < low else high if t > high else t
            kind = point["k"]
            if kind == "click":
                state.clicks += 1
            if record:
                event = {k: v for k, v in point.items() if v is not None and k != "pid"}
                event["t"] = t
                by_pageview[pv].append(event)
            heat_kind = kinds.get(kind)
            if heat_kind is not None:
                points.append((site_id, session_id, pv, paths.get(pv, "/"), heat_kind, second_text(t),
                               point.get("x", 0), point["y"], point.get("sel", ""), point.get("ox"), point.get("oy"),
                               point.get("vw", 0), device))
        for pv, events in by_pageview.items():
            events.sort(key=lambda e: e["t"])
            recordings[pv].append((events[0]["t"], hit, events))
            state.recorded = True
    insert_tuples(HeatmapPoint, HEATMAP_COLUMNS, points)
    result.rows["heatmap_points"] += len(points)
    if not recordings:
        return
    next_seq: dict[int, int] = {}
    for part in chunks(sorted(recordings), 500):
        # Pointer chunks only: full-page ("dom") chunks number themselves in their own range.
        rows = query(f"SELECT pageview_id, MAX(seq) FROM recording_chunks WHERE pageview_id IN ({marks(len(part))}) "
                     "AND mode = 'pointer' GROUP BY pageview_id", list(part))
        next_seq.update({pv: (seq or 0) + 1 for pv, seq in rows})
    rows = []
    for pv, parts in recordings.items():
        seq = next_seq.get(pv, 1)
        for _first, hit, events in sorted(parts, key=lambda item: item[0]):
            blob = zlib.compress(orjson.dumps(events), 6)
            rows.append({
                "session": sessions[(hit.site.id, hit.payload["sid"])].id, "pageview": pv, "site": hit.site.id,
                "seq": seq, "mode": "pointer", "event_count": len(events), "first_t": events[0]["t"],
                "last_t": events[-1]["t"], "size": len(blob), "data": blob,
            })
            seq += 1
    insert_rows(RecordingChunk, rows)
    result.rows["recording_chunks"] += len(rows)


def _pointer_pageviews(hit: Hit, sessions: dict[tuple[int, str], _SessionState],
                       pageviews: dict[tuple[int, str], int]) -> Iterator[int]:
    state = sessions[(hit.site.id, hit.payload["sid"])]
    for point in hit.payload.get("pointer", ()):
        pv = pageviews.get((state.id, point["pid"]))
        if pv is not None:
            yield pv


def _write_parts(hits: list[Hit], sessions: dict[tuple[int, str], _SessionState],
                 pageviews: dict[tuple[int, str], int], parts: dict[str, CollectPart]) -> None:
    for hit in hits:
        extra = hit.payload.get("x")
        if not extra:
            continue
        session_id = sessions[(hit.site.id, hit.payload["sid"])].id
        pids = _part_pids(hit, parts) | {page["pid"] for page in hit.payload.get("pages", ())}
        ids = {pid: pageviews[(session_id, pid)] for pid in pids if (session_id, pid) in pageviews}
        for name, value in extra.items():
            part = parts.get(name)
            if part is None:
                log.warning("batch part %r has no handler registered; not stored", name)
                continue
            part.write(value, site_id=hit.site.id, session_id=session_id, pageview_ids=ids)


def _update_sessions(sessions: dict[tuple[int, str], _SessionState]) -> None:
    """One prepared UPDATE for all sessions of the batch (counters, last seen, recording flag)."""
    db = Session._meta.database
    left, right = db.quote[0], db.quote[1]
    p = db.param
    sql = (f"UPDATE {left}sessions{right} SET "
           f"last_seen_at = CASE WHEN last_seen_at < {p} THEN {p} ELSE last_seen_at END, "
           f"pageview_count = pageview_count + {p}, event_count = event_count + {p}, "
           f"click_count = click_count + {p}, has_recording = CASE WHEN {p} = 1 THEN {p} ELSE has_recording END "
           f"WHERE id = {p}")
    to_db = Session.last_seen_at.db_value
    params = []
    for state in sessions.values():
        seen = to_db(state.last_seen)
        params.append((seen, seen, state.new_pageviews, state.events, state.clicks, int(state.recorded),
                       True, state.id))
        if state.fill_values:
            changes = {getattr(Session, name): value for name, value in state.fill_values.items()}
            Session.update(changes).where(Session.id == state.id).execute()
    cursor = db.cursor()
    try:
        with peewee.__exception_wrapper__:
            cursor.executemany(sql, params)
    finally:
        cursor.close()
