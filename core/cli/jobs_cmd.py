"""`jobs list` and `jobs run NAME [--rebuild]`: the scheduler's job table, run by hand."""

from __future__ import annotations

import argparse
from typing import Any

from core.cli import CommandError, settings_from
from core.cli.progress import ProgressBar


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("jobs", parents=[common], help="scheduled jobs")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", parents=[common], help="list jobs and their schedules").set_defaults(func=list_jobs)
    run = actions.add_parser("run", parents=[common], help="run one job now")
    run.add_argument("name")
    run.add_argument("--rebuild", action="store_true", help="rebuild from scratch (jobs that support it)")
    run.set_defaults(func=run_job)


def _app(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from core.app import PendingMigrations, create_app

    settings = settings_from(args)
    if not settings.installed:
        raise CommandError("not installed yet: run the web installer or `uxwizz.py install`")
    try:
        return create_app(settings)
    except PendingMigrations as exc:
        raise CommandError(str(exc)) from None


def _schedule(job: Any) -> str:
    if job.seconds:
        return f"every {job.seconds:g} s"
    return "cron " + " ".join(f"{k}={v}" for k, v in job.cron.items())


def list_jobs(args: argparse.Namespace) -> int:
    from core.tasks import job_table

    app = _app(args)
    try:
        for job in sorted(job_table(app.ctx).values(), key=lambda j: j.name):
            scope = "each process" if job.per_process else "one process"
            print(f"{job.name:<20} {_schedule(job):<24} {scope:<13} {job.help}")
    finally:
        app.shutdown()
    return 0


def run_job(args: argparse.Namespace) -> int:
    from core.tasks import UnknownJob, run_task_now

    app = _app(args)
    bar = ProgressBar(args.name)
    try:
        result = run_task_now(app.ctx, args.name, rebuild=args.rebuild, progress=bar.update)
    except UnknownJob:
        raise CommandError(f"no job named {args.name!r} (see `uxwizz.py jobs list`)") from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    finally:
        app.shutdown()
    bar.finish(f"{args.name}: {result}" if result else f"{args.name}: done")
    return 0
