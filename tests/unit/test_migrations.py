"""Migrating an empty database yields exactly the models' schema, on the engine under test."""

import peewee
import pytest

from core import migrations
from core.db import open_database
from core.models import ALL_MODELS


def column_types(db: peewee.Database, table: str) -> list:
    if isinstance(db, peewee.SqliteDatabase):
        return sorted((c.name, c.data_type.lower(), c.null, c.primary_key) for c in db.get_columns(table))
    # MySQL's get_columns drops lengths; information_schema keeps varchar(64) vs varchar(65).
    rows = db.execute_sql(
        "SELECT column_name, column_type, is_nullable, column_key, column_default FROM information_schema.columns "
        "WHERE table_schema = DATABASE() AND table_name = %s", (table,)).fetchall()
    return sorted(tuple(str(v) for v in row) for row in rows)


def schema_of(db: peewee.Database) -> dict:
    tables = {}
    for model in ALL_MODELS:
        name = model._meta.table_name
        tables[name] = {
            "columns": column_types(db, name),
            "indexes": sorted((tuple(i.columns), i.unique) for i in db.get_indexes(name)),
            "foreign_keys": sorted((f.column, f.dest_table, f.dest_column) for f in db.get_foreign_keys(name)),
        }
    return tables


def test_migrations_produce_the_models_schema(make_db_url):
    migrated = open_database(make_db_url("migrated"))
    applied = migrations.migrate_up(migrated.db)
    assert applied == migrations.available()
    from_migrations = schema_of(migrated.db)
    migrated.close()

    direct = open_database(make_db_url("direct"))  # binds the models to this one
    direct.db.create_tables(ALL_MODELS)
    from_models = schema_of(direct.db)
    direct.close()

    assert set(from_migrations) == {m._meta.table_name for m in ALL_MODELS}
    for table in from_models:
        assert from_migrations[table] == from_models[table], table


def test_status_and_pending_and_idempotent_up(make_db_url):
    database = open_database(make_db_url())
    names = migrations.available()
    assert names[0].startswith("m0001_") and names == sorted(names)
    assert migrations.pending(database.db) == names
    seen = []
    migrations.migrate_up(database.db, progress=lambda i, n, name: seen.append((i, n, name)))
    assert seen == [(i, len(names), n) for i, n in enumerate(names, start=1)]
    assert migrations.pending(database.db) == []
    assert migrations.migrate_up(database.db) == []  # nothing to do the second time
    assert all(state.applied for state in migrations.status(database.db))
    database.close()


def test_cascade_delete_of_a_site_removes_its_sessions(make_db_url):
    from core.models import Pageview, Session, Site, utcnow

    database = open_database(make_db_url())
    migrations.migrate_up(database.db)
    site = Site.create(domain="cascade.example", settings={})
    session = Session.create(site=site, token="t" * 22, started_at=utcnow(), last_seen_at=utcnow())
    Pageview.create(session=session, site=site, client_id="p1", url="https://cascade.example/",
                    path="/", started_at=utcnow())
    site.delete_instance()
    assert Session.select().count() == 0 and Pageview.select().count() == 0
    database.close()


@pytest.mark.parametrize("url", ["postgres://x/y", "sqlite:///", "mysql://host-only"])
def test_bad_database_urls_are_refused_with_a_reason(url):
    from core.dialect import DatabaseURLError, parse_url

    with pytest.raises(DatabaseURLError):
        parse_url(url)
