"""Session replay tables: snapshots, assets and their URLs/references, summaries, views, shares.

Frozen copies of the schema as of this migration.
"""

import peewee
from playhouse.migrate import SchemaMigrator

from core.migrations import frozen_base


def up(db: peewee.Database, migrator: SchemaMigrator) -> None:
    Base = frozen_base(db)

    class MediumBlobField(peewee.BlobField):
        field_type = "MEDIUMBLOB"

    class site_table(Base):  # noqa: N801 - existing tables, referenced by foreign keys
        class Meta:
            table_name = "sites"

    class user_table(Base):  # noqa: N801
        class Meta:
            table_name = "users"

    class session_table(Base):  # noqa: N801
        class Meta:
            table_name = "sessions"

    class pageview_table(Base):  # noqa: N801
        class Meta:
            table_name = "pageviews"

    class RecordingSnapshot(Base):
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        kind = peewee.CharField(max_length=8, default="html")
        hash = peewee.CharField(max_length=64)
        url = peewee.CharField(max_length=2048, default="")
        size = peewee.IntegerField()
        raw_size = peewee.IntegerField()
        asset_urls = peewee.TextField(default="")
        created_at = peewee.DateTimeField()
        data = MediumBlobField()

        class Meta:
            table_name = "recording_snapshots"
            indexes = ((("site", "kind", "hash"), True),)

    class RecordingPageSnapshot(Base):
        pageview = peewee.ForeignKeyField(pageview_table, on_delete="CASCADE")
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        hash = peewee.CharField(max_length=64)
        t = peewee.BigIntegerField()

        class Meta:
            table_name = "recording_page_snapshots"
            indexes = (
                (("pageview", "hash"), True),
                (("site", "hash"), False),
            )

    class RecordingAsset(Base):
        hash = peewee.CharField(max_length=64, unique=True)
        content_type = peewee.CharField(max_length=100)
        size = peewee.IntegerField()
        created_at = peewee.DateTimeField()
        data = MediumBlobField()

        class Meta:
            table_name = "recording_assets"

    class RecordingAssetUrl(Base):
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        url_hash = peewee.CharField(max_length=64)
        url = peewee.CharField(max_length=2048)
        asset = peewee.ForeignKeyField(RecordingAsset, null=True, on_delete="SET NULL")
        status = peewee.CharField(max_length=16, default="pending")
        detail = peewee.CharField(max_length=200, default="")
        fetched_at = peewee.DateTimeField(null=True)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "recording_asset_urls"
            indexes = ((("site", "url_hash"), True), (("status", "created_at"), False))

    class RecordingAssetRef(Base):
        pageview = peewee.ForeignKeyField(pageview_table, on_delete="CASCADE")
        asset_url = peewee.ForeignKeyField(RecordingAssetUrl, on_delete="CASCADE")

        class Meta:
            table_name = "recording_asset_refs"
            indexes = ((("pageview", "asset_url"), True),)

    class RecordingSummary(Base):
        session = peewee.ForeignKeyField(session_table, on_delete="CASCADE", unique=True)
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        started_at = peewee.DateTimeField()
        mode = peewee.CharField(max_length=8, default="pointer")
        pages = peewee.IntegerField(default=0)
        duration_ms = peewee.BigIntegerField(default=0)
        events = peewee.IntegerField(default=0)
        clicks = peewee.IntegerField(default=0)
        rage_clicks = peewee.IntegerField(default=0)
        dead_clicks = peewee.IntegerField(default=0)
        activity = peewee.FloatField(default=0.0)
        bytes = peewee.BigIntegerField(default=0)
        dirty = peewee.BooleanField(default=True)
        updated_at = peewee.DateTimeField()

        class Meta:
            table_name = "recording_summaries"
            indexes = (
                (("site", "started_at"), False),
                (("site", "activity"), False),
                (("dirty",), False),
            )

    class RecordingView(Base):
        session = peewee.ForeignKeyField(session_table, on_delete="CASCADE")
        user = peewee.ForeignKeyField(user_table, on_delete="CASCADE")
        viewed_at = peewee.DateTimeField()

        class Meta:
            table_name = "recording_views"
            indexes = ((("session", "user"), True),)

    class RecordingShare(Base):
        session = peewee.ForeignKeyField(session_table, on_delete="CASCADE")
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        token_hash = peewee.CharField(max_length=64, unique=True)
        created_by = peewee.ForeignKeyField(user_table, null=True, on_delete="SET NULL")
        created_at = peewee.DateTimeField()
        revoked_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "recording_shares"

    db.create_tables([RecordingSnapshot, RecordingPageSnapshot, RecordingAsset, RecordingAssetUrl,
                      RecordingAssetRef, RecordingSummary, RecordingView, RecordingShare])
