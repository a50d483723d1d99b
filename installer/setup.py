"""The one install code path, shared by the web installer and `uxwizz.py install`.

Everything the person typed is validated before anything is written; the config file is
written last and atomically, so a failed install leaves no config behind.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import peewee

from core import accounts, migrations, sites
from core.config import Settings, generate_secret, load_settings, write_config
from core.db import open_database
from core.dialect import DatabaseURLError, dialect_for, parse_url
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
    """None when the database answers; otherwise the reason (host unreachable, access denied, …).

    Writes nothing: no SQLite file, no table. The web installer's "Test connection" uses it.
    """
    try:
        return dialect_for(db_url, base_dir).probe() or existing_install_problem(db_url, base_dir)
    except DatabaseURLError as exc:
        return str(exc)


def existing_install_problem(db_url: str, base_dir: str) -> str | None:
    """A reason not to install into this database (it already has uxwizz users), or None."""
    parsed = parse_url(db_url, base_dir)
    if parsed.engine == "sqlite" and not os.path.exists(parsed.path):
        return None
    db = dialect_for(db_url, base_dir).open()
    try:
        db.connect(reuse_if_open=True)
        if not db.table_exists(User._meta.table_name):
            return None
        (count,) = db.execute_sql(f"SELECT COUNT(*) FROM {User._meta.table_name}").fetchone()
        if not count:
            return None
    except peewee.DatabaseError:
        return None  # unreadable here; the install itself reports it with the driver's reason
    finally:
        if not db.is_closed():
            db.close()
        close_all = getattr(db, "close_all", None)
        if close_all:
            close_all()
    return _("This database already holds a uxwizz install (it has users). Use an empty database, "
             "or point config.ini at this one.")


@contextmanager
def install_lock(config_path: str) -> Iterator[None]:
    """One install at a time per config folder, across threads and processes (flock on the folder)."""
    directory = os.path.dirname(os.path.abspath(config_path)) or "."
    try:
        os.makedirs(directory, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        raise InstallError(_("Cannot use the folder {path} for config.ini: {reason}").format(
            path=directory, reason=exc.strerror or exc)) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise InstallError(_("Another install is running right now; wait for it to finish.")) from None
            raise
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def kept_settings(settings: Settings) -> dict[str, object]:
    """Settings to carry into the new config.ini: whatever the old file, env or flags set."""
    kept: dict[str, object] = {}
    for name in settings:
        if name in ("database.url", "security.secret_key"):
            continue
        source = settings.source(name)
        from_file = source.startswith(f"{settings.config_path} [")
        if from_file or (name in ("server.host", "server.port", "server.data_dir") and source != "default"):
            kept[name] = settings[name]
    return kept


def perform_install(
    settings: Settings, request: InstallRequest, progress: Progress | None = None
) -> Settings:
    """Migrate, create the root user and first site, then write config.ini. Returns new settings."""
    say = progress or (lambda _message: None)
    base_dir = settings.base_dir
    request = validate_request(request, base_dir)
    with install_lock(settings.config_path):
        check_config_writable(settings.config_path)

        say(_("Connecting to the database"))
        reason = probe_database(request.db_url, base_dir)
        if reason:
            raise InstallError(reason, "db_url")

        database = open_database(request.db_url, base_dir)
        try:
            say(_("Creating tables"))
            migrations.migrate_up(database.db)
            if User.select().exists():  # a race with another installer on the same database
                raise InstallError(existing_install_problem(request.db_url, base_dir) or "", "db_url")
            say(_("Creating the admin user"))
            with database.db.atomic():
                accounts.create_user(request.admin_user, request.admin_password, ROOT)
                if request.site_domain:
                    say(_("Adding the first site"))
                    sites.create_site(request.site_domain)
        except peewee.DatabaseError as exc:
            # e.g. a MySQL user without CREATE rights: a sentence, not a traceback
            raise InstallError(database.dialect.explain_error(getattr(exc, "orig", None) or exc), "db_url") from None
        except (accounts.AccountError, sites.SiteError) as exc:
            raise InstallError(str(exc)) from None
        finally:
            database.close()

        say(_("Writing the configuration"))
        values: dict[str, object] = {**kept_settings(settings), "database.url": request.db_url,
                                     "security.secret_key": generate_secret()}
        try:
            write_config(settings.config_path, values)
        except OSError as exc:
            raise InstallError(_("Cannot write {path}: {reason}").format(
                path=settings.config_path, reason=exc.strerror or exc)) from None
    return settings.replace(values)
