"""The one `Query` value every dashboard view and API call reads: site, date range, filters.

Parsed in one place from request parameters (a plain mapping, no Bottle). Dates are days in the
site's time zone; `utc_bounds()` turns them into the naive-UTC datetimes stored in the tables.
Segment filters (tags, visited pages, referrer, country, device, UTM, session length, events) are
validated here and kept as normalised strings, so `params()` round-trips them into a bookmarkable URL;
`core.queries.filters` turns them into SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from core.numbers import parse_whole

DEFAULT_DAYS = 14  # UXWizz's default range: the last 14 days
MAX_DAYS = 3660
PRESETS = {"today": 1, "7d": 7, "14d": 14, "30d": 30, "90d": 90, "365d": 365}


class QueryError(ValueError):
    """A parameter is invalid; `field` names it for a 422 or a form message."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class Query:
    site_id: int
    timezone: str
    start: dt.date  # first day, inclusive, in the site's time zone
    end: dt.date  # last day, inclusive
    filters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def utc_bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) as naive UTC datetimes: midnight to midnight in the site's zone."""
        zone = ZoneInfo(self.timezone)
        low = dt.datetime.combine(self.start, dt.time(), zone).astimezone(dt.UTC)
        high = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
        return low.replace(tzinfo=None), high.replace(tzinfo=None)

    def previous(self) -> Query:
        """The same number of days just before this range (for "compared to previous period")."""
        span = dt.timedelta(days=self.days)
        return replace(self, start=self.start - span, end=self.end - span)

    def with_filters(self, **changes: Any) -> Query:
        merged = {**self.filters, **changes}
        return replace(self, filters={k: v for k, v in merged.items() if v not in (None, "", [], ())})

    def params(self) -> dict[str, str]:
        """Back to URL parameters, so a view can be bookmarked and shared."""
        out = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        for key, value in self.filters.items():
            out[key] = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        return out


# Segment filters: URL parameter -> (label, validator). Validators return the normalised string or
# raise QueryError naming the parameter. Lists are comma-separated.
MAX_LIST = 20
MAX_TEXT = 512


def _text(name: str, raw: str) -> str:
    if len(raw) > MAX_TEXT:
        raise QueryError(name, f"{name} may be at most {MAX_TEXT} characters")
    return raw


def _list(name: str, raw: str) -> str:
    items = [item.strip() for item in _text(name, raw).split(",") if item.strip()]
    if len(items) > MAX_LIST:
        raise QueryError(name, f"{name} takes at most {MAX_LIST} values")
    return ",".join(items)


def _countries(name: str, raw: str) -> str:
    items = _list(name, raw.upper()).split(",")
    for item in items:
        if not (len(item) == 2 and item.isalpha() and item.isascii()) and item != "--":
            raise QueryError(name, f"{name} takes two-letter country codes such as DE (-- for unknown)")
    return ",".join(items)


def _seconds(name: str, raw: str) -> str:
    seconds = parse_whole(raw, 86400 * 7)
    if seconds is None:
        raise QueryError(name, f"{name} must be a whole number of seconds (0-604800)")
    return str(seconds)


def _devices(name: str, raw: str) -> str:
    items = _list(name, raw.lower()).split(",")
    for item in items:
        if item not in ("desktop", "tablet", "mobile"):
            raise QueryError(name, f"{name} must be desktop, tablet or mobile")
    return ",".join(items)


def _path(name: str, raw: str) -> str:
    """A page path (`*` wildcards). A full http(s) URL is cut to its path, as the heatmap `url` is;
    a ?query or #fragment is refused: paths never hold them, so the filter would match nothing."""
    text = _text(name, raw)
    if "?" in text or "#" in text:
        raise QueryError(name, f"{name} matches the page's path only: leave out ?query and #fragment")
    if text.lower().startswith(("http://", "https://")):
        try:
            text = urlsplit(text).path or "/"
        except ValueError:
            raise QueryError(name, f"{name} must be a path such as /pricing or a full http(s) URL") from None
    if not text.startswith(("/", "*")):
        raise QueryError(name, f"{name} must be a path starting with / (* is a wildcard), e.g. /pricing")
    return text


SEGMENT_FILTERS: dict[str, Any] = {
    "tag": _list,  # every listed tag (AND)
    "no_tag": _list,  # none of the listed tags
    "page": _list,  # visited any of these paths; * is a wildcard
    "entry": _path,  # the landing page's path, matched like `page`; * wildcard
    "referrer": _list,  # referrer domain (or full URL with *), "direct" for none
    "country": _countries,
    "city": _list,
    "device": _devices,
    "browser": _list,
    "os": _list,
    "language": _list,
    "utm_source": _list,
    "utm_medium": _list,
    "utm_campaign": _list,
    "min_duration": _seconds,  # session length in seconds
    "max_duration": _seconds,
    "min_pages": _seconds,
    "event_category": _text,
    "event_action": _text,
}
FILTER_NAMES: tuple[str, ...] = tuple(SEGMENT_FILTERS)


def _date(params: Mapping[str, str], name: str) -> dt.date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise QueryError(name, f"{name} must be a date like 2026-11-30") from None


def today_in(timezone: str, now: dt.datetime | None = None) -> dt.date:
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(ZoneInfo(timezone)).date()


def parse_query(
    site_id: int,
    timezone: str,
    params: Mapping[str, str],
    filter_names: tuple[str, ...] = (),
    now: dt.datetime | None = None,
) -> Query:
    """Build a Query from `from`/`to` (YYYY-MM-DD) or `range` (a preset), plus known filters."""
    today = today_in(timezone, now)
    start, end = _date(params, "from"), _date(params, "to")
    preset = (params.get("range") or "").strip()
    if preset and not (start or end):
        if preset not in PRESETS:
            raise QueryError("range", f"range must be one of {', '.join(PRESETS)}")
        start, end = today - dt.timedelta(days=PRESETS[preset] - 1), today
    end = end or today
    start = start or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise QueryError("from", "from must not be after to")
    if (end - start).days + 1 > MAX_DAYS:
        raise QueryError("from", f"a range may span at most {MAX_DAYS} days")
    filters: dict[str, str] = {}
    for name in filter_names:
        raw = (params.get(name) or "").strip()
        if not raw:
            continue
        check = SEGMENT_FILTERS.get(name)
        value = check(name, raw) if check else raw
        if value:
            filters[name] = value
    if "min_duration" in filters and "max_duration" in filters and \
            int(filters["min_duration"]) > int(filters["max_duration"]):
        raise QueryError("min_duration", "min_duration must not be more than max_duration")
    return Query(site_id=site_id, timezone=timezone, start=start, end=end, filters=filters)


def parse_segment(params: Mapping[str, str]) -> dict[str, str]:
    """Only the segment filters of `params`, validated (for saving a named segment)."""
    only = {name: params[name] for name in FILTER_NAMES if name in params}
    return dict(parse_query(0, "UTC", only, FILTER_NAMES).filters)


def parse_site_query(site_id: int, timezone: str, params: Mapping[str, str],
                     now: dt.datetime | None = None) -> Query:
    """`parse_query` with every segment filter: what the dashboard and the REST API use."""
    return parse_query(site_id, timezone, params, FILTER_NAMES, now=now)
