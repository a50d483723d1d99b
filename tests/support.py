"""Helpers for tests that run the real server as a subprocess (browser and kill -9 tests)."""

from __future__ import annotations

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    config_path: str
    port: int
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    log_path: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str = "/healthz", timeout: float = 20.0) -> LiveServer:
        self.log_path = self.config_path + f".{self.port}.log"
        log = open(self.log_path, "ab")
        env = {**os.environ, **self.env}
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(PROJECT_ROOT, "uxwizz.py"), "serve", "--config", self.config_path,
             "--port", str(self.port), *self.extra_args],
            cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                urllib.request.urlopen(self.url + ready_path, timeout=1)
                return self
            except urllib.error.HTTPError:
                return self  # it answered
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not answer within {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 15.0) -> int:
        """Graceful stop (SIGTERM), as a service manager would."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return handle.read()[-5000:]
        except OSError:
            return ""


class PageOrigin:
    """A second web origin for browser tests, so the tracker runs cross-origin as on a real site.

    `respond(path)` (path with query string) returns `(body, content type)`, or None for a 404.
    Pages are served as `http://<host>:<port>` with `host` other than the server's 127.0.0.1.
    """

    def __init__(self, respond: Callable[[str], tuple[bytes, str] | None], host: str = "localhost"):
        self.port = free_port()
        self.host = host
        self.hits: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                outer.hits.append(self.path)
                answer = respond(self.path)
                if answer is None:
                    self.send_error(404)
                    return
                body, kind = answer
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


HTML = "text/html; charset=utf-8"


def query_db(db_url: str, base_dir: str, fn: Callable[[], Any]) -> Any:
    """Run fn() against the database a live server writes to (its own connection, closed after)."""
    from core.db import open_database

    database = open_database(db_url, base_dir)
    try:
        with database.db.connection_context():
            return fn()
    finally:
        database.close()


def wait_db(db_url: str, base_dir: str, fn: Callable[[], Any], ok: Callable[[Any], bool],
            timeout: float = 10.0) -> Any:
    """Poll until ok(fn()): a live server answers 202 first and writes its rows within about a second."""
    deadline = time.monotonic() + timeout
    while True:
        result = query_db(db_url, base_dir, fn)
        if ok(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.25)
