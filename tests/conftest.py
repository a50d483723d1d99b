"""Shared fixtures: a real database per test (SQLite file or a throw-away MariaDB database).

The engine comes from UXWIZZ_TEST_DB (sqlite, the default, or mysql); the MySQL server from
UXWIZZ_TEST_MYSQL_URL (default mysql://root:@127.0.0.1:3306). Nothing here mocks the database.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
import webtest

from core.app import UxwizzApp, create_app
from core.config import Settings, load_settings
from installer.setup import InstallRequest, perform_install
from tests import template_coverage

ENGINE = os.environ.get("UXWIZZ_TEST_DB", "sqlite")
MYSQL_SERVER = os.environ.get("UXWIZZ_TEST_MYSQL_URL", "mysql://root:@127.0.0.1:3306")
ADMIN_USER, ADMIN_PASSWORD = "admin", "correct-horse-9"


def mysql_admin_connection():  # type: ignore[no-untyped-def]
    import pymysql

    parts = urlparse(MYSQL_SERVER)
    return pymysql.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username or "root",
                           password=parts.password or "", autocommit=True)


def mysql_url(name: str) -> str:
    parts = urlparse(MYSQL_SERVER)
    auth = f"{parts.username or 'root'}:{parts.password or ''}"
    return f"mysql://{auth}@{parts.hostname}:{parts.port or 3306}/{name}"


def pytest_configure(config: pytest.Config) -> None:
    template_coverage.register(config)  # "every template is rendered by some test" (issue #4)


@pytest.fixture
def engine() -> str:
    return ENGINE


@pytest.fixture
def make_db_url(tmp_path) -> Iterator:  # type: ignore[no-untyped-def]
    """Factory for fresh, empty databases of the engine under test; dropped afterwards."""
    created: list[str] = []

    def make(label: str = "db") -> str:
        if ENGINE == "sqlite":
            return f"sqlite:///{tmp_path}/{label}-{uuid.uuid4().hex[:6]}.db"
        name = f"uxwizz_t_{re.sub(r'[^a-z0-9]', '', label)}_{uuid.uuid4().hex[:10]}"
        with mysql_admin_connection() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        created.append(name)
        return mysql_url(name)

    yield make
    if created:
        with mysql_admin_connection() as conn, conn.cursor() as cur:
            for name in created:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def db_url(make_db_url) -> str:  # type: ignore[no-untyped-def]
    return make_db_url()


@pytest.fixture
def fresh_settings(tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    """Settings of a not-yet-installed server whose config.ini would live in tmp_path."""
    return load_settings(environ={"UXWIZZ_CONFIG": str(tmp_path / "config.ini")})


@pytest.fixture
def installed_settings(fresh_settings, db_url) -> Settings:  # type: ignore[no-untyped-def]
    return perform_install(
        fresh_settings, InstallRequest(db_url, ADMIN_USER, ADMIN_PASSWORD, "example.com")
    )


@pytest.fixture
def app(installed_settings) -> Iterator[UxwizzApp]:  # type: ignore[no-untyped-def]
    application = create_app(installed_settings)
    yield application
    application.shutdown()


@pytest.fixture
def client(app) -> webtest.TestApp:  # type: ignore[no-untyped-def]
    return webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "203.0.113.9"})


def login(client: webtest.TestApp, username: str = ADMIN_USER, password: str = ADMIN_PASSWORD,
          status: int | str = "*") -> webtest.TestResponse:
    """Log in through the real form (CSRF cookie and token included)."""
    form = client.get("/login").forms["login-form"]
    form["username"] = username
    form["password"] = password
    return form.submit(status=status)


@pytest.fixture
def admin_client(client) -> webtest.TestApp:  # type: ignore[no-untyped-def]
    response = login(client)
    assert response.status_int == 303, response.text
    return client


def csrf_of(client: webtest.TestApp) -> str:
    """The CSRF token of the logged-in session, as a page would embed it."""
    page = client.get("/")
    match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert match, "dashboard page has no csrf meta tag"
    return match.group(1)
