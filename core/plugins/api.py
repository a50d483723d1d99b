"""Everything a plugin author needs, importable from one place: `from core.plugins.api import …`.

The names here are the plugin API; plugins/README.md documents each one.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import bottle

from core.context import AppContext
from core.dashboard.access import current_user, current_user_or_none
from core.dashboard.menu import MenuLink, SiteNavLink
from core.dashboard.render import flash, render
from core.enrich.pipeline import Step
from core.i18n import _, ngettext
from core.models import Site
from core.plugins import hookimpl
from core.plugins.routes import Routes
from core.plugins.types import Panel
from core.queries.query import Query, QueryError, parse_query
from core.tasks import Job

__all__ = [
    "AppContext", "Job", "MenuLink", "Panel", "Query", "QueryError", "Routes", "Site", "SiteNavLink", "Step",
    "_", "app_context", "current_user", "current_user_or_none", "flash", "hookimpl", "ngettext", "render",
    "site_query",
]


def site_query(site: Site, params: Any = None) -> Query:
    """The `Query` for a site page from its URL (`from`, `to` or `range`); a bad value is a 400."""
    params = bottle.request.query if params is None else params
    try:
        return parse_query(site.id, site.timezone or "UTC", params)
    except QueryError as exc:
        raise bottle.HTTPError(400, str(exc)) from None


@contextmanager
def app_context(args: argparse.Namespace) -> Iterator[AppContext]:
    """For CLI commands: the installed app's context (database, settings, jobs), closed afterwards."""
    from core.app import PendingMigrations, create_app
    from core.cli import CommandError, settings_from

    settings = settings_from(args)
    if not settings.installed:
        raise CommandError("not installed yet: run the web installer or `uxwizz.py install`")
    try:
        app = create_app(settings)
    except PendingMigrations as exc:
        raise CommandError(str(exc)) from None
    assert app.ctx is not None
    try:
        yield app.ctx
    finally:
        app.shutdown()
