"""The plugin hooks: what a plugin (built-in or from `plugins/<name>/`) can add to uxwizz.

Small on purpose; every hook here is documented in plugins/README.md (a test checks).
A hook implementation may accept any subset of the arguments named below. Hooks are called
once per app build, for one plugin at a time, in load order (built-ins first, then the
`plugins.enabled` list); what a third-party plugin returns is checked, and a plugin whose hook
raises or returns something wrong is refused as a whole (logged, nothing of it mounted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.plugins import hookspec

if TYPE_CHECKING:
    import argparse

    from core.context import AppContext
    from core.dashboard.menu import MenuLink, SiteNavLink
    from core.enrich.pipeline import Step
    from core.plugins.routes import Routes
    from core.plugins.types import Panel
    from core.tasks import Job


@hookspec
def uxwizz_startup(ctx: AppContext) -> None:
    """Called once when the app is built, before anything of the plugin is mounted.

    Open resources, check configuration, create tables the plugin owns. Raising disables the
    plugin (logged); the rest of the app starts normally.
    """


@hookspec
def uxwizz_shutdown(ctx: AppContext) -> None:
    """Called once when the server stops (after the scheduler stopped). Errors are logged."""


@hookspec
def uxwizz_routes(routes: Routes, ctx: AppContext) -> None:
    """Add HTTP routes with `routes.get(path, permission=...)` (also post/put/patch/delete/route).

    Third-party routes are mounted under `/p/<plugin>/`; every route declares `permission=`
    ("public", "login" or a key of core.permissions.PERMISSIONS) and passes the same access
    check (login, level, site access for a `site_id` argument, CSRF) as built-in pages. A route
    that raises answers 500 for that request only; the error is logged with the plugin name.
    """


@hookspec
def uxwizz_menu_links(ctx: AppContext) -> list[MenuLink] | None:
    """Links in the dashboard's top menu: `MenuLink(label, href, permission, order)`."""


@hookspec
def uxwizz_site_tabs(ctx: AppContext) -> list[SiteNavLink] | None:
    """Tabs on every site page: `SiteNavLink(label, suffix, permission, order)`.

    `suffix` is relative to `/sites/<id>/`; a suffix starting with "/" is an absolute path in
    which `{site_id}` is replaced, e.g. "/p/my_plugin/sites/{site_id}".
    """


@hookspec
def uxwizz_panels(ctx: AppContext) -> list[Panel] | None:
    """Panels on a site's overview: `Panel(title, data, template, key, permission, order)`.

    `data(query)` gets the parsed `core.queries.query.Query` (site, date range, filters) and
    returns anything; `template` (from the plugin's templates/ folder, e.g. "my_plugin/panel.html")
    is rendered with `data`, `panel`, `query`, `site` and `user`. If either raises, the panel
    shows an error box, the error is logged, and the page still renders.
    """


@hookspec
def uxwizz_template_vars(ctx: AppContext) -> dict[str, Any] | None:
    """Extra variables (or functions) available in every template. Names must be new."""


@hookspec
def uxwizz_jobs(ctx: AppContext) -> list[Job] | None:
    """Scheduled jobs: `Job(name, func, help, seconds=... | cron={...})`, `func(ctx, **options)`.

    They join the one job table (`uxwizz.py jobs list|run NAME`); a failing run is logged by
    the scheduler and retried at the next time.
    """


@hookspec
def uxwizz_enrich_steps(ctx: AppContext) -> list[Step] | None:
    """Collection pipeline steps: `Step(name, func, stage)` from core.enrich.pipeline.

    `func(hit, env) -> None | reason`: read or change the `Hit` (payload, site, ip, user_agent,
    ua, geo, session_values…); return a short string to drop the hit with that reason.
    `stage` is "flush" (default, runs in the background writer) or "request" (runs before the
    202, keep it cheap). Steps run after the built-in ones, in load order; a step that raises
    is logged and skipped, the hit goes on.
    """


@hookspec
def uxwizz_cli_commands(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `uxwizz.py` commands: `subparsers.add_parser(name, parents=[common])` and
    `set_defaults(func=handler)`; `handler(args)` returns the exit code. Use the plugin's
    name in the command name to avoid clashes.
    """
