"""Daily rollups of the sessions table, so the overview and breakdowns over a million sessions stay fast.

One row per site and local day (in the site's time zone at roll-up time) with the additive totals
and a HyperLogLog sketch of the day's visitors; plus per-dimension totals (country, page, referrer…),
event totals per category/action/label, event counts per day they occurred, and sessions per tag.
A day is the local day its sessions started on, like every statistic.
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
    # The day's events and tags rollups exist too (days rolled before migration 0030 get them later,
    # from the raw rows still kept, without touching these totals).
    has_reports = peewee.BooleanField(default=False)

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


# Which event columns a `DailyEvent` row groups by: every non-empty subset of category/action/label,
# so a report grouped by some columns and narrowed by others reads the rows of exactly that set and its
# distinct-session counts stay exact (sessions add up across days, not across labels).
EVENT_GRAINS = ("c", "a", "l", "ca", "cl", "al", "cal")


class DailyEvent(BaseModel):
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    day = peewee.DateField()
    grain = peewee.CharField(max_length=3)  # one of EVENT_GRAINS; columns outside it are ""
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


class DailyEventTime(BaseModel):
    """Events of the day's sessions by the local day they occurred on (a session may cross midnight)."""

    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    day = peewee.DateField()
    occurred_day = peewee.DateField()
    category = peewee.CharField(max_length=128)
    action = peewee.CharField(max_length=128)
    events = peewee.IntegerField(default=0)

    class Meta:
        table_name = "rollup_event_days"
        indexes = ((("site", "day"), False),)


class DailyTag(BaseModel):
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    day = peewee.DateField()
    tag = peewee.CharField(max_length=128)
    sessions = peewee.IntegerField(default=0)

    class Meta:
        table_name = "rollup_tags"
        indexes = ((("site", "day"), False),)


ROLLUP_MODELS: list[type[BaseModel]] = [DailyStat, DailyBreakdown, DailyEvent, DailyEventTime, DailyTag]
