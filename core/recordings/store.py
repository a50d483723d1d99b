"""Write and read recordings: chunks per pageview, content-addressed snapshots and assets.

Writes are idempotent: the flusher skips batches it has stored (batch ids), and on top of that
a full-page chunk whose events are already stored for the pageview is not stored twice, a
snapshot is keyed by (site, hash) and an asset by its content hash. Full-page (`dom`) chunks
are numbered from SEQ_BASE["dom"] + 1 in arrival order, apart from the flusher's pointer
chunks; replay orders events by time, chunk order breaking ties.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zlib
from collections.abc import Iterable
from typing import Any

import peewee

from core.models import Pageview, RecordingChunk, Session, utcnow
from core.models.recordings import (
    RecordingAsset,
    RecordingAssetRef,
    RecordingAssetUrl,
    RecordingPageSnapshot,
    RecordingSnapshot,
    RecordingSummary,
)
from core.recordings.sanitize import sanitize_document

MAX_BLOB_BYTES = 4_000_000  # uncompressed; a bigger page is replayed without its snapshot
ASSET_PATH = "/replay/asset/"
# Each mode numbers its chunks in its own range, so the flusher's pointer chunks (1, 2, …) and
# full-page chunks (1,000,001, …) of one pageview never take each other's seq.
SEQ_BASE = {"pointer": 0, "dom": 1_000_000}
MAX_CHUNK_BYTES = 60_000  # small chunks keep the player loading a long page incrementally
log = logging.getLogger("uxwizz.recordings")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_events(events: list[Any]) -> bytes:
    return zlib.compress(json.dumps(events, separators=(",", ":")).encode("utf-8"), 6)


def decode_events(data: bytes) -> list[Any]:
    return json.loads(zlib.decompress(bytes(data)).decode("utf-8"))


def _insert_ignore(query: peewee.Insert) -> None:
    """INSERT that silently skips an existing unique key, on both engines."""
    query.on_conflict_ignore().execute()


def write_chunk(*, site_id: int, session_id: int, pageview_id: int, mode: str,
                events: list[dict[str, Any]], time_key: str) -> bool:
    """Append one ordered chunk at the pageview's next seq; False when the same one is stored.

    A chunk over MAX_CHUNK_BYTES compressed is split in time order.
    """
    data = encode_events(events)
    if len(data) > MAX_CHUNK_BYTES and len(events) > 1:
        half = len(events) // 2
        first = write_chunk(site_id=site_id, session_id=session_id, pageview_id=pageview_id, mode=mode,
                            events=events[:half], time_key=time_key)
        second = write_chunk(site_id=site_id, session_id=session_id, pageview_id=pageview_id, mode=mode,
                             events=events[half:], time_key=time_key)
        return first or second
    if len(data) > MAX_CHUNK_BYTES:
        log.warning("a single recording event of %d compressed bytes was dropped", len(data))
        return False
    times = [int(e[time_key]) for e in events]
    same = RecordingChunk.select(RecordingChunk.data).where(
        (RecordingChunk.pageview == pageview_id) & (RecordingChunk.mode == mode)
        & (RecordingChunk.first_t == min(times)) & (RecordingChunk.event_count == len(events))
        & (RecordingChunk.size == len(data)))
    if any(bytes(row.data) == data for row in same):
        return False
    last = (RecordingChunk.select(peewee.fn.MAX(RecordingChunk.seq))
            .where((RecordingChunk.pageview == pageview_id) & (RecordingChunk.mode == mode)).scalar())
    RecordingChunk.insert(
        session=session_id, pageview=pageview_id, site=site_id, seq=(last or SEQ_BASE[mode]) + 1, mode=mode,
        event_count=len(events), first_t=min(times), last_t=max(times), size=len(data), data=data,
    ).execute()
    return True


def mark_dirty(session_id: int, site_id: int, started_at: Any) -> None:
    """The session's summary is stale; the summaries job recomputes it."""
    updated = (RecordingSummary.update(dirty=True, updated_at=utcnow())
               .where(RecordingSummary.session == session_id).execute())
    if not updated:
        _insert_ignore(RecordingSummary.insert(session=session_id, site=site_id, started_at=started_at,
                                               dirty=True, updated_at=utcnow()))


