"""The database handle survives a dropped connection (MySQL server restart, idle timeout)."""

import peewee

from core import migrations
from core.db import check_connection, open_database
from core.models import Site


def drop_connection_under(db: peewee.Database) -> None:
    """What a server restart or wait_timeout does: the connection dies without the client asking."""
    if isinstance(db, peewee.SqliteDatabase):
        db.close()  # SQLite has no server; closing underneath is the nearest equivalent
        return
    (conn_id,) = db.execute_sql("SELECT CONNECTION_ID()").fetchone()
    params = db.connect_params
    killer = open_database(
        f"mysql://{params['user']}:{params['password']}@{params['host']}:{params['port']}/{db.database}")
    killer.db.execute_sql(f"KILL CONNECTION {int(conn_id)}")
    killer.close()


def test_queries_work_again_after_the_connection_dropped(db_url):
    database = open_database(db_url)
    migrations.migrate_up(database.db)
    Site.create(domain="before.example", settings={})
    drop_connection_under(database.db)
    assert Site.select().where(Site.domain == "before.example").count() == 1
    Site.create(domain="after.example", settings={})
    assert Site.select().count() == 2
    database.close()


def test_check_connection_answers_none_for_a_working_database(db_url):
    assert check_connection(db_url) is None
