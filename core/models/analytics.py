"""Analytics tables written by the collection flusher and read by the dashboard.

Indexes lead with (site, time) because nearly every dashboard query is "this site, this range".
Deleting a session cascades to everything under it.
"""

from __future__ import annotations

import peewee

from .base import BaseModel, JSONField, MediumBlobField
from .site import Site

DEVICE_CLASSES = ("desktop", "tablet", "mobile")
SESSIONS_BY_START = "sessions_site_id_started_at"  # the narrow (site, started_at) index, by its name
POINT_CLICK, POINT_MOVE, POINT_SCROLL = 1, 2, 3


class Session(BaseModel):
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE", backref="sessions")
    token = peewee.CharField(max_length=64)
    visitor_hash = peewee.CharField(max_length=64, null=True)  # keyed hash of IP + UA
    ip = peewee.CharField(max_length=45, null=True)  # only when the site stores plain IPs
    country = peewee.CharField(max_length=2, default="")
    region = peewee.CharField(max_length=100, default="")
    city = peewee.CharField(max_length=100, default="")
    browser = peewee.CharField(max_length=64, default="")
    browser_version = peewee.CharField(max_length=32, default="")
    os = peewee.CharField(max_length=64, default="")
    os_version = peewee.CharField(max_length=32, default="")
    device = peewee.CharField(max_length=16, default="desktop")
    screen_w = peewee.IntegerField(default=0)
    screen_h = peewee.IntegerField(default=0)
    language = peewee.CharField(max_length=35, default="")
    timezone = peewee.CharField(max_length=64, default="")
    referrer = peewee.CharField(max_length=2048, default="")
    referrer_domain = peewee.CharField(max_length=253, default="")
    landing_url = peewee.CharField(max_length=2048, default="")
    utm_source = peewee.CharField(max_length=200, default="")
    utm_medium = peewee.CharField(max_length=200, default="")
    utm_campaign = peewee.CharField(max_length=200, default="")
    utm_term = peewee.CharField(max_length=200, default="")
    utm_content = peewee.CharField(max_length=200, default="")
    gclid = peewee.CharField(max_length=200, default="")
    fbclid = peewee.CharField(max_length=200, default="")
    started_at = peewee.DateTimeField()
    last_seen_at = peewee.DateTimeField()
    pageview_count = peewee.IntegerField(default=0)
    event_count = peewee.IntegerField(default=0)
    click_count = peewee.IntegerField(default=0)
    has_recording = peewee.BooleanField(default=False)

    class Meta:
        table_name = "sessions"
        # (site, started_at) keeps the newest-first list and its count cheap. The two wide indexes cover
        # every column the overview and the list's sorts read, so a range of 470 k sessions is read from
        # the index alone (table rows, in insertion order, are scattered over the file: seconds instead of
        # 0.2 s at 1 M sessions). The last serves segments by country and device, the most used filters;
        # it does not lead with site, so MariaDB never mistakes it for a cheap way to read "the site".
        indexes = (
            (("site", "token"), True),
            (("site", "started_at"), False),
            (("site", "started_at", "last_seen_at", "pageview_count", "event_count", "country", "device",
              "browser", "os", "visitor_hash", "ip", "token"), False),
            (("country", "device", "site", "started_at", "last_seen_at", "pageview_count", "event_count",
              "visitor_hash", "ip", "token"), False),
            (("site", "visitor_hash"), False),
        )


