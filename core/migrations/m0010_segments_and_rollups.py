"""Saved segments, per-user watched sessions, and the daily statistics rollups.

Frozen copies of the schema as of this migration.
"""

import peewee
from playhouse.migrate import SchemaMigrator

from core.migrations import frozen_base
from core.models.base import JSONField


def up(db: peewee.Database, migrator: SchemaMigrator) -> None:
    Base = frozen_base(db)

    class site_table(Base):  # noqa: N801 - existing tables, referenced by foreign keys
        class Meta:
            table_name = "sites"

    class user_table(Base):  # noqa: N801
        class Meta:
            table_name = "users"

    class session_table(Base):  # noqa: N801
        class Meta:
            table_name = "sessions"

    class Segment(Base):
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        name = peewee.CharField(max_length=100)
        filters = JSONField()
        created_by = peewee.ForeignKeyField(user_table, null=True, on_delete="SET NULL")
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "segments"
            indexes = ((("site", "name"), True),)

    class WatchedSession(Base):
        user = peewee.ForeignKeyField(user_table, on_delete="CASCADE")
        session = peewee.ForeignKeyField(session_table, on_delete="CASCADE")
        watched_at = peewee.DateTimeField()

        class Meta:
            table_name = "watched_sessions"
            indexes = ((("user", "session"), True),)

    class DailyStat(Base):
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        day = peewee.DateField()
        timezone = peewee.CharField(max_length=64)
        sessions = peewee.IntegerField(default=0)
        pageviews = peewee.IntegerField(default=0)
        bounces = peewee.IntegerField(default=0)
        duration_sum = peewee.BigIntegerField(default=0)
        events = peewee.IntegerField(default=0)
        visitors = peewee.IntegerField(default=0)
        visitor_sketch = peewee.BlobField(null=True)
        complete = peewee.BooleanField(default=False)
        rolled_at = peewee.DateTimeField()

        class Meta:
            table_name = "rollup_daily"
            indexes = ((("site", "day"), True),)

    class DailyBreakdown(Base):
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        day = peewee.DateField()
        dimension = peewee.CharField(max_length=20)
        value = peewee.CharField(max_length=2048)
        sessions = peewee.IntegerField(default=0)
        pageviews = peewee.IntegerField(default=0)
        bounces = peewee.IntegerField(default=0)
        duration_sum = peewee.BigIntegerField(default=0)

        class Meta:
            table_name = "rollup_breakdowns"
            indexes = ((("site", "dimension", "day"), False),)

    db.create_tables([Segment, WatchedSession, DailyStat, DailyBreakdown])
