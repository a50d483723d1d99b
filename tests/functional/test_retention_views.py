"""/settings/retention and the `retention` job through the app, the scheduler table and the CLI."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from core import accounts, sites
from core.models import KeyValue, Session, Site, utcnow
from core.tasks import job_table
from tests.conftest import csrf_of, login
from tests.support import PROJECT_ROOT
from tests.unit.test_heatmap_data import full_session


def test_page_shows_sites_and_run_now_enforces_the_cap(admin_client):
    site = Site.get(Site.domain == "example.com")
    sites.update_site(site, settings={"max_sessions": 2})
    now = utcnow()
    made = [full_session(site, now - dt.timedelta(hours=h)) for h in (5, 4, 3, 2)]
    page = admin_client.get("/settings/retention")
    row = page.html.select_one(f'#retention-sites tr[data-site="{site.id}"]')
    assert row.select_one(".sessions").text.strip() == "4"
    assert "has not run yet" in page.text
    assert 'href="/settings/retention"' in page.text  # menu link
    admin_client.post("/settings/retention/run", status=403)  # no CSRF token
    done = admin_client.post("/settings/retention/run", {"csrf_token": csrf_of(admin_client)}, status=303)
    assert done.headers["Location"].endswith("/settings/retention")
    assert {s.id for s in Session.select()} == {made[2].id, made[3].id}
    last = KeyValue.get_by_id("job:retention:last_run").value
    assert last["result"].startswith("deleted 2 session(s)")
    after = admin_client.get("/settings/retention")
    assert "Retention ran: deleted 2 session(s)" in after.text and "Last run:" in after.text
    assert after.html.select_one(f'#retention-sites tr[data-site="{site.id}"] .sessions').text.strip() == "2"


def test_below_admin_level_the_page_is_forbidden(client):
    site = Site.get(Site.domain == "example.com")
    accounts.create_user("analyst", "analyst-pass-123", 3, [site.id])
    assert login(client, "analyst", "analyst-pass-123").status_int == 303
    client.get("/settings/retention", status=403)
    client.post("/settings/retention/run", {"csrf_token": csrf_of(client)}, status=403)


def test_jobs_are_in_the_table_with_their_schedules(app):
    table = job_table(app.ctx)
    assert table["retention"].cron == {"hour": 3, "minute": 41} and not table["retention"].per_process
    assert table["heatmap-rollup"].supports_rebuild and table["heatmap-rollup"].seconds == 300


def test_retention_runs_from_the_cli(installed_settings, app):
    site = Site.get(Site.domain == "example.com")
    sites.update_site(site, settings={"max_age_days": 1})
    full_session(site, utcnow() - dt.timedelta(days=3))
    keep = full_session(site, utcnow())
    out = subprocess.run([sys.executable, "uxwizz.py", "jobs", "run", "retention", "--config",
                          installed_settings.config_path], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "deleted 1 session(s)" in out.stdout + out.stderr
    app.ctx.database.db.close()  # see the other process's commit (MySQL repeatable read)
    assert [s.id for s in Session.select()] == [keep.id]
