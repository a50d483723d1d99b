"""`reset-password USER`, `token create USER`, `users list|create`: account work without a browser."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core import accounts, migrations
from core.cli import CommandError, settings_from
from core.db import Database, open_database
from core.models import User
from core.permissions import level_name


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    reset = sub.add_parser("reset-password", parents=[common], help="set a user's password")
    reset.add_argument("user")
    reset.add_argument("--password-stdin", action="store_true", help="read the new password from stdin")
    reset.set_defaults(func=reset_password)

    token = sub.add_parser("token", parents=[common], help="API tokens")
    token_actions = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = token_actions.add_parser("create", parents=[common], help="create a token and print it")
    create.add_argument("user")
    create.add_argument("--name", default="CLI token")
    create.set_defaults(func=token_create)

    users = sub.add_parser("users", parents=[common], help="dashboard users")
    user_actions = users.add_subparsers(dest="action", metavar="ACTION", required=True)
    user_actions.add_parser("list", parents=[common], help="list users").set_defaults(func=users_list)
    add = user_actions.add_parser("create", parents=[common], help="create a user")
    add.add_argument("user")
    add.add_argument("--level", type=int, default=0, choices=range(0, 6), help="access level 0-5")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=users_create)


@contextmanager
def installed_database(args: argparse.Namespace) -> Iterator[Database]:
    settings = settings_from(args)
    if not settings.installed:
        raise CommandError("not installed yet: run the web installer or `uxwizz.py install`")
    database = open_database(settings["database.url"], settings.base_dir)
    try:
        waiting = migrations.pending(database.db)
        if waiting:
            raise CommandError(f"{len(waiting)} migration(s) pending: run `uxwizz.py migrate up` first")
        yield database
    finally:
        database.close()


def read_new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CommandError("no terminal to prompt on: pass --password-stdin")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise CommandError("the two passwords differ")
    return first


def _user(name: str) -> User:
    user = User.get_or_none(User.username == name)
    if user is None:
        raise CommandError(f"no user named {name!r}")
    return user


def reset_password(args: argparse.Namespace) -> int:
    with installed_database(args):
        user = _user(args.user)
        try:
            accounts.set_password(user, read_new_password(args.password_stdin))
        except accounts.AccountError as exc:
            raise CommandError(str(exc)) from None
    print(f"password changed for {user.username}; their other logins were ended")
    return 0


def token_create(args: argparse.Namespace) -> int:
    with installed_database(args):
        user = _user(args.user)
        try:
            token, _row = accounts.create_api_token(user, args.name)
        except accounts.AccountError as exc:
            raise CommandError(str(exc)) from None
    print(token)
    return 0


def users_list(args: argparse.Namespace) -> int:
    with installed_database(args):
        for user in User.select().order_by(User.username):
            print(f"{user.username}\tlevel {user.level} ({level_name(user.level)})")
    return 0


def users_create(args: argparse.Namespace) -> int:
    with installed_database(args):
        try:
            accounts.create_user(args.user, read_new_password(args.password_stdin), args.level)
        except accounts.AccountError as exc:
            raise CommandError(str(exc)) from None
    print(f"created {args.user} (level {args.level}, {level_name(args.level)})")
    return 0
