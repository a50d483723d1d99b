"""A/B variants get a random key, unique per test, used in their session tag instead of the row id
(SQLite reuses the id of a deleted last row, which would mix a new variant's results with old ones).

Frozen copy of the table as of this migration.
"""

import peewee
from playhouse.migrate import SchemaMigrator, migrate


def up(db: peewee.Database, migrator: SchemaMigrator) -> None:
    class AbVariant(peewee.Model):
        key = peewee.CharField(max_length=16)

        class Meta:
            database = db
            table_name = "ab_variants"

    migrate(migrator.add_column("ab_variants", "key", peewee.CharField(max_length=16, default="")))
    # Existing variants (a handful per site) keep a unique key: "v" + their id.
    for (variant_id,) in AbVariant.select(AbVariant.id).tuples():
        AbVariant.update(key=f"v{variant_id}").where(AbVariant.id == variant_id).execute()
    migrate(migrator.add_index("ab_variants", ("test_id", "key"), True))
