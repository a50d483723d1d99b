"""Tracked websites and their per-site tracking settings."""

from __future__ import annotations

import peewee

from .base import BaseModel, JSONField, utcnow


class Site(BaseModel):
    domain = peewee.CharField(max_length=253, unique=True)
    name = peewee.CharField(max_length=200, default="")
    timezone = peewee.CharField(max_length=64, default="UTC")
    settings = JSONField(default=dict)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "sites"
