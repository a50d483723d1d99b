"""Write enriched hits to the analytics tables in one transaction per batch.

Batch ids (`collect_batches`, unique per site) are inserted in the same transaction as the rows,
so a replayed journal entry or a retried request is recognised and skipped: stored exactly once.
Upserts keep first values for sessions and maxima for pageviews; tags have set semantics.
Queries are batched (one select per table per batch, multi-row inserts) so MySQL round trips stay
few: ~2000 small payloads ≈ 20 statements.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import peewee

from core.enrich.pipeline import Hit
from core.models import CollectBatch, Event, HeatmapPoint, Pageview, RecordingChunk, Session, SessionTag
from core.models.analytics import POINT_CLICK, POINT_MOVE, POINT_SCROLL

from .parts import CollectPart

log = logging.getLogger("uxwizz.flush")
CHUNK_ROWS = 200  # rows per multi-row INSERT: well under SQLite's variable limit for 32 columns


def ms_to_dt(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms // 1000, dt.UTC).replace(tzinfo=None)


def chunks(items: Sequence[Any], size: int = CHUNK_ROWS) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


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
    times = [hit.time(item["t"]) for name in ("pages", "events", "tags", "pointer") for item in hit.payload.get(name, ())]
    if not times:
        times = [hit.received_ms]
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
        CollectBatch.insert_many(part).execute()
    result.stored = len(fresh)
    return result


def _skip_known_batches(hits: list[Hit], result: StoreResult) -> list[Hit]:
    wanted: dict[int, set[str]] = defaultdict(set)
    for hit in hits:
        wanted[hit.site.id].add(hit.payload["bid"])
    seen: set[tuple[int, str]] = set()
    for site_id, bids in wanted.items():
        for part in chunks(sorted(bids), 500):
            query = CollectBatch.select(CollectBatch.batch_id).where(
                (CollectBatch.site == site_id) & CollectBatch.batch_id.in_(list(part)))
            seen.update((site_id, bid) for (bid,) in query.tuples())
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
    fields = (Session.id, Session.token, Session.landing_url, Session.screen_w, Session.language, Session.last_seen_at)
    for site_id, wanted in tokens.items():
        for part in chunks(sorted(wanted), 500):
            query = Session.select(*fields).where((Session.site == site_id) & Session.token.in_(list(part)))
            for sid, tok, landing, screen_w, language, last_seen in query.tuples():
                states[(site_id, tok)] = _SessionState(sid, bool(landing or screen_w or language), last_seen)
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
            Session.insert_many(part).execute()
        result.rows["sessions"] += len(rows)
        by_site: dict[int, list[str]] = defaultdict(list)
        for site_id, tok in new_rows:
            by_site[site_id].append(tok)
        for site_id, toks in by_site.items():
            for part in chunks(toks, 500):
                query = Session.select(Session.id, Session.token, Session.last_seen_at).where(
                    (Session.site == site_id) & Session.token.in_(list(part)))
                for sid, tok, last_seen in query.tuples():
                    states[(site_id, tok)] = _SessionState(sid, True, last_seen)
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
    cols = (Pageview.id, Pageview.session, Pageview.client_id, Pageview.active_ms, Pageview.visible_ms,
            Pageview.max_scroll_pct, Pageview.doc_h, Pageview.doc_w)
    session_ids = sorted(referenced)
    for part in chunks(session_ids, 300):
        pids = sorted({pid for sid in part for pid in referenced[sid]})
        query = Pageview.select(*cols).where(Pageview.session.in_(list(part)) & Pageview.client_id.in_(pids))
        for pv_id, session_id, client_id, active, visible, scroll, doc_h, doc_w in query.tuples():
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
            Pageview.insert_many(part).execute()
        result.rows["pageviews"] += len(rows)
        keys = list(new_rows)
        for part in chunks(keys, 300):
            session_part = sorted({sid for sid, _pid in part})
            pid_part = sorted({pid for _sid, pid in part})
            query = Pageview.select(Pageview.id, Pageview.session, Pageview.client_id).where(
                Pageview.session.in_(session_part) & Pageview.client_id.in_(pid_part))
            for pv_id, session_id, client_id in query.tuples():
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
        # JSONField serialises on insert_many through db_value.
        Event.insert_many(part).execute()
    result.rows["events"] += len(events)
    if wanted_tags:
        session_ids = sorted({sid for sid, _tag in wanted_tags})
        have: set[tuple[int, str]] = set()
        for part in chunks(session_ids, 500):
            query = SessionTag.select(SessionTag.session, SessionTag.tag).where(SessionTag.session.in_(list(part)))
            have.update(query.tuples())
        rows = [row for key, row in wanted_tags.items() if key not in have]
        for part in chunks(rows):
            SessionTag.insert_many(part).execute()
        result.rows["tags"] += len(rows)


def _recorded_event(hit: Hit, point: dict[str, Any]) -> dict[str, Any]:
    event = {k: v for k, v in point.items() if k != "pid" and v is not None}
    event["t"] = hit.time(point["t"])
    return event


def _insert_pointer(hits: list[Hit], sessions: dict[tuple[int, str], _SessionState],
                    pageviews: dict[tuple[int, str], int], result: StoreResult) -> None:
    points: list[dict[str, Any]] = []
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
        paths.update(Pageview.select(Pageview.id, Pageview.path).where(Pageview.id.in_(list(part))).tuples())
    for hit in hits:
        state = sessions[(hit.site.id, hit.payload["sid"])]
        settings = hit.site.settings
        clicks_on = settings.get("click_heatmaps", True)
        moves_on = settings.get("move_heatmaps", True)
        by_pageview: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for point in hit.payload.get("pointer", ()):
            pv = pageviews.get((state.id, point["pid"]))
            if pv is None:
                continue  # a page never received: nothing to attach the point to
            kind = point["k"]
            if kind == "click":
                state.clicks += 1
            by_pageview[pv].append(point)
            heat_kind = {"click": POINT_CLICK if clicks_on else None, "move": POINT_MOVE if moves_on else None,
                         "scroll": POINT_SCROLL}.get(kind)
            if heat_kind is None:
                continue
            points.append({
                "site": hit.site.id, "session": state.id, "pageview": pv, "path": paths.get(pv, "/"),
                "kind": heat_kind, "occurred_at": ms_to_dt(hit.time(point["t"])),
                "x": point.get("x", 0), "y": point["y"], "selector": point.get("sel", ""),
                "offset_x": point.get("ox"), "offset_y": point.get("oy"), "viewport_w": point.get("vw", 0),
                "device": hit.ua.device,
            })
        if settings.get("record_sessions", True):
            for pv, items in by_pageview.items():
                events = sorted((_recorded_event(hit, p) for p in items), key=lambda e: e["t"])
                recordings[pv].append((events[0]["t"], hit, events))
                state.recorded = True
    for part in chunks(points, 500):
        HeatmapPoint.insert_many(part).execute()
    result.rows["heatmap_points"] += len(points)
    if not recordings:
        return
    next_seq: dict[int, int] = {}
    for part in chunks(sorted(recordings), 500):
        query = (RecordingChunk.select(RecordingChunk.pageview, peewee.fn.MAX(RecordingChunk.seq))
                 .where(RecordingChunk.pageview.in_(list(part))).group_by(RecordingChunk.pageview))
        next_seq.update({pv: (seq or 0) + 1 for pv, seq in query.tuples()})
    rows = []
    for pv, parts in recordings.items():
        seq = next_seq.get(pv, 1)
        for _first, hit, events in sorted(parts, key=lambda item: item[0]):
            blob = zlib.compress(json.dumps(events, separators=(",", ":"), ensure_ascii=False).encode(), 6)
            rows.append({
                "session": sessions[(hit.site.id, hit.payload["sid"])].id, "pageview": pv, "site": hit.site.id,
                "seq": seq, "mode": "pointer", "event_count": len(events), "first_t": events[0]["t"],
                "last_t": events[-1]["t"], "size": len(blob), "data": blob,
            })
            seq += 1
    for part in chunks(rows, 100):
        RecordingChunk.insert_many(part).execute()
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
    for state in sessions.values():
        changes: dict[Any, Any] = {
            Session.last_seen_at: peewee.Case(None, [(Session.last_seen_at < state.last_seen, state.last_seen)],
                                              Session.last_seen_at),
        }
        if state.new_pageviews:
            changes[Session.pageview_count] = Session.pageview_count + state.new_pageviews
        if state.events:
            changes[Session.event_count] = Session.event_count + state.events
        if state.clicks:
            changes[Session.click_count] = Session.click_count + state.clicks
        if state.recorded:
            changes[Session.has_recording] = True
        if state.fill_values:
            for name, value in state.fill_values.items():
                changes[getattr(Session, name)] = value
        Session.update(changes).where(Session.id == state.id).execute()
