"""Helpers the API resources share: time format, reading a JSON object body."""

from __future__ import annotations

import datetime as dt
from typing import Any

from core.i18n import _
from core.web import ApiError, read_json_body

TIME_SCHEMA: dict[str, Any] = {"type": "string", "format": "date-time",
                               "description": "ISO 8601 UTC, e.g. 2026-01-31T12:00:00Z"}
NULLABLE_TIME_SCHEMA: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}


def iso(value: dt.datetime | None) -> str | None:
    """Stored times are naive UTC; the API shows them as `2026-01-31T12:00:00Z`."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat() + "Z"


def json_object_body() -> dict[str, Any]:
    body = read_json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", _("The request body must be a JSON object."))
    return body
