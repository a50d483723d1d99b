"""Events and tags rollups (per site and day), and covering indexes on sessions for the overview and
the sessions list (issue #4: 1 M sessions in <= 300 ms).

Existing daily rollups keep their totals (the session cap may have removed raw rows since) and get
`has_reports = false`: the `rollups` job fills their events and tags rollups from the raw rows left,
and the reports read those days raw until then.
Frozen copies of the schema as of this migration.
"""

import peewee
from playhouse.migrate import SchemaMigrator, migrate

from core.migrations import frozen_base


def up(db: peewee.Database, migrator: SchemaMigrator) -> None:
    Base = frozen_base(db)

    class site_table(Base):  # noqa: N801 - the existing sites table, referenced by foreign keys
        class Meta:
            table_name = "sites"

    class DailyEvent(Base):
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        day = peewee.DateField()
        grain = peewee.CharField(max_length=3)
        category = peewee.CharField(max_length=128, default="")
        action = peewee.CharField(max_length=128, default="")
        label = peewee.CharField(max_length=256, default="")
        events = peewee.IntegerField(default=0)
        sessions = peewee.IntegerField(default=0)
        value_sum = peewee.DoubleField(default=0)
        value_count = peewee.IntegerField(default=0)
        value_secondary_sum = peewee.DoubleField(default=0)
        value_secondary_count = peewee.IntegerField(default=0)

        class Meta:
            table_name = "rollup_events"
            indexes = ((("site", "day", "grain"), False),)

    class DailyEventTime(Base):
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        day = peewee.DateField()
        occurred_day = peewee.DateField()
        category = peewee.CharField(max_length=128)
        action = peewee.CharField(max_length=128)
        events = peewee.IntegerField(default=0)

        class Meta:
            table_name = "rollup_event_days"
            indexes = ((("site", "day"), False),)

    class DailyTag(Base):
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        day = peewee.DateField()
        tag = peewee.CharField(max_length=128)
        sessions = peewee.IntegerField(default=0)

        class Meta:
            table_name = "rollup_tags"
            indexes = ((("site", "day"), False),)

    db.create_tables([DailyEvent, DailyEventTime, DailyTag])
    migrate(
        migrator.add_column("rollup_daily", "has_reports", peewee.BooleanField(default=False)),
        migrator.add_index("sessions", ("site_id", "started_at", "last_seen_at", "pageview_count", "event_count",
                                        "country", "device", "browser", "os", "visitor_hash", "ip", "token"), False),
        migrator.add_index("sessions", ("country", "device", "site_id", "started_at", "last_seen_at",
                                        "pageview_count", "event_count", "visitor_hash", "ip", "token"), False),
    )
