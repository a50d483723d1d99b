"""The declarative job table and `run_task_now(ctx, name)` for the CLI and tests.

A job is a plain function of the app context. Built-in jobs are listed here; other parts of the
app (collection flush, retention, rollups) and plugins add theirs through `add_jobs(ctx, …)`
while the app is built, so `jobs list` and the scheduler see one table.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core import accounts
from core.context import AppContext

log = logging.getLogger("uxwizz.tasks")
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Job:
    name: str
    func: Callable[..., Any]  # func(ctx, *, rebuild=False, progress=None) -> summary or None
    help: str
    seconds: float | None = None  # interval trigger
    cron: dict[str, Any] = field(default_factory=dict)  # or a cron trigger, e.g. {"hour": 3}
    # Cluster-wide jobs run in one process only (the scheduler lock); per-process jobs (the
    # collection flush, which drains this process's own journal) run everywhere.
    per_process: bool = False
    supports_rebuild: bool = False


def purge_login_sessions(ctx: AppContext, **_options: Any) -> str:
    removed = accounts.purge_expired_login_sessions()
    return f"removed {removed} expired login session(s)"


BUILTIN_JOBS: tuple[Job, ...] = (
    Job("purge-logins", purge_login_sessions, "Delete expired dashboard logins.", cron={"hour": 4, "minute": 17}),
)


def add_jobs(ctx: AppContext, *jobs: Job) -> None:
    table = ctx.services.setdefault("jobs", {})
    for job in jobs:
        if job.name in table:
            raise ValueError(f"job {job.name!r} is defined twice")
        table[job.name] = job


def job_table(ctx: AppContext) -> dict[str, Job]:
    table = ctx.services.setdefault("jobs", {})
    for job in BUILTIN_JOBS:
        table.setdefault(job.name, job)
    return table


class UnknownJob(KeyError):
    pass


def run_task_now(ctx: AppContext, name: str, *, rebuild: bool = False, progress: Progress | None = None) -> Any:
    """Run one job synchronously in this thread; records when it last ran."""
    job = job_table(ctx).get(name)
    if job is None:
        raise UnknownJob(name)
    if rebuild and not job.supports_rebuild:
        raise ValueError(f"job {name!r} has no --rebuild mode")
    options: dict[str, Any] = {}
    if job.supports_rebuild:
        options["rebuild"] = rebuild
    if progress is not None:
        options["progress"] = progress
    db = ctx.database.db
    db.connect(reuse_if_open=True)
    started = time.monotonic()
    try:
        result = job.func(ctx, **options)
    finally:
        if hasattr(db, "close_all") and not db.is_closed():
            db.close()  # return a pooled MySQL connection
    record_run(ctx, name, time.monotonic() - started, result)
    return result


def record_run(ctx: AppContext, name: str, seconds: float, result: Any) -> None:
    from core.models import KeyValue, utcnow

    runs = ctx.services.setdefault("job_runs", {})
    runs[name] = {"at": utcnow().isoformat() + "Z", "seconds": round(seconds, 3), "result": str(result or "")}
    job = job_table(ctx).get(name)
    if job is not None and not job.per_process:
        # Cluster-wide jobs keep their last run in the database so the dashboard shows it.
        KeyValue.replace(key=f"job:{name}:last_run", value=runs[name]).execute()
