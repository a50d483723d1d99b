"""Heatmap rollups as one compressed array per page, kind and day (heatmap_grids) instead of one
row per cell (heatmap_cells, heatmap_anchors): a busy page's month is dozens of rows, not millions.
The old tables held only aggregates the rollup job rebuilds from raw points, so they are dropped
and the job's state is reset (its next run rebuilds everything). Frozen schema copy.
"""

import peewee
from playhouse.migrate import SchemaMigrator

from core.migrations import frozen_base


def up(db: peewee.Database, migrator: SchemaMigrator) -> None:
    Base = frozen_base(db)

    class site_table(Base):  # noqa: N801 - the existing sites table, referenced by foreign keys
        class Meta:
            table_name = "sites"

    class MediumBlobField(peewee.BlobField):
        field_type = "MEDIUMBLOB"

    class HeatmapGrid(Base):
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE", index=False)
        page_key = peewee.CharField(max_length=16)
        kind = peewee.SmallIntegerField()
        day = peewee.DateField()
        points = peewee.BigIntegerField(default=0)
        data = MediumBlobField()
        selectors = peewee.TextField(default="")

        class Meta:
            table_name = "heatmap_grids"
            indexes = ((("site", "page_key", "kind", "day"), True),)

    db.execute_sql("DROP TABLE IF EXISTS heatmap_cells")
    db.execute_sql("DROP TABLE IF EXISTS heatmap_anchors")
    db.execute_sql("DELETE FROM heatmap_scroll")
    db.execute_sql("DELETE FROM heatmap_pages")
    db.execute_sql("DELETE FROM key_values WHERE `key` = 'heatmap-rollup:state'")  # backticks: both engines
    db.create_tables([HeatmapGrid])
