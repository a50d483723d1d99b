"""Heatmap rollups: raw `heatmap_points` and pageview scroll depths aggregated per site day.

Each table is keyed by (site, page, day in the site's time zone, device class, viewport-width band)
plus its own bucket, so a heatmap over any range of whole days is a SUM over a few thousand rows
instead of a scan over millions of raw points. Pages are keyed by a 16-hex hash of the path so
the unique keys stay short enough for MySQL's index limits. The rollup job upserts counts; rows are
never updated otherwise.
"""

from __future__ import annotations

import peewee

from .base import BaseModel
from .site import Site


class HeatmapPage(BaseModel):
    """Every page that has heatmap data, with its all-time point count (the page picker's order)."""

    site = peewee.ForeignKeyField(Site, on_delete="CASCADE", index=False)  # led by the unique key
    page_key = peewee.CharField(max_length=16)
    path = peewee.CharField(max_length=512)
    points = peewee.BigIntegerField(default=0)

    class Meta:
        table_name = "heatmap_pages"
        indexes = ((("site", "page_key"), True),)


class HeatmapCell(BaseModel):
    """Points binned to BIN x BIN CSS pixels of page coordinates."""

    site = peewee.ForeignKeyField(Site, on_delete="CASCADE", index=False)  # led by the unique key
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


class HeatmapAnchor(BaseModel):
    """Clicks anchored to an element: selector plus the offset inside it, binned to 1/ANCHOR_STEPS."""

    site = peewee.ForeignKeyField(Site, on_delete="CASCADE", index=False)  # led by the unique key
    page_key = peewee.CharField(max_length=16)
    day = peewee.DateField()
    device = peewee.CharField(max_length=16)
    width_band = peewee.SmallIntegerField()
    sel_key = peewee.CharField(max_length=16)
    selector = peewee.CharField(max_length=512)
    ox = peewee.SmallIntegerField()
    oy = peewee.SmallIntegerField()
    count = peewee.IntegerField()
    rage = peewee.IntegerField(default=0)  # rage-click bursts that started here

    class Meta:
        table_name = "heatmap_anchors"
        indexes = ((("site", "page_key", "day", "device", "width_band", "sel_key", "ox", "oy"), True),)


class HeatmapScroll(BaseModel):
    """Pageviews by the deepest point reached (max_scroll_pct, 0-100)."""

    site = peewee.ForeignKeyField(Site, on_delete="CASCADE", index=False)  # led by the unique key
    page_key = peewee.CharField(max_length=16)
    day = peewee.DateField()
    device = peewee.CharField(max_length=16)
    width_band = peewee.SmallIntegerField()
    depth = peewee.SmallIntegerField()
    views = peewee.IntegerField()

    class Meta:
        table_name = "heatmap_scroll"
        indexes = ((("site", "page_key", "day", "device", "width_band", "depth"), True),)


HEATMAP_MODELS: list[type[BaseModel]] = [HeatmapPage, HeatmapCell, HeatmapAnchor, HeatmapScroll]
