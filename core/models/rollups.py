"""Daily rollups of the sessions table, so the overview and breakdowns over a million sessions stay fast.

One row per site and local day (in the site's time zone at roll-up time) with the additive totals
and a HyperLogLog sketch of the day's visitors; plus per-dimension totals (country, page, referrer…).
Maintained by the `rollups` job (core.queries.rollups); queries fall back to raw tables for days
without a complete row and whenever a segment filter is applied.
"""

from __future__ import annotations

import peewee

from .base import BaseModel
from .site import Site


class DailyStat(BaseModel):
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    day = peewee.DateField()
    timezone = peewee.CharField(max_length=64)
    sessions = peewee.IntegerField(default=0)
    pageviews = peewee.IntegerField(default=0)
    bounces = peewee.IntegerField(default=0)
    duration_sum = peewee.BigIntegerField(default=0)  # seconds
    events = peewee.IntegerField(default=0)
    visitors = peewee.IntegerField(default=0)  # exact distinct visitors of this day
    visitor_sketch = peewee.BlobField(null=True)  # HyperLogLog registers, merged for multi-day ranges
    complete = peewee.BooleanField(default=False)  # rolled up after the day (plus a grace hour) ended
    rolled_at = peewee.DateTimeField()

    class Meta:
        table_name = "rollup_daily"
        indexes = ((("site", "day"), True),)


class DailyBreakdown(BaseModel):
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
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


ROLLUP_MODELS: list[type[BaseModel]] = [DailyStat, DailyBreakdown]
