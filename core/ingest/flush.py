"""The flusher: journal segments → enrichment pipeline → database, one transaction per batch.

Runs in the flush worker process that `serve` forks (core/ingest/worker.py), or as a thread of the
server process where no worker runs (tests, tools, the first run after the web installer). The
`journal` it reads is the server's `Journal` (thread) or a `SealedSegments` view of the same files
(worker); both offer seal / sealed / progress / retire / depth.

A dedicated thread rather than an APScheduler job, because the journal belongs to this process
and must drain even where `scheduler.enabled` is off (several processes on one MySQL), and because
it backs off on its own while the database is down (1 s, 2 s, … 30 s) and is woken for shutdown.
Nothing is deleted until committed; an entry that the database refuses for its content (not for
being unreachable) is moved to `journal/rejected.jsonl` instead of blocking the rest.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import peewee

from core.enrich import pipeline
from core.enrich.pipeline import EnrichEnv, Hit, Step

from .journal import Journal, Segment, encode, read_entries
from .parts import CollectPart
from .sitecache import SiteCache
from .store import store_hits

log = logging.getLogger("uxwizz.flush")
MAX_BACKOFF_SECONDS = 30.0
# The database is down, locked or missing a table: keep everything and retry. Only content the
# database refuses (IntegrityError, DataError) is handled entry by entry.
UNAVAILABLE = (peewee.OperationalError, peewee.InterfaceError, peewee.ProgrammingError, peewee.InternalError,
               peewee.NotSupportedError)


class CollectStats:
    """Counters for /healthz and the dashboard: accepted, stored, duplicates, drops, rejections."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.last_flush_at: float | None = None
        self.last_error: str = ""

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] += n

    def totals(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self.counts)
        dropped = {k[len("dropped:"):]: v for k, v in counts.items() if k.startswith("dropped:")}
        rejected = {k[len("rejected:"):]: v for k, v in counts.items() if k.startswith("rejected:")}
        return {
            "accepted": counts.get("accepted", 0),
            "stored": counts.get("stored", 0),
            "duplicates": counts.get("duplicates", 0),
            "failed": counts.get("failed", 0),
            "dropped": dropped,
            "rejected": rejected,
            "last_flush_age_seconds": None if self.last_flush_at is None
            else round(time.monotonic() - self.last_flush_at, 1),
            "last_error": self.last_error,
        }


@dataclass
class FlushReport:
    entries: int = 0
    stored: int = 0
    duplicates: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    failed: int = 0


