"""Heatmap rollup tables: pages, binned cells, element anchors, scroll depths.

Frozen copies of the schema as of this migration.
"""

import peewee
from playhouse.migrate import SchemaMigrator

from core.migrations import frozen_base


def up(db: peewee.Database, migrator: SchemaMigrator) -> None:
    Base = frozen_base(db)

    class site_table(Base):  # noqa: N801 - the existing sites table, referenced by foreign keys
        class Meta:
            table_name = "sites"

    class HeatmapPage(Base):
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE", index=False)
        page_key = peewee.CharField(max_length=16)
        path = peewee.CharField(max_length=512)
        points = peewee.BigIntegerField(default=0)

        class Meta:
            table_name = "heatmap_pages"
            indexes = ((("site", "page_key"), True),)

    class HeatmapCell(Base):
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE", index=False)
        page_key = peewee.CharField(max_length=16)
        kind = peewee.SmallIntegerField()
        day = peewee.DateField()
        device = peewee.CharField(max_length=16)
        width_band = peewee.SmallIntegerField()
        bx = peewee.IntegerField()
        by = peewee.IntegerField()
        count = peewee.IntegerField()

        class Meta:
            table_name = "heatmap_cells"
            indexes = ((("site", "page_key", "kind", "day", "device", "width_band", "bx", "by"), True),)

    class HeatmapAnchor(Base):
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE", index=False)
        page_key = peewee.CharField(max_length=16)
        day = peewee.DateField()
        device = peewee.CharField(max_length=16)
        width_band = peewee.SmallIntegerField()
        sel_key = peewee.CharField(max_length=16)
        selector = peewee.CharField(max_length=512)
        ox = peewee.SmallIntegerField()
        oy = peewee.SmallIntegerField()
        count = peewee.IntegerField()
        rage = peewee.IntegerField(default=0)

        class Meta:
            table_name = "heatmap_anchors"
            indexes = ((("site", "page_key", "day", "device", "width_band", "sel_key", "ox", "oy"), True),)

    class HeatmapScroll(Base):
        site = peewee.ForeignKeyField(site_table, on_delete="CASCADE", index=False)
        page_key = peewee.CharField(max_length=16)
        day = peewee.DateField()
        device = peewee.CharField(max_length=16)
        width_band = peewee.SmallIntegerField()
        depth = peewee.SmallIntegerField()
        views = peewee.IntegerField()

        class Meta:
            table_name = "heatmap_scroll"
            indexes = ((("site", "page_key", "day", "device", "width_band", "depth"), True),)

    db.create_tables([HeatmapPage, HeatmapCell, HeatmapAnchor, HeatmapScroll])
