"""URLs, referrers and campaigns: strip query parameters, compute paths, referrer domains, UTM.

Pure string work; callers pass the site's compiled strip pattern.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

UTM_KEYS = ("source", "medium", "campaign", "term", "content")


def strip_query(url: str, pattern: re.Pattern[str] | None) -> str:
    """Remove the query parameters whose names match the site's strip list."""
    if pattern is None or "?" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not pattern.fullmatch(k.lower())]
    if len(kept) == len(pairs):
        return url
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), parts.fragment))


def url_path(url: str) -> str:
    """The path for grouping and heatmaps: no query or fragment, `/` when empty, ≤ 512 chars."""
    try:
        path = urlsplit(url).path
    except ValueError:
        path = ""
    return (path or "/")[:512]


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


def referrer_domain(referrer: str, site_domain: str) -> str:
    """The referring host, or "" for none and for the site's own pages (internal navigation)."""
    host = host_of(referrer)
    if not host or host == site_domain or host.endswith("." + site_domain):
        return ""
    return host[:253]


def campaign(utm: dict[str, str] | None, landing: str, gclid: str = "", fbclid: str = "") -> dict[str, str]:
    """UTM values and click ids: the tracker's values first, else read from the landing URL."""
    values = {f"utm_{key}": str((utm or {}).get(key) or "")[:200] for key in UTM_KEYS}
    values["gclid"] = (gclid or "")[:200]
    values["fbclid"] = (fbclid or "")[:200]
    if landing and "?" in landing:
        try:
            query = dict(parse_qsl(urlsplit(landing).query, keep_blank_values=False))
        except ValueError:
            query = {}
        for key in list(values):
            if not values[key] and query.get(key):
                values[key] = query[key][:200]
    return values