class Flusher:
    def __init__(self, db: peewee.Database, journal: Journal | Any, sites: SiteCache, env: EnrichEnv,
                 steps: Callable[[], Sequence[Step]], parts: Callable[[], list[CollectPart]], stats: CollectStats,
                 *, interval: float, batch_size: int):
        self.db = db
        self.journal = journal
        self.sites = sites
        self.env = env
        self.steps = steps
        self.parts = parts
        self.stats = stats
        self.interval = interval
        self.batch_size = batch_size
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.backoff = 0.0
        self.rejected_path = os.path.join(journal.root, "rejected.jsonl")

    # -- the loop ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="uxwizz-flusher", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        # Fixed rate: a flush that took longer than the interval is followed at once by the next,
        # so data waits at most about one flush behind, not a flush plus a full interval.
        next_at = time.monotonic() + self.interval
        while not self._stop.wait(self.backoff or max(0.0, next_at - time.monotonic())):
            next_at = time.monotonic() + self.interval
            self.tick()

    def tick(self) -> bool:
        """One timer tick: refresh sites when stale, flush; on failure back off. True when flushed."""
        try:
            self.db.connect(reuse_if_open=True)
            self.sites.refresh_if_stale()
            self.flush_now()
            self.backoff = 0.0
            return True
        except UNAVAILABLE as exc:
            self.backoff = min(MAX_BACKOFF_SECONDS, max(self.interval, self.backoff * 2 or 1.0))
            self.stats.last_error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("collection flush failed (%s); %d entries kept in the journal, retry in %.0f s",
                        exc, self.journal.depth(), self.backoff)
            self._reset_connection()
            return False
        except Exception:
            self.backoff = min(MAX_BACKOFF_SECONDS, max(self.interval, self.backoff * 2 or 1.0))
            log.exception("collection flush failed; entries kept in the journal")
            self._reset_connection()
            return False
        finally:
            if hasattr(self.db, "close_all") and not self.db.is_closed():
                try:
                    self.db.close()  # hand a pooled MySQL connection back
                except Exception:
                    pass

    def _reset_connection(self) -> None:
        try:
            if not self.db.is_closed():
                self.db.close()
        except Exception:  # a dead connection may fail to close; it is dropped either way
            pass

    def stop(self) -> None:
        """Stop the thread, then drain what is left (graceful shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None
        self.backoff = 0.0
        if not self.tick():
            log.error("final collection flush failed; %d entries stay in the journal for the next start",
                      self.journal.depth())

    # -- flushing ---------------------------------------------------------------------------------

    def flush_now(self) -> FlushReport:
        """Seal the current segment and commit every sealed one. Raises when the database is down."""
        report = FlushReport()
        started = time.monotonic()
        with self._flush_lock:
            self.db.connect(reuse_if_open=True)
            self.journal.seal()
            for segment in list(self.journal.sealed):
                self._flush_segment(segment, report)
                self.journal.retire(segment)
            self.stats.last_flush_at = time.monotonic()
            self.stats.last_error = ""
        if report.entries:
            log.debug("flushed %d entries (%d stored, %d duplicates) in %.3f s", report.entries, report.stored,
                      report.duplicates, time.monotonic() - started)
        return report

    def _flush_segment(self, segment: Segment, report: FlushReport) -> None:
        batch: list[dict[str, Any]] = []
        end = segment.offset
        for entry, position in read_entries(segment.path, segment.offset):
            batch.append(entry)
            end = position
            if len(batch) >= self.batch_size:
                self._commit(batch, report)
                segment.offset, segment.done = end, segment.done + len(batch)
                self.journal.progress(segment)
                batch = []
        if batch:
            self._commit(batch, report)
            segment.offset, segment.done = end, segment.done + len(batch)
            self.journal.progress(segment)
        segment.done = segment.entries  # torn or unreadable lines are not waiting for anything

    def _enrich(self, entries: list[dict[str, Any]], report: FlushReport) -> list[Hit]:
        steps = self.steps()
        hits = []
        refreshed = False
        for entry in entries:
            site = self.sites.by_id(entry.get("s", -1))
            if site is None and not refreshed:
                # Created after this process last loaded the sites (the worker process learns of a
                # new site only from the database): look again before calling it deleted.
                if not self.sites.refresh():  # database down: keep the entry for the retry
                    raise peewee.OperationalError("cannot load the site list to check a site id")
                refreshed = True
                site = self.sites.by_id(entry.get("s", -1))
            if site is None:
                self._drop("unknown-site", report)  # deleted since it was accepted
                continue
            hit = Hit(site=site, payload=entry["p"], ip=entry.get("ip", ""), user_agent=entry.get("ua", ""),
                      received_ms=int(entry.get("r", 0)), dnt=bool(entry.get("dnt")), source=entry)
            try:
                reason = pipeline.run(steps, "flush", hit, self.env)
            except Exception:
                log.exception("enrichment failed for a journal entry; moved to %s", self.rejected_path)
                self._reject([entry], "enrichment error", report)
                continue
            if reason:
                self._drop(reason, report)
                continue
            hits.append(hit)
        return hits

    def _drop(self, reason: str, report: FlushReport) -> None:
        report.dropped[reason] += 1
        self.stats.add(f"dropped:{reason}")

    def _commit(self, entries: list[dict[str, Any]], report: FlushReport) -> None:
        report.entries += len(entries)
        hits = self._enrich(entries, report)
        if not hits:
            return
        try:
            with self.db.atomic():
                result = store_hits(hits, self._part_table())
        except UNAVAILABLE:
            raise
        except (peewee.IntegrityError, peewee.DataError) as exc:
            # Content the database refuses (or a race with another process): one at a time, so a
            # single bad entry cannot hold the others back.
            log.warning("batch of %d refused (%s); retrying entry by entry", len(hits), exc)
            for hit in hits:
                self._commit_one(hit, report)
            return
        self._count(result.stored, result.duplicates, report)

    def _commit_one(self, hit: Hit, report: FlushReport) -> None:
        last: Exception | None = None
        for _attempt in range(2):  # the second attempt sees what a racing process committed
            try:
                with self.db.atomic():
                    result = store_hits([hit], self._part_table())
                self._count(result.stored, result.duplicates, report)
                return
            except UNAVAILABLE:
                raise
            except (peewee.IntegrityError, peewee.DataError) as exc:
                last = exc
        self._reject([hit.source], f"{type(last).__name__}: {last}", report)

    def _part_table(self) -> dict[str, CollectPart]:
        return {part.name: part for part in self.parts()}

    def _count(self, stored: int, duplicates: int, report: FlushReport) -> None:
        report.stored += stored
        report.duplicates += duplicates
        self.stats.add("stored", stored)
        if duplicates:
            self.stats.add("duplicates", duplicates)

    def _reject(self, entries: list[dict[str, Any]], why: str, report: FlushReport) -> None:
        report.failed += len(entries)
        self.stats.add("failed", len(entries))
        with open(self.rejected_path, "ab") as handle:
            for entry in entries:
                handle.write(encode({"error": why[:500], "entry": entry}))
