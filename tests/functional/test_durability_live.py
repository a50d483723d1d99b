"""Real processes: `uxwizz.py serve` under load is killed with SIGKILL, or loses its MariaDB for a
while, and every event it acknowledged with a 202 is in the database exactly once afterwards.

The outage is made with a TCP forwarder owned by this test (the shared MariaDB keeps running for
everyone else): the server under test talks to the forwarder, which the test cuts and restores.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest

from core.db import open_database
from core.models import Event
from installer.setup import InstallRequest, perform_install
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, MYSQL_SERVER, mysql_admin_connection
from tests.functional.test_collect import CHROME, PID, now_ms
from tests.support import LiveServer, free_port

pytestmark = pytest.mark.slow


class Load:
    """Threads posting one-event batches over keep-alive connections; remembers what got a 202."""

    def __init__(self, port: int, workers: int = 6):
        self.port = port
        self.workers = workers
        self.acked: list[str] = []
        self.failures = 0
        self.sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(workers)
        self._futures: list = []

    def start(self) -> Load:
        self._futures = [self._pool.submit(self._worker, n) for n in range(self.workers)]
        return self

    def stop(self) -> None:
        self._stop.set()
        for future in self._futures:
            future.result(timeout=60)
        self._pool.shutdown()

    def _worker(self, n: int) -> None:
        sid = f"load{n:02d}{uuid.uuid4().hex[:16]}"
        conn: http.client.HTTPConnection | None = None
        seq = 0
        while not self._stop.is_set():
            seq += 1
            label = f"{sid}-{seq}"
            t = now_ms()
            body = json.dumps({
                "v": 1, "site": "example.com", "sid": sid, "bid": label, "sent": t,
                "pages": [{"pid": PID, "url": "https://example.com/", "t": t}],
                "events": [{"pid": PID, "t": t, "category": "load", "action": "hit", "label": label}],
            })
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("POST", "/api/collect", body, {"Content-Type": "text/plain", "User-Agent": CHROME})
                response = conn.getresponse()
                response.read()
                ok = response.status == 202 and response.getheader("X-UXWizz-Dropped") is None
            except (OSError, http.client.HTTPException):
                ok = False
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
            with self._lock:
                self.sent += 1
                if ok:
                    self.acked.append(label)
                else:
                    self.failures += 1
        if conn is not None:
            conn.close()

    def wait_for(self, acked: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < acked and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.acked) >= acked, f"only {len(self.acked)} acknowledged"


def wait_drained(server: LiveServer, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2) as response:
                last = json.load(response)
                if last["buffer_depth"] == 0:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"journal not drained: {last}\n{server.log()}")


def stored_labels(settings) -> list[str]:  # type: ignore[no-untyped-def]
    database = open_database(settings["database.url"], settings.base_dir)
    try:
        return [label for (label,) in Event.select(Event.label).where(Event.category == "load").tuples()]
    finally:
        database.close()


def assert_exactly_once(acked: list[str], stored: list[str]) -> None:
    print(f"acknowledged {len(acked)}, stored {len(stored)}")
    assert len(stored) == len(set(stored)), "an event was stored twice"
    missing = set(acked) - set(stored)
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"


def test_kill_9_mid_load_loses_nothing_acknowledged(installed_settings):
    port = free_port()
    server = LiveServer(installed_settings.config_path, port).start()
    load = Load(port).start()
    try:
        load.wait_for(300)
        server.kill()  # SIGKILL while requests are in flight
        acked_before_kill = len(load.acked)
        time.sleep(0.5)
        server = LiveServer(installed_settings.config_path, port).start()
        load.wait_for(acked_before_kill + 200)
    finally:
        load.stop()
    wait_drained(server)
    stored = stored_labels(installed_settings)
    server.stop()
    assert load.failures > 0 or acked_before_kill > 0
    assert_exactly_once(load.acked, stored)
    assert len(stored) >= len(load.acked)


# -- a database outage through a forwarder this test controls ------------------------------------


class Forwarder:
    """TCP forwarder to the MariaDB server; `cut()` drops every connection and refuses new ones."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _addr = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def cut(self) -> None:
        self.up = False
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def mariadb_behind_forwarder(fresh_settings) -> Iterator[tuple]:  # type: ignore[no-untyped-def]
    name = f"uxwizz_t_outage_{uuid.uuid4().hex[:10]}"
    with mysql_admin_connection() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    server = urlparse(MYSQL_SERVER)
    forwarder = Forwarder(server.hostname or "127.0.0.1", server.port or 3306)
    auth = f"{server.username or 'root'}:{server.password or ''}"
    url = f"mysql://{auth}@127.0.0.1:{forwarder.port}/{name}"
    settings = perform_install(fresh_settings, InstallRequest(url, ADMIN_USER, ADMIN_PASSWORD, "example.com"))
    try:
        yield settings, forwarder
    finally:
        forwarder.close()
        with mysql_admin_connection() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def test_database_outage_mid_load_loses_nothing_acknowledged(mariadb_behind_forwarder):
    settings, forwarder = mariadb_behind_forwarder
    port = free_port()
    server = LiveServer(settings.config_path, port).start()
    load = Load(port).start()
    try:
        load.wait_for(200)
        forwarder.cut()  # MariaDB unreachable for the server under test only
        during = len(load.acked)
        load.wait_for(during + 300)  # collection keeps answering 202 while the database is gone
        time.sleep(2)
        forwarder.restore()
        load.wait_for(len(load.acked) + 100)
    finally:
        load.stop()
    wait_drained(server, timeout=90)
    stored = stored_labels(settings)
    assert server.stop() == 0
    assert_exactly_once(load.acked, stored)
    assert "collection flush failed" in server.log()  # the outage really happened