class Pageview(BaseModel):
    session = peewee.ForeignKeyField(Session, on_delete="CASCADE", backref="pageviews")
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    client_id = peewee.CharField(max_length=64)  # the tracker's `pid`
    url = peewee.CharField(max_length=2048)
    path = peewee.CharField(max_length=512)  # normalised URL path, for grouping and heatmaps
    title = peewee.CharField(max_length=512, default="")
    referrer = peewee.CharField(max_length=2048, default="")
    started_at = peewee.DateTimeField()
    viewport_w = peewee.IntegerField(default=0)
    viewport_h = peewee.IntegerField(default=0)
    doc_w = peewee.IntegerField(default=0)
    doc_h = peewee.IntegerField(default=0)
    active_ms = peewee.IntegerField(default=0)
    visible_ms = peewee.IntegerField(default=0)
    max_scroll_pct = peewee.SmallIntegerField(default=0)

    class Meta:
        table_name = "pageviews"
        indexes = (
            (("session", "client_id"), True),
            (("site", "started_at"), False),
            (("site", "path"), False),
        )


class Event(BaseModel):
    session = peewee.ForeignKeyField(Session, on_delete="CASCADE", backref="events")
    pageview = peewee.ForeignKeyField(Pageview, on_delete="CASCADE", null=True)
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    occurred_at = peewee.DateTimeField()
    category = peewee.CharField(max_length=128)
    action = peewee.CharField(max_length=128)
    label = peewee.CharField(max_length=256, default="")
    value = peewee.DoubleField(null=True)
    value_secondary = peewee.DoubleField(null=True)
    item_id = peewee.CharField(max_length=256, default="")
    data = JSONField(null=True)

    class Meta:
        table_name = "events"
        indexes = (
            (("site", "occurred_at"), False),
            (("site", "category", "action"), False),
        )


class SessionTag(BaseModel):
    session = peewee.ForeignKeyField(Session, on_delete="CASCADE", backref="tags")
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    tag = peewee.CharField(max_length=128)
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "session_tags"
        indexes = (
            (("session", "tag"), True),
            (("site", "tag"), False),
        )


class HeatmapPoint(BaseModel):
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    session = peewee.ForeignKeyField(Session, on_delete="CASCADE")
    pageview = peewee.ForeignKeyField(Pageview, on_delete="CASCADE")
    path = peewee.CharField(max_length=512)
    kind = peewee.SmallIntegerField()  # POINT_CLICK / POINT_MOVE / POINT_SCROLL
    occurred_at = peewee.DateTimeField()
    x = peewee.IntegerField()
    y = peewee.IntegerField()
    selector = peewee.CharField(max_length=512, default="")
    offset_x = peewee.FloatField(null=True)  # fraction 0-1 inside the selected element
    offset_y = peewee.FloatField(null=True)
    viewport_w = peewee.IntegerField(default=0)
    device = peewee.CharField(max_length=16, default="desktop")

    class Meta:
        table_name = "heatmap_points"
        indexes = ((("site", "path", "kind", "occurred_at"), False),)


class RecordingChunk(BaseModel):
    """Ordered, zlib-compressed JSON arrays of recording events for one pageview."""

    session = peewee.ForeignKeyField(Session, on_delete="CASCADE")
    pageview = peewee.ForeignKeyField(Pageview, on_delete="CASCADE", backref="recording_chunks")
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    seq = peewee.IntegerField()
    mode = peewee.CharField(max_length=8)  # "pointer" | "dom"
    event_count = peewee.IntegerField()
    first_t = peewee.BigIntegerField()  # ms epoch of the first event
    last_t = peewee.BigIntegerField()
    size = peewee.IntegerField()  # compressed bytes
    data = MediumBlobField()  # a big pointer or DOM chunk must not hit MySQL's 64 KB BLOB

    class Meta:
        table_name = "recording_chunks"
        indexes = (
            (("pageview", "seq"), True),
            (("site", "first_t"), False),
        )


class CollectBatch(BaseModel):
    """Batch ids already stored: a replayed or retried batch is acknowledged and ignored."""

    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    batch_id = peewee.CharField(max_length=80)
    received_at = peewee.DateTimeField(index=True)

    class Meta:
        table_name = "collect_batches"
        indexes = ((("site", "batch_id"), True),)


ANALYTICS_MODELS: list[type[BaseModel]] = [
    Session, Pageview, Event, SessionTag, HeatmapPoint, RecordingChunk, CollectBatch,
]
