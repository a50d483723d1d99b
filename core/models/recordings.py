"""Tables behind session replay: page snapshots, fetched stylesheets/fonts, summaries, shares.

Recorded events themselves live in `recording_chunks` (core.models.analytics). What is here is
either content-addressed (snapshots and asset bodies are stored once per hash, however many
pageviews use them) or hangs off a session and disappears with it (cascades).
"""

from __future__ import annotations

import peewee

from .accounts import User
from .analytics import Pageview, Session
from .base import BaseModel, MediumBlobField, utcnow
from .site import Site


class RecordingSnapshot(BaseModel):
    """A content-addressed recording blob (zlib), stored once per (site, kind, content hash).

    kind "html": a page version replayed under pointer data (sanitised HTML);
    kind "rrweb": the `data` of an rrweb event too large for a keepalive request (full snapshots).
    """

    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    kind = peewee.CharField(max_length=8, default="html")
    hash = peewee.CharField(max_length=64)  # sha256 hex of the body as uploaded
    url = peewee.CharField(max_length=2048, default="")
    size = peewee.IntegerField()  # compressed bytes
    raw_size = peewee.IntegerField()
    asset_urls = peewee.TextField(default="")  # newline-separated stylesheet/font URLs it references
    created_at = peewee.DateTimeField(default=utcnow)
    data = MediumBlobField()

    class Meta:
        table_name = "recording_snapshots"
        indexes = ((("site", "kind", "hash"), True),)


class RecordingPageSnapshot(BaseModel):
    """Which snapshot a pageview (pointer mode) replays over, from time `t` on (SPA: several)."""

    pageview = peewee.ForeignKeyField(Pageview, on_delete="CASCADE")
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    hash = peewee.CharField(max_length=64)
    t = peewee.BigIntegerField()  # ms epoch

    class Meta:
        table_name = "recording_page_snapshots"
        indexes = (
            (("pageview", "hash"), True),
            (("site", "hash"), False),
        )


class RecordingAsset(BaseModel):
    """A fetched stylesheet or font body, stored once per content hash (CSS already rewritten)."""

    hash = peewee.CharField(max_length=64, unique=True)
    content_type = peewee.CharField(max_length=100)
    size = peewee.IntegerField()
    created_at = peewee.DateTimeField(default=utcnow)
    data = MediumBlobField()

    class Meta:
        table_name = "recording_assets"


class RecordingAssetUrl(BaseModel):
    """A site's stylesheet/font URL and the outcome of fetching it (asset, or why not)."""

    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    url_hash = peewee.CharField(max_length=64)  # sha256 hex of the URL (URLs exceed index limits)
    url = peewee.CharField(max_length=2048)
    asset = peewee.ForeignKeyField(RecordingAsset, null=True, on_delete="SET NULL")
    status = peewee.CharField(max_length=16, default="pending")  # pending | ok | refused | failed
    detail = peewee.CharField(max_length=200, default="")
    fetched_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "recording_asset_urls"
        indexes = ((("site", "url_hash"), True), (("status", "created_at"), False))


class RecordingAssetRef(BaseModel):
    """A pageview uses an asset URL (its snapshot or its full-page events reference it)."""

    pageview = peewee.ForeignKeyField(Pageview, on_delete="CASCADE")
    asset_url = peewee.ForeignKeyField(RecordingAssetUrl, on_delete="CASCADE")

    class Meta:
        table_name = "recording_asset_refs"
        indexes = ((("pageview", "asset_url"), True),)


class RecordingSummary(BaseModel):
    """Per-session figures the recording list filters and sorts on; recomputed when chunks arrive."""

    session = peewee.ForeignKeyField(Session, on_delete="CASCADE", unique=True)
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    started_at = peewee.DateTimeField()
    mode = peewee.CharField(max_length=8, default="pointer")  # "dom" when any page is full-page
    pages = peewee.IntegerField(default=0)
    duration_ms = peewee.BigIntegerField(default=0)
    events = peewee.IntegerField(default=0)
    clicks = peewee.IntegerField(default=0)
    rage_clicks = peewee.IntegerField(default=0)
    dead_clicks = peewee.IntegerField(default=0)
    activity = peewee.FloatField(default=0.0)  # the list's sort key: interactions, weighted
    bytes = peewee.BigIntegerField(default=0)  # compressed chunk bytes
    dirty = peewee.BooleanField(default=True)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "recording_summaries"
        indexes = (
            (("site", "started_at"), False),
            (("site", "activity"), False),
            (("dirty",), False),
        )


class RecordingView(BaseModel):
    """A dashboard user watched a session's recording (the list's watched/unwatched filter)."""

    session = peewee.ForeignKeyField(Session, on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, on_delete="CASCADE")
    viewed_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "recording_views"
        indexes = ((("session", "user"), True),)


class RecordingShare(BaseModel):
    """A revocable public link to one session's replay; only the token's hash is stored."""

    session = peewee.ForeignKeyField(Session, on_delete="CASCADE")
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    token_hash = peewee.CharField(max_length=64, unique=True)
    created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow)
    revoked_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "recording_shares"


RECORDING_MODELS: list[type[BaseModel]] = [
    RecordingSnapshot, RecordingPageSnapshot, RecordingAsset, RecordingAssetUrl, RecordingAssetRef,
    RecordingSummary, RecordingView, RecordingShare,
]
