"""Open the configured database, bind the models to it, and report its health."""

from __future__ import annotations

from dataclasses import dataclass

import peewee

from core.dialect import Dialect, dialect_for
from core.models import bind_models


@dataclass
class Database:
    """The app's database handle: the peewee database plus the dialect that opened it."""

    db: peewee.Database
    dialect: Dialect

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()
        close_all = getattr(self.db, "close_all", None)
        if close_all:
            close_all()


def open_database(url: str, base_dir: str = ".") -> Database:
    dialect = dialect_for(url, base_dir)
    db = dialect.open()
    bind_models(db)
    return Database(db, dialect)


def check_connection(url: str, base_dir: str = ".") -> str | None:
    """None when the database answers; otherwise the reason in words, ready to show a person."""
    dialect = dialect_for(url, base_dir)
    db = dialect.open()
    try:
        db.connect(reuse_if_open=True)
        db.execute_sql("SELECT 1")
        return None
    except Exception as exc:  # any driver error becomes a sentence, never a traceback
        return dialect.explain_error(getattr(exc, "orig", None) or exc)
    finally:
        if not db.is_closed():
            db.close()
