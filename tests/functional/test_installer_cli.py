"""`uxwizz.py install` as a script would run it: a subprocess, exit codes, stdout and stderr."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid

import pytest

from core.config import load_settings
from tests.conftest import mysql_url
from tests.support import PROJECT_ROOT, free_port

PASSWORD = "cli-pass-12345"


def install(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(PROJECT_ROOT, "uxwizz.py"), "install", *args],
                          input=stdin, capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT,
                          env={k: v for k, v in os.environ.items() if not k.startswith("UXWIZZ_")})


def test_install_succeeds_with_progress_and_a_0600_config(tmp_path, db_url):
    config = tmp_path / "conf" / "config.ini"
    config.parent.mkdir()
    done = install("--config", str(config), "--db", db_url, "--admin-user", "ops", "--admin-password", PASSWORD,
                   "--site", "https://Blog.Example.org/")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:5] == ["… Connecting to the database", "… Creating tables", "… Creating the admin user",
                         "… Adding the first site", "… Writing the configuration"]
    assert lines[5].startswith(f"installed: config written to {config}")
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600
    settings = load_settings(environ={"UXWIZZ_CONFIG": str(config)})
    assert settings.installed and settings["database.url"] == db_url

    from core.db import open_database
    from core.models import Site, User

    database = open_database(db_url, str(config.parent))
    try:
        assert [(u.username, u.level) for u in User.select()] == [("ops", 5)]
        assert [s.domain for s in Site.select()] == ["blog.example.org"]
    finally:
        database.close()

    again = install("--config", str(config), "--db", db_url, "--admin-user", "ops", "--admin-password", PASSWORD)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == [f"uxwizz: already installed: {config} (or the environment) "
                                                 "sets database.url"]


def test_password_from_stdin(tmp_path, db_url):
    config = tmp_path / "config.ini"
    done = install("--config", str(config), "--db", db_url, "--admin-user", "ops", "--admin-password-stdin",
                   stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    from core.accounts import authenticate
    from core.db import open_database

    database = open_database(db_url, str(tmp_path))
    try:
        assert authenticate("ops", PASSWORD) is not None
    finally:
        database.close()


def test_relative_sqlite_path_is_relative_to_the_config_folder(tmp_path):
    config = tmp_path / "site" / "config.ini"
    done = install("--config", str(config), "--db", "sqlite:///data/stats.db", "--admin-user", "ops",
                   "--admin-password", PASSWORD)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "data" / "stats.db").is_file()


@pytest.mark.parametrize("args, reason", [
    (["--admin-user", "ops", "--admin-password", "short"], "Password must be at least 8 characters."),
    (["--admin-user", "no spaces!", "--admin-password", PASSWORD], "User name must be"),
    (["--admin-user", "ops", "--admin-password", PASSWORD, "--site", "not a domain"],
     "Enter a domain name such as example.com."),
])
def test_bad_values_exit_1_with_one_line_and_write_nothing(tmp_path, db_url, args, reason):
    config = tmp_path / "config.ini"
    failed = install("--config", str(config), "--db", db_url, *args)
    assert failed.returncode == 1
    assert len(failed.stderr.strip().splitlines()) == 1 and reason in failed.stderr
    assert failed.stdout == ""  # refused before any progress
    assert not config.exists()


def test_bad_url_exits_1(tmp_path):
    failed = install("--config", str(tmp_path / "config.ini"), "--db", "postgres://x/y", "--admin-user", "ops",
                     "--admin-password", PASSWORD)
    assert failed.returncode == 1 and "must start with sqlite:/// or mysql://" in failed.stderr


@pytest.mark.parametrize("args", [
    ["--db", "sqlite:///x.db", "--admin-user", "ops"],  # no password option
    ["--db", "sqlite:///x.db", "--admin-password", PASSWORD],  # no user
    ["--admin-user", "ops", "--admin-password", PASSWORD],  # no database
    ["--db", "sqlite:///x.db", "--admin-user", "ops", "--admin-password", PASSWORD, "--admin-password-stdin"],
    ["--db", "sqlite:///x.db", "--admin-user", "ops", "--admin-password", PASSWORD, "--bogus"],
])
def test_usage_errors_exit_2(tmp_path, args):
    failed = install("--config", str(tmp_path / "config.ini"), *args)
    assert failed.returncode == 2 and "usage:" in failed.stderr
    assert not (tmp_path / "config.ini").exists()


def test_mysql_reasons_exit_1_with_the_reason(tmp_path):
    port = free_port()
    cases = [
        (f"mysql://root:@127.0.0.1:{port}/uxwizz", f"Cannot reach the database server at 127.0.0.1:{port}"),
        (mysql_url("mysql").replace("root:", "root:wrong-password-x"), "Access denied for user 'root'"),
        (mysql_url(f"uxwizz_missing_{uuid.uuid4().hex[:8]}"), "Unknown database 'uxwizz_missing_"),
    ]
    for url, reason in cases:
        failed = install("--config", str(tmp_path / "config.ini"), "--db", url, "--admin-user", "ops",
                         "--admin-password", PASSWORD)
        assert failed.returncode == 1, failed.stderr
        assert failed.stdout.splitlines() == ["… Connecting to the database"]
        assert len(failed.stderr.strip().splitlines()) == 1 and reason in failed.stderr
        assert "wrong-password-x" not in failed.stderr
        assert not (tmp_path / "config.ini").exists()
