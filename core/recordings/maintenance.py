"""Recording housekeeping jobs: fetch assets, refresh summaries, enforce quotas, drop orphans.

Registered in the job table by `core.recordings.register`; each is a plain function of the app
context, so `jobs run NAME` and tests call them directly.
"""

from __future__ import annotations

import logging
from typing import Any

import peewee

from core import sites
from core.context import AppContext
from core.models import RecordingChunk, Session, Site, utcnow
from core.models.recordings import (
    RecordingAsset,
    RecordingAssetRef,
    RecordingAssetUrl,
    RecordingPageSnapshot,
    RecordingSnapshot,
    RecordingSummary,
)
from core.recordings import analysis, fetcher, store
from core.recordings.sanitize import css_urls, rewrite_css_urls

log = logging.getLogger("uxwizz.recordings")
FETCH_BATCH = 50
SUMMARY_BATCH = 200
ORPHAN_GRACE_SECONDS = 3600  # a snapshot uploaded just before its batch is flushed is not an orphan


def fetch_assets(ctx: AppContext, *, resolver: fetcher.Resolver = fetcher.system_resolver,
                 **_options: Any) -> str:
    """Fetch pending stylesheet/font URLs under each site's policy; CSS imports and fonts follow."""
    done = refused = 0
    policies: dict[int, fetcher.FetchPolicy] = {}
    for _round in range(3):
        pending = list(RecordingAssetUrl.select().where(RecordingAssetUrl.status == "pending")
                       .order_by(RecordingAssetUrl.id).limit(FETCH_BATCH))
        if not pending:
            break
        for row in pending:
            policy = policies.get(row.site_id)
            if policy is None:
                site = Site.get_by_id(row.site_id)
                settings = sites.tracking_settings(site)
                policy = fetcher.policy_for_site(site.domain, settings["replay_asset_hosts"],
                                                 settings["replay_allow_private"], resolver)
                policies[row.site_id] = policy
            ok, failed = _fetch_one(row, policy, resolver)
            done += ok
            refused += failed
    return f"fetched {done} asset(s), refused or failed {refused}"


def _fetch_one(row: RecordingAssetUrl, policy: fetcher.FetchPolicy, resolver: fetcher.Resolver,
               depth: int = 0) -> tuple[int, int]:
    """(assets fetched, refused) for this URL and the imports and fonts its CSS references."""
    try:
        got = fetcher.fetch(row.url, policy, resolver)
    except fetcher.FetchRefused as exc:
        row.status, row.detail, row.fetched_at = "refused", exc.reason[:200], utcnow()
        row.save()
        return 0, 1
    done, refused = 1, 0
    body = got.body
    if got.kind == "css":
        text = body.decode("utf-8", errors="replace")
        mapping: dict[str, str] = {}
        for child in css_urls(text, got.url)[:50]:
            child_row = _asset_url_row(row.site_id, child)
            # Every pageview using this stylesheet uses its fonts and imports too.
            for ref in RecordingAssetRef.select().where(RecordingAssetRef.asset_url == row.id):
                store._insert_ignore(RecordingAssetRef.insert(pageview=ref.pageview_id, asset_url=child_row.id))
            if child_row.status == "pending" and depth < 2:  # stylesheet → @import → fonts
                ok, failed = _fetch_one(child_row, policy, resolver, depth + 1)
                done, refused = done + ok, refused + failed
                child_row = RecordingAssetUrl.get_by_id(child_row.id)
            if child_row.asset_id is not None:
                mapping[child] = store.ASSET_PATH + RecordingAsset.get_by_id(child_row.asset_id).hash
        body = rewrite_css_urls(text, got.url, mapping).encode("utf-8")
    asset = store.store_asset(got.content_type, body)
    row.asset, row.status, row.detail, row.fetched_at = asset.id, "ok", "", utcnow()
    row.save()
    return done, refused


def _asset_url_row(site_id: int, url: str) -> RecordingAssetUrl:
    digest = store.url_hash(url)
    row = RecordingAssetUrl.get_or_none((RecordingAssetUrl.site == site_id) & (RecordingAssetUrl.url_hash == digest))
    if row is None:
        store._insert_ignore(RecordingAssetUrl.insert(site=site_id, url_hash=digest, url=url[:2048],
                                                      status="pending", created_at=utcnow()))
        row = RecordingAssetUrl.get((RecordingAssetUrl.site == site_id) & (RecordingAssetUrl.url_hash == digest))
    return row


