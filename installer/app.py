"""The web installer app (placeholder until the installer pages land)."""

from __future__ import annotations

from collections.abc import Callable

import bottle

from core.config import Settings


def build_installer(settings: Settings, on_installed: Callable[[Settings], None]) -> bottle.Bottle:
    app = bottle.Bottle()

    @app.route("/<path:path>")
    def everything(path: str) -> str:
        return "installer"

    return app
