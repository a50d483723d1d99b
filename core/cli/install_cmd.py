"""`install --db URL --admin-user U --admin-password P [--site DOMAIN]`: the installer without a browser.

The same code path as the web installer (`installer.setup.perform_install`), for Docker and scripts.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.cli import CommandError, settings_from
from core.i18n import _


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "install", parents=[common], help="install non-interactively (create tables, admin user, config.ini)",
        description="Install uxwizz without the web installer: creates the tables, the admin user and "
                    "the first site, then writes config.ini (mode 0600) with a new secret.",
    )
    parser.add_argument("--db", required=True, metavar="URL",
                        help="sqlite:///data/uxwizz.db or mysql://user:pass@host:3306/dbname")
    parser.add_argument("--admin-user", required=True, metavar="USER", help="name of the admin (root) user")
    password = parser.add_mutually_exclusive_group(required=True)
    password.add_argument("--admin-password", metavar="PASSWORD",
                          help="admin password, at least 8 characters (visible to `ps`: prefer the next flag)")
    password.add_argument("--admin-password-stdin", action="store_true",
                          help="read the admin password from the first line of stdin")
    parser.add_argument("--site", metavar="DOMAIN", default="", help="first site to track (optional)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from installer.setup import InstallError, InstallRequest, perform_install

    # --config may name a file that does not exist yet: this command writes it.
    settings = settings_from(args, must_exist=False)
    if settings.installed:
        raise CommandError(_("already installed: {path} (or the environment) sets database.url").format(
            path=settings.config_path))
    if args.admin_password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = args.admin_password
    request = InstallRequest(args.db, args.admin_user, password, args.site or "")

    def progress(message: str) -> None:
        print(f"… {message}", flush=True)

    try:
        new_settings = perform_install(settings, request, progress)
    except InstallError as exc:
        raise CommandError(str(exc).replace("\n", " ")) from None
    print(_("installed: config written to {path}; start with `python uxwizz.py` and log in as {user}").format(
        path=new_settings.config_path, user=request.admin_user.strip()), flush=True)
    return 0