def refresh_summaries(ctx: AppContext, **_options: Any) -> str:
    """Recompute the summary of every session whose recording changed since the last run."""
    count = 0
    for summary in (RecordingSummary.select().where(RecordingSummary.dirty == True)  # noqa: E712
                    .order_by(RecordingSummary.id).limit(SUMMARY_BATCH)):
        session = Session.get_or_none(Session.id == summary.session_id)
        if session is None:
            continue
        update_summary(session)
        count += 1
    return f"refreshed {count} recording summar{'y' if count == 1 else 'ies'}"


def refresh_dirty(site_id: int, limit: int) -> int:
    """Refresh up to `limit` stale summaries of one site now (the list is being opened)."""
    count = 0
    for summary in (RecordingSummary.select().where((RecordingSummary.site == site_id)
                                                    & (RecordingSummary.dirty == True))  # noqa: E712
                    .limit(limit)):
        session = Session.get_or_none(Session.id == summary.session_id)
        if session is not None:
            update_summary(session)
            count += 1
    return count


def update_summary(session: Session) -> dict[str, Any]:
    items = store.session_recording(session)
    figures = analysis.summarise(items)
    size = (RecordingChunk.select(peewee.fn.COALESCE(peewee.fn.SUM(RecordingChunk.size), 0))
            .where(RecordingChunk.session == session.id).scalar())
    values = {**figures, "bytes": int(size or 0), "dirty": False, "updated_at": utcnow()}
    updated = RecordingSummary.update(**values).where(RecordingSummary.session == session.id).execute()
    if not updated:
        store._insert_ignore(RecordingSummary.insert(session=session.id, site=session.site_id,
                                                     started_at=session.started_at, **values))
    return values


def site_storage(site_id: int) -> dict[str, int]:
    """Bytes a site's recordings take: chunks, its snapshots, and the assets its pages use."""
    chunks = (RecordingChunk.select(peewee.fn.COALESCE(peewee.fn.SUM(RecordingChunk.size), 0))
              .where(RecordingChunk.site == site_id).scalar())
    snapshots = (RecordingSnapshot.select(peewee.fn.COALESCE(peewee.fn.SUM(RecordingSnapshot.size), 0))
                 .where(RecordingSnapshot.site == site_id).scalar())
    assets = (RecordingAsset.select(peewee.fn.COALESCE(peewee.fn.SUM(RecordingAsset.size), 0))
              .where(RecordingAsset.id.in_(RecordingAssetUrl.select(RecordingAssetUrl.asset)
                                           .where(RecordingAssetUrl.site == site_id))).scalar())
    chunks, snapshots, assets = int(chunks or 0), int(snapshots or 0), int(assets or 0)
    return {"chunks": chunks, "snapshots": snapshots, "assets": assets, "total": chunks + snapshots + assets}


def enforce_quota(ctx: AppContext, **_options: Any) -> str:
    """Per site: while its recordings exceed the quota, remove the oldest sessions' recordings.

    Only the recording goes (chunks, snapshot links, summary); the session and its statistics stay.
    """
    removed = 0
    for site in Site.select():
        quota = int(sites.tracking_settings(site)["recording_quota_mb"]) * 1024 * 1024
        removed += trim_site(ctx, site.id, quota)
    return f"removed the recordings of {removed} session(s) over quota"


