"""The 404 report's numbers: events of category "404" whose action is the missing page's path."""

from __future__ import annotations

from typing import Any

from peewee import fn

from core.models import Event
from core.queries.query import Query

CATEGORY = "404"


def _in_range(query: Query) -> Any:
    low, high = query.utc_bounds()
    return ((Event.site == query.site_id) & (Event.category == CATEGORY)
            & (Event.occurred_at >= low) & (Event.occurred_at < high))


def not_found_pages(query: Query, limit: int = 50) -> list[dict[str, Any]]:
    """Missing paths, most hit first: path, hits, sessions (distinct visits), last_seen (UTC)."""
    hits = fn.COUNT(Event.id)
    rows = (Event
            .select(Event.action, hits.alias("hits"), fn.COUNT(Event.session.distinct()).alias("sessions"),
                    fn.MAX(Event.occurred_at).alias("last_seen"))
            .where(_in_range(query))
            .group_by(Event.action)
            .order_by(hits.desc(), Event.action)
            .limit(limit)
            .tuples())
    return [{"path": path, "hits": int(n), "sessions": int(sessions), "last_seen": _as_text(last)}
            for path, n, sessions, last in rows]


def not_found_totals(query: Query) -> dict[str, int]:
    """All 404 hits in the range and how many different paths they hit."""
    hits, paths = (Event.select(fn.COUNT(Event.id), fn.COUNT(Event.action.distinct()))
                   .where(_in_range(query)).tuples().get())
    return {"hits": int(hits or 0), "paths": int(paths or 0)}


def _as_text(value: Any) -> str:
    # MAX() over a DATETIME comes back as a datetime on MySQL and as text on SQLite.
    text = value.isoformat(sep=" ") if hasattr(value, "isoformat") else str(value or "")
    return text[:19]
