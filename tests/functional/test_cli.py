"""The command line as users type it: exit codes, one-line reasons, and real effects."""

import json
import subprocess
import sys
import urllib.request

from core import accounts, migrations
from core.config import write_config
from core.db import open_database
from core.models import User
from tests.conftest import ADMIN_USER
from tests.support import PROJECT_ROOT, LiveServer, free_port


def cli(*args, stdin=""):
    return subprocess.run([sys.executable, "uxwizz.py", *args], cwd=PROJECT_ROOT, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_help_and_usage_errors():
    assert cli("--help").returncode == 0
    unknown = cli("frobnicate")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr


def test_config_check_and_example(installed_settings, tmp_path):
    ok = cli("config", "check", "--config", installed_settings.config_path)
    assert ok.returncode == 0 and "configuration is valid" in ok.stdout
    assert "database.url = (set)" in ok.stdout  # secrets are never printed
    assert installed_settings["security.secret_key"] not in ok.stdout
    bad = tmp_path / "bad.ini"
    bad.write_text("[server]\nport = http\n")
    failed = cli("config", "check", "--config", str(bad))
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [f"uxwizz: server.port (from {bad} [server] port): 'http' is not a whole number"]
    assert cli("config", "example").stdout.startswith("; uxwizz configuration")


def install_one_migration_behind(settings, db_url):
    """An installed config whose database lacks the newest migration, as after a code upgrade."""
    last = migrations.available()[-1]
    database = open_database(db_url)
    migrations.migrate_up(database.db, stop_before=last)
    database.close()
    write_config(settings.config_path, {"database.url": db_url, "security.secret_key": "k" * 40})
    return last


def test_migrate_status_up_and_serve_refusing_pending(fresh_settings, db_url):
    config = fresh_settings.config_path
    last = install_one_migration_behind(fresh_settings, db_url)
    pending = cli("migrate", "status", "--config", config)
    assert pending.returncode == 1 and f"pending  {last}" in pending.stdout and "1 pending" in pending.stdout
    refused = cli("serve", "--config", config, "--port", str(free_port()))
    assert refused.returncode == 1 and "migration(s) pending" in refused.stderr and last in refused.stderr
    applied = cli("migrate", "up", "--config", config)
    assert applied.returncode == 0 and "applied 1 migration(s)" in applied.stderr
    status = cli("migrate", "status", "--config", config)
    assert status.returncode == 0 and "up to date" in status.stdout


def test_serve_automigrate_applies_pending(fresh_settings, db_url):
    install_one_migration_behind(fresh_settings, db_url)
    server = LiveServer(fresh_settings.config_path, free_port(), extra_args=["--automigrate"]).start()
    try:
        assert json.load(urllib.request.urlopen(server.url + "/healthz"))["database"] == "ok"
    finally:
        assert server.stop() == 0
    assert cli("migrate", "status", "--config", fresh_settings.config_path).returncode == 0


def test_reset_password_from_stdin_ends_other_logins(installed_settings):
    database = open_database(installed_settings["database.url"], installed_settings.base_dir)
    accounts.start_login_session(User.get(User.username == ADMIN_USER), 1)
    database.close()
    done = cli("reset-password", ADMIN_USER, "--password-stdin", "--config", installed_settings.config_path,
               stdin="brand-new-pass\n")
    assert done.returncode == 0, done.stderr
    database = open_database(installed_settings["database.url"], installed_settings.base_dir)
    assert accounts.authenticate(ADMIN_USER, "brand-new-pass") is not None
    assert User.get(User.username == ADMIN_USER).login_sessions.count() == 0
    database.close()
    short = cli("reset-password", ADMIN_USER, "--password-stdin", "--config", installed_settings.config_path,
                stdin="short\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    nobody = cli("reset-password", "ghost", "--password-stdin", "--config", installed_settings.config_path,
                 stdin="whatever-long\n")
    assert nobody.returncode == 1 and "no user named 'ghost'" in nobody.stderr
    no_tty = cli("reset-password", ADMIN_USER, "--config", installed_settings.config_path)
    assert no_tty.returncode == 1 and "--password-stdin" in no_tty.stderr


def test_token_create_prints_a_working_token(installed_settings):
    made = cli("token", "create", ADMIN_USER, "--config", installed_settings.config_path)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("uxw_") and len(token) > 30
    database = open_database(installed_settings["database.url"], installed_settings.base_dir)
    assert accounts.user_for_api_token(token).username == ADMIN_USER
    assert accounts.user_for_api_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    database.close()


def test_users_create_and_list(installed_settings):
    made = cli("users", "create", "ana", "--level", "3", "--password-stdin", "--config",
               installed_settings.config_path, stdin="analyst-pass\n")
    assert made.returncode == 0 and "level 3, analyst" in made.stdout
    listed = cli("users", "list", "--config", installed_settings.config_path)
    assert "ana\tlevel 3 (analyst)" in listed.stdout and "admin\tlevel 5 (root)" in listed.stdout
    again = cli("users", "create", "ana", "--password-stdin", "--config", installed_settings.config_path,
                stdin="analyst-pass\n")
    assert again.returncode == 1 and "already exists" in again.stderr


def test_commands_needing_an_install_say_so(fresh_settings):
    missing = cli("users", "list", "--config", fresh_settings.config_path)
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    with open(fresh_settings.config_path, "w") as handle:
        handle.write("[server]\nport = 8081\n")
    result = cli("users", "list", "--config", fresh_settings.config_path)
    assert result.returncode == 1 and "not installed yet" in result.stderr


def test_serve_prints_the_url_and_stops_cleanly_on_sigterm(installed_settings):
    server = LiveServer(installed_settings.config_path, free_port()).start()
    try:
        health = urllib.request.urlopen(server.url + "/healthz")
        assert health.status == 200 and json.load(health)["status"] == "ok"
    finally:
        assert server.stop() == 0
    assert f"uxwizz is running at http://127.0.0.1:{server.port}/" in server.log()
