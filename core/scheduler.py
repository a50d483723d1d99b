"""Scheduled jobs: one APScheduler 3 BackgroundScheduler built from the job table in core.tasks.

Cluster-wide jobs run only in the process holding the scheduler lock (a file lock on SQLite,
GET_LOCK on MySQL); a process without it retries every minute, so another takes over when the
holder stops. Per-process jobs run everywhere.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import bottle
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from core.context import AppContext
from core.tasks import Job, job_table, run_task_now

log = logging.getLogger("uxwizz.scheduler")
LOCK_NAME = "scheduler"
LOCK_RETRY_SECONDS = 60


class Scheduler:
    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self._aps = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
        self._lock_handle: Any = None
        self._guard = threading.Lock()
        self.started = False

    @property
    def holds_lock(self) -> bool:
        return self._lock_handle is not None

    def start(self) -> None:
        if self.started:
            return
        for job in job_table(self.ctx).values():
            if job.per_process:
                self._add(job)  # always: this process's own work (its journal) must be drained
        # scheduler.enabled = false keeps cluster-wide jobs out of this process (e.g. a web-only node).
        if self.ctx.settings["scheduler.enabled"]:
            self._try_lock()
            if not self.holds_lock:
                self._aps.add_job(self._try_lock, IntervalTrigger(seconds=LOCK_RETRY_SECONDS), id="_lock_retry")
        self._aps.start()
        self.started = True

    def _add(self, job: Job) -> None:
        trigger = IntervalTrigger(seconds=job.seconds) if job.seconds else CronTrigger(timezone="UTC", **job.cron)
        self._aps.add_job(self._run, trigger, args=[job.name], id=job.name, name=job.help)

    def _try_lock(self) -> None:
        with self._guard:
            if self.holds_lock:
                return
            handle = self.ctx.database.dialect.acquire_lock(self.ctx.database.db, LOCK_NAME, self.ctx.settings.data_dir)
            if handle is None:
                log.info("another process holds the scheduler lock; cluster-wide jobs run there")
                return
            self._lock_handle = handle
            for job in job_table(self.ctx).values():
                if not job.per_process:
                    self._add(job)
            if self._aps.get_job("_lock_retry"):
                self._aps.remove_job("_lock_retry")
            log.info("scheduler lock taken: this process runs cluster-wide jobs")

    def _run(self, name: str) -> None:
        try:
            run_task_now(self.ctx, name)
        except Exception:  # a failing job is logged and retried at its next time; the app goes on
            log.exception("job %s failed", name)

    def stop(self) -> None:
        if self.started:
            self._aps.shutdown(wait=True)
            self.started = False
        if self._lock_handle is not None:
            self.ctx.database.dialect.release_lock(self.ctx.database.db, self._lock_handle)
            self._lock_handle = None

    def scheduled(self) -> list[tuple[str, str]]:
        return [(job.id, str(job.next_run_time)) for job in self._aps.get_jobs()]


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    """Create this app's scheduler; `serve` starts it, shutdown stops it (after the last flush)."""
    scheduler = Scheduler(ctx)
    ctx.services["scheduler"] = scheduler
    ctx.services.setdefault("starters", []).append(scheduler.start)
    # Shutdown hooks run last-registered first and this registers after the other parts, so the
    # scheduler stops (waiting for a running job) before their final flushes run.
    ctx.shutdown_hooks.append(scheduler.stop)
