"""Heatmap keys shared by the rollup job and the heatmap queries: bins, width bands, page keys.

Both sides must bucket a raw point identically, or "rollup + raw tail" would not equal a direct
count; so every bucketing rule lives here, in plain Python.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
from functools import lru_cache
from zoneinfo import ZoneInfo

BIN = 10  # px: a 1280 x 4000 page is at most 128 x 400 cells
ANCHOR_STEPS = 40  # offsets inside an element in 1/40 steps (2.5 %)
SCROLL_STEP = 5  # the scroll map's rows: 0, 5, … 100 %
# Viewport-width bands: common responsive breakpoints. A width filter snaps to these bands so
# rollups can answer it; e.g. 800-1100 px reads the 768 and 1024 bands (768-1279 px).
WIDTH_BANDS: tuple[int, ...] = (0, 480, 768, 1024, 1280, 1440, 1920, 2560)
RAGE_CLICKS = 3  # clicks…
RAGE_SECONDS = 1.0  # …within this time…
RAGE_RADIUS = 30  # …within this many px of the first: a rage click


@lru_cache(maxsize=8192)
def page_key(path: str) -> str:
    return hashlib.sha1(path.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def selector_key(selector: str) -> str:
    return hashlib.sha1(selector.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def width_band(viewport_w: int) -> int:
    return WIDTH_BANDS[max(0, bisect.bisect_right(WIDTH_BANDS, max(0, viewport_w or 0)) - 1)]


def band_span(band: int) -> tuple[int, int | None]:
    """[low, high) in px of a band; high is None for the last one."""
    index = WIDTH_BANDS.index(band)
    return band, WIDTH_BANDS[index + 1] if index + 1 < len(WIDTH_BANDS) else None


def bands_for(width_min: int | None, width_max: int | None) -> tuple[int, ...]:
    """The bands a width range touches (all bands when no range is given)."""
    low = width_band(width_min or 0)
    high = width_band(width_max) if width_max is not None else WIDTH_BANDS[-1]
    return tuple(b for b in WIDTH_BANDS if low <= b <= high)


def anchor_step(offset: float | None) -> int:
    value = 0.0 if offset is None else min(max(float(offset), 0.0), 1.0)
    return min(int(value * ANCHOR_STEPS), ANCHOR_STEPS - 1)


def anchor_offset(step: int) -> float:
    """The middle of an offset step, as a fraction (what the player places)."""
    return round((step + 0.5) / ANCHOR_STEPS, 4)


def scroll_depth(pct: int | None) -> int:
    return min(max(int(pct or 0), 0), 100)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


class LocalDays:
    """Naive-UTC datetime -> date in one time zone, cached per quarter hour (all offsets are
    multiples of 15 min), so millions of points cost a dict lookup each."""

    def __init__(self, timezone: str):
        self.zone = _zone(timezone)
        self._cache: dict[tuple[int, int, int, int, int], dt.date] = {}

    def __call__(self, moment: dt.datetime) -> dt.date:
        key = (moment.year, moment.month, moment.day, moment.hour, moment.minute // 15)
        day = self._cache.get(key)
        if day is None:
            aware = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
            day = self._cache[key] = aware.astimezone(self.zone).date()
        return day
