"""Dashboard-side tables of the statistics views: saved segments and per-user "watched" markers."""

from __future__ import annotations

import peewee

from .accounts import User
from .analytics import Session
from .base import BaseModel, JSONField, utcnow
from .site import Site


class Segment(BaseModel):
    """A named set of filters (the URL parameters of `core.queries.query.SEGMENT_FILTERS`) for one site."""

    site = peewee.ForeignKeyField(Site, on_delete="CASCADE", backref="segments")
    name = peewee.CharField(max_length=100)
    filters = JSONField()
    created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "segments"
        indexes = ((("site", "name"), True),)


class WatchedSession(BaseModel):
    """A dashboard user has opened this session (UXWizz's "watched" marker, per user)."""

    user = peewee.ForeignKeyField(User, on_delete="CASCADE")
    session = peewee.ForeignKeyField(Session, on_delete="CASCADE")
    watched_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "watched_sessions"
        indexes = ((("user", "session"), True),)


SEGMENT_MODELS: list[type[BaseModel]] = [Segment, WatchedSession]
