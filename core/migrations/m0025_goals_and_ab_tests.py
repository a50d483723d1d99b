"""Goals, A/B tests and their variants.

Frozen copies of the schema as of this migration.
"""

import peewee
from playhouse.migrate import SchemaMigrator

from core.migrations import frozen_base
from core.models.base import JSONField


def up(db: peewee.Database, migrator: SchemaMigrator) -> None:
    Base = frozen_base(db)

    class site_table(Base):  # noqa: N801 - the existing sites table, referenced by foreign keys
        class Meta:
            table_name = "sites"

    class Goal(Base):
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        name = peewee.CharField(max_length=100)
        kind = peewee.CharField(max_length=8)
        path = peewee.CharField(max_length=512, default="")
        category = peewee.CharField(max_length=128, default="")
        action = peewee.CharField(max_length=128, default="")
        tag = peewee.CharField(max_length=128, default="")
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "goals"

    class AbTest(Base):
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE")
        name = peewee.CharField(max_length=100)
        status = peewee.CharField(max_length=8, default="draft")
        page = peewee.CharField(max_length=512, default="")
        goal = peewee.ForeignKeyField(Goal, on_delete="SET NULL", null=True)
        created_at = peewee.DateTimeField()
        started_at = peewee.DateTimeField(null=True)
        stopped_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "ab_tests"
            indexes = ((("site", "status"), False),)

    class AbVariant(Base):
        test = peewee.ForeignKeyField(AbTest, on_delete="CASCADE", index=False)
        name = peewee.CharField(max_length=100)
        position = peewee.SmallIntegerField()
        weight = peewee.SmallIntegerField()
        changes = JSONField()

        class Meta:
            table_name = "ab_variants"
            indexes = ((("test", "position"), False),)

    db.create_tables([Goal, AbTest, AbVariant])
