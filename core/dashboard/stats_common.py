"""What the statistics pages share: the site's Query from the request, URL building that keeps the
range and segment, display formatting, safe links to tracked URLs, and CSV responses.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import bottle

from core.i18n import _
from core.models import Site
from core.queries.query import FILTER_NAMES, PRESETS, Query, QueryError, parse_site_query
from core.queries.segments import list_segments

CSV_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")

FILTER_LABELS = {
    "tag": _("Tags (all of)"), "no_tag": _("Without tags"), "page": _("Visited page"), "entry": _("Entry page"),
    "referrer": _("Referrer"), "country": _("Country"), "city": _("City"), "device": _("Device"),
    "browser": _("Browser"), "os": _("Operating system"), "language": _("Language"),
    "utm_source": _("UTM source"), "utm_medium": _("UTM medium"), "utm_campaign": _("UTM campaign"),
    "min_duration": _("Min. length (s)"), "max_duration": _("Max. length (s)"), "min_pages": _("Min. pages"),
    "event_category": _("Event category"), "event_action": _("Event action"),
}
PRESET_LABELS = {"today": _("Today"), "7d": _("Last 7 days"), "14d": _("Last 14 days"), "30d": _("Last 30 days"),
                 "90d": _("Last 90 days"), "365d": _("Last 365 days")}


def request_params() -> dict[str, str]:
    return {key: bottle.request.query.getunicode(key) or "" for key in bottle.request.query.keys()}


def site_query(site: Site, params: Mapping[str, str] | None = None) -> tuple[Query | None, str | None, str | None]:
    """(query, None, None) or (None, field, message) when a parameter is invalid."""
    try:
        return parse_site_query(site.id, site.timezone, params if params is not None else request_params()), None, None
    except QueryError as exc:
        return None, exc.field, str(exc)


class PageUrls:
    """Links that keep the current range and segment (and change one thing)."""

    def __init__(self, site: Site, q: Query, extra: Mapping[str, str] | None = None):
        self.site = site
        self.q = q
        self.base = q.params()
        preset = bottle.request.query.getunicode("range") or ""
        if preset in PRESETS and not bottle.request.query.get("from"):
            self.base = {k: v for k, v in self.base.items() if k not in ("from", "to")} | {"range": preset}
        self.extra = dict(extra or {})

    def params(self, /, **changes: Any) -> dict[str, str]:
        merged = {**self.base, **self.extra}
        for key, value in changes.items():
            if value in (None, ""):
                merged.pop(key, None)
            else:
                merged[key] = str(value)
        return merged

    def __call__(self, target: str, /, **changes: Any) -> str:
        # positional-only: "page" is also a filter name that may come in **changes
        query = urlencode(self.params(**changes))
        return f"/sites/{self.site.id}/{target}" + (f"?{query}" if query else "")

    def without_filter(self, page: str, name: str) -> str:
        return self(page, **{name: None, "offset": None})

    def with_filter(self, page: str, name: str, value: str) -> str:
        return self(page, **{name: value, "offset": None})

    def range_only(self) -> dict[str, str]:
        return {k: v for k, v in self.params().items() if k in ("from", "to", "range")}


def safe_href(url: Any) -> str | None:
    """A tracked URL may be linked only when it is http(s); anything else is shown as text."""
    text = str(url or "").strip()
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return None
    return text if scheme in ("http", "https") and not any(c in text for c in "\r\n\t") else None


def duration(seconds: Any) -> str:
    total = int(round(float(seconds or 0)))
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m {total % 60:02d}s"
    return f"{total // 3600}h {total % 3600 // 60:02d}m"


def number(value: Any) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{int(value or 0):,}"


def change_class(metric: str, change: float | None) -> str:
    if change is None or change == 0:
        return "flat"
    good = change > 0 if metric != "bounce_rate" else change < 0
    return "up good" if (change > 0 and good) else "down good" if good else ("up bad" if change > 0 else "down bad")


def local_time(value: dt.datetime | None, timezone: str) -> str:
    if value is None:
        return ""
    from zoneinfo import ZoneInfo

    return value.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S")


def filter_chips(q: Query) -> list[dict[str, str]]:
    return [{"name": name, "label": FILTER_LABELS.get(name, name), "value": str(q.filters[name])}
            for name in FILTER_NAMES if name in q.filters]


def helpers(site: Site, q: Query, page: str, extra: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Values every statistics template gets; `extra` are page parameters links keep (sort order)."""
    urls = PageUrls(site, q, extra)
    return {
        "site": site, "q": q, "urls": urls, "current_page": page, "safe_href": safe_href,
        "fmt_duration": duration, "fmt_number": number, "change_class": change_class,
        "fmt_time": lambda value: local_time(value, site.timezone), "filter_chips": filter_chips(q),
        "filter_labels": FILTER_LABELS, "filter_names": FILTER_NAMES, "presets": PRESET_LABELS,
        "current_range": bottle.request.query.getunicode("range") or "",
        "saved_segments": list_segments(site.id),
        "can": _permissions(),
        "segment_query": lambda seg: urlencode({**urls.range_only(), **seg.filters}),
    }


def _permissions() -> dict[str, bool]:
    from core.dashboard.access import current_user_or_none
    from core.permissions import allows

    user = current_user_or_none()
    names = ("manage_tags", "delete_sessions", "manage_segments")
    return {name: bool(user is not None and allows(user.level, name)) for name in names}


def csv_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas: a cell starting with = + - @ (or tab/CR) gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = value.isoformat(" ") if isinstance(value, dt.datetime) else str(value)
    return "'" + text if text.startswith(CSV_DANGEROUS) else text


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable[Any]]) -> bottle.HTTPResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([csv_cell(cell) for cell in row])
    safe_name = "".join(c if c.isalnum() or c in "-_." else "-" for c in filename)
    return bottle.HTTPResponse(out.getvalue().encode("utf-8"), status=200, headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{safe_name}"',
    })


def invalid_query_page(field: str, message: str) -> bottle.HTTPError:
    return bottle.HTTPError(422, _("Invalid parameter {field}: {message}").format(field=field, message=message))
