"""Real processes: `serve` forks a flush worker; what happens when the worker or the server dies.

Every test runs `uxwizz.py serve` as a subprocess on the engine under test and checks the database
afterwards: whatever got a 202 is stored exactly once, whoever died.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request

import pytest

from core.db import open_database
from core.ingest import schema
from core.ingest.journal import encode
from core.models import Event, Site
from tests.functional.test_collect import CHROME, PID, now_ms
from tests.functional.test_durability_live import Load, assert_exactly_once, stored_labels, wait_drained
from tests.support import LiveServer, free_port

pytestmark = pytest.mark.slow


def health(server: LiveServer) -> dict:
    with urllib.request.urlopen(server.url + "/healthz", timeout=5) as response:
        return json.load(response)


def worker_pid(server: LiveServer) -> int | None:
    return health(server)["collect"]["flush_worker_pid"]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"  # a zombie is dead, just not reaped
    except OSError:
        return False


def wait_until(condition, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_serve_flushes_in_a_niced_child_process(installed_settings):
    server = LiveServer(installed_settings.config_path, free_port(),
                        env={"UXWIZZ_INGEST_FLUSH_WORKER_NICE": "7"}).start()
    try:
        pid = worker_pid(server)
        assert pid is not None and server.proc is not None
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().split(")")[-1].split()
        assert int(fields[1]) == server.proc.pid  # the server's own child
        assert int(fields[16]) - os.getpriority(os.PRIO_PROCESS, server.proc.pid) == 7  # niceness
        load = Load(server.port, workers=3).start()
        try:
            load.wait_for(200)
        finally:
            load.stop()
        wait_drained(server)
        assert_exactly_once(load.acked, stored_labels(installed_settings))
        counts = health(server)["collect"]
        assert counts["stored"] == counts["accepted"] == len(load.acked)  # the worker's reports arrived
    finally:
        assert server.stop() == 0
    assert not alive(pid)


def test_when_the_worker_dies_the_server_flushes_itself_and_loses_nothing(installed_settings):
    server = LiveServer(installed_settings.config_path, free_port()).start()
    load = Load(server.port, workers=4).start()
    try:
        load.wait_for(200)
        pid = worker_pid(server)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # mid-load, maybe mid-transaction
        assert wait_until(lambda: worker_pid(server) is None), server.log()
        before = len(load.acked)
        load.wait_for(before + 200)
    finally:
        load.stop()
    wait_drained(server)
    stored = stored_labels(installed_settings)
    assert server.stop() == 0
    log = server.log()
    assert "flushing in-process from now on" in log
    try:
        assert_exactly_once(load.acked, stored)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{log}") from None


def test_the_worker_dies_with_a_killed_server_and_the_restart_replays(installed_settings):
    port = free_port()
    server = LiveServer(installed_settings.config_path, port).start()
    load = Load(port, workers=4).start()
    try:
        load.wait_for(200)
        pid = worker_pid(server)
        assert pid is not None
        server.kill()
        assert wait_until(lambda: not alive(pid), timeout=5), "the worker outlived its server"
        server = LiveServer(installed_settings.config_path, port).start()
        load.wait_for(len(load.acked) + 100)
    finally:
        load.stop()
    wait_drained(server)
    stored = stored_labels(installed_settings)
    server.stop()
    assert_exactly_once(load.acked, stored)


def post_for(server: LiveServer, domain: str, label: str) -> int:
    t = now_ms()
    body = json.dumps({
        "v": 1, "site": domain, "sid": f"newsite{label}xxxxxxxx", "bid": label, "sent": t,
        "pages": [{"pid": PID, "url": f"https://{domain}/", "t": t}],
        "events": [{"pid": PID, "t": t, "category": "late", "action": "hit", "label": label}],
    }).encode()
    request = urllib.request.Request(server.url + "/api/collect", body,
                                     {"Content-Type": "text/plain", "User-Agent": CHROME})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_site_added_after_start_is_stored_not_dropped(installed_settings):
    server = LiveServer(installed_settings.config_path, free_port()).start()
    try:
        assert worker_pid(server) is not None
        other = open_database(installed_settings["database.url"], installed_settings.base_dir)
        try:
            Site.create(domain="late.example", name="Late", settings={})  # as another process would
        finally:
            other.close()
        # The server learns of the site on its first miss; the worker only from the database.
        assert wait_until(lambda: post_for(server, "late.example", "late-event-0001") == 202)
        wait_drained(server)
        database = open_database(installed_settings["database.url"], installed_settings.base_dir)
        try:
            assert [e.label for e in Event.select().where(Event.category == "late")] == ["late-event-0001"]
        finally:
            database.close()
        assert health(server)["collect"]["dropped"].get("unknown-site") is None
    finally:
        server.stop()


def test_flush_worker_can_be_turned_off(installed_settings):
    server = LiveServer(installed_settings.config_path, free_port(),
                        env={"UXWIZZ_INGEST_FLUSH_WORKER": "false"}).start()
    try:
        assert worker_pid(server) is None
        assert post_for(server, "example.com", "in-process-0001") == 202
        wait_drained(server)
        assert health(server)["collect"]["stored"] == 1
    finally:
        assert server.stop() == 0


def test_a_port_in_use_stops_the_forked_worker_cleanly(installed_settings):
    """serve forks the worker before it listens: if it cannot listen, it stops the worker itself."""
    import socket
    import subprocess
    import sys

    from tests.support import PROJECT_ROOT

    # Left by a crashed run: the forked worker starts on it at once, and the stop must let it finish.
    database = open_database(installed_settings["database.url"], installed_settings.base_dir)
    try:
        site_id = Site.get(Site.domain == "example.com").id
    finally:
        database.close()
    t = now_ms()
    document = {"v": 1, "site": "example.com", "sid": "leftoverxxxxxxxxxxxxxxxx", "bid": "leftover-0001", "sent": t,
                "pages": [{"pid": PID, "url": "https://example.com/", "t": t}],
                "events": [{"pid": PID, "t": t, "category": "load", "action": "hit", "label": "leftover-0001"}]}
    slot = os.path.join(installed_settings.data_dir, "journal", "slot-0")
    os.makedirs(slot, exist_ok=True)
    with open(os.path.join(slot, "000000000001.part"), "wb") as handle:
        handle.write(encode({"s": site_id, "r": t, "ip": "203.0.113.5", "ua": CHROME, "p": schema.payload(document)}))

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, os.path.join(PROJECT_ROOT, "uxwizz.py"), "serve", "--config",
             installed_settings.config_path, "--port", str(port)],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "flush worker started" in proc.stderr  # it really had forked one
    leftovers = subprocess.run(["pgrep", "-f", installed_settings.config_path], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", "a flush worker outlived its server"
    assert "did not stop" not in proc.stderr and "killing it" not in proc.stderr
    assert stored_labels(installed_settings) == ["leftover-0001"]  # written before serve gave up
    assert os.listdir(slot) == []
