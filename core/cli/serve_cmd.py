"""`serve` (the default command): run the server with waitress until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from core.cli import CommandError, settings_from


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("serve", parents=[common], help="run the server (default)")
    parser.add_argument("--host", help="listen address (default from config: 127.0.0.1)")
    parser.add_argument("--port", help="listen port (default from config: 8080)")
    parser.add_argument("--automigrate", action="store_true", help="apply pending migrations at start")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import waitress

    from core.app import PendingMigrations, create_app

    # A --config path that does not exist yet is where the web installer will write it.
    settings = settings_from(args, {"server.host": args.host, "server.port": args.port}, must_exist=False)
    try:
        app = create_app(settings, automigrate=args.automigrate)
    except PendingMigrations as exc:
        raise CommandError(str(exc)) from None
    host, port = settings["server.host"], settings["server.port"]
    app.fork_workers()  # the flush worker: forked while this process has no thread and no socket
    try:
        server = waitress.create_server(
            app, host=host, port=port, threads=settings["server.threads"], ident="uxwizz",
            clear_untrusted_proxy_headers=False, max_request_body_size=16 * 1024 * 1024,
        )
    except OSError as exc:
        app.shutdown()  # stops the flush worker forked above (it drains what it was writing)
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    app.start_background()
    shown_host = f"[{host}]" if ":" in host else host
    where = "/install" if not app.installed else "/"
    print(f"uxwizz is running at http://{shown_host}:{server.effective_port}{where}", flush=True)

    stopping = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            server.close()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.run()
    except (OSError, ValueError):
        if not stopping.is_set():
            raise
    finally:
        app.shutdown()
        print("uxwizz stopped", file=sys.stderr, flush=True)
    return 0
