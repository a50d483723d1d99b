"""`perform_install`, the one install code path: refusals, the lock, what it writes and keeps."""

from __future__ import annotations

import os
import stat
import threading
import uuid
from urllib.parse import urlparse

import pytest

from core.config import load_settings
from core.dialect import dialect_for
from installer.setup import (
    InstallError,
    InstallRequest,
    install_lock,
    kept_settings,
    perform_install,
    probe_database,
)
from tests.conftest import MYSQL_SERVER, mysql_admin_connection

PASSWORD = "unit-pass-1234"


def tables(db_url: str, base_dir: str) -> list[str]:
    db = dialect_for(db_url, base_dir).open()
    try:
        return db.get_tables()
    finally:
        db.close()
        getattr(db, "close_all", lambda: None)()


def test_install_writes_0600_config_and_returns_installed_settings(fresh_settings, db_url):
    seen: list[str] = []
    new = perform_install(fresh_settings, InstallRequest(db_url, " boss ", PASSWORD, "Example.COM"), seen.append)
    assert seen == ["Connecting to the database", "Creating tables", "Creating the admin user",
                    "Adding the first site", "Writing the configuration"]
    assert new.installed and new["database.url"] == db_url and len(new["security.secret_key"]) >= 32
    assert stat.S_IMODE(os.stat(fresh_settings.config_path).st_mode) == 0o600
    loaded = load_settings(environ={"UXWIZZ_CONFIG": fresh_settings.config_path})
    assert loaded["security.secret_key"] == new["security.secret_key"]
    from core.models import Site, User

    assert [u.username for u in User.select()] == ["boss"]
    assert [s.domain for s in Site.select()] == ["example.com"]
    leftovers = [n for n in os.listdir(os.path.dirname(fresh_settings.config_path)) if n.startswith(".config-")]
    assert leftovers == []  # the atomic write left no temporary file


def test_refuses_when_config_already_has_a_database_url(fresh_settings, db_url, make_db_url):
    perform_install(fresh_settings, InstallRequest(db_url, "boss", PASSWORD))
    before = open(fresh_settings.config_path).read()
    second = make_db_url("second")
    with pytest.raises(InstallError, match="already holds a database URL"):
        perform_install(fresh_settings, InstallRequest(second, "boss", PASSWORD))
    assert open(fresh_settings.config_path).read() == before
    assert "users" not in tables(second, fresh_settings.base_dir)


def test_refuses_a_database_that_has_users(fresh_settings, db_url, tmp_path):
    other = load_settings(environ={"UXWIZZ_CONFIG": str(tmp_path / "a" / "config.ini")})
    os.makedirs(tmp_path / "a")
    perform_install(other, InstallRequest(db_url, "first", PASSWORD))
    with pytest.raises(InstallError, match="already holds a uxwizz install") as caught:
        perform_install(fresh_settings, InstallRequest(db_url, "second", PASSWORD))
    assert caught.value.field == "db_url"
    assert not os.path.exists(fresh_settings.config_path)


@pytest.mark.parametrize("request_args, field", [
    (("", PASSWORD), "admin_user"),
    (("bad user!", PASSWORD), "admin_user"),
    (("boss", "seven77"), "admin_password"),
    (("boss", PASSWORD, "not a domain"), "site_domain"),
])
def test_validation_fails_before_touching_the_database(fresh_settings, db_url, request_args, field):
    with pytest.raises(InstallError) as caught:
        perform_install(fresh_settings, InstallRequest(db_url, *request_args))
    assert caught.value.field == field and str(caught.value)
    assert not os.path.exists(fresh_settings.config_path)
    if db_url.startswith("sqlite:///"):
        assert not os.path.exists(db_url[len("sqlite:///"):])
    else:
        assert tables(db_url, fresh_settings.base_dir) == []


@pytest.mark.parametrize("url", ["postgres://db/x", "sqlite:///", "mysql://nohost"])
def test_bad_database_url_is_a_db_url_error(fresh_settings, url):
    with pytest.raises(InstallError) as caught:
        perform_install(fresh_settings, InstallRequest(url, "boss", PASSWORD))
    assert caught.value.field == "db_url"
    assert not os.path.exists(fresh_settings.config_path)


