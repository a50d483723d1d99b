"""Heatmap rollups: raw `heatmap_points` and pageview scroll depths aggregated per site day.

Keyed by (site, page, day in the site's time zone), so a heatmap over any range of whole days
reads one small row per day instead of millions of raw points. Pages are keyed by a 16-hex hash
of the path so the unique keys stay short enough for MySQL's index limits. Only the rollup job
writes these tables.
"""

from __future__ import annotations

import peewee

from .base import BaseModel, MediumBlobField
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


class HeatmapGrid(BaseModel):
    """One page's points of one kind on one day, all devices and widths, as one compressed array.

    `data` is zlib-compressed little-endian records (core.heatmaps.grids): for point kinds
    (device, width band, bx, by, count) per BIN-px cell; for ANCHORS (selector index, device,
    band, ox, oy, count, rage) with `selectors` the JSON list the indexes point into. A busy page
    has ~10^5 cells a day: as rows that is millions per month to add up, as arrays it is a few
    dozen blobs summed with numpy."""

    site = peewee.ForeignKeyField(Site, on_delete="CASCADE", index=False)  # led by the unique key
    page_key = peewee.CharField(max_length=16)
    kind = peewee.SmallIntegerField()
    day = peewee.DateField()
    points = peewee.BigIntegerField(default=0)
    data = MediumBlobField()
    selectors = peewee.TextField(default="")

    class Meta:
        table_name = "heatmap_grids"
        indexes = ((("site", "page_key", "kind", "day"), True),)


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


HEATMAP_MODELS: list[type[BaseModel]] = [HeatmapPage, HeatmapGrid, HeatmapScroll]
