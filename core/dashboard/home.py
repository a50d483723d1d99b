"""The dashboard's landing page: the sites this user may see, each with its snippet link."""

from __future__ import annotations

from typing import Any

import bottle

from core import accounts
from core.context import AppContext
from core.dashboard.access import current_user
from core.dashboard.render import render


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    @app.get("/", permission="view")
    def home() -> Any:
        sites = list(accounts.visible_sites(current_user()))
        return render(ctx, "dashboard/home.html", sites=sites)
