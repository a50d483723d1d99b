"""The one install code path, shared by the web installer and `uxwizz.py install`.

Everything the person typed is validated before anything is written; the config file is
written last and atomically, so a failed install leaves no config behind.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from core import accounts, migrations, sites
from core.config import Settings, generate_secret, load_settings, write_config
from core.db import check_connection, open_database
from core.dialect import DatabaseURLError, parse_url
from core.i18n import _
from core.models import User
from core.passwords import password_problem
from core.permissions import ROOT

Progress = Callable[[str], None]


class InstallError(ValueError):
    """Why the install cannot go on, in words for the person installing."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class InstallRequest:
    db_url: str
    admin_user: str
    admin_password: str
    site_domain: str = ""


def validate_request(request: InstallRequest, base_dir: str) -> InstallRequest:
    """Check every field without touching the database; returns the normalised request."""
    try:
        username = accounts.validate_username(request.admin_user)
    except accounts.AccountError as exc:
        raise InstallError(str(exc), "admin_user") from None
    problem = password_problem(request.admin_password or "")
    if problem:
        raise InstallError(_(problem), "admin_password")
    domain = ""
    if request.site_domain.strip():
        try:
            domain = sites.normalize_domain(request.site_domain)
        except sites.SiteError as exc:
            raise InstallError(str(exc), "site_domain") from None
    try:
        parse_url(request.db_url, base_dir)
    except DatabaseURLError as exc:
        raise InstallError(str(exc), "db_url") from None
    return InstallRequest(request.db_url, username, request.admin_password, domain)


def check_config_writable(config_path: str) -> None:
    directory = os.path.dirname(os.path.abspath(config_path)) or "."
    if os.path.exists(config_path) and load_existing_url(config_path):
        raise InstallError(_("{path} already holds a database URL: uxwizz is installed.").format(path=config_path))
    if not os.access(directory, os.W_OK):
        raise InstallError(_("Cannot write {path}: the folder is not writable.").format(path=config_path))


def load_existing_url(config_path: str) -> str:
    try:
        return load_settings(config_path, environ={})["database.url"]
    except Exception:
        return ""


def probe_database(db_url: str, base_dir: str) -> str | None:
    """None when the database answers; otherwise the reason (host unreachable, access denied, …)."""
    try:
        return check_connection(db_url, base_dir)
    except DatabaseURLError as exc:
        return str(exc)


def perform_install(
    settings: Settings, request: InstallRequest, progress: Progress | None = None
) -> Settings:
    """Migrate, create the root user and first site, then write config.ini. Returns new settings."""
    say = progress or (lambda _message: None)
    base_dir = settings.base_dir
    request = validate_request(request, base_dir)
    check_config_writable(settings.config_path)

    say(_("Connecting to the database"))
    reason = probe_database(request.db_url, base_dir)
    if reason:
        raise InstallError(reason, "db_url")

    database = open_database(request.db_url, base_dir)
    try:
        say(_("Creating tables"))
        migrations.migrate_up(database.db)
        if User.select().exists():
            raise InstallError(
                _("This database already holds a uxwizz install (it has users). Use an empty database, "
                  "or point config.ini at this one."),
                "db_url",
            )
        say(_("Creating the admin user"))
        with database.db.atomic():
            accounts.create_user(request.admin_user, request.admin_password, ROOT)
            if request.site_domain:
                say(_("Adding the first site"))
                sites.create_site(request.site_domain)
    finally:
        database.close()

    say(_("Writing the configuration"))
    values = {"database.url": request.db_url, "security.secret_key": generate_secret()}
    for name in ("server.host", "server.port", "server.data_dir"):
        if settings.source(name) != "default":
            values[name] = settings[name]
    write_config(settings.config_path, values)
    return settings.replace(values)
