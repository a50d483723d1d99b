"""Install-wide key/value settings changed from the dashboard (not config.ini)."""

from __future__ import annotations

import peewee

from .base import BaseModel, JSONField


class KeyValue(BaseModel):
    key = peewee.CharField(max_length=191, primary_key=True)
    value = JSONField(null=True)

    class Meta:
        table_name = "key_values"
