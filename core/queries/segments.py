"""Saved segments: named filter sets per site, stored as the URL parameters they stand for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.models import Segment, utcnow
from core.queries.query import QueryError, parse_segment

NAME_MAX = 100
MAX_PER_SITE = 200


def segment_json(segment: Segment) -> dict[str, Any]:
    return {"id": segment.id, "site_id": segment.site_id, "name": segment.name, "filters": segment.filters,
            "created_at": segment.created_at}


def list_segments(site_id: int) -> list[Segment]:
    return list(Segment.select().where(Segment.site == site_id).order_by(Segment.name))


def save_segment(site_id: int, name: Any, params: Mapping[str, str], user_id: int | None) -> Segment:
    """Create or replace the segment `name` of this site with the filters in `params` (validated)."""
    clean = str(name or "").strip()
    if not clean:
        raise QueryError("name", "a segment needs a name")
    if len(clean) > NAME_MAX:
        raise QueryError("name", f"a segment name may be at most {NAME_MAX} characters")
    filters = parse_segment(params)
    if not filters:
        raise QueryError("filters", "a segment needs at least one filter")
    existing = Segment.get_or_none((Segment.site == site_id) & (Segment.name == clean))
    if existing is not None:
        existing.filters = filters
        existing.save()
        return existing
    if Segment.select().where(Segment.site == site_id).count() >= MAX_PER_SITE:
        raise QueryError("name", f"a site may have at most {MAX_PER_SITE} segments")
    return Segment.create(site=site_id, name=clean, filters=filters, created_by=user_id, created_at=utcnow())


def get_segment(site_id: int, segment_id: int) -> Segment | None:
    return Segment.get_or_none((Segment.site == site_id) & (Segment.id == segment_id))


def delete_segment(site_id: int, segment_id: int) -> bool:
    return Segment.delete().where((Segment.site == site_id) & (Segment.id == segment_id)).execute() > 0
