"""Numbered schema migrations, one sequence for both engines.

Each module `mNNNN_name.py` here has `up(db, migrator)`; applied names are recorded in
`schema_migrations`. Engine differences inside a migration go through `core.dialect` or the
peewee migrator, never through an `if engine ==` in the migration itself.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

import peewee
from playhouse.migrate import MySQLMigrator, SchemaMigrator, SqliteMigrator

from core.models.base import utcnow

MIGRATIONS_TABLE = "schema_migrations"


@dataclass(frozen=True)
class MigrationState:
    name: str
    applied: bool


def frozen_base(db: peewee.Database) -> type[peewee.Model]:
    """The base class for a migration's frozen model copies, bound to the database it migrates."""

    class Base(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    return Base


def available() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules(__path__) if m.name[:1] == "m" and m.name[1:5].isdigit()]
    return sorted(names)


def _ensure_table(db: peewee.Database) -> None:
    db.execute_sql(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
        "(name VARCHAR(191) NOT NULL PRIMARY KEY, applied_at DATETIME NOT NULL)"
    )


def applied(db: peewee.Database) -> set[str]:
    _ensure_table(db)
    return {row[0] for row in db.execute_sql(f"SELECT name FROM {MIGRATIONS_TABLE}").fetchall()}


def status(db: peewee.Database) -> list[MigrationState]:
    done = applied(db)
    return [MigrationState(name, name in done) for name in available()]


def pending(db: peewee.Database) -> list[str]:
    return [state.name for state in status(db) if not state.applied]


def _migrator(db: peewee.Database) -> SchemaMigrator:
    return SqliteMigrator(db) if isinstance(db, peewee.SqliteDatabase) else MySQLMigrator(db)


def migrate_up(
    db: peewee.Database,
    progress: Callable[[int, int, str], None] | None = None,
    stop_before: str | None = None,
) -> list[str]:
    """Apply pending migrations in order (all, or those before `stop_before`); returns their names."""
    todo = pending(db)
    if stop_before is not None:
        todo = [name for name in todo if name < stop_before]
    for index, name in enumerate(todo, start=1):
        if progress:
            progress(index, len(todo), name)
        module = importlib.import_module(f"{__name__}.{name}")
        # SQLite runs DDL in a transaction, so a failed migration leaves nothing behind there;
        # MySQL commits DDL implicitly, which is why each migration is one small step.
        with db.atomic():
            module.up(db, _migrator(db))
            db.execute_sql(
                f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (%s, %s)".replace(
                    "%s", db.param
                ),
                (name, utcnow()),
            )
    return todo
