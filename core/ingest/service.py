"""`IngestService`: the collection parts one app owns (site cache, journal, enrichment, flusher).

Created by `core.ingest.register`; reachable as `ctx.services["ingest"]`. `flush_now()` is what
tests and tools call to write everything journaled so far.

Flushing runs in one of two places: the flush worker process that `serve` forks before it starts
any thread (`fork_worker`, core/ingest/worker.py), or — where there is no worker (tests, tools, a
server that was installed through the web installer and not restarted yet, `ingest.flush_worker =
false`, or after the worker died) — the `Flusher` thread in this process.
"""

from __future__ import annotations

import logging
import os
import time
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
from .worker import FlushWorker

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
        self.worker: FlushWorker | None = None
        self._geo_ready = False

    def steps(self) -> Sequence[Step]:
        steps: Sequence[Step] = self.ctx.services["enrich_steps"]
        return steps

    def parts(self) -> list[CollectPart]:
        parts: list[CollectPart] = self.ctx.services.setdefault("collect_parts", [])
        return parts

    def prepare_geo(self) -> None:
        """Bring in the bundled country database (once; before forking, so the worker has it too)."""
        if self._geo_ready:
            return
        self._geo_ready = True
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

    def fork_worker(self) -> None:
        """Serve, before any thread exists: move flushing into its own process (if configured)."""
        self.prepare_geo()
        if self.ctx.settings["ingest.flush_worker"] and self.worker is None:
            self.worker = FlushWorker.fork(self)

    def start(self) -> None:
        """Serve's start-up: the bundled country database, then the worker's threads or the flusher."""
        self.prepare_geo()
        if self.worker is not None:
            self.worker.start()
        else:
            self.flusher.start()

    def worker_lost(self) -> None:
        """The worker process died: flush in this process from now on (nothing accepted is lost)."""
        self.worker = None
        self.flusher.start()

    def flush_now(self, timeout: float = 30.0) -> FlushReport:
        """Write everything journaled so far; with a worker, seal, wake it and wait until it is done."""
        worker = self.worker
        if worker is None:
            self.sites.refresh()
            return self.flusher.flush_now()
        self.journal.seal()
        waiting = self.journal.depth()
        worker.poke()
        deadline = time.monotonic() + timeout
        while self.journal.depth() and time.monotonic() < deadline and self.worker is worker:
            time.sleep(0.02)
        if self.worker is not worker:  # it died meanwhile; the thread flusher took over
            return self.flusher.flush_now()
        return FlushReport(entries=waiting - self.journal.depth())

    def stats_snapshot(self) -> dict[str, Any]:
        snapshot = self.stats.snapshot()
        snapshot["flush_worker_pid"] = self.worker.pid if self.worker is not None else None
        return snapshot

    def depth(self) -> int:
        return self.journal.depth()

    def shutdown(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self.flusher.stop()  # the last word: flushes whatever the worker could not (or all of it)
        self.journal.close()
        self.env.geo.close()
