"""`migrate status|up`: show or apply database migrations (status exits 1 when some are pending)."""

from __future__ import annotations

import argparse
from typing import Any

from core import migrations
from core.cli import CommandError, settings_from
from core.cli.progress import ProgressBar
from core.db import open_database


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("migrate", parents=[common], help="database migrations")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("status", parents=[common], help="list migrations; exit 1 if any is pending").set_defaults(func=status)
    actions.add_parser("up", parents=[common], help="apply pending migrations").set_defaults(func=up)


def _database(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    settings = settings_from(args)
    if not settings["database.url"]:
        raise CommandError("not installed: no database.url (run the web installer or `uxwizz.py install`)")
    return open_database(settings["database.url"], settings.base_dir)


def status(args: argparse.Namespace) -> int:
    database = _database(args)
    try:
        states = migrations.status(database.db)
    finally:
        database.close()
    for state in states:
        print(f"{'applied' if state.applied else 'pending'}  {state.name}")
    waiting = [s for s in states if not s.applied]
    print(f"{len(waiting)} pending" if waiting else "up to date")
    return 1 if waiting else 0


def up(args: argparse.Namespace) -> int:
    database = _database(args)
    try:
        bar = ProgressBar("migrating")
        done = migrations.migrate_up(database.db, progress=lambda i, n, name: bar.update(i - 1, n, name))
        bar.finish(f"applied {len(done)} migration(s)" if done else "already up to date")
    finally:
        database.close()
    return 0