def write_parts(parts: dict[str, Any], *, site_id: int, session_id: int,
                pageview_ids: dict[str, int]) -> int:
    """Store the parsed `dom` and `snapshots` parts of one batch (call inside the flush transaction).

    `pageview_ids` maps the batch's page ids (`pid`) to stored pageview ids; parts naming an
    unknown page are skipped (the endpoint has already refused batches that do that). Returns
    the number of chunks and snapshot references newly stored.
    """
    from core.models import Site
    from core.sites import tracking_settings

    settings = tracking_settings(Site.get_by_id(site_id))
    if not settings["record_sessions"]:
        return 0
    stored = 0
    limit_ms = int(settings["max_recording_minutes"]) * 60_000
    for chunk in parts.get("dom", []):
        pageview_id = pageview_ids.get(chunk["pid"])
        if pageview_id is None:
            continue
        events = sorted(chunk["events"], key=lambda e: e["timestamp"])  # stable: same-ms order kept
        first = (RecordingChunk.select(peewee.fn.MIN(RecordingChunk.first_t))
                 .where((RecordingChunk.pageview == pageview_id) & (RecordingChunk.mode == "dom")).scalar())
        if first is not None and events[0]["timestamp"] - first > limit_ms:
            continue  # past the site's longest recording: the tracker should have stopped
        if write_chunk(site_id=site_id, session_id=session_id, pageview_id=pageview_id,
                       mode="dom", events=events, time_key="timestamp"):
            stored += 1
    for ref in parts.get("snapshots", []):
        pageview_id = pageview_ids.get(ref["pid"])
        if pageview_id is None:
            continue
        exists = RecordingPageSnapshot.select().where(
            (RecordingPageSnapshot.pageview == pageview_id) & (RecordingPageSnapshot.hash == ref["hash"])).exists()
        if not exists:
            _insert_ignore(RecordingPageSnapshot.insert(pageview=pageview_id, site=site_id, hash=ref["hash"],
                                                        t=ref["t"]))
            snapshot = RecordingSnapshot.get_or_none((RecordingSnapshot.site == site_id)
                                                     & (RecordingSnapshot.kind == "html")
                                                     & (RecordingSnapshot.hash == ref["hash"]))
            if snapshot is not None:
                reference_assets(site_id, pageview_id, snapshot.asset_urls.split("\n"))
            stored += 1
    for chunk in parts.get("dom", []):
        if chunk["pid"] in pageview_ids:
            urls = dom_asset_urls(chunk["events"])
            refs = [e["ref"] for e in chunk["events"] if "ref" in e]
            for digest in refs:  # the link keeps the blob from being cleaned up as an orphan
                _insert_ignore(RecordingPageSnapshot.insert(pageview=pageview_ids[chunk["pid"]], site=site_id,
                                                            hash=digest, t=0))
            if refs:
                for row in RecordingSnapshot.select(RecordingSnapshot.asset_urls).where(
                        (RecordingSnapshot.site == site_id) & (RecordingSnapshot.kind == "rrweb")
                        & (RecordingSnapshot.hash.in_(refs))):
                    urls.extend(u for u in row.asset_urls.split("\n") if u)
            reference_assets(site_id, pageview_ids[chunk["pid"]], urls)
    if stored:
        session = Session.get_by_id(session_id)
        Session.update(has_recording=True).where(Session.id == session_id).execute()
        mark_dirty(session_id, site_id, session.started_at)
    return stored


