"""`IngestService`: the collection parts one app owns (site cache, journal, enrichment, flusher).

Created by `core.ingest.register`; reachable as `ctx.services["ingest"]`. `flush_now()` is what
tests and tools call to write everything journaled so far.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from core.context import AppContext
from core.enrich.geo import GeoReader, find_database, install_default_database
from core.enrich.pipeline import DEFAULT_STEPS, EnrichEnv, Step
from core.enrich.site import SiteInfo
from core.enrich.useragent import UserAgentParser

from .flush import CollectStats, Flusher, FlushReport
from .journal import Journal
from .parts import CollectPart
from .sitecache import SiteCache

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_sites(db: Any) -> list[SiteInfo]:
    from core.models import Site
    from core.sites import tracking_settings

    opened = db.connect(reuse_if_open=True)
    try:
        return [SiteInfo.build(site.id, site.domain, tracking_settings(site), site.timezone)
                for site in Site.select()]
    finally:
        if opened and hasattr(db, "close_all"):
            db.close()  # a refresh thread hands its pooled connection back


class IngestService:
    log = logging.getLogger("uxwizz.ingest")

    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        settings = ctx.settings
        db = ctx.database.db
        self.stats = CollectStats()
        self.sites = SiteCache(lambda: load_sites(db))
        self.sites.refresh()
        self.journal = Journal(os.path.join(settings.data_dir, "journal"))
        self.env = EnrichEnv(
            secret=settings["security.secret_key"] or "",
            user_agents=UserAgentParser(),
            geo=GeoReader(find_database(settings["geo.database_path"], settings.data_dir)),
        )
        ctx.services.setdefault("enrich_steps", list(DEFAULT_STEPS))
        self.flusher = Flusher(
            db, self.journal, self.sites, self.env, self.steps, self.parts, self.stats,
            interval=settings["ingest.flush_interval_seconds"], batch_size=settings["ingest.flush_batch_size"],
        )

    def steps(self) -> Sequence[Step]:
        steps: Sequence[Step] = self.ctx.services["enrich_steps"]
        return steps

    def parts(self) -> list[CollectPart]:
        parts: list[CollectPart] = self.ctx.services.setdefault("collect_parts", [])
        return parts

    def start(self) -> None:
        """Serve's start-up: bring in the bundled country database, then run the flusher."""
        settings = self.ctx.settings
        if not settings["geo.database_path"]:
            try:
                copied = install_default_database(settings.data_dir, os.path.join(PROJECT_ROOT, "node_modules"))
            except OSError as exc:
                self.log.warning("could not copy the bundled GeoIP database: %s", exc)
                copied = None
            if copied:
                self.log.info("installed the bundled country database at %s", copied)
                self.env.geo = GeoReader(copied)
        self.flusher.start()

    def flush_now(self) -> FlushReport:
        self.sites.refresh()
        return self.flusher.flush_now()

    def depth(self) -> int:
        return self.journal.depth()

    def shutdown(self) -> None:
        self.flusher.stop()
        self.journal.close()
        self.env.geo.close()