def test_lock_refuses_a_second_install_in_the_same_folder(fresh_settings, db_url):
    entered = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with install_lock(fresh_settings.config_path):
            entered.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert entered.wait(10)
        with pytest.raises(InstallError, match="Another install is running"):
            perform_install(fresh_settings, InstallRequest(db_url, "boss", PASSWORD))
    finally:
        release.set()
        holder.join(10)
    assert not os.path.exists(fresh_settings.config_path)
    perform_install(fresh_settings, InstallRequest(db_url, "boss", PASSWORD))  # free again afterwards
    assert os.path.exists(fresh_settings.config_path)


def test_existing_config_settings_are_kept(tmp_path, db_url):
    config = tmp_path / "config.ini"
    config.write_text("[server]\nthreads = 3\n[plugins]\nenabled = demo, other\n")
    settings = load_settings(environ={"UXWIZZ_CONFIG": str(config), "UXWIZZ_SERVER_PORT": "9555",
                                      "UXWIZZ_LOGGING_LEVEL": "error"})
    assert kept_settings(settings) == {"server.threads": 3, "plugins.enabled": ("demo", "other"),
                                       "server.port": 9555}
    perform_install(settings, InstallRequest(db_url, "boss", PASSWORD))
    loaded = load_settings(environ={"UXWIZZ_CONFIG": str(config)})
    assert loaded["server.threads"] == 3 and loaded["plugins.enabled"] == ("demo", "other")
    assert loaded["server.port"] == 9555 and loaded["logging.level"] == "info"


def test_probe_never_creates_a_sqlite_file(tmp_path):
    target = tmp_path / "new" / "uxwizz.db"
    assert probe_database(f"sqlite:///{target}", str(tmp_path)) is None
    assert not (tmp_path / "new").exists()
    folder = tmp_path / "a-folder"
    folder.mkdir()
    assert "is a folder" in (probe_database(f"sqlite:///{folder}", str(tmp_path)) or "")
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    reason = probe_database(f"sqlite:///{blocker}/inside.db", str(tmp_path)) or ""
    assert "is a file, not a folder" in reason


def test_mysql_user_without_create_rights_gets_a_sentence(fresh_settings, make_db_url, engine):
    """A real MariaDB user allowed to connect but not to create tables: InstallError, no traceback."""
    db_url = make_db_url("noddl") if engine == "mysql" else None  # MariaDB serves both runs here
    name = urlparse(db_url).path[1:] if db_url else f"uxwizz_t_noddl_{uuid.uuid4().hex[:8]}"
    user = f"ro{uuid.uuid4().hex[:8]}"
    port = urlparse(MYSQL_SERVER).port or 3306
    with mysql_admin_connection() as conn, conn.cursor() as cur:
        if not db_url:
            cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute("CREATE USER %s@'127.0.0.1' IDENTIFIED BY %s", (user, PASSWORD))
        cur.execute(f"GRANT SELECT ON `{name}`.* TO %s@'127.0.0.1'", (user,))
    try:
        url = f"mysql://{user}:{PASSWORD}@127.0.0.1:{port}/{name}"
        with pytest.raises(InstallError) as caught:
            perform_install(fresh_settings, InstallRequest(url, "boss", PASSWORD))
        assert caught.value.field == "db_url"
        assert "denied" in str(caught.value).lower() and "Traceback" not in str(caught.value)
        assert not os.path.exists(fresh_settings.config_path)
    finally:
        with mysql_admin_connection() as conn, conn.cursor() as cur:
            if not db_url:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute("DROP USER IF EXISTS %s@'127.0.0.1'", (user,))


def test_config_folder_is_created_or_the_reason_given(tmp_path, db_url):
    nested = load_settings(environ={"UXWIZZ_CONFIG": str(tmp_path / "new" / "etc" / "config.ini")})
    perform_install(nested, InstallRequest(db_url, "boss", PASSWORD))
    assert (tmp_path / "new" / "etc" / "config.ini").is_file()
    (tmp_path / "blocker").write_text("a file where a folder should be")
    blocked = load_settings(environ={"UXWIZZ_CONFIG": str(tmp_path / "blocker" / "config.ini")})
    with pytest.raises(InstallError, match="Cannot use the folder"):
        perform_install(blocked, InstallRequest(db_url, "boss", PASSWORD))
