"""`seed --sessions N [--site DOMAIN] [--days D] [--seed S]`: fill a site with realistic demo data."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from core.cli import CommandError, settings_from
from core.cli.progress import ProgressBar
from core.i18n import _


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("seed", parents=[common], help="generate realistic demo data (sessions, pageviews, "
                                                             "events, tags, heatmaps, recordings)")
    parser.add_argument("--sessions", type=int, default=1000, metavar="N", help="sessions to add (default 1000)")
    parser.add_argument("--site", metavar="DOMAIN", help="site to fill (created if missing; default: the first site)")
    parser.add_argument("--days", type=int, default=30, metavar="D", help="spread over the last D days (default 30)")
    parser.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same data")
    parser.set_defaults(func=seed)


def seed(args: argparse.Namespace) -> int:
    from core import migrations, sites
    from core.db import open_database
    from core.models import Site
    from core.seed import SeedPlan, seed_site

    if args.sessions < 1 or args.sessions > 50_000_000:
        raise CommandError(_("--sessions must be between 1 and 50000000"))
    if args.days < 1 or args.days > 3650:
        raise CommandError(_("--days must be between 1 and 3650"))
    settings = settings_from(args)
    if not settings.installed:
        raise CommandError(_("not installed yet: run the web installer or `uxwizz.py install`"))
    database = open_database(settings["database.url"], settings.base_dir)
    try:
        if migrations.pending(database.db):
            raise CommandError(_("database migrations are pending: run `uxwizz.py migrate up` first"))
        if args.site:
            site = Site.get_or_none(Site.domain == args.site.strip().lower())
            if site is None:
                site = sites.create_site(args.site.strip().lower(), "", "UTC")
        else:
            site = Site.select().order_by(Site.id).first()
            if site is None:
                raise CommandError(_("no site yet: pass --site DOMAIN"))
        plan = SeedPlan(sessions=args.sessions, days=args.days, seed=args.seed,
                        end=dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0))
        bar = ProgressBar(_("Seeding {domain}").format(domain=site.domain))
        result = seed_site(database.db, site, plan, progress=bar.update)
        refresh = _refresh_rollups(database.db, site)
        bar.finish(_("Added {s} sessions, {p} pageviews, {e} events, {t} tags, {h} heatmap points, "
                     "{r} recording chunks to {domain}{refresh}").format(
            s=result.sessions, p=result.pageviews, e=result.events, t=result.tags, h=result.points,
            r=result.chunks, domain=site.domain, refresh=refresh))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    finally:
        database.close()
    return 0


def _refresh_rollups(db: Any, site: Any) -> str:
    """Rebuild the daily rollups of the seeded site, so the dashboard shows the new data at once."""
    from core.queries.rollups import rebuild_site

    days = rebuild_site(db, site.id)
    return _("; rolled up {n} day(s)").format(n=days)
