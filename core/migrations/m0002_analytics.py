"""Analytics tables: sessions, pageviews, events, session tags, heatmap points, recording chunks,
collected batch ids. Frozen copies of the schema as of this migration.
"""

import peewee
from playhouse.migrate import SchemaMigrator

from core.migrations import frozen_base
from core.models.base import JSONField, MediumBlobField


def up(db: peewee.Database, migrator: SchemaMigrator) -> None:
    Base = frozen_base(db)

    class site_table(Base):  # noqa: N801 - the existing sites table, referenced by foreign keys
        class Meta:
            table_name = "sites"

    class Session(Base):
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        token = peewee.CharField(max_length=64)
        visitor_hash = peewee.CharField(max_length=64, null=True)
        ip = peewee.CharField(max_length=45, null=True)
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
            indexes = (
                (("site", "token"), True),
                (("site", "started_at"), False),
                (("site", "visitor_hash"), False),
            )


    class Pageview(Base):
        session = peewee.ForeignKeyField(Session, on_delete="CASCADE")
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        client_id = peewee.CharField(max_length=64)
        url = peewee.CharField(max_length=2048)
        path = peewee.CharField(max_length=512)
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


    class Event(Base):
        session = peewee.ForeignKeyField(Session, on_delete="CASCADE")
        pageview = peewee.ForeignKeyField(Pageview, on_delete="CASCADE", null=True)
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
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


    class SessionTag(Base):
        session = peewee.ForeignKeyField(Session, on_delete="CASCADE")
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        tag = peewee.CharField(max_length=128)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "session_tags"
            indexes = (
                (("session", "tag"), True),
                (("site", "tag"), False),
            )


    class HeatmapPoint(Base):
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        session = peewee.ForeignKeyField(Session, on_delete="CASCADE")
        pageview = peewee.ForeignKeyField(Pageview, on_delete="CASCADE")
        path = peewee.CharField(max_length=512)
        kind = peewee.SmallIntegerField()
        occurred_at = peewee.DateTimeField()
        x = peewee.IntegerField()
        y = peewee.IntegerField()
        selector = peewee.CharField(max_length=512, default="")
        offset_x = peewee.FloatField(null=True)
        offset_y = peewee.FloatField(null=True)
        viewport_w = peewee.IntegerField(default=0)
        device = peewee.CharField(max_length=16, default="desktop")

        class Meta:
            table_name = "heatmap_points"
            indexes = ((("site", "path", "kind", "occurred_at"), False),)


    class RecordingChunk(Base):
        session = peewee.ForeignKeyField(Session, on_delete="CASCADE")
        pageview = peewee.ForeignKeyField(Pageview, on_delete="CASCADE")
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        seq = peewee.IntegerField()
        mode = peewee.CharField(max_length=8)
        event_count = peewee.IntegerField()
        first_t = peewee.BigIntegerField()
        last_t = peewee.BigIntegerField()
        size = peewee.IntegerField()
        data = MediumBlobField()

        class Meta:
            table_name = "recording_chunks"
            indexes = (
                (("pageview", "seq"), True),
                (("site", "first_t"), False),
            )


    class CollectBatch(Base):
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        batch_id = peewee.CharField(max_length=80)
        received_at = peewee.DateTimeField(index=True)

        class Meta:
            table_name = "collect_batches"
            indexes = ((("site", "batch_id"), True),)

    db.create_tables([Session, Pageview, Event, SessionTag, HeatmapPoint, RecordingChunk, CollectBatch])
