"""The job table, run_task_now, the one-process scheduler lock, and `uxwizz.py jobs`."""

import datetime as dt
import subprocess
import sys

import pytest

from core import accounts
from core.models import KeyValue, LoginSession, User, utcnow
from core.scheduler import Scheduler
from core.tasks import Job, UnknownJob, add_jobs, job_table, run_task_now
from tests.support import PROJECT_ROOT


def test_purge_logins_job_removes_only_expired_sessions(app):
    ctx = app.ctx
    user = User.get(User.username == "admin")
    _token, live = accounts.start_login_session(user, hours=1)
    _token, old = accounts.start_login_session(user, hours=1)
    LoginSession.update(expires_at=utcnow() - dt.timedelta(minutes=1)).where(LoginSession.id == old.id).execute()
    result = run_task_now(ctx, "purge-logins")
    assert result == "removed 1 expired login session(s)"
    assert [s.id for s in LoginSession.select()] == [live.id]
    last = KeyValue.get_by_id("job:purge-logins:last_run").value
    assert last["result"] == result and last["at"].endswith("Z")


def test_unknown_job_and_duplicate_names_are_refused(app):
    with pytest.raises(UnknownJob):
        run_task_now(app.ctx, "no-such-job")
    with pytest.raises(ValueError):
        add_jobs(app.ctx, job_table(app.ctx)["purge-logins"])
    with pytest.raises(ValueError):
        run_task_now(app.ctx, "purge-logins", rebuild=True)


def test_only_one_scheduler_holds_the_lock_and_the_other_takes_over(app):
    calls = []
    add_jobs(app.ctx, Job("tick", lambda ctx: calls.append(1), "test tick", seconds=3600))
    first, second = Scheduler(app.ctx), Scheduler(app.ctx)
    try:
        first.start()
        second.start()
        assert first.holds_lock and not second.holds_lock
        assert "tick" in dict(first.scheduled()) and "tick" not in dict(second.scheduled())
        first.stop()
        second._try_lock()  # what its one-minute retry does
        assert second.holds_lock and "tick" in dict(second.scheduled())
    finally:
        first.stop()
        second.stop()


def test_per_process_jobs_run_without_the_lock(app):
    add_jobs(app.ctx, Job("local", lambda ctx: None, "per process", seconds=3600, per_process=True))
    holder, other = Scheduler(app.ctx), Scheduler(app.ctx)
    try:
        holder.start()
        other.start()
        assert "local" in dict(other.scheduled()) and not other.holds_lock
    finally:
        holder.stop()
        other.stop()


def run_cli(*args, stdin=""):
    return subprocess.run([sys.executable, "uxwizz.py", *args], cwd=PROJECT_ROOT, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_jobs_cli_lists_and_runs(installed_settings):
    listed = run_cli("jobs", "list", "--config", installed_settings.config_path)
    assert listed.returncode == 0, listed.stderr
    assert "purge-logins" in listed.stdout and "one process" in listed.stdout
    ran = run_cli("jobs", "run", "purge-logins", "--config", installed_settings.config_path)
    assert ran.returncode == 0, ran.stderr
    assert "purge-logins: removed 0 expired login session(s)" in ran.stderr
    missing = run_cli("jobs", "run", "nope", "--config", installed_settings.config_path)
    assert missing.returncode == 1 and "no job named 'nope'" in missing.stderr
    usage = run_cli("jobs", "--config", installed_settings.config_path)
    assert usage.returncode == 2


def test_scheduler_disabled_still_runs_per_process_jobs(installed_settings):
    from core.app import create_app

    app = create_app(installed_settings.replace({"scheduler.enabled": False}))
    add_jobs(app.ctx, Job("flush-like", lambda ctx: None, "per process", seconds=3600, per_process=True))
    scheduler = Scheduler(app.ctx)
    try:
        scheduler.start()
        jobs = dict(scheduler.scheduled())
        assert "flush-like" in jobs and "purge-logins" not in jobs and not scheduler.holds_lock
    finally:
        scheduler.stop()
        app.shutdown()
