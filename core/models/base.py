"""Base model and shared field types. Models carry no database: `bind_models(db)` attaches one."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import peewee


def utcnow() -> dt.datetime:
    """Naive UTC, second precision: what both engines store identically."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class JSONField(peewee.TextField):
    """A JSON document in a TEXT column (portable across SQLite and MySQL)."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)

    def python_value(self, value: Any) -> Any:
        return None if value is None else json.loads(value)


class MediumBlobField(peewee.BlobField):
    """Up to 16 MB on MySQL, where a plain BLOB stops at 64 KB; SQLite takes any type name."""

    field_type = "MEDIUMBLOB"


class BaseModel(peewee.Model):
    class Meta:
        legacy_table_names = False