def dom_asset_urls(events: Iterable[dict[str, Any]]) -> list[str]:
    """Stylesheet URLs in rrweb full snapshots and added nodes that rrweb could not inline."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        attributes = node.get("attributes")
        if node.get("tagName") == "link" and isinstance(attributes, dict):
            href = attributes.get("href")
            if isinstance(href, str) and "stylesheet" in str(attributes.get("rel", "")).lower() \
                    and href.startswith(("http://", "https://")) and "_cssText" not in attributes:
                found.append(href)
        for child in node.get("childNodes", []) or []:
            walk(child)

    for event in events:
        data = event.get("data") or {}
        if event.get("type") == 2:
            walk(data.get("node"))
        elif event.get("type") == 3 and data.get("source") == 0:
            for add in data.get("adds", []) or []:
                walk(add.get("node") if isinstance(add, dict) else None)
    return list(dict.fromkeys(found))[:200]


def url_hash(url: str) -> str:
    return sha256_hex(url.encode("utf-8"))


def reference_assets(site_id: int, pageview_id: int, urls: Iterable[str]) -> None:
    """Record that a pageview needs these URLs; new URLs wait for the fetch job."""
    for url in urls:
        if not url or len(url) > 2048:
            continue
        digest = url_hash(url)
        row = RecordingAssetUrl.get_or_none((RecordingAssetUrl.site == site_id)
                                            & (RecordingAssetUrl.url_hash == digest))
        if row is None:
            _insert_ignore(RecordingAssetUrl.insert(site=site_id, url_hash=digest, url=url, status="pending",
                                                    created_at=utcnow()))
            row = RecordingAssetUrl.get((RecordingAssetUrl.site == site_id) & (RecordingAssetUrl.url_hash == digest))
        _insert_ignore(RecordingAssetRef.insert(pageview=pageview_id, asset_url=row.id))


class BlobRejected(ValueError):
    """The uploaded blob is refused; the message names why."""


BLOB_KINDS = ("html", "rrweb")


def store_blob(site_id: int, kind: str, digest: str, url: str, body: str) -> bool:
    """Store a recording blob once per (site, kind, hash); True when it was new.

    The hash must be the sha256 of the body as sent, so nobody can plant content under a hash
    another visitor's page will reference. An "html" page is stored sanitised; an "rrweb" body
    must be a JSON object (an event's `data`).
    """
    if kind not in BLOB_KINDS:
        raise BlobRejected("kind must be html or rrweb")
    raw = body.encode("utf-8")
    if len(raw) > MAX_BLOB_BYTES:
        raise BlobRejected(f"larger than {MAX_BLOB_BYTES} bytes")
    if sha256_hex(raw) != digest:
        raise BlobRejected("hash is not the sha256 of the body")
    if have_blob(site_id, kind, digest):
        return False
    assets: list[str] = []
    if kind == "html":
        content, assets = sanitize_document(body, url)
    else:
        try:
            parsed = json.loads(body)
        except ValueError:
            raise BlobRejected("an rrweb blob must be JSON") from None
        if not isinstance(parsed, dict):
            raise BlobRejected("an rrweb blob must be a JSON object (an event's data)")
        content = body
        assets = dom_asset_urls([{"type": 2, "data": parsed}])
    data = zlib.compress(content.encode("utf-8"), 6)
    _insert_ignore(RecordingSnapshot.insert(
        site=site_id, kind=kind, hash=digest, url=url[:2048], size=len(data), raw_size=len(raw),
        asset_urls="\n".join(assets), created_at=utcnow(), data=data,
    ))
    # Pageviews may name this blob before it arrives (uploads race the batches): link their assets.
    for link in RecordingPageSnapshot.select().where((RecordingPageSnapshot.site == site_id)
                                                     & (RecordingPageSnapshot.hash == digest)):
        reference_assets(site_id, link.pageview_id, assets)
    return True


def have_blob(site_id: int, kind: str, digest: str) -> bool:
    return RecordingSnapshot.select().where((RecordingSnapshot.site == site_id) & (RecordingSnapshot.kind == kind)
                                            & (RecordingSnapshot.hash == digest)).exists()


def unreferenced_blobs(site_id: int, seconds: int = 3600) -> int:
    """Blobs of a site uploaded in the last `seconds` that no page view names (yet)."""
    import datetime as dt

    since = utcnow() - dt.timedelta(seconds=seconds)
    linked = RecordingPageSnapshot.select(RecordingPageSnapshot.id).where(
        (RecordingPageSnapshot.site == site_id) & (RecordingPageSnapshot.hash == RecordingSnapshot.hash))
    return (RecordingSnapshot.select().where((RecordingSnapshot.site == site_id) & (RecordingSnapshot.created_at >= since)
                                             & ~peewee.fn.EXISTS(linked)).count())


def blob_text(site_id: int, kind: str, digest: str) -> str | None:
    row = RecordingSnapshot.get_or_none((RecordingSnapshot.site == site_id) & (RecordingSnapshot.kind == kind)
                                        & (RecordingSnapshot.hash == digest))
    return None if row is None else zlib.decompress(bytes(row.data)).decode("utf-8")


def store_asset(content_type: str, body: bytes) -> RecordingAsset:
    """Keep an asset body once per content hash."""
    digest = sha256_hex(body)
    row = RecordingAsset.get_or_none(RecordingAsset.hash == digest)
    if row is None:
        _insert_ignore(RecordingAsset.insert(hash=digest, content_type=content_type, size=len(body),
                                             created_at=utcnow(), data=body))
        row = RecordingAsset.get(RecordingAsset.hash == digest)
    return row


def asset_map(site_id: int, pageview_ids: Iterable[int]) -> dict[str, str]:
    """Absolute URL → local path, for the fetched assets these pageviews use."""
    ids = list(pageview_ids)
    if not ids:
        return {}
    rows = (RecordingAssetUrl.select(RecordingAssetUrl.url, RecordingAsset.hash)
            .join(RecordingAssetRef, on=(RecordingAssetRef.asset_url == RecordingAssetUrl.id))
            .switch(RecordingAssetUrl)
            .join(RecordingAsset, on=(RecordingAssetUrl.asset == RecordingAsset.id))
            .where((RecordingAssetUrl.site == site_id) & (RecordingAssetRef.pageview.in_(ids)))
            .tuples())
    return {url: ASSET_PATH + digest for url, digest in rows}


def session_recording(session: Session) -> list[dict[str, Any]]:
    """The replay of one session: one item per pageview with events in recorded order.

    Items follow DESIGN.md §4 (`pageview_id`, `url`, `mode`, `events`); `dom` events are rrweb
    events with blob references resolved. For the player every item also has `title`,
    `started_at` (ms), `viewport`, `doc_height`, `snapshots` ([{"t", "hash"}], pointer pages) and
    `pointer` (the pointer events kept beside a full-page recording, for click markers).
    """
    pageviews = list(Pageview.select().where(Pageview.session == session.id)
                     .order_by(Pageview.started_at, Pageview.id))
    ids = [p.id for p in pageviews]
    chunks: dict[int, list[RecordingChunk]] = {}
    snaps: dict[int, list[dict[str, Any]]] = {}
    if ids:
        for chunk in (RecordingChunk.select().where(RecordingChunk.pageview.in_(ids))
                      .order_by(RecordingChunk.pageview, RecordingChunk.first_t, RecordingChunk.seq)):
            chunks.setdefault(chunk.pageview_id, []).append(chunk)
        pages = RecordingSnapshot.select(RecordingSnapshot.hash).where(
            (RecordingSnapshot.site == session.site_id) & (RecordingSnapshot.kind == "html"))
        for ref in (RecordingPageSnapshot.select()
                    .where(RecordingPageSnapshot.pageview.in_(ids) & RecordingPageSnapshot.hash.in_(pages))
                    .order_by(RecordingPageSnapshot.t, RecordingPageSnapshot.id)):
            snaps.setdefault(ref.pageview_id, []).append({"t": ref.t, "hash": ref.hash})
    blobs: dict[str, Any] = {}
    items = []
    for pageview in pageviews:
        own = chunks.get(pageview.id, [])
        pointer = [e for c in own if c.mode == "pointer" for e in decode_events(c.data)]
        pointer.sort(key=lambda e: e.get("t", 0))  # stable: chunk order kept within one ms
        dom = [e for c in own if c.mode == "dom" for e in decode_events(c.data)]
        dom.sort(key=lambda e: e.get("timestamp", 0))
        if dom:
            dom = [_resolve(session.site_id, event, blobs) for event in dom]
            dom = [event for event in dom if event is not None]
        items.append({
            "pageview_id": pageview.id, "url": pageview.url, "mode": "dom" if dom else "pointer",
            "events": dom or pointer, "title": pageview.title, "started_at": naive_ms(pageview.started_at),
            "viewport": [pageview.viewport_w, pageview.viewport_h], "doc_height": pageview.doc_h,
            "snapshots": snaps.get(pageview.id, []), "pointer": pointer if dom else [],
        })
    return items


def _resolve(site_id: int, event: dict[str, Any], cache: dict[str, Any]) -> dict[str, Any] | None:
    """A stored placeholder `{"type", "timestamp", "ref"}` → the full event (None if the blob is gone)."""
    digest = event.get("ref")
    if digest is None:
        return event
    if digest not in cache:
        text = blob_text(site_id, "rrweb", digest)
        cache[digest] = None if text is None else json.loads(text)
    data = cache[digest]
    return None if data is None else {"type": event["type"], "timestamp": event["timestamp"], "data": data}


def naive_ms(value: Any) -> int:
    """A stored naive-UTC datetime as ms since the epoch."""
    import datetime as dt

    return int(value.replace(tzinfo=dt.UTC).timestamp() * 1000)