def trim_site(ctx: AppContext, site_id: int, quota_bytes: int) -> int:
    """Remove the oldest recordings until the site's recordings fit `quota_bytes`.

    Chunk sizes tell how many sessions should go; snapshots and styles only those sessions used
    are freed by the orphan cleaner, so the usage is measured again after each round (a site
    whose bytes are mostly snapshots needs more rounds, never more deletions than it takes).
    """
    removed = 0
    while True:
        over = site_storage(site_id)["total"] - quota_bytes
        if over <= 0:
            return removed
        oldest = list(RecordingChunk.select(RecordingChunk.session, peewee.fn.SUM(RecordingChunk.size))
                      .join(Session, on=(RecordingChunk.session == Session.id))
                      .where(RecordingChunk.site == site_id)
                      .group_by(RecordingChunk.session, Session.started_at, Session.id)
                      .order_by(Session.started_at, Session.id).limit(100).tuples())
        if not oldest:
            return removed
        for session_id, size in oldest:
            freed = int(size or 0) + _snapshot_bytes_only_used_by(session_id)
            delete_recording(session_id)
            removed += 1
            over -= freed
            if over <= 0:
                break
        remove_orphans(ctx)


def _snapshot_bytes_only_used_by(session_id: int) -> int:
    """Bytes of the snapshots and large-event blobs that no other session's pages name."""
    from core.models import Pageview

    own = Pageview.select(Pageview.id).where(Pageview.session == session_id)
    hashes = {(row.site_id, row.hash) for row in RecordingPageSnapshot.select().where(
        RecordingPageSnapshot.pageview.in_(own))}
    total = 0
    for site_id, digest in hashes:
        shared = RecordingPageSnapshot.select().where(
            (RecordingPageSnapshot.site == site_id) & (RecordingPageSnapshot.hash == digest)
            & RecordingPageSnapshot.pageview.not_in(own)).exists()
        if not shared:
            total += int(RecordingSnapshot.select(peewee.fn.COALESCE(peewee.fn.SUM(RecordingSnapshot.size), 0))
                         .where((RecordingSnapshot.site == site_id) & (RecordingSnapshot.hash == digest)).scalar() or 0)
    return total


def delete_recording(session_id: int) -> None:
    db = RecordingChunk._meta.database
    with db.atomic():
        RecordingChunk.delete().where(RecordingChunk.session == session_id).execute()
        pageviews = [row.id for row in Session.get_by_id(session_id).pageviews]
        if pageviews:
            RecordingPageSnapshot.delete().where(RecordingPageSnapshot.pageview.in_(pageviews)).execute()
            RecordingAssetRef.delete().where(RecordingAssetRef.pageview.in_(pageviews)).execute()
        RecordingSummary.delete().where(RecordingSummary.session == session_id).execute()
        Session.update(has_recording=False).where(Session.id == session_id).execute()


def remove_orphans(ctx: AppContext, **_options: Any) -> int:
    """Snapshots, asset URLs and asset bodies nothing references any more (after sessions went).

    Registered in ctx.services["orphan_cleaners"]: retention calls it after deleting sessions.
    Returns how many rows went.
    """
    import datetime as dt

    cutoff = utcnow() - dt.timedelta(seconds=ORPHAN_GRACE_SECONDS)
    linked = RecordingPageSnapshot.select(RecordingPageSnapshot.id).where(
        (RecordingPageSnapshot.site == RecordingSnapshot.site) & (RecordingPageSnapshot.hash == RecordingSnapshot.hash))
    snapshots = (RecordingSnapshot.delete()
                 .where(~peewee.fn.EXISTS(linked) & (RecordingSnapshot.created_at < cutoff)).execute())
    used = RecordingAssetRef.select(RecordingAssetRef.id).where(RecordingAssetRef.asset_url == RecordingAssetUrl.id)
    urls = (RecordingAssetUrl.delete()
            .where(~peewee.fn.EXISTS(used) & (RecordingAssetUrl.created_at < cutoff)).execute())
    # MySQL refuses a subquery on the table being deleted from: collect the ids first.
    kept = RecordingAssetUrl.select(RecordingAssetUrl.id).where(RecordingAssetUrl.asset == RecordingAsset.id)
    dead_ids = [row.id for row in RecordingAsset.select(RecordingAsset.id)
                .where(~peewee.fn.EXISTS(kept) & (RecordingAsset.created_at < cutoff))]
    assets = RecordingAsset.delete().where(RecordingAsset.id.in_(dead_ids)).execute() if dead_ids else 0
    if snapshots or urls or assets:
        log.info("removed %d snapshot(s), %d asset URL(s), %d asset(s) no longer used", snapshots, urls, assets)
    return int(snapshots) + int(urls) + int(assets)
